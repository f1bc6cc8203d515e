"""Every source fault ends in the same findings or in insufficient evidence, never in a wrong claim.

The sandbox is audited once without faults (the reference), then through the fault proxy (or
with a damaged HR feed) with one fault at a time. For each fault: the exit status and manifest
say what CONTRACT.md says; no finding above info exists that the reference did not have
(nobody is reported inactive, orphaned or left because of the fault); and a stale-access plan
built from the run, with every stale-access policy switched on, acts on nobody the reference
run's plan would not act on.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import zlib
from pathlib import Path

import boto3
import msgspec
import pytest

from auditor import config
from auditor import snapshot as snapshots
from auditor.aws import AwsContext
from auditor.cli import main
from auditor.collect.identity_center import collect_identity_center
from auditor.progress import Progress
from auditor.remediate.notices import Notices
from auditor.remediate.stale import POLICIES, stale_revocations
from auditor.store import Store
from tests.e2e.fault_proxy import (
    FaultProxy,
    Request,
    corrupt_objects,
    deny_member_role,
    expire_first_page_token,
    server_errors,
    throttle,
    truncate_objects,
)

pytestmark = pytest.mark.e2e


def audit(sandbox, endpoint: str, out: Path, monkeypatch, hr_feed: Path | None = None) -> tuple[int, list, dict]:
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    code = main(
        [
            "run",
            "--config",
            str(sandbox.config_file),
            "--hr-feed",
            str(hr_feed or sandbox.hr_feed),
            "--out",
            str(out),
            "--as-of",
            sandbox.as_of.isoformat(),
            "--state",
            str(state_of(out)),
        ]
    )
    findings_path = out / "findings.json"
    findings = json.loads(findings_path.read_text()) if findings_path.exists() else []
    manifest_path = out / "snapshot" / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return code, findings, manifest


def state_of(out: Path) -> Path:
    return out.parent / f"{out.name}.db"


def decided(findings: list[dict]) -> dict[str, dict]:
    return {f["finding_id"]: f for f in findings if f["severity"] != "info"}


def invented(findings: list[dict], reference: list[dict]) -> list[tuple[str, str]]:
    known = decided(reference)
    return sorted(
        (f["rule_id"], f["principal"]["name"]) for f in decided(findings).values() if f["finding_id"] not in known
    )


def remediable(sandbox, out: Path) -> set[tuple[str, str]]:
    """(rule, principal) a stale-access plan from the run in ``out`` acts on, with every stale policy on at 1 day.

    A notice sent (or waited on) counts as acted on: the plan takes the
    finding once the notice period has passed.
    """
    settings = config.load(sandbox.config_file, required=True)
    values = copy.deepcopy(settings.values)
    for policy in {p.setting for p in POLICIES.values()}:
        values["remediation"][policy] = 1
    values["campaigns"]["fallback_reviewer"] = "security@example.com"
    values["campaigns"]["outbox_dir"] = str(out.parent / f"{out.name}-outbox")
    settings = config.Settings(values=values, source=settings.source)
    store = Store.open(str(state_of(out)))
    notices = Notices(store, Path(values["campaigns"]["outbox_dir"]), "auditor", "test")
    selection = stale_revocations(store, settings, sorted(POLICIES), sandbox.as_of, notices)
    return {(o.rule_id, o.principal) for o in selection.outcomes if o.status in ("noticed", "waiting", "planned")}


def sources(manifest: dict, status: str) -> set[tuple[str, str | None]]:
    return {(s["source"], s["account_id"]) for s in manifest["sources"] if s["status"] == status}


@pytest.fixture(scope="module")
def reference(sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    with pytest.MonkeyPatch.context() as monkeypatch:
        code, findings, manifest = audit(sandbox, sandbox.endpoint_url, out, monkeypatch)
    assert code == 0 and not manifest["unreadable"]
    return code, findings, manifest, remediable(sandbox, out), out


def assert_no_wrong_claim(sandbox, reference, findings: list[dict], out: Path) -> None:
    assert invented(findings, reference[1]) == []
    assert remediable(sandbox, out) <= reference[3]


# --- AWS faults ---------------------------------------------------------------------------


def test_throttling_and_server_errors_change_nothing(sandbox, reference, tmp_path, monkeypatch):
    ref_code, ref_findings, ref_manifest, *_ = reference
    out = tmp_path / "out"
    with FaultProxy(sandbox.endpoint_url, faults=[throttle(0.3), server_errors(0.05)], seed=3) as proxy:
        code, findings, manifest = audit(sandbox, proxy.endpoint, out, monkeypatch)
    assert proxy.injected[("s3", "SlowDown")] > 100 and proxy.injected[("iam", "Throttling")] > 10
    assert any(code in ("InternalFailure", "InternalError", "ServiceUnavailable") for _, code in proxy.injected)
    assert code == ref_code
    assert sorted(f["finding_id"] for f in findings) == sorted(f["finding_id"] for f in ref_findings)
    assert sources(manifest, "ok") == sources(ref_manifest, "ok")
    assert remediable(sandbox, out) == reference[3]


def test_a_denied_member_account_is_named_and_invents_nothing(sandbox, reference, tmp_path, monkeypatch):
    member = next(a for a in sandbox.accounts.values() if a != sandbox.management_account_id)
    out = tmp_path / "out"
    with FaultProxy(sandbox.endpoint_url, faults=[deny_member_role(member)]) as proxy:
        code, findings, manifest = audit(sandbox, proxy.endpoint, out, monkeypatch)
    assert code == 3
    failed = [s for s in manifest["sources"] if s["status"] == "failed"]
    assert ("iam", member) in {(s["source"], s["account_id"]) for s in failed}
    assert all(s["error"].startswith("AccessDenied") for s in failed if s["account_id"] == member)
    assert not any(f["account_id"] == member for f in decided(findings).values() if f["rule_id"].startswith("iam-"))
    assert_no_wrong_claim(sandbox, reference, findings, out)


def test_an_expired_pagination_token_makes_its_table_partial_never_silently_short(sandbox, reference, monkeypatch):
    """The sandbox's listings fit in one page at the largest page size: read Identity Center two items a page."""
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    accounts = snapshots.load(reference[4] / "snapshot").table("accounts")

    def read(endpoint: str):
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        return collect_identity_center(
            AwsContext.from_environment(region=sandbox.region), accounts, Progress(), page_size=2
        )

    clean = read(sandbox.endpoint_url)
    with FaultProxy(sandbox.endpoint_url, faults=[expire_first_page_token()]) as proxy:
        faulted = read(proxy.endpoint)
    assert sum(n for (_, code), n in proxy.injected.items() if code == "ValidationException") > 3
    [clean_status] = clean.statuses
    [status] = faulted.statuses
    assert clean_status.status == "ok" and status.status in ("partial", "failed") and "expired" in status.error
    short = [table for table, state in status.tables.items() if state != "complete"]
    assert short
    for table, rows in clean.tables.items():
        got = sorted(json.dumps(msgspec.to_builtins(r), sort_keys=True) for r in faulted.tables.get(table, []))
        if table not in short:  # a table called complete has every row
            assert got == sorted(json.dumps(msgspec.to_builtins(r), sort_keys=True) for r in rows), table


