"""The workflow's steps without a sandbox: what they refuse before touching AWS."""

from __future__ import annotations

import pytest

from auditor.collect.hr import HrFeedError
from auditor.deploy.stepfunctions import handle_step
from tests.deploy.test_lambda import BUCKET, environ, keys, s3  # noqa: F401 - the fixture


def test_a_step_the_workflow_does_not_have_is_refused(s3, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="the event must name a step, one of accounts, iam, identity_center"):
        handle_step({"step": "collect-everything"}, environ(tmp_path), s3=s3)


def test_an_unusable_hr_feed_stops_the_run_before_any_shard_is_written(s3, tmp_path):  # noqa: F811
    with pytest.raises(HrFeedError):
        handle_step({"step": "accounts", "input": {}}, environ(tmp_path), s3=s3)
    assert not [key for key in keys(s3) if "/stepfunctions/" in key]
