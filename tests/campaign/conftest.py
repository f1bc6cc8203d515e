"""Fixtures: the estate of estate.py, saved as a run directory, and a fresh state store."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.config import Settings
from auditor.store import Store
from tests.builders import World
from tests.campaign.estate import build_world, make_settings, save_run


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def run_dir(tmp_path, world, settings) -> Path:
    return save_run(world, tmp_path / "run", settings)


@pytest.fixture
def store(store_url) -> Store:
    """The state store on SQLite, then on PostgreSQL (tests/conftest.py: store_url)."""
    return Store.open(store_url)