def every_seventh(path: str) -> bool:
    return "/CloudTrail/" in path and zlib.crc32(path.encode()) % 7 == 0


@pytest.mark.parametrize("damage", [truncate_objects, corrupt_objects], ids=["truncated", "not-json"])
def test_damaged_log_objects_are_listed_and_invent_no_inactivity(sandbox, reference, tmp_path, monkeypatch, damage):
    out = tmp_path / "out"
    with FaultProxy(sandbox.endpoint_url, rewrites=[damage(every_seventh)]) as proxy:
        code, findings, manifest = audit(sandbox, proxy.endpoint, out, monkeypatch)
    assert code == 3
    assert manifest["unreadable"] and all(u["what"].startswith("s3://") for u in manifest["unreadable"])
    assert_no_wrong_claim(sandbox, reference, findings, out)


def trail_objects(sandbox) -> dict[str, bytes]:
    """Every CloudTrail log object in the sandbox's trail bucket, gunzipped, by key."""
    s3 = boto3.client(
        "s3",
        endpoint_url=sandbox.endpoint_url,
        region_name=sandbox.region,
        **{k.lower(): v for k, v in sandbox.env().items() if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
    )
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sandbox.trail_bucket):
        for entry in page.get("Contents", []):
            if "/CloudTrail/" in entry["Key"]:
                body = s3.get_object(Bucket=sandbox.trail_bucket, Key=entry["Key"])["Body"].read()
                objects[entry["Key"]] = gzip.decompress(body)
    return objects


