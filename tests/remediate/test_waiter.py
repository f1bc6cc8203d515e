"""Asynchronous assignment requests: polled with backoff to a deadline, failures reported, never slept for real."""

from __future__ import annotations

import json

import pytest
from moto.ssoadmin.responses import SSOAdminResponse

from auditor.remediate import ActionFailed, Waiter, rollback_run
from auditor.remediate.journal import Journal
from tests.remediate.conftest import FakeClock
from tests.remediate.helpers import apply, make_plan


def _statuses(*states: str):
    answers = iter(states)
    return lambda: {"Status": next(answers), "RequestId": "req-1", "FailureReason": "quota exceeded"}


def test_polls_with_exponential_backoff_until_it_succeeds():
    clock = FakeClock()
    waiter = Waiter(sleep=clock.sleep, clock=clock, first_delay=1, max_delay=4)
    status = waiter.wait(_statuses("IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"), "x")
    assert status["Status"] == "SUCCEEDED"
    assert clock.sleeps == [1, 2, 4, 4]


def test_a_failed_request_says_why():
    clock = FakeClock()
    with pytest.raises(ActionFailed, match="deleting it failed: quota exceeded"):
        Waiter(sleep=clock.sleep, clock=clock).wait(_statuses("IN_PROGRESS", "FAILED"), "deleting it")


def test_a_request_past_its_deadline_names_the_request():
    clock = FakeClock()
    waiter = Waiter(sleep=clock.sleep, clock=clock, deadline_seconds=30, first_delay=1, max_delay=8)
    with pytest.raises(ActionFailed, match=r"still IN_PROGRESS after 30s \(request req-1\)"):
        waiter.wait(lambda: {"Status": "IN_PROGRESS", "RequestId": "req-1"}, "deleting it")
    assert sum(clock.sleeps) == 30


def _in_progress(monkeypatch, then: list[str], delete: bool = True) -> list[str]:
    """DeleteAccountAssignment answers IN_PROGRESS; the status then answers ``then`` (the last one repeats)."""
    original = SSOAdminResponse.delete_account_assignment
    asked: list[str] = []

    def delete_account_assignment(self):
        if delete:
            body = json.loads(original(self))
        else:
            params = json.loads(self.body)
            body = {
                "AccountAssignmentDeletionStatus": {
                    "RequestId": "5f0c8a4e-2b1d-4c3e-9a7f-6d5e4c3b2a19",
                    "TargetId": params["TargetId"],
                }
            }
        body["AccountAssignmentDeletionStatus"]["Status"] = "IN_PROGRESS"
        return json.dumps(body)

    def describe_account_assignment_deletion_status(self):
        state = then[min(len(asked), len(then) - 1)]
        asked.append(state)
        return json.dumps(
            {
                "AccountAssignmentDeletionStatus": {
                    "Status": state,
                    "RequestId": self._get_param("AccountAssignmentDeletionRequestId"),
                    **(
                        {"FailureReason": "Received a 404 status error: Not supported account"}
                        if state == "FAILED"
                        else {}
                    ),
                }
            }
        )

    monkeypatch.setattr(SSOAdminResponse, "delete_account_assignment", delete_account_assignment)
    monkeypatch.setattr(
        SSOAdminResponse, "describe_account_assignment_deletion_status", describe_account_assignment_deletion_status
    )
    return asked


def test_assignment_deletion_waits_for_its_status(estate, settings, population, store, monkeypatch):
    plan = make_plan(estate, settings, population, [estate.assignment("bob", "Admin")])
    asked = _in_progress(monkeypatch, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"])
    result = apply(estate, plan, store, settings, population)
    assert [o.status for o in result.outcomes] == ["done"]
    assert asked == ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"]
    assert estate.clock.sleeps == [1.0, 2.0]
    [record] = Journal(store).actions(result.run_id)
    assert record.result["status"] == "SUCCEEDED"


def test_a_failed_deletion_is_journaled_and_a_re_run_completes_it(estate, settings, population, store, monkeypatch):
    plan = make_plan(estate, settings, population, [estate.assignment("bob", "Admin"), estate.disable("carol")])
    _in_progress(monkeypatch, ["IN_PROGRESS", "FAILED"], delete=False)
    first = apply(estate, plan, store, settings, population)
    assert [o.status for o in first.outcomes] == ["failed", "done"]
    assert "Not supported account" in first.outcomes[0].detail
    assert Journal(store).run(first.run_id).status == "incomplete"

    monkeypatch.undo()
    second = apply(estate, plan, store, settings, population)
    assert second.run_id == first.run_id
    assert [o.status for o in second.outcomes] == ["done", "done"]
    assert [r.attempts for r in Journal(store).actions(first.run_id)] == [2, 1]
    assert Journal(store).run(first.run_id).status == "completed"


def test_rollback_waits_for_the_assignment_to_be_created_again(estate, settings, population, store, monkeypatch):
    plan = make_plan(estate, settings, population, [estate.assignment("bob", "Admin")])
    result = apply(estate, plan, store, settings, population)
    original = SSOAdminResponse.create_account_assignment
    asked: list[str] = []

    def create_account_assignment(self):
        body = json.loads(original(self))
        body["AccountAssignmentCreationStatus"]["Status"] = "IN_PROGRESS"
        return json.dumps(body)

    def describe_account_assignment_creation_status(self):
        asked.append("asked")
        state = "IN_PROGRESS" if len(asked) < 3 else "SUCCEEDED"
        return json.dumps(
            {
                "AccountAssignmentCreationStatus": {
                    "Status": state,
                    "RequestId": self._get_param("AccountAssignmentCreationRequestId"),
                }
            }
        )

    monkeypatch.setattr(SSOAdminResponse, "create_account_assignment", create_account_assignment)
    monkeypatch.setattr(
        SSOAdminResponse, "describe_account_assignment_creation_status", describe_account_assignment_creation_status
    )
    rolled_back = rollback_run(result.run_id, clients=estate.clients(), store=store, yes=True)
    assert [o.status for o in rolled_back.outcomes] == ["restored"]
    assert len(asked) == 3 and estate.clock.sleeps == [1.0, 2.0]
