"""How the sandbox runs moto in either mode: at the estate's clock, with AWS managed policies in one partition.

These are not fills of moto's gaps, and stock mode keeps them: what AWS
stamps as it happens (a signed request's key and role last use, the
trail's logging and delivery times) is stamped at the sandbox's clock
(``install(as_of)``) rather than the wall clock, as a stock emulator
running at that moment would stamp it; and AWS managed policies are loaded
into the ``aws`` partition only (moto would load them into six partitions
per account), which changes no answer in the sandbox's partition.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import moto.cloudtrail.models
import moto.iam.models
from moto.iam.exceptions import NotFoundException
from moto.iam.models import AccessKeyLastUsed, IAMBackend, iam_backends
from moto.utilities.utils import get_partition

from auditor.sandbox.patching import Patches

_frozen_now: datetime | None = None
_patches = Patches()


def now() -> datetime:
    """The sandbox's as-of while a sandbox runs, the wall clock otherwise (UTC)."""
    return _frozen_now or datetime.now(UTC)


def naive_now() -> datetime:
    """``now()`` the way moto keeps times: naive UTC."""
    return now().astimezone(UTC).replace(tzinfo=None)


def _mark_visited(account_id: str, access_key: str, service: str, region: str) -> None:
    """What AWS records when a request is signed: the key's and the assumed role's last use, at ``now()``.

    moto stamps the wall clock, which lies after as-of when the sandbox's
    world is set in the past (the role the product assumes would look used
    "in the future").
    """
    backend = iam_backends[account_id][get_partition(region)]
    key = backend.access_keys.get(access_key)
    if key is None:
        return
    moment = naive_now()
    key.last_used = AccessKeyLastUsed(timestamp=moment, service=service, region=region)
    if key.role_arn:
        try:
            role = backend.get_role_by_arn(key.role_arn)
        except NotFoundException:
            return
        role.last_used, role.last_used_region = moment, region


def _aws_partition_policies_only(original: Callable[[IAMBackend], list]) -> Callable[[IAMBackend], list]:
    """Load AWS managed policies into the ``aws`` partition's IAM backends only.

    moto resolves every request's access key by visiting each account's IAM
    backend in all six partitions, creating them on the way, and each would
    parse ~1,600 managed policies: a third of a medium sandbox's build time
    and most of its memory. The sandbox lives in the ``aws`` partition.
    """

    def init_aws_policies(self: IAMBackend) -> list:
        return original(self) if self.partition == "aws" else []

    return init_aws_policies


def install(as_of: datetime) -> None:
    """Stamp at ``as_of`` from now on and keep managed policies in one partition; ``uninstall`` undoes it."""
    global _frozen_now
    _frozen_now = as_of
    if _patches:
        return
    _patches.set(IAMBackend, "_init_aws_policies", _aws_partition_policies_only(IAMBackend._init_aws_policies))
    _patches.set(moto.iam.models, "mark_account_as_visited", _mark_visited)
    _patches.set(moto.cloudtrail.models, "utcnow", naive_now)  # trail status: logging started, latest delivery


def uninstall() -> None:
    global _frozen_now
    _frozen_now = None
    _patches.undo()
