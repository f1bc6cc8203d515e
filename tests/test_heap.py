"""The cycle collector is paused for a run's analysis and comes back after it, whatever happens; the exit skips it."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from auditor.heap import collector_paused


@pytest.fixture
def collector():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_inside_and_back_after(collector):
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()  # a long-lived process (the scheduler) collects what a run left in cycles


def test_it_comes_back_after_an_error_too(collector):
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("a rule failed")
    assert gc.isenabled()


def test_a_collector_the_caller_paused_stays_paused(collector):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_what_is_left_at_exit_is_not_collected_again():
    """After the CLI's command, the exit's last collection skips the heap (half a second at estate scale)."""
    script = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"  # runs after the CLI's
        "from auditor.cli import main\n"
        "main(['rules', '--format', 'json'])\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert ran.stdout.rstrip().endswith("frozen at exit: True")
