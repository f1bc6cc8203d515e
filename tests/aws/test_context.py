"""One way to build a context from settings, one retry policy for every client, each member role assumed once."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from datetime import UTC

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from auditor import config
from auditor.aws import DEFAULT_TOTAL_ATTEMPTS, AwsContext, context_from_settings, times, utc
from auditor.campaign.deliver import delivery_from_settings
from auditor.notify import channels_from_settings

REGION = "eu-west-1"
MEMBER = "210987654321"
AWS = {"region": REGION, "member_role_name": "AuditorReadOnly", "external_id": "ext-7", "max_attempts": 12}


def settings(**sections) -> config.Settings:
    return config.Settings(values=config.validate({"aws": AWS, **sections}, "test config"))


@pytest.fixture
def aws(monkeypatch, tmp_path):
    """moto with fake credentials only: nothing from the developer's own AWS set-up leaks in."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    with mock_aws():
        yield


def retries(client) -> dict:
    return client.meta.config.retries


def test_settings_give_the_member_role_external_id_and_retry_budget(aws):
    context = context_from_settings(settings())
    assert (context.region, context.member_role_name, context.external_id, context.total_attempts) == (
        REGION,
        "AuditorReadOnly",
        "ext-7",
        12,
    )
    assert retries(context.client("iam")) == {"mode": "standard", "total_max_attempts": 12}


def test_delivery_and_notification_clients_carry_the_configured_retry_budget(aws, tmp_path):
    ses = settings(campaigns={"delivery": "ses", "ses_sender": "auditor@example.com"})
    delivery = delivery_from_settings(ses, now=None, base_dir=tmp_path)
    assert retries(delivery.client) == {"mode": "standard", "total_max_attempts": 12}
    topic = f"arn:aws:sns:{REGION}:123456789012:digest"
    (sns,) = channels_from_settings(settings(notifications={"channels": ["sns"], "sns_topic_arn": topic}), now=None)
    assert retries(sns.client)["total_max_attempts"] == 12 and sns.client.meta.region_name == REGION


@dataclass
class Recording(AwsContext):
    """Records every STS AssumeRole request its clients send."""

    assumed: list[dict] = field(default_factory=list, repr=False)

    def client(self, service: str, account_id: str | None = None, region: str | None = None, **options):
        made = super().client(service, account_id, region, **options)
        made.meta.events.register(  # once per client: the context hands the same client out again
            "provide-client-params.sts.AssumeRole",
            lambda params, **_: self.assumed.append(dict(params)),
            unique_id="test-record",
        )
        return made


def test_a_member_account_is_reached_through_the_role_once_with_the_external_id(aws):
    context = Recording(
        session=boto3.Session(region_name=REGION), region=REGION, member_role_name="AuditorReadOnly", external_id="x-1"
    )
    own = context.own_account_id()
    assert context.credentials_for(own) == {}  # the caller's own account: no role
    first, again = context.credentials_for(MEMBER), context.credentials_for(MEMBER)
    assert first is again and first["aws_session_token"]
    assert context.assumed == [
        {
            "RoleArn": f"arn:aws:iam::{MEMBER}:role/AuditorReadOnly",
            "RoleSessionName": "auditor-collect",
            "ExternalId": "x-1",
        }
    ]
    member = context.client("sts", MEMBER).get_caller_identity()
    assert (
        member["Account"] == MEMBER
        and retries(context.client("s3", MEMBER))["total_max_attempts"] == DEFAULT_TOTAL_ATTEMPTS
    )


def test_one_client_is_made_per_service_account_region_and_budget_and_shared(aws):
    """A night asked for 79 clients, 32 of them distinct: each new one cost botocore a class of every operation."""
    context = AwsContext(session=boto3.Session(region_name=REGION), region=REGION, member_role_name="AuditorReadOnly")
    iam = context.client("iam")
    assert context.client("iam") is iam
    member = context.client("iam", MEMBER)
    assert context.client("iam", MEMBER) is member and member is not iam
    assert context.client("iam", region="us-east-1") is not iam
    brief = context.client("iam", attempts=2)
    assert brief is not iam and retries(brief)["total_max_attempts"] == 2
    # a client to hook (a count of its calls) is the caller's own: neither the shared one nor kept
    own = context.client("iam", shared=False)
    assert own is not iam and context.client("iam", shared=False) is not own and context.client("iam") is iam
    context._account_credentials.clear()  # the member role assumed afresh: new credentials, a new client
    renewed = context.client("iam", MEMBER)
    assert renewed is not member and renewed.list_users()["Users"] == []


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