def active_people(reference, count: int) -> list[dict]:
    """Identity Center users active in HR, with group access, seen signing in, and no finding above info."""
    snapshot = reference[4] / "snapshot"
    hr = map(json.loads, (snapshot / "hr_people.jsonl").read_text().splitlines())
    working = {p["user_name"] for p in hr if p["status"] == "active"}
    users = {
        u["user_id"]: u
        for u in map(json.loads, (snapshot / "idc_users.jsonl").read_text().splitlines())
        if u["user_name"] in working
    }
    members = {m["user_id"] for m in map(json.loads, (snapshot / "idc_memberships.jsonl").read_text().splitlines())}
    seen = {
        a["key"].removeprefix("id:")
        for a in map(json.loads, (snapshot / "activity.jsonl").read_text().splitlines())
        if a["kind"] == "idc_user"
    }
    flagged = {f["principal"]["id"] for f in decided(reference[1]).values()}
    chosen = [users[u] for u in sorted(members & seen & set(users)) if u not in flagged]
    assert len(chosen) >= count
    return chosen[:count]


def test_losing_every_log_object_of_active_people_says_insufficient_evidence(sandbox, reference, tmp_path, monkeypatch):
    """Their activity is gone with the objects: without the gaps they would be called inactive."""
    people = active_people(reference, 3)
    marks = [p["user_id"].encode() for p in people]
    damaged = {key for key, data in trail_objects(sandbox).items() if any(mark in data for mark in marks)}
    assert damaged
    out = tmp_path / "out"
    in_damaged = lambda path: path.split("/", 2)[-1] in damaged  # noqa: E731  # path: /bucket/key
    with FaultProxy(sandbox.endpoint_url, rewrites=[truncate_objects(in_damaged)]) as proxy:
        code, findings, manifest = audit(sandbox, proxy.endpoint, out, monkeypatch)
    assert code == 3
    assert {u["what"].split("/", 3)[-1] for u in manifest["unreadable"]} == damaged
    trail = {s["account_id"]: s for s in manifest["sources"] if s["source"] == "cloudtrail"}
    assert trail[sandbox.management_account_id]["status"] == "partial"
    assert trail[sandbox.management_account_id]["detail"]["gaps"]
    names = {p["user_name"] for p in people}
    about_them = [f for f in findings if f["principal"]["name"] in names and f["category"] == "inactive"]
    assert about_them and all(f["severity"] == "info" for f in about_them)
    assert all(f["evidence"].get("insufficient_evidence") for f in about_them)
    assert_no_wrong_claim(sandbox, reference, findings, out)


def reverse_records(request: Request, body: bytes) -> bytes | None:
    """CloudTrail does not sort a log object's records: deliver each one newest first."""
    if request.service != "s3" or request.method != "GET" or "/CloudTrail/" not in request.path:
        return None
    document = json.loads(gzip.decompress(body))
    document["Records"].reverse()
    return gzip.compress(json.dumps(document).encode())


