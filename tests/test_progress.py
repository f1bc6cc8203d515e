"""Progress on stderr: plain lines for logs, a live display that fits the terminal, nothing on stdout."""

from __future__ import annotations

import io
import re

import pytest

from auditor.progress import LiveProgress, PlainProgress, Progress

CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_each_phase_and_task_is_a_plain_line(capsys):
    stream = io.StringIO()
    progress = Progress.for_stream(stream, interval=0)  # no ticker: `tick` is called by hand below
    assert isinstance(progress, PlainProgress)
    with progress, progress.phase("building the sandbox"):
        progress.start("iam", 3)
        progress.advance("iam")
        progress.tick()
        progress.advance("iam", 2)
    with progress.phase("running the rules"):
        progress.tick()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "auditor: building the sandbox..."
    assert lines[1] == "auditor: still running: building the sandbox; iam 1/3"
    assert lines[2] == "auditor: iam: 3/3 done"
    assert re.fullmatch(r"auditor: building the sandbox: done in \d+\.\d s", lines[3])
    assert lines[4:6] == ["auditor: running the rules...", "auditor: still running: running the rules; iam 3/3"]
    assert lines[6].startswith("auditor: running the rules: done in ")
    assert capsys.readouterr().out == ""  # stdout may carry data


def test_a_phase_that_fails_at_once_leaves_the_error_as_the_only_line():
    stream = io.StringIO()
    progress = PlainProgress(stream, interval=0)
    with pytest.raises(RuntimeError), progress.phase("collecting"):
        raise RuntimeError("endpoint unreachable")
    assert stream.getvalue() == ""


def test_a_phase_that_fails_after_showing_progress_says_it_stopped():
    stream = io.StringIO()
    progress = PlainProgress(stream, interval=0)
    with pytest.raises(RuntimeError), progress.phase("collecting"):
        progress.start("iam", 3)
        raise RuntimeError("throttled for ever")
    assert re.fullmatch(r"auditor: collecting\.\.\.\nauditor: collecting: stopped after \d+\.\d s\n", stream.getvalue())


def test_a_long_phase_is_announced_after_its_grace_then_every_interval():
    now = [0.0]
    stream = io.StringIO()
    progress = PlainProgress(stream, interval=30, grace=1, clock=lambda: now[0], background=False)
    with progress.phase("building the sandbox"):
        now[0] = 0.5
        progress.poll()
        assert stream.getvalue() == ""
        now[0] = 1.5
        progress.poll()
        assert stream.getvalue() == "auditor: building the sandbox...\n"
        now[0] = 29.0
        progress.poll()
        now[0] = 31.0
        progress.poll()
        now[0] = 32.0
        progress.poll()
    lines = stream.getvalue().splitlines()
    assert lines[1:] == [
        "auditor: still running: building the sandbox",
        "auditor: building the sandbox: done in 32.0 s",
    ]


def test_the_ticker_is_quiet_between_phases():
    stream = io.StringIO()
    progress = PlainProgress(stream, interval=0)
    progress.tick()
    assert stream.getvalue() == ""


def test_on_a_terminal_no_line_is_wider_than_the_terminal(capsys):
    terminal = Terminal()
    progress = Progress.for_stream(terminal, width=40)
    assert isinstance(progress, LiveProgress)
    long = "cloudtrail objects in s3://" + "a-very-long-bucket-name-" * 8
    with progress:
        with progress.phase("building the medium sandbox organisation (seed 7) " + "x" * 80):
            progress.start(long, 500)
            progress.advance(long, 120)
            progress.note("Sandbox ready at http://127.0.0.1:5000; running the audit as of 2026-12-02T06:00:00+00:00")
        progress.finish(long)
    text = CONTROL.sub("", terminal.getvalue())
    lines = [line for line in re.split(r"[\r\n]", text) if line.strip()]
    assert any("cloudtrail" in line and "/500" in line for line in lines)  # the live bar, cut to fit
    assert "500/500 done" in "".join(lines)  # a finished task leaves the display for a line, folded to fit
    assert any(line.startswith("building the medium sandbox") for line in lines)
    assert any("done in" in line for line in lines)  # the phase's end, folded onto the next lines
    assert max(len(line) for line in lines) <= 40
    assert progress.tasks[long] == [500, 500]
    assert capsys.readouterr().out == ""
