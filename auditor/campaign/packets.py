"""Reviewer packets: an HTML page saying what to do, and the same signed rows as CSV and XLSX.

Cells are neutralised against formula injection (names and tags are
attacker controlled) and the workbook stores every cell as text. Exporting
is audit-logged with each file's SHA-256: the record of what a reviewer was
shown.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auditor.campaign.model import Campaign, CampaignError, ItemState
from auditor.campaign.render import render
from auditor.campaign.signing import (
    COLUMNS,
    DECISION_SIGNATURE,
    EDITABLE,
    SIGNATURE,
    cell,
    row_values,
    sign,
    sign_decision,
)
from auditor.campaign.state import get_campaign, item_states, signing_key
from auditor.files import atomic_write
from auditor.report.common import format_time
from auditor.store import Store

WIDTHS = {"access": 60, "related_findings": 50, "details": 50, "justification": 50, "subject": 24, "reviewer": 28}


@dataclass(frozen=True)
class Packet:
    reviewer: str
    items: int
    html: Path
    csv: Path
    xlsx: Path


def slug(email: str) -> str:
    return re.sub(r"[^a-z0-9.-]+", "_", email.lower().replace("@", "-at-")).strip("_") or "reviewer"


def export_packets(
    store: Store,
    campaign_id: int,
    out_dir: Path,
    *,
    now: datetime,
    reviewer: str | None = None,
    actor: str = "auditor",
) -> list[Packet]:
    """One packet per reviewer with items (or only ``reviewer``'s), current decisions prefilled."""
    campaign = get_campaign(store, campaign_id)
    key = signing_key(store, campaign_id)
    by_reviewer: dict[str, list[ItemState]] = defaultdict(list)
    for state in item_states(store, campaign_id):
        if state.reviewer:  # an unassigned item waits for the campaign owner to assign it
            by_reviewer[state.reviewer].append(state)
    if reviewer is not None:
        wanted = reviewer.strip().lower()
        if wanted not in by_reviewer:
            raise CampaignError(f"campaign {campaign_id} has no items for reviewer {wanted}")
        by_reviewer = {wanted: by_reviewer[wanted]}
    packets = []
    for email, states in sorted(by_reviewer.items()):
        rows = []
        for state in states:
            values = row_values(campaign_id, state)
            values[SIGNATURE] = sign(key, values)
            values[DECISION_SIGNATURE] = sign_decision(key, values)
            rows.append(values)
        packets.append(_write(campaign, email, rows, Path(out_dir), now))
    store.audit(
        "campaign.exported",
        f"campaign {campaign_id}",
        {
            "packets": [
                {
                    "reviewer": p.reviewer,
                    "items": p.items,
                    "files": {f.name: _sha256(f) for f in (p.html, p.csv, p.xlsx)},
                }
                for p in packets
            ]
        },
        actor=actor,
    )
    return packets


def _write(campaign: Campaign, reviewer: str, rows: list[dict[str, str]], out_dir: Path, now: datetime) -> Packet:
    base = f"campaign-{campaign.id}-{slug(reviewer)}"
    csv_path, xlsx_path, html_path = (out_dir / f"{base}.{ext}" for ext in ("csv", "xlsx", "html"))
    atomic_write(csv_path, encode_csv(rows))
    atomic_write(xlsx_path, encode_xlsx(rows, campaign, reviewer))
    html = render(
        "campaign_packet.html.j2",
        campaign=campaign,
        reviewer=reviewer,
        due=format_time(campaign.due_at),
        as_of=format_time(campaign.snapshot_as_of),
        closed=format_time(campaign.closed_at) if campaign.closed_at else "",
        rows=rows,
        flagged=sum(r["flagged"] == "yes" for r in rows),
        decided=sum(bool(r["decision"]) for r in rows),
        csv_name=csv_path.name,
        xlsx_name=xlsx_path.name,
        generated=format_time(now),
    )
    atomic_write(html_path, html.encode("utf-8"))
    return Packet(reviewer, len(rows), html_path, csv_path, xlsx_path)


def encode_csv(rows: list[dict[str, str]]) -> bytes:
    """UTF-8 with a byte order mark (so Excel reads it as UTF-8), CRLF, header on line 1."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([cell(row[column]) for column in COLUMNS] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def encode_xlsx(rows: list[dict[str, str]], campaign: Campaign, reviewer: str) -> bytes:
    """One sheet of rows: text cells only, signed columns locked, decision and justification open."""
    # imported here: openpyxl takes a tenth of a second to load, and only packet exports need it
    from openpyxl import Workbook
    from openpyxl.styles import Font, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Review"
    sheet.append(list(COLUMNS))
    for header in sheet[1]:
        header.font = Font(bold=True)
    for row in rows:
        sheet.append([cell(row[column]) for column in COLUMNS])
    for number, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(number)
        sheet.column_dimensions[letter].width = WIDTHS.get(column, 16)
        if column in EDITABLE:
            for (value,) in sheet.iter_rows(min_row=2, min_col=number, max_col=number):
                value.protection = Protection(locked=False)
    choices = DataValidation(type="list", formula1='"keep,rightsize,revoke"', allow_blank=True, showErrorMessage=False)
    choices.promptTitle, choices.prompt = "Decision", "keep, rightsize (permission set rows), revoke or reassign:EMAIL"
    choices.showInputMessage = True
    sheet.add_data_validation(choices)
    decision_column = get_column_letter(COLUMNS.index("decision") + 1)
    if rows:
        choices.add(f"{decision_column}2:{decision_column}{len(rows) + 1}")
    sheet.freeze_panes = "C2"
    sheet.protection.sheet = True  # a guide against slips; the row signature is what is enforced
    sheet.protection.autoFilter = False
    sheet.protection.formatColumns = False
    sheet.auto_filter.ref = sheet.dimensions
    workbook.properties.title = f"Access review {campaign.name} (campaign {campaign.id}) for {reviewer}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
