"""One registry of collectors: the pipeline's sources and the read-only policy's permissions both come from it."""

from __future__ import annotations

import pytest

from auditor.collect import COLLECTORS, collector, collector_permissions
from auditor.collect.access_advisor import collect_access_advisor
from auditor.collect.cloudtrail import collect_cloudtrail
from auditor.collect.iam import collect_iam
from auditor.collect.identity_center import collect_identity_center
from auditor.collect.organizations import collect_organizations
from auditor.deploy.policies import allowed_actions, collector_policy
from auditor.events.person import PERMISSIONS as CHECK_PERMISSIONS


def test_every_aws_collector_is_registered_under_its_source_in_the_manifests_order():
    assert {name: entry.collect for name, entry in COLLECTORS.items()} == {
        "organizations": collect_organizations,
        "identity_center": collect_identity_center,
        "iam": collect_iam,
        "access_advisor": collect_access_advisor,
        "cloudtrail": collect_cloudtrail,
    }
    assert list(COLLECTORS) == ["organizations", "identity_center", "iam", "access_advisor", "cloudtrail"]


def test_the_read_only_policy_is_the_union_of_the_registered_permissions_and_a_targeted_checks_reads():
    assert allowed_actions(collector_policy()) == set(collector_permissions()) | set(CHECK_PERMISSIONS)
    assert set(collector_permissions()) == {p for entry in COLLECTORS.values() for p in entry.permissions}


@pytest.mark.parametrize("permissions", [(), ("ListUsers",)])
def test_a_collector_must_declare_what_it_calls(permissions):
    with pytest.raises(ValueError, match="must declare its permissions"):
        collector("newsource", permissions)(lambda: None)
    assert "newsource" not in COLLECTORS


def test_a_source_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        collector("iam", ["iam:ListUsers"])(lambda: None)
    assert COLLECTORS["iam"].collect is collect_iam
