import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_state(tmp_path_factory):
    """No test reads or writes the real state store under the user's home (session-wide, so that
    module- and session-scoped fixtures are covered too)."""
    saved = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    yield
    if saved is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = saved