def test_records_out_of_order_change_nothing(sandbox, reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    with FaultProxy(sandbox.endpoint_url, rewrites=[reverse_records]) as proxy:
        code, findings, _ = audit(sandbox, proxy.endpoint, out, monkeypatch)
    assert proxy.forwarded["s3"] > 100
    assert code == reference[0]
    evidence = {f["finding_id"]: f["evidence"] for f in findings}
    assert evidence == {f["finding_id"]: f["evidence"] for f in reference[1]}
    assert remediable(sandbox, out) == reference[3]


# --- HR feed faults -------------------------------------------------------------------------


def hr_rows(sandbox) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(sandbox.hr_feed.read_text(encoding="utf-8"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def write_feed(path: Path, header: list[str], rows: list[dict], encoding: str = "utf-8", **options) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore", **options)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def someone_active(sandbox, reference) -> tuple[int, dict]:
    """An active HR row (index, row) of a person with Identity Center access and no finding in the reference."""
    _, rows = hr_rows(sandbox)
    person = active_people(reference, 1)[0]
    index = next(i for i, r in enumerate(rows) if r["user_name"] == person["user_name"])
    assert rows[index]["status"] == "active"
    return index, rows[index]


def test_bom_and_crlf_change_nothing(sandbox, reference, tmp_path, monkeypatch):
    header, rows = hr_rows(sandbox)
    feed = tmp_path / "hr.csv"
    write_feed(feed, header, rows, lineterminator="\r\n")
    feed.write_bytes(b"\xef\xbb\xbf" + feed.read_bytes())
    out = tmp_path / "out"
    code, findings, _ = audit(sandbox, sandbox.endpoint_url, out, monkeypatch, hr_feed=feed)
    assert code == reference[0]
    assert sorted(f["finding_id"] for f in findings) == sorted(f["finding_id"] for f in reference[1])


@pytest.mark.parametrize("fault", ["malformed-row", "duplicate-employee-id", "latin-1"])
def test_a_bad_row_is_named_and_its_person_is_not_judged(sandbox, reference, tmp_path, monkeypatch, fault):
    header, rows = hr_rows(sandbox)
    index, row = someone_active(sandbox, reference)
    encoding = "utf-8"
    if fault == "malformed-row":
        rows[index] = {**row, "status": "gone", "start_date": "yesterday"}
    elif fault == "duplicate-employee-id":  # a stale copy saying they left, before their current row
        rows.insert(index, {**row, "status": "terminated", "end_date": "2026-01-31"})
        index += 1
    else:
        rows[index] = {**row, "display_name": row["display_name"] + " Müller-Ibáñez"}
        encoding = "latin-1"
    feed = write_feed(tmp_path / "hr.csv", header, rows, encoding=encoding)
    out = tmp_path / "out"
    code, findings, manifest = audit(sandbox, sandbox.endpoint_url, out, monkeypatch, hr_feed=feed)
    assert code == 3
    named = {u["what"] for u in manifest["unreadable"]}
    assert f"hr.csv line {index + 2}" in named  # the header is line 1
    assert sources(manifest, "partial") == {("hr", None)}
    about = [f for f in findings if f["principal"]["name"] == row["user_name"]]
    assert all(f["severity"] == "info" for f in about)
    assert_no_wrong_claim(sandbox, reference, findings, out)


@pytest.mark.parametrize("fault", ["empty", "header-only", "missing-column"])
def test_an_unusable_feed_stops_the_run_before_any_finding(sandbox, reference, tmp_path, monkeypatch, fault, capsys):
    header, rows = hr_rows(sandbox)
    feed = tmp_path / "hr.csv"
    if fault == "empty":
        feed.write_bytes(b"")
    elif fault == "header-only":
        write_feed(feed, header, [])
    else:
        write_feed(feed, [c for c in header if c != "status"], rows)
    out = tmp_path / "out"
    code, findings, manifest = audit(sandbox, sandbox.endpoint_url, out, monkeypatch, hr_feed=feed)
    assert code == 2
    assert not (out / "findings.json").exists() and findings == [] and manifest == {}
    error = capsys.readouterr().err
    assert "hr.csv" in error
    if fault == "missing-column":
        assert "line 1" in error and "status" in error
