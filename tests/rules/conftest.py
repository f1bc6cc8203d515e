import pytest

from auditor.analyze import analyze
from auditor.config import defaults


@pytest.fixture
def findings_of():
    """Run the catalogue on a world; return findings of one rule, keyed by principal name."""

    def run(world, rule_id, **snapshot_kwargs):
        found = analyze(world.snapshot(**snapshot_kwargs), defaults(), world.as_of)
        return {f.principal.name: f for f in found if f.rule_id == rule_id}

    return run
