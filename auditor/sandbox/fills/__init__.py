"""Operations moto 5.2.5 lacks, answers inexactly or too slowly, filled to the AWS API reference: one per service.

``install()`` puts the fills into moto's response and backend classes, so
moto (in process or as a server) answers them and the product runs the code
paths it runs against AWS, with no workaround for moto. Answers are
``ActionResult`` dicts that moto serialises through botocore's output
shapes. ``uninstall()`` gives moto back its own classes: what stays is stock
moto, which is how the sandbox serves its estate in stock mode.

- ``identitystore``: UpdateUser; UserStatus and times in DescribeUser/ListUsers.
- ``iam``: Access Advisor; the credential report's ``<root_account>`` row; AIDA/AGPA ids.
- ``athena``: queries run for real over the bucket's objects (DuckDB, after
  sqlglot transpiles the text); GetTableMetadata; paged GetQueryResults.
- ``sso_admin``: provisioning per account and its reserved roles; permissions
  boundaries; tags; real permission set ARNs; one home region.
- ``s3``: ListObjects(V2) pages at the cost of the prefix's keys, not the
  whole bucket's (moto's own answers, found by bisection in names kept sorted).

Only operations a product path (a collector, remediation) or the sandbox's
builder calls are filled, and the few that keep that state coherent when
called (ProvisionPermissionSet and its status, which stock moto answers
without provisioning; DeletePermissionsBoundary, the undo of Put).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from auditor.sandbox.fills import athena, iam, identitystore, s3, sso_admin
from auditor.sandbox.patching import Patches

_patches = Patches()


def install() -> None:
    """Patch moto's classes (process-wide, as moto's state is); idempotent. ``uninstall`` undoes it."""
    if _patches:
        return
    for service in (identitystore, iam, sso_admin, athena, s3):
        service.install(_patches)


def uninstall() -> None:
    """Give moto back its own classes, so whoever talks to it sees stock moto."""
    _patches.undo()


def active() -> bool:
    return bool(_patches)


@contextmanager
def installed() -> Iterator[None]:
    """The fills for the duration of the block; left as they are when they were already installed."""
    if active():
        yield
        return
    install()
    try:
        yield
    finally:
        uninstall()
