import json
import random
from datetime import UTC, datetime

import msgspec

from auditor.model import Finding, sort_findings
from auditor.report import write_findings_json

from .builders import HOSTILE_IMG, PROD, sample_findings
from .builders import finding as make_finding

CONTRACT_KEYS = {
    "finding_id",
    "rule_id",
    "category",
    "severity",
    "principal",
    "account_id",
    "resource",
    "title",
    "evidence",
    "controls",
    "status",
}


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "findings.json"
    findings = sample_findings()
    write_findings_json(findings, path)
    decoded = msgspec.json.decode(path.read_bytes(), type=list[Finding])
    assert decoded == sort_findings(findings)
    assert sorted(f.finding_id for f in decoded) == sorted(f.finding_id for f in findings)


def test_contract_shape(tmp_path):
    path = tmp_path / "findings.json"
    write_findings_json(sample_findings(), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list) and len(data) == 4
    for item in data:
        assert item.keys() >= CONTRACT_KEYS
        assert set(item["principal"]) == {"type", "id", "name", "arn"}
        assert isinstance(item["evidence"], dict)
        assert isinstance(item["controls"], list)
    org_wide = next(item for item in data if item["finding_id"] == "f-org")
    assert org_wide["account_id"] is None and org_wide["resource"] is None
    assert org_wide["principal"]["name"] == HOSTILE_IMG
    assert [item["severity"] for item in data] == ["critical", "medium", "low", "info"]


def test_output_is_identical_whatever_the_input_order(tmp_path):
    findings = sample_findings()
    shuffled = findings[:]
    random.Random(7).shuffle(shuffled)
    write_findings_json(findings, tmp_path / "a.json")
    write_findings_json(list(reversed(shuffled)), tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_evidence_times_are_iso_utc_and_keys_sorted(tmp_path):
    path = tmp_path / "findings.json"
    last_seen = datetime(2024, 3, 2, 10, 0, tzinfo=UTC)
    write_findings_json([make_finding("f-1", account_id=PROD, evidence={"z": 1, "last_seen": last_seen})], path)
    [item] = json.loads(path.read_text(encoding="utf-8"))
    assert item["evidence"] == {"last_seen": "2024-03-02T10:00:00Z", "z": 1}
    assert list(item["evidence"]) == ["last_seen", "z"]


def test_no_findings_is_an_empty_array(tmp_path):
    path = tmp_path / "findings.json"
    write_findings_json([], path)
    assert json.loads(path.read_text(encoding="utf-8")) == []
