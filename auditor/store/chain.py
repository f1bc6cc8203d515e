"""The audit log's chain: each entry's link covers the previous one's, keyed with a secret outside the database.

An older store's entries are plain SHA-256 links (anyone could recompute
them); they verify as the legacy part of the chain, up to the last entry
the store held when it was first keyed. Every later entry is an
HMAC-SHA256 under the key ring's current key and names that key, so a
rewrite without the key file fails, and a rewrite as unkeyed entries too.
What no chain can show by itself is a cut tail: the head (entry id and
hash) is written outside the database by every run and evidence pack, and
``verify(expect=...)`` checks the chain still holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from auditor.store.keys import CHAIN, Key, KeyFileError, Keyring
from auditor.store.types import canonical

GENESIS = "0" * 64


@dataclass(frozen=True)
class Head:
    """The last entry of the chain as ``id:hash``: what a run directory or an evidence pack keeps."""

    id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.id}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Head:
        """``id:hash``, or a file holding it: plain text, audit-head.json, or an evidence manifest."""
        text = text.strip()
        if not re.fullmatch(r"\d+:[0-9a-f]{64}", text):
            path = Path(text).expanduser()
            try:
                content = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{text!r} is neither ID:HASH nor a readable file ({exc.strerror})") from exc
            if content.startswith("{"):
                try:
                    data = json.loads(content)
                except ValueError as exc:
                    raise ValueError(f"{path} is not JSON: {exc}") from exc
                # audit-head.json ("head"), an evidence manifest ("audit_log_head"), or {"id", "hash"}
                content = str(data.get("head") or data.get("audit_log_head") or f"{data.get('id')}:{data.get('hash')}")
            if not re.fullmatch(r"\d+:[0-9a-f]{64}", content):
                raise ValueError(f"{path} holds no audit head (ID:HASH, or JSON with id and hash)")
            text = content
        number, _, digest = text.partition(":")
        return cls(int(number), digest)

    def as_json(self) -> dict:
        return {"id": self.id, "hash": self.hash}


def _material(prev: str, entry_id: int, at: datetime, actor: str, action: str, subject, details: str) -> list:
    return [prev, entry_id, canonical(at), actor, action, subject, details]


def entry_hash(
    prev_hash: str, entry_id: int, at: datetime, actor: str, action: str, subject: str | None, details: str
) -> str:
    """A legacy (unkeyed) link: covers the time as canonical ISO text, so it does not depend on the database."""
    material = json.dumps(_material(prev_hash, entry_id, at, actor, action, subject, details), separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def entry_mac(key: Key, prev_hash: str, entry_id: int, at, actor, action, subject, details: str) -> str:
    """A keyed link: HMAC-SHA256 under the key's chain subkey, over the same fields and the key's id."""
    material = [*_material(prev_hash, entry_id, at, actor, action, subject, details), key.id]
    text = json.dumps(material, separators=(",", ":")).encode()
    return hmac.new(_chain_key(key), text, hashlib.sha256).hexdigest()


_derived: dict[str, bytes] = {}


def _chain_key(key: Key) -> bytes:
    if key.id not in _derived:
        _derived[key.id] = key.derive(CHAIN)
    return _derived[key.id]


@dataclass
class ChainResult:
    checked: int = 0  # good entries before the first problem (all of them when intact)
    legacy: int = 0  # of those, unkeyed entries of an older store
    keys: list[str] = field(default_factory=list)  # key ids that signed the rest, oldest first
    head: Head = field(default_factory=lambda: Head(0, GENESIS))
    problem: str | None = None


def verify(rows, ring: Keyring, expect: Head | None = None) -> ChainResult:
    """Walk the entries in id order; stop at the first that does not hold."""
    result = ChainResult()
    legacy_until = ring.legacy.get("audit_log", 0)
    prev, rank, hashes = GENESIS, -1, {0: GENESIS}
    for row in rows:
        problem = _check(row, result.checked + 1, prev, ring, legacy_until, rank)
        if problem:
            result.problem = problem
            break
        if row.key_id is None:
            result.legacy += 1
        else:
            rank = ring.rank(row.key_id)
            if row.key_id not in result.keys:
                result.keys.append(row.key_id)
        prev, result.checked = row.hash, result.checked + 1
        hashes[row.id] = row.hash
        result.head = Head(row.id, row.hash)
    if result.problem is None and expect is not None:
        result.problem = _against(expect, result.head, hashes)
    return result


def _check(row, expected_id: int, prev: str, ring: Keyring, legacy_until: int, rank: int) -> str | None:
    if row.id != expected_id:
        return f"entry {expected_id} is missing (next is {row.id})"
    if row.prev_hash != prev:
        return f"entry {row.id} does not follow entry {row.id - 1} (a row was changed or removed)"
    fields = (row.prev_hash, row.id, row.at, row.actor, row.action, row.subject, row.details)
    described = f"entry {row.id} ({row.action} at {canonical(row.at)})"
    if row.key_id is None:
        if row.id > legacy_until:
            return (
                f"{described} is not keyed, but the chain is keyed after entry {legacy_until} "
                "(rewritten without the key?)"
            )
        return None if entry_hash(*fields) == row.hash else f"{described} was altered"
    try:
        key = ring.get(row.key_id)
    except KeyFileError as exc:
        return f"{described}: {exc}"
    if ring.rank(row.key_id) < rank:
        return f"{described} is keyed with the retired key {row.key_id} after a newer key took over"
    return None if hmac.compare_digest(entry_mac(key, *fields), row.hash) else f"{described} was altered"


def _against(expect: Head, head: Head, hashes: dict[int, str]) -> str | None:
    if expect.id > head.id:
        return (
            f"the chain ends at entry {head.id}, but the expected head is entry {expect.id}: "
            f"entries {head.id + 1}..{expect.id} were removed"
        )
    if hashes.get(expect.id) != expect.hash:
        return (
            f"entry {expect.id} is not the expected head ({expect.hash[:16]}..., "
            f"the chain has {str(hashes.get(expect.id))[:16]}...): the chain was rewritten"
        )
    return None
