import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditor import snapshot as snapshots
from auditor.cli import build_parser, examples, main, parse_time
from auditor.rules import RULES

from .builders import World

ROOT = Path(__file__).resolve().parent.parent


def test_every_command_has_help_with_a_runnable_example(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # argparse keeps them here
    assert set(commands) == set(examples())
    for name in commands:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        assert f"example: auditor {name}" in capsys.readouterr().out


def test_a_command_loads_only_its_own_module_and_help_lists_every_command(capsys):
    script = (
        "import sys; from auditor.cli import main; main(['rules', '--format', 'json']); "
        "print(sorted(m for m in ('auditor.cli.serve', 'auditor.cli.campaign', 'starlette') if m in sys.modules))"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines()[-1] == "[]"  # the web app and the campaign commands stay unloaded
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in examples())


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("auditor ")


def test_rules_lists_the_catalogue_in_each_format(capsys):
    assert main(["rules", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["id"] for r in rows} == set(RULES)
    unused = next(r for r in rows if r["id"] == "iam-access-key-unused")
    assert unused["thresholds"] == {"access_key_unused_days": 45}
    assert main(["rules"]) == 0
    assert "idc-leaver-with-access" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-11-28", "2026-11-28T00:00:00+00:00"),
        ("2026-11-28T06:30:00Z", "2026-11-28T06:30:00+00:00"),
        ("2026-11-28T08:30:00+02:00", "2026-11-28T06:30:00+00:00"),
        ("2026-11-28T06:30:00", "2026-11-28T06:30:00+00:00"),
    ],
)
def test_as_of_accepts_iso_8601(text, iso):
    assert parse_time(text).isoformat() == iso


def test_bad_as_of_exits_2(capsys, tmp_path):
    assert main(["analyze", "--snapshot", str(tmp_path), "--as-of", "yesterday"]) == 2
    assert "--as-of 'yesterday'" in capsys.readouterr().err


def test_analyze_on_a_missing_snapshot_names_the_file(capsys, tmp_path):
    assert main(["analyze", "--snapshot", str(tmp_path / "nowhere")]) == 2
    assert "manifest.json: not found" in capsys.readouterr().err


@pytest.mark.parametrize("edit", ["lost", "added"])
def test_analyze_refuses_a_snapshot_table_with_lines_lost_or_added(edit, capsys, tmp_path):
    """A table cut at a line boundary still parses: without the manifest's count, people would
    silently drop out of the review."""
    world = World()
    for name in ("ann", "bob", "cy"):
        world.idc_user(name)
    snapshots.save(world.snapshot(), tmp_path / "snap")
    users = tmp_path / "snap" / "idc_users.jsonl"
    lines = users.read_bytes().splitlines(keepends=True)
    users.write_bytes(b"".join(lines[:-1] if edit == "lost" else [*lines, lines[0]]))

    assert main(["analyze", "--snapshot", str(tmp_path / "snap"), "--out", str(tmp_path / "out")]) == 2
    count = 2 if edit == "lost" else 4
    assert f"idc_users.jsonl: {count} records where the manifest counts 3" in capsys.readouterr().err
    assert not (tmp_path / "out" / "findings.json").exists()


def test_nothing_outside_the_command_line_imports_it():
    """Library code never reaches up into the CLI (its options, settings loading or errors)."""
    offenders = []
    for path in (ROOT / "auditor").rglob("*.py"):
        if "cli" in path.relative_to(ROOT / "auditor").parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n == "auditor.cli" or n.startswith("auditor.cli.") for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


@pytest.mark.e2e  # a real pipe to a real `head`
def test_a_reader_that_closes_the_pipe_early_gets_no_traceback():
    """`auditor rules | head -1`: the rest of the output has nowhere to go, and that is fine."""
    import subprocess
    import sys

    pipeline = subprocess.run(
        f"{sys.executable} -m auditor.cli rules --format md | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert pipeline.stdout == "# Rule catalogue\n"
    assert "Traceback" not in pipeline.stderr and "BrokenPipe" not in pipeline.stderr
