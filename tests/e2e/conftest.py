"""One sandbox for this package's end-to-end tests (moto's state is process-global).

Package-scoped, not session-scoped: under pytest-xdist a worker may run other
packages' in-process moto tests after these, and they must find moto as they
left it, so the sandbox closes when the worker leaves this package.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from auditor.sandbox import start_sandbox

# A fixed as-of keeps the estate, the findings and the assertions reproducible.
E2E_AS_OF = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="package")
def sandbox(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sandbox")
    with start_sandbox(size="small", seed=7, as_of=E2E_AS_OF, workdir=workdir) as box:
        yield box


@pytest.fixture
def sandbox_env(sandbox, monkeypatch):
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    assert os.environ["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    return sandbox


@pytest.fixture
def stock_sandbox_env(sandbox_env):
    """The same estate served as a stock moto server serves it (no fills), for one test; then filled again."""
    sandbox_env.serve_stock()
    try:
        yield sandbox_env
    finally:
        sandbox_env.serve_stock(False)
