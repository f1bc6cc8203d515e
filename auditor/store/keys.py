"""The store's secret key, kept in a file outside the database: it keys the audit chain and seals campaign keys.

Whoever can write the database must not be able to rewrite history or sign
a forged review, so the key lives apart from it: a 0600 file beside a
SQLite store by default, or wherever ``[state] audit_key_file`` or
``AUDITOR_AUDIT_KEY_FILE`` says (a server database's key belongs on the
hosts that run the tool, never on the server).

The file is a key ring (JSON): every key ever used, oldest first, the last
one current, so entries and sealed values made under a retired key stay
verifiable after a rotation. It also records where the keyed history
starts (``legacy``: the last audit entry and row ids an older, unkeyed
store already held), so an unkeyed rewrite of later history is refused.
Each use derives its own subkey (HKDF-SHA256): one for the chain's HMAC,
one for sealing campaign signing keys with AES-GCM.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import make_url

ENV_KEY_FILE = "AUDITOR_AUDIT_KEY_FILE"
FORMAT = 1
CHAIN = b"auditor audit chain v1"
SEAL = b"auditor sealed value v1"


class KeyFileError(Exception):
    """The key file is unreadable, malformed, or lacks a key the store needs."""


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes
    created_at: str

    def derive(self, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(self.secret)


def key_id(secret: bytes) -> str:
    """A key's name: derived from the secret, so a file cannot pair a known name with another secret."""
    return hmac.new(secret, b"auditor key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    path: Path
    keys: tuple[Key, ...]  # oldest first; the last is current
    legacy: dict[str, int]  # table -> the last id written before the store was keyed

    @property
    def current(self) -> Key:
        return self.keys[-1]

    def get(self, kid: str) -> Key:
        for key in self.keys:
            if key.id == kid:
                return key
        raise KeyFileError(f"the key file {self.path} does not hold key {kid} (a lost key file, or another store's?)")

    def rank(self, kid: str) -> int:
        """The key's place in the ring: entries may move to a newer key, never back to an older one."""
        return next((n for n, key in enumerate(self.keys) if key.id == kid), -1)

    def seal(self, plaintext: bytes, context: str) -> str:
        """AES-GCM under the current key's sealing subkey; ``context`` (e.g. "campaign 3") is authenticated."""
        key = self.current
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(key.derive(SEAL)).encrypt(nonce, plaintext, context.encode())
        return f"{key.id}:{base64.b64encode(nonce + sealed).decode()}"

    def unseal(self, value: str, context: str) -> bytes:
        kid, _, blob = value.partition(":")
        raw = base64.b64decode(blob)
        try:
            return AESGCM(self.get(kid).derive(SEAL)).decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag as exc:
            raise KeyFileError(f"the sealed value of {context} was altered or belongs elsewhere") from exc


def private_dir(path: Path) -> None:
    """Create the missing directories 0700 (an existing one is left as its owner set it)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700)
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask


def _write_new(path: Path, data: dict) -> bool:
    """Write ``path`` 0600 atomically if it does not exist yet; False when another process was first."""
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.replace(temporary, path)  # a rotation: the ring grows, it is never replaced by another
            return True
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def _record(key: Key) -> dict:
    return {"id": key.id, "secret": key.secret.hex(), "created_at": key.created_at}


def _new_key(now: datetime) -> Key:
    secret = secrets.token_bytes(32)
    return Key(key_id(secret), secret, now.isoformat())


def load(path: Path) -> Keyring:
    try:
        data = json.loads(path.read_text())
        keys = tuple(Key(k["id"], bytes.fromhex(k["secret"]), k["created_at"]) for k in data["keys"])
        legacy = {str(t): int(n) for t, n in data.get("legacy", {}).items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"the key file {path} is unreadable or malformed: {exc}") from exc
    if not keys or any(key_id(k.secret) != k.id for k in keys):
        raise KeyFileError(f"the key file {path} holds no key, or a key whose id does not match its secret")
    return Keyring(path, keys, legacy)


def open_or_create(path: Path, legacy: Callable[[], dict[str, int]], now: datetime) -> tuple[Keyring, bool]:
    """The key ring at ``path``; a new one (0600) when there is none. True when this call created it."""
    if not path.exists():
        record = {"format": FORMAT, "keys": [_record(_new_key(now))], "legacy": legacy()}
        if _write_new(path, record):
            return load(path), True
    return load(path), False


def rotate(ring: Keyring, now: datetime) -> Keyring:
    """Append a new current key to the ring file; the older keys stay to verify what they signed."""
    fresh = _new_key(now)
    record = {"format": FORMAT, "keys": [*(_record(k) for k in ring.keys), _record(fresh)], "legacy": ring.legacy}
    _write_new(ring.path, record)
    return load(ring.path)


def default_key_file(url: str, data_dir: Path) -> Path:
    """Beside a SQLite file (state.db -> state.key); for a server database, in the data directory, per URL."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).with_suffix(".key")
    name = hashlib.sha256(make_url(url).render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return data_dir / f"state-{name}.key"
