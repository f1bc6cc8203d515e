"""README's command blocks, run in order on a tiny demo estate, so the documentation cannot drift.

Each ```sh block is read line by line (continuations joined, comments
dropped) and every `auditor` command in it runs as written, in one working
directory, one after another. The few changes are the ones a test must
make: the demo estate is tiny, the served port is a free one, and the state
store lives in the test's directory. What cannot run here (installing,
the development loop, a real AWS organisation) is listed in SKIPPED with
why, and a command of any other kind fails the test.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.exit_codes import EXIT_OK

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
SKIPPED = {
    "pip": "installing: the test runs in the installed package",
    "python": "the development loop and benchmarks: the test suite itself",
    "apt-get": "installing",
    "ruff": "the development loop",
}
REAL_AWS = "against a real organisation (no AWS_ENDPOINT_URL): not from a test"


def commands(text: str) -> list[list[str]]:
    """Every command line of every ```sh block, in order, as argv lists (leading VAR=value kept)."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"\s&&\s", line):
                argv = shlex.split(part, comments=True)
                if argv:
                    found.append(argv)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _split_env(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    env = {}
    while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
        name, _, value = argv[0].partition("=")
        env[name] = value
        argv = argv[1:]
    return env, argv


def _adapted(argv: list[str], port: int) -> list[str]:
    """Tiny estate, a free port: the only changes made to what README says."""
    argv = [{"small": "tiny", "medium": "tiny"}.get(a, a) for a in argv]
    argv = [str(port) if a == "5000" else a for a in argv]
    if argv[:3] == ["auditor", "sandbox", "serve"] and "--size" not in argv:
        argv += ["--size", "tiny"]
    expanded = []
    for arg in argv:
        expanded += sorted(glob.glob(arg)) or [arg] if "*" in arg else [arg]
    return expanded


def test_commands_are_found_in_every_block():
    found = commands(README.read_text(encoding="utf-8"))
    names = [argv[0] for argv in (_split_env(a)[1] for a in found)]
    assert names.count("auditor") >= 10
    assert set(names) <= {"auditor", *SKIPPED}, set(names) - {"auditor", *SKIPPED}


def test_every_readme_command_runs_as_written(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in [n for n in env if n.startswith("AWS_")]:
        del env[name]
    server = None
    ran, skipped = [], []
    try:
        for argv in commands(README.read_text(encoding="utf-8")):
            extra, argv = _split_env(argv)
            extra = {k: v.replace("5000", str(port)) for k, v in extra.items()}
            if argv[0] in SKIPPED:
                skipped.append((argv, SKIPPED[argv[0]]))
                continue
            assert argv[0] == "auditor", f"README runs {argv[0]!r}: add it to SKIPPED with why, or run it here"
            if argv[1] in ("run", "collect") and "AWS_ENDPOINT_URL" not in extra:
                skipped.append((argv, REAL_AWS))
                continue
            background = argv[-1] == "&"
            if background:
                argv = argv[:-1]
            argv = _adapted(argv, port)
            if argv[1:3] == ["campaign", "import"]:
                _return_packets(tmp_path)  # what reviewers do between export and import
                argv = _adapted(argv[:3] + [a for a in argv[3:] if "*" not in a] + _returned(tmp_path, argv), port)
            full = [sys.executable, "-m", "auditor.cli", *argv[1:]]
            if background:
                server = subprocess.Popen(full, cwd=tmp_path, env={**env, **extra}, stdout=subprocess.PIPE, text=True)
                _wait_until_served(server)
                ran.append(argv)
                continue
            done = subprocess.run(full, cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True, timeout=600)
            assert done.returncode == EXIT_OK, (argv, done.returncode, done.stdout[-2000:], done.stderr[-2000:])
            assert "Traceback" not in done.stderr, (argv, done.stderr)
            ran.append(argv)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
    assert server is not None and server.returncode == 0, "sandbox serve stops cleanly on SIGTERM"
    assert len(ran) >= 10 and all(why for _, why in skipped)
    # what the demo block says it writes, it writes
    for name in ("findings.json", "findings.csv", "findings.xlsx", "report.html", "config.toml", "sandbox/hr.csv"):
        assert (tmp_path / "auditor-demo" / name).is_file(), name
    assert (tmp_path / "auditor-demo" / "snapshot" / "manifest.json").is_file()


def _wait_until_served(server: subprocess.Popen) -> None:
    """`sandbox serve` prints its endpoint and then "Ctrl-C to stop." once it answers."""
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("Ctrl-C to stop"):
            return
    raise AssertionError(f"sandbox serve ended before serving (exit {server.wait()})")


def _return_packets(root: Path) -> None:
    """Reviewers save their packets, unchanged here (every row left undecided), into packets/returned/."""
    returned = root / "packets" / "returned"
    assert returned.is_dir(), "campaign export makes packets/returned/ for the reviewers' files"
    for packet in (root / "packets").glob("*.xlsx"):
        shutil.copy(packet, returned / packet.name)


def _returned(root: Path, argv: list[str]) -> list[str]:
    return [str(Path(p).relative_to(root)) for a in argv if "*" in a for p in sorted(glob.glob(str(root / a)))]
