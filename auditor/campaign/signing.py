"""The packet row: its columns, and the HMAC that makes its protected columns tamper-evident.

A reviewer may only fill in ``decision`` and ``justification``. Every other
column is signed with the campaign's own key (kept in the state store), so
an import can tell an edited row, a row moved between reviewers or an
invented item from a genuine one. A second signature covers the decision
cells as exported too, so an import can tell a decision written into the
file (recorded with whoever imports it as actor) from one it was exported
with (already recorded; never recorded again, nor over a later decision). Values are signed in the canonical form a
spreadsheet round trip preserves: formula-neutralising quote removed, line
ends normalised, XML-illegal characters replaced, surrounding space trimmed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from auditor.campaign.model import ItemState
from auditor.report.findings_csv import is_formula_like, neutralise

PROTECTED = (
    "campaign",
    "item_id",
    "reviewer",
    "kind",
    "subject",
    "subject_email",
    "access",
    "account",
    "permission_set",
    "via_group",
    "hr_status",
    "department",
    "title",
    "manager",
    "last_used",
    "admin",
    "flagged",
    "related_findings",
    "recommendation",
    "recommendation_reason",
    "details",
)
EDITABLE = ("decision", "justification")
SIGNATURE = "signature"
# Also covers decision and justification as exported: a row whose decision cells still verify is
# unchanged since export (a prefilled decision is not made again by whoever imports the file).
DECISION_SIGNATURE = "decision_signature"
COLUMNS = (*PROTECTED, *EDITABLE, SIGNATURE, DECISION_SIGNATURE)
REQUIRED = COLUMNS[:-1]  # packets exported before the decision signature still import

CELL_LIMIT = 32000  # below Excel's 32,767 characters per cell
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0 (hence in a workbook)
_SIGNATURE_FORMAT = re.compile(r"[0-9a-f]{64}")  # a hex SHA-256 HMAC


def clean(value: object) -> str:
    """The text a CSV cell and a workbook cell both carry unchanged."""
    text = "" if value is None else str(value)
    text = _ILLEGAL.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return text[:CELL_LIMIT]


def canonical(value: object) -> str:
    """A cleaned cell without the quote ``neutralise`` put before a formula trigger."""
    text = clean(value)
    if text.startswith("'") and is_formula_like(text[1:]):
        return text[1:]
    return text


def cell(value: str) -> str:
    """What is written into a packet cell: neutralised against formula injection."""
    return neutralise(value) if value else ""


def sign(key: bytes, values: dict[str, str]) -> str:
    material = json.dumps([canonical(values.get(column, "")) for column in PROTECTED], separators=(",", ":"))
    return hmac.new(key, material.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_decision(key: bytes, values: dict[str, str]) -> str:
    """The HMAC over the protected columns and the decision cells, as exported (a separate purpose label)."""
    cells = [canonical(values.get(column, "")) for column in (*PROTECTED, *EDITABLE)]
    material = json.dumps(["decision", *cells], separators=(",", ":"))
    return hmac.new(key, material.encode("utf-8"), hashlib.sha256).hexdigest()


def decision_as_exported(key: bytes, values: dict[str, str]) -> bool:
    """Whether the row's decision and justification are exactly what the packet was exported with."""
    given = clean(values.get(DECISION_SIGNATURE, "")).lower()
    return bool(_SIGNATURE_FORMAT.fullmatch(given)) and hmac.compare_digest(sign_decision(key, values), given)


def signature_problem(values: dict[str, str]) -> str | None:
    """Why a row's signature cannot be one this tool wrote (checked before any comparison), else None."""
    given = clean(values.get(SIGNATURE, "")).lower()
    if not given:
        return "the signature cell is empty"
    if not _SIGNATURE_FORMAT.fullmatch(given):
        return "the signature is not 64 hexadecimal digits"
    return None


def verify(key: bytes, values: dict[str, str]) -> bool:
    if signature_problem(values) is not None:
        return False
    return hmac.compare_digest(sign(key, values), clean(values.get(SIGNATURE, "")).lower())


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _details(state: ItemState) -> str:
    context = state.item.context
    parts = []
    if context.get("membership_also_grants"):
        parts.append("removing the membership also removes: " + "; ".join(context["membership_also_grants"]))
    if "members" in context:
        parts.append("members: " + (", ".join(context["members"]) or "none"))
    if context.get("active_keys"):
        parts.append("active keys: " + ", ".join(context["active_keys"]))
    if context.get("policies"):
        parts.append("policies: " + ", ".join(context["policies"]))
    if state.item.break_glass:
        parts.append("break-glass access")
    if context.get("user_status") == "DISABLED":
        parts.append("Identity Center user is disabled")
    return " | ".join(parts)


def row_values(campaign_id: int, state: ItemState) -> dict[str, str]:
    """The packet row of an item, cleaned (not yet neutralised), decision prefilled, signed with ``sign``."""
    item = state.item
    decision = state.decision
    if decision is None or decision.decision == "reassign":
        chosen, justification = "", ""
    else:
        chosen, justification = decision.decision, decision.justification
    values = {
        "campaign": str(campaign_id),
        "item_id": item.item_id,
        "reviewer": state.reviewer,
        "kind": item.kind,
        "subject": item.subject_name,
        "subject_email": item.subject_email or "",
        "access": item.access,
        "account": f"{item.account_name} ({item.account_id})" if item.account_id else "",
        "permission_set": item.permission_set or "",
        "via_group": item.group or "",
        "hr_status": item.hr_status or "",
        "department": item.department or "",
        "title": item.title or "",
        "manager": item.manager or "",
        "last_used": item.last_used,
        "admin": _yes(item.admin),
        "flagged": _yes(item.flagged),
        "related_findings": "; ".join(f"[{f['severity']}] {f['rule_id']}: {f['title']}" for f in item.related_findings),
        "recommendation": item.recommendation,
        "recommendation_reason": item.recommendation_reason,
        "details": _details(state),
        "decision": chosen,
        "justification": justification,
    }
    return {column: clean(value) for column, value in values.items()}
