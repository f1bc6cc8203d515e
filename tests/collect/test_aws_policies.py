"""The AWS managed policies an estate uses: each read once, and a policy that cannot be read is named."""

from auditor.collect.aws_policies import collect_aws_policies

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
WITHDRAWN = "arn:aws:iam::aws:policy/NoLongerPublished"


def test_each_policy_in_use_is_read_and_one_that_cannot_be_read_is_named(ctx, monkeypatch):
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    result = collect_aws_policies(ctx, [ADMIN, WITHDRAWN, READ_ONLY], max_workers=3)

    read = {p.arn: p for p in result.tables["iam_policies"]}
    assert sorted(read) == [ADMIN, READ_ONLY]
    assert read[ADMIN].account_id is None  # the same document in every account
    assert read[ADMIN].document["Statement"][0]["Action"] == "*"
    assert read[ADMIN].version_id
    [status] = result.statuses
    assert status.status == "partial"
    assert status.tables == {"iam_policies": "partial"}
    assert "NoSuchEntity" in status.error
    [gap] = status.attributes
    assert (gap.what, gap.objects) == ("iam_policy.document", [WITHDRAWN])
    assert ctx.count("GetPolicy") == 3 and ctx.count("GetPolicyVersion") == 2


def test_nothing_in_use_reads_nothing(ctx):
    result = collect_aws_policies(ctx, [])
    assert result.tables["iam_policies"] == []
    assert result.statuses[0].status == "ok"
    assert ctx.calls == []