THROTTLED = (
    b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>r-1</RequestId></ErrorResponse>"
)
IDENTITY = (
    b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a</Arn>"
    b"<UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


@pytest.mark.parametrize(
    ("throttled", "answered"), [(DEFAULT_TOTAL_ATTEMPTS - 1, True), (DEFAULT_TOTAL_ATTEMPTS, False)]
)
def test_a_throttled_call_is_retried_up_to_the_whole_budget(monkeypatch, tmp_path, throttled, answered):
    """The whole budget in all (first try included): one throttle fewer is survived, as many are not."""
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never the network: every answer is below
    pauses: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", pauses.append)
    sts = AwsContext.from_environment(region=REGION).client("sts")
    sent: list[int] = []

    def answer(request, **_) -> AWSResponse:
        sent.append(1)
        status, body = (400, THROTTLED) if len(sent) <= throttled else (200, IDENTITY)
        return AWSResponse(request.url, status, {}, Body(body))

    sts.meta.events.register("before-send.sts.GetCallerIdentity", answer)
    if answered:
        assert sts.get_caller_identity()["Account"] == "123456789012"
    else:
        with pytest.raises(botocore.exceptions.ClientError, match="Throttling"):
            sts.get_caller_identity()
    assert (
        len(sent) == DEFAULT_TOTAL_ATTEMPTS and len(pauses) == DEFAULT_TOTAL_ATTEMPTS - 1
    )  # a pause before each retry


def test_remediation_and_rollback_act_through_their_own_roles_in_every_account(aws):
    from auditor.aws import remediation_context, rollback_context

    configured = settings(aws={**AWS, "remediation_role_name": "Revoker", "rollback_role_name": "Restorer"})
    for make, role in ((remediation_context, "Revoker"), (rollback_context, "Restorer")):
        context = make(configured)
        own = context.own_account_id()
        assert (
            context.client("sts").get_caller_identity()["Arn"]
            == f"arn:aws:sts::{own}:assumed-role/{role}/auditor-{role}"
        )
        member = context.client("sts", MEMBER).get_caller_identity()["Arn"]
        assert (
            member == f"arn:aws:sts::{MEMBER}:assumed-role/{role}/auditor-{role}"
        )  # its namesake, not the collector's
        assert (context.external_id, context.total_attempts) == ("ext-7", 12)


def test_without_a_remediation_role_the_callers_credentials_and_the_member_role_are_used(aws):
    from auditor.aws import remediation_context

    context = remediation_context(settings(aws={**AWS, "remediation_role_name": ""}))
    assert context.client("sts").get_caller_identity()["Arn"].endswith(":user/moto")
    member = context.client("sts", MEMBER).get_caller_identity()["Arn"]
    assert member == f"arn:aws:sts::{MEMBER}:assumed-role/AuditorReadOnly/auditor-collect"


def test_the_default_roles_are_the_shipped_member_roles():
    defaults = config.Settings(values=config.validate({}, "defaults"))
    assert [defaults.get("aws", k) for k in ("member_role_name", "remediation_role_name", "rollback_role_name")] == [
        "AuditorCollector",
        "AuditorRemediation",
        "AuditorRollback",
    ]


def test_clients_of_a_context_parse_answers_with_it(aws, monkeypatch):
    """Timestamps go through the quick parser (auditor.aws.times) and come back as the same instants."""
    seen = []

    def spy(value):
        seen.append(value)
        return times.parse_timestamp(value)

    monkeypatch.setattr("auditor.aws.context.parse_timestamp", spy)
    iam = AwsContext.from_environment(region="eu-west-1").client("iam")
    created = iam.create_user(UserName="jane")["User"]["CreateDate"]
    assert seen and iam.list_users()["Users"][0]["CreateDate"] == created
    assert utc(created).tzinfo is UTC


def test_a_recipe_makes_elsewhere_the_client_the_context_makes_and_never_shows_its_secret(aws, monkeypatch):
    """What a reading worker is handed: the same region, retry budget and credentials, none of them printed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDRECIPE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-never-printed")
    context = context_from_settings(settings())
    recipe = context.recipe("s3", max_pool=9)
    assert "secret-never-printed" not in repr(recipe) and "AKIDRECIPE" not in repr(recipe)
    assert pickle.loads(pickle.dumps(recipe)) == recipe  # crosses to a worker, compares equal there
    made = recipe.client()
    assert (made.meta.region_name, made.meta.config.max_pool_connections) == (REGION, 9)
    assert retries(made) == {"mode": "standard", "total_max_attempts": 12}
    frozen = made._request_signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == ("AKIDRECIPE", "secret-never-printed")


def test_a_recipe_carries_an_assumed_roles_temporary_credentials(aws):
    context = context_from_settings(settings()).as_role("Revoker")
    recipe = context.recipe("sts")
    assert recipe.token  # the role's session token, not the caller's long-term keys
    own = context.own_account_id()
    assert recipe.client().get_caller_identity()["Arn"] == f"arn:aws:sts::{own}:assumed-role/Revoker/auditor-Revoker"


def test_service_models_are_read_from_disk_once_per_process(aws, monkeypatch):
    """A reading worker's client (a session of its own) is made from the models its parent already parsed."""
    import botocore.loaders
    import botocore.session

    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)  # not the tests' shared one
    read: list[str] = []
    load_file = botocore.loaders.JSONFileLoader.load_file
    monkeypatch.setattr(
        botocore.loaders.JSONFileLoader, "load_file", lambda self, path: read.append(path) or load_file(self, path)
    )
    context_from_settings(settings()).client("s3")
    read.clear()  # unless an earlier test parsed them already
    context_from_settings(settings()).recipe("s3").client()
    AwsContext.from_environment(region=REGION).client("s3")
    assert read == []
