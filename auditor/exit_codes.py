"""The process exit statuses (CONTRACT.md), defined once for the CLI, the pipeline, the jobs and the reports."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ATTENTION = 1  # findings at or above --fail-on; a check that does not hold; a refused plan; a failed job
EXIT_BAD_INPUT = 2  # bad configuration or unusable input: nothing was written
EXIT_INCOMPLETE = 3  # done, but some source, account, log object, input row or message could not be used

MEANINGS = {
    EXIT_OK: "complete: every source and input fully read",
    EXIT_ATTENTION: "findings at or above the --fail-on severity",
    EXIT_BAD_INPUT: "bad configuration or unusable input",
    EXIT_INCOMPLETE: "incomplete: some source, account, log object or input row could not be used",
}
