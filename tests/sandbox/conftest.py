"""One tiny sandbox for this package's tests (moto's state is process-global)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.sandbox import start_sandbox
from tests.sandbox.support import Aws, decode, trail_objects

# Straddles 2025-07-14, when Identity Center sign-in events changed shape: the trail holds both.
AS_OF = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
SEED = 7


@pytest.fixture(scope="package")
def tiny(tmp_path_factory):
    with start_sandbox(size="tiny", seed=SEED, as_of=AS_OF, workdir=tmp_path_factory.mktemp("tiny")) as box:
        yield box


@pytest.fixture(scope="package")
def aws(tiny) -> Aws:
    return Aws(tiny)


@pytest.fixture(scope="package")
def objects(aws) -> dict[str, bytes]:
    """Every object in the trail bucket, read once."""
    return trail_objects(aws)


@pytest.fixture(scope="package")
def records(objects) -> list[dict]:
    return [record for key, body in objects.items() if "/CloudTrail/" in key for record in decode(body)]


@pytest.fixture
def stock(tiny):
    """The tiny estate served as a stock moto server serves it (no fills), for one test."""
    tiny.serve_stock()
    try:
        yield tiny
    finally:
        tiny.serve_stock(False)
