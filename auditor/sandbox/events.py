"""CloudTrail record shapes, as EVENT-SHAPES.md and the AWS samples describe them.

Each method returns finished records (plain dicts, as they sit in a log
file). Identity Center events switch from the old identity (``Unknown`` +
``userName``) to the new one (``IdentityCenterUser`` + ``onBehalfOf`` +
``credentialId``) on 2025-07-14. Every random part (ids, keys, IPs) comes
from the caller's ``random.Random``, so records are reproducible.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auditor.sandbox.plan import IDC_IDENTITY_CHANGE

BROWSERS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 "
    "Safari/537.36 Edg/125.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
CLI_AGENTS = (
    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython "
    "cfg/retry-mode#standard md/installer#source md/prompt#off md/command#{command}",
    "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219-208.866.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144",
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.2 (+https://www.terraform.io) terraform-provider-aws/5.58.0 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.1 ua/2.0 os/linux lang/go#1.22.4",
)
GLOBAL_SOURCES = frozenset(
    {"iam.amazonaws.com", "organizations.amazonaws.com", "ce.amazonaws.com", "budgets.amazonaws.com"}
)

# What each kind of principal typically calls: (event source, event name, read only).
CALLS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "admin": (
        ("iam.amazonaws.com", "ListRoles", True),
        ("iam.amazonaws.com", "GetRole", True),
        ("ec2.amazonaws.com", "DescribeInstances", True),
        ("ec2.amazonaws.com", "DescribeSecurityGroups", True),
        ("cloudformation.amazonaws.com", "DescribeStacks", True),
        ("s3.amazonaws.com", "ListBuckets", True),
        ("iam.amazonaws.com", "AttachRolePolicy", False),
        ("kms.amazonaws.com", "ListKeys", True),
    ),
    "readonly": (
        ("ec2.amazonaws.com", "DescribeInstances", True),
        ("monitoring.amazonaws.com", "GetMetricData", True),
        ("logs.amazonaws.com", "DescribeLogGroups", True),
        ("s3.amazonaws.com", "ListBuckets", True),
        ("rds.amazonaws.com", "DescribeDBInstances", True),
        ("ecs.amazonaws.com", "DescribeServices", True),
    ),
    "developer": (
        ("ecs.amazonaws.com", "DescribeServices", True),
        ("ecs.amazonaws.com", "UpdateService", False),
        ("lambda.amazonaws.com", "ListFunctions20150331", True),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False),
        ("logs.amazonaws.com", "DescribeLogGroups", True),
        ("cloudformation.amazonaws.com", "DescribeStacks", True),
        ("ecr.amazonaws.com", "DescribeRepositories", True),
        ("ec2.amazonaws.com", "DescribeInstances", True),
    ),
    "data": (
        ("athena.amazonaws.com", "StartQueryExecution", False),
        ("athena.amazonaws.com", "GetQueryExecution", True),
        ("athena.amazonaws.com", "GetQueryResults", True),
        ("glue.amazonaws.com", "GetTables", True),
        ("glue.amazonaws.com", "GetDatabases", True),
    ),
    "finance": (
        ("ce.amazonaws.com", "GetCostAndUsage", True),
        ("ce.amazonaws.com", "GetCostForecast", True),
        ("budgets.amazonaws.com", "DescribeBudgets", True),
    ),
    "security": (
        ("securityhub.amazonaws.com", "GetFindings", True),
        ("guardduty.amazonaws.com", "ListDetectors", True),
        ("config.amazonaws.com", "DescribeConfigRules", True),
        ("iam.amazonaws.com", "GetAccountAuthorizationDetails", True),
        ("cloudtrail.amazonaws.com", "DescribeTrails", True),
    ),
    "deploy": (
        ("cloudformation.amazonaws.com", "CreateChangeSet", False),
        ("cloudformation.amazonaws.com", "ExecuteChangeSet", False),
        ("cloudformation.amazonaws.com", "DescribeStacks", True),
        ("ecr.amazonaws.com", "GetAuthorizationToken", True),
        ("ecs.amazonaws.com", "UpdateService", False),
    ),
    "monitor": (
        ("monitoring.amazonaws.com", "GetMetricData", True),
        ("monitoring.amazonaws.com", "DescribeAlarms", True),
        ("ec2.amazonaws.com", "DescribeInstances", True),
        ("logs.amazonaws.com", "DescribeLogGroups", True),
    ),
    "etl": (
        ("glue.amazonaws.com", "StartJobRun", False),
        ("glue.amazonaws.com", "GetJobRuns", True),
        ("athena.amazonaws.com", "StartQueryExecution", False),
    ),
    "runtime": (
        ("ssm.amazonaws.com", "GetParameter", True),
        ("kms.amazonaws.com", "Decrypt", True),
        ("secretsmanager.amazonaws.com", "GetSecretValue", True),
    ),
    # the 12 calls of a platform operations team that holds 400 actions (escalation_plants: right-sizing)
    "platform_operations": (
        ("ec2.amazonaws.com", "DescribeInstances", True),
        ("ec2.amazonaws.com", "DescribeSecurityGroups", True),
        ("ec2.amazonaws.com", "StartInstances", False),
        ("ec2.amazonaws.com", "StopInstances", False),
        ("monitoring.amazonaws.com", "GetMetricData", True),
        ("monitoring.amazonaws.com", "DescribeAlarms", True),
        ("logs.amazonaws.com", "DescribeLogGroups", True),
        ("logs.amazonaws.com", "FilterLogEvents", True),
        ("ecs.amazonaws.com", "DescribeServices", True),
        ("ecs.amazonaws.com", "UpdateService", False),
        ("lambda.amazonaws.com", "ListFunctions20150331", True),
        ("ssm.amazonaws.com", "GetParameter", True),
    ),
    "console": (
        ("ec2.amazonaws.com", "DescribeInstances", True),
        ("monitoring.amazonaws.com", "DescribeAlarms", True),
        ("iam.amazonaws.com", "ListUsers", True),
        ("s3.amazonaws.com", "ListBuckets", True),
    ),
}


def ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class IdcIdentity:
    user_name: str
    user_id: str
    ip: str
    agent: str


@dataclass(frozen=True)
class RoleRef:
    account_id: str
    name: str
    role_id: str
    arn: str


@dataclass(frozen=True)
class IamUserRef:
    account_id: str
    name: str
    user_id: str
    arn: str
    ip: str
    mfa_serial: str | None = None


class Events:
    """Builds records for one organisation (management account, IdC home region, identity store)."""

    def __init__(self, rng: random.Random, management_id: str, region: str, identity_store_id: str) -> None:
        self.rng = rng
        self.management_id = management_id
        self.region = region
        self.store_arn = f"arn:aws:identitystore::{management_id}:identitystore/{identity_store_id}"
        self.login_to = (
            f"https://{identity_store_id}.awsapps.com/start/?organization={identity_store_id}&region={region}"
        )

    # --- primitives ---------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def temporary_key(self) -> str:
        return "ASIA" + "".join(self.rng.choice(string.ascii_uppercase + "234567") for _ in range(16))

    def token(self, length: int) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(length))

    def record(
        self,
        when: datetime,
        source: str,
        name: str,
        account: str,
        identity: dict,
        *,
        region: str | None = None,
        event_type: str = "AwsApiCall",
        read_only: bool | None = None,
        request: dict | None = None,
        response: dict | None = None,
        additional: dict | None = None,
        resources: list | None = None,
        details: dict | None = None,
        agent: str = "",
        ip: str = "",
        error: tuple[str, str] | None = None,
        version: str = "1.09",
    ) -> dict[str, Any]:
        region = region or ("us-east-1" if source in GLOBAL_SOURCES else self.region)
        record: dict[str, Any] = {
            "eventVersion": version,
            "userIdentity": identity,
            "eventTime": ts(when),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": agent,
        }
        if error:
            record["errorCode"], record["errorMessage"] = error
        record["requestParameters"] = request
        record["responseElements"] = response
        if additional is not None:
            record["additionalEventData"] = additional
        record["requestID"] = self.uuid()
        record["eventID"] = self.uuid()
        if read_only is not None:
            record["readOnly"] = read_only
        if resources:
            record["resources"] = resources
        record.update(
            eventType=event_type, managementEvent=True, recipientAccountId=account, eventCategory="Management"
        )
        if details is not None:
            record["serviceEventDetails"] = details
        if event_type == "AwsApiCall":
            host = source if source in GLOBAL_SOURCES else source.replace(".amazonaws.com", f".{region}.amazonaws.com")
            record["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host,
            }
        return record

    # --- Identity Center (management account, home region) -------------------------------

    def idc_identity(self, user: IdcIdentity, when: datetime) -> dict[str, Any]:
        if when < IDC_IDENTITY_CHANGE:
            return {
                "type": "Unknown",
                "principalId": self.management_id,
                "arn": "",
                "accountId": self.management_id,
                "accessKeyId": "",
                "userName": user.user_name,
            }
        return {
            "type": "IdentityCenterUser",
            "accountId": self.management_id,
            "onBehalfOf": {"userId": user.user_id, "identityStoreArn": self.store_arn},
            "credentialId": self.token(32),
        }

    def _signin(
        self,
        user: IdcIdentity,
        when: datetime,
        name: str,
        credential: str,
        outcome: str,
        workflow: str,
        identity: dict,
        extra: dict | None = None,
    ) -> dict:
        additional = {"AuthWorkflowID": workflow, "CredentialType": credential, **(extra or {})}
        return self.record(
            when,
            "signin.amazonaws.com",
            name,
            self.management_id,
            identity,
            event_type="AwsServiceEvent",
            read_only=False,
            additional=additional,
            details={name: outcome},
            agent=user.agent,
            ip=user.ip,
            version="1.08",
        )

    def idc_sign_in(self, user: IdcIdentity, when: datetime, failed_first: bool = False) -> list[dict]:
        """Password + TOTP sign-in: challenge and verification per factor, then UserAuthentication."""
        records = []
        new_shape = when >= IDC_IDENTITY_CHANGE
        if failed_first:
            workflow, identity = self.uuid(), self.idc_identity(user, when - timedelta(seconds=40))
            extra = {"UserName": user.user_name} if new_shape else None
            records += [
                self._signin(
                    user,
                    when - timedelta(seconds=40),
                    "CredentialChallenge",
                    "PASSWORD",
                    "Success",
                    workflow,
                    identity,
                    extra,
                ),
                self._signin(
                    user,
                    when - timedelta(seconds=31),
                    "CredentialVerification",
                    "PASSWORD",
                    "Failure",
                    workflow,
                    identity,
                ),
            ]
        workflow, identity = self.uuid(), self.idc_identity(user, when)
        extra = {"UserName": user.user_name} if new_shape else None
        login_to = {"LoginTo": self.login_to}
        records += [
            self._signin(user, when, "CredentialChallenge", "PASSWORD", "Success", workflow, identity, extra),
            self._signin(
                user, when + timedelta(seconds=6), "CredentialVerification", "PASSWORD", "Success", workflow, identity
            ),
            self._signin(
                user, when + timedelta(seconds=7), "CredentialChallenge", "TOTP", "Success", workflow, identity
            ),
            self._signin(
                user, when + timedelta(seconds=19), "CredentialVerification", "TOTP", "Success", workflow, identity
            ),
            self._signin(
                user,
                when + timedelta(seconds=19),
                "UserAuthentication",
                "PASSWORD,TOTP",
                "Success",
                workflow,
                identity,
                login_to,
            ),
        ]
        return records

    def sso_authenticate(self, user: IdcIdentity, when: datetime) -> dict:
        """The older portal sign-in event (sso.amazonaws.com Authenticate)."""
        return self.record(
            when,
            "sso.amazonaws.com",
            "Authenticate",
            self.management_id,
            self.idc_identity(user, when),
            event_type="AwsServiceEvent",
            read_only=False,
            agent=user.agent,
            ip=user.ip,
            version="1.08",
        )

    def portal(self, user: IdcIdentity, when: datetime, account_id: str | None, role_name: str | None) -> list[dict]:
        """Access-portal calls: ListAccounts, then ListAccountRoles and GetRoleCredentials for the target."""

        def portal_event(offset: int, name: str, details: dict | None) -> dict:
            moment = when + timedelta(seconds=offset)
            return self.record(
                moment,
                "sso.amazonaws.com",
                name,
                self.management_id,
                self.idc_identity(user, moment),
                event_type="AwsServiceEvent",
                read_only=True,
                details=details,
                agent=user.agent,
                ip=user.ip,
                version="1.08",
            )

        records = [portal_event(0, "ListAccounts", None)]
        if account_id and role_name:
            records.append(portal_event(5, "ListAccountRoles", {"account_id": account_id}))
            records.append(portal_event(9, "GetRoleCredentials", {"role_name": role_name, "account_id": account_id}))
        return records

    # --- a permission set used in a member account ------------------------------------

    def saml_session(self, user: IdcIdentity, when: datetime, role: RoleRef, provider_name: str) -> tuple[dict, dict]:
        """AssumeRoleWithSAML into the reserved role; returns the record and the session's identity."""
        qualifier = self.token(27) + "="
        key = self.temporary_key()
        session_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{user.user_name}"
        provider = f"arn:aws:iam::{role.account_id}:saml-provider/{provider_name}"
        record = self.record(
            when,
            "sts.amazonaws.com",
            "AssumeRoleWithSAML",
            role.account_id,
            {
                "type": "SAMLUser",
                "principalId": f"{qualifier}:{user.user_name}",
                "userName": user.user_name,
                "identityProvider": qualifier,
            },
            read_only=True,
            agent=user.agent,
            ip=user.ip,
            request={
                "sAMLAssertionID": f"_{self.uuid()}",
                "roleSessionName": user.user_name,
                "durationSeconds": 3600,
                "roleArn": role.arn,
                "principalArn": provider,
            },
            response={
                "subjectType": "persistent",
                "issuer": f"https://portal.sso.{self.region}.amazonaws.com/saml/assertion/{self.token(40)}",
                "credentials": {
                    "accessKeyId": key,
                    "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
                    "expiration": (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p"),
                },
                "nameQualifier": qualifier,
                "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{user.user_name}", "arn": session_arn},
                "subject": user.user_name,
                "audience": "https://signin.aws.amazon.com/saml",
            },
            resources=[
                {"ARN": role.arn, "accountId": role.account_id, "type": "AWS::IAM::Role"},
                {"ARN": provider, "accountId": role.account_id, "type": "AWS::IAM::SAMLProvider"},
            ],
        )
        identity = self.role_identity(role, user.user_name, key, when)
        if when >= IDC_IDENTITY_CHANGE:
            identity["onBehalfOf"] = {"userId": user.user_id, "identityStoreArn": self.store_arn}
        return record, identity

    def role_identity(self, role: RoleRef, session: str, key: str, created: datetime, mfa: bool = False) -> dict:
        return {
            "type": "AssumedRole",
            "principalId": f"{role.role_id}:{session}",
            "arn": f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session}",
            "accountId": role.account_id,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role.role_id,
                    "arn": role.arn,
                    "accountId": role.account_id,
                    "userName": role.name,
                },
                "webIdFederationData": {},
                "attributes": {"creationDate": ts(created), "mfaAuthenticated": str(mfa).lower()},
            },
        }

    def federated_console_login(self, identity: dict, when: datetime, agent: str, ip: str) -> dict:
        return self.record(
            when,
            "signin.amazonaws.com",
            "ConsoleLogin",
            identity["accountId"],
            identity,
            event_type="AwsConsoleSignIn",
            read_only=False,
            response={"ConsoleLogin": "Success"},
            additional={"MobileVersion": "No", "MFAUsed": "No"},
            agent=agent,
            ip=ip,
            version="1.08",
        )

    def calls(
        self,
        identity: dict,
        account_id: str,
        start: datetime,
        catalogue: str,
        count: int,
        agent: str,
        ip: str,
        *,
        console: bool = False,
    ) -> list[dict]:
        """``count`` calls from a catalogue, the first at ``start``, then minutes apart; a few are denied."""
        records = []
        moment = start
        for index in range(count):
            if index:
                moment = moment + timedelta(seconds=self.rng.randrange(20, 900))
            source, name, read_only = self.rng.choice(CALLS[catalogue])
            error = None
            if self.rng.random() < 0.03:
                code = "Client.UnauthorizedOperation" if source.startswith("ec2.") else "AccessDenied"
                action = f"{source.split('.')[0]}:{name}"
                error = (code, f"User: {identity.get('arn', account_id)} is not authorized to perform: {action}")
            record = self.record(
                moment,
                source,
                name,
                account_id,
                identity,
                read_only=read_only,
                request=None if read_only else {"requestId": self.uuid()},
                agent=agent,
                ip=ip,
                error=error,
            )
            if console:
                record["sessionCredentialFromConsole"] = "true"
            records.append(record)
        return records

    # --- IAM users and root ------------------------------------------------------------------

    def iam_identity(
        self, user: IamUserRef, access_key: str | None = None, session: datetime | None = None, mfa: bool = False
    ) -> dict:
        identity: dict[str, Any] = {
            "type": "IAMUser",
            "principalId": user.user_id,
            "arn": user.arn,
            "accountId": user.account_id,
        }
        if access_key is not None:
            identity["accessKeyId"] = access_key
        identity["userName"] = user.name
        if session is not None:
            identity["sessionContext"] = {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": ts(session), "mfaAuthenticated": str(mfa).lower()},
            }
        return identity

    def iam_console_login(self, user: IamUserRef, when: datetime, agent: str) -> dict:
        mfa = user.mfa_serial is not None
        additional = {
            "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": "Yes" if mfa else "No",
        }
        if mfa:
            additional["MFAIdentifier"] = user.mfa_serial
        region = self.rng.choice(("us-east-1", self.region, "us-east-2", "eu-north-1"))
        return self.record(
            when,
            "signin.amazonaws.com",
            "ConsoleLogin",
            user.account_id,
            self.iam_identity(user),
            region=region,
            event_type="AwsConsoleSignIn",
            read_only=False,
            response={"ConsoleLogin": "Success"},
            additional=additional,
            agent=agent,
            ip=user.ip,
            version="1.08",
        )

    def root_console_login(self, account_id: str, when: datetime, ip: str, agent: str) -> list[dict]:
        identity = {
            "type": "Root",
            "principalId": account_id,
            "arn": f"arn:aws:iam::{account_id}:root",
            "accountId": account_id,
            "accessKeyId": "",
        }
        login = self.record(
            when,
            "signin.amazonaws.com",
            "ConsoleLogin",
            account_id,
            identity,
            region="us-east-1",
            event_type="AwsConsoleSignIn",
            read_only=False,
            response={"ConsoleLogin": "Success"},
            additional={
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "Yes",
            },
            agent=agent,
            ip=ip,
            version="1.08",
        )
        session = dict(
            identity,
            accessKeyId=self.temporary_key(),
            sessionContext={"attributes": {"creationDate": ts(when), "mfaAuthenticated": "true"}},
        )
        summary = self.record(
            when + timedelta(minutes=2),
            "iam.amazonaws.com",
            "GetAccountSummary",
            account_id,
            session,
            read_only=True,
            agent=agent,
            ip=ip,
        )
        summary["sessionCredentialFromConsole"] = "true"
        return [login, summary]

    def service_assume_role(self, role: RoleRef, when: datetime, service: str, session: str) -> tuple[dict, dict]:
        """A service (ECS, Lambda, Glue) assuming a workload role; returns the record and the session identity."""
        key = self.temporary_key()
        record = self.record(
            when,
            "sts.amazonaws.com",
            "AssumeRole",
            role.account_id,
            {"type": "AWSService", "invokedBy": service},
            read_only=True,
            agent=service,
            ip=service,
            request={"roleArn": role.arn, "roleSessionName": session},
            response={
                "credentials": {
                    "accessKeyId": key,
                    "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
                    "expiration": (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p"),
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"{role.role_id}:{session}",
                    "arn": f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session}",
                },
            },
            resources=[{"ARN": role.arn, "accountId": role.account_id, "type": "AWS::IAM::Role"}],
        )
        return record, self.role_identity(role, session, key, when)

    def cross_account_assume_role(
        self, role: RoleRef, when: datetime, caller_account: str, session: str, agent: str, ip: str
    ) -> tuple[dict, dict]:
        """A caller in another account (a CI runner) assuming the role: userIdentity type AWSAccount."""
        key = self.temporary_key()
        record = self.record(
            when,
            "sts.amazonaws.com",
            "AssumeRole",
            role.account_id,
            {
                "type": "AWSAccount",
                "principalId": f"AROA{self.token(17).upper()}:{session}",
                "accountId": caller_account,
            },
            read_only=True,
            agent=agent,
            ip=ip,
            request={"roleArn": role.arn, "roleSessionName": session, "durationSeconds": 3600},
            response={
                "credentials": {
                    "accessKeyId": key,
                    "sessionToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
                    "expiration": (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p"),
                },
                "assumedRoleUser": {
                    "assumedRoleId": f"{role.role_id}:{session}",
                    "arn": f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session}",
                },
            },
            resources=[{"ARN": role.arn, "accountId": role.account_id, "type": "AWS::IAM::Role"}],
        )
        return record, self.role_identity(role, session, key, when)
