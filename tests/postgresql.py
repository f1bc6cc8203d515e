"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` binaries, a cluster in a temporary directory.

The store tests run on SQLite and on PostgreSQL. They use the server named by
``AUDITOR_TEST_POSTGRESQL_URL`` when it is set (CI starts one, see .ci/run),
else ``tests/conftest.py`` starts one here for the test session. To run a
command against one server (so every pytest worker shares it)::

    python -m tests.postgresql python -m pytest -q tests/store

``start`` prints shell exports (``eval "$(python -m tests.postgresql start)"``),
``stop DIR`` stops the cluster and removes its directory. As root the cluster
runs as the ``postgres`` user (initdb refuses root), and listens on a free
port of 127.0.0.1 with trust authentication: it is for tests only.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ENV_URL = "AUDITOR_TEST_POSTGRESQL_URL"
ENV_DIR = "AUDITOR_TEST_POSTGRESQL_DIR"


class NoServer(Exception):
    """No PostgreSQL server can be started here; the message says why."""


@dataclass(frozen=True)
class Server:
    url: str
    directory: Path


def binaries() -> Path:
    """The directory holding initdb and pg_ctl: PATH first, else Debian's versioned directory (newest)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not debian:
        raise NoServer(
            "PostgreSQL is not installed (apt-get install postgresql), and AUDITOR_TEST_POSTGRESQL_URL is unset"
        )
    return debian[-1].parent


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError as exc:
        raise NoServer("running as root and there is no postgres user to own the cluster") from exc


def _as_owner(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    if os.geteuid() != 0:
        return argv
    _postgres_user()
    return ["runuser", "-u", "postgres", "--", *argv]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start() -> Server:
    """Create and start a cluster in a new temporary directory; raises ``NoServer`` when it cannot."""
    bindir = binaries()
    directory = Path(tempfile.mkdtemp(prefix="auditor-pg-"))
    data = directory / "data"
    if os.geteuid() == 0:
        owner = _postgres_user()
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    steps = [
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(directory / "server.log"),
            "-w",
            "-o",
            f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            "start",
        ],
    ]
    for argv in steps:
        done = subprocess.run(_as_owner(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = directory / "server.log"
            detail = log.read_text() if log.exists() else ""
            shutil.rmtree(directory, ignore_errors=True)
            raise NoServer(
                f"{Path(argv[0]).name} failed: {done.stderr.strip() or done.stdout.strip()} {detail}".strip()
            )
    return Server(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", directory)


def stop(directory: Path) -> None:
    """Stop the cluster (fast shutdown) and remove its directory."""
    data = directory / "data"
    if data.exists():
        argv = [str(binaries() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_owner(argv), capture_output=True, check=False)
    shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server (its URL, password included), dropped afterwards."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"auditor_test_{secrets.token_hex(6)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        try:
            server = start()
        except NoServer as exc:
            print(f"no PostgreSQL server: {exc}", file=sys.stderr)
            return 1
        print(f"export {ENV_URL}={server.url} {ENV_DIR}={server.directory}")
        return 0
    if argv[:1] == ["stop"] and len(argv) == 2:
        stop(Path(argv[1]))
        return 0
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    server = start()
    try:
        return subprocess.run(argv, env={**os.environ, ENV_URL: server.url}, check=False).returncode
    finally:
        stop(server.directory)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
