"""An evidence pack's manifest is input: it cannot make the verifier read outside the pack."""

from __future__ import annotations

import hashlib
import json

from auditor.campaign.evidence import verify_evidence


def _sha(data: bytes) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest()}


def test_entries_outside_the_pack_are_refused_unread(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not part of the pack")
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "decisions.csv").write_bytes(b"a,b\n")
    (pack / "link.txt").symlink_to(secret)
    manifest = {
        "files": {
            "decisions.csv": _sha(b"a,b\n"),
            "../secret.txt": _sha(secret.read_bytes()),  # right hash: read, it would verify
            str(secret): _sha(secret.read_bytes()),
            "link.txt": _sha(secret.read_bytes()),
        }
    }
    (pack / "manifest.json").write_text(json.dumps(manifest))

    problems = verify_evidence(pack)

    refused = sorted(p.split(": ")[0] for p in problems if "not a file name inside the pack" in p)
    assert refused == sorted(["../secret.txt", str(secret), "link.txt"])
    assert len(problems) == 3  # decisions.csv verifies; nothing else is reported


def test_a_genuine_pack_in_a_subfolder_still_verifies(tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "summary.html").write_bytes(b"<p>ok</p>")
    (pack / "manifest.json").write_text(json.dumps({"files": {"summary.html": _sha(b"<p>ok</p>")}}))
    assert verify_evidence(pack) == []
