import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import botocore.loaders
import botocore.session
import pytest

from tests import postgresql


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


@pytest.fixture(autouse=True, scope="package")
def _environment_restored_per_package():
    """Each package leaves the process environment as it found it: a sandbox sets moto's switches
    (MOTO_IAM_LOAD_MANAGED_POLICIES) process-wide, and the next package on the worker must not pay for them."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True, scope="session")
def _one_botocore_loader():
    """The sessions tests make themselves (moto set-up, fake contexts) share one botocore loader too, as the
    product's own do (``auditor.aws.context``): each service model is parsed once per test process."""
    shared = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *_: shared)
        yield


class _SlackWebhook(BaseHTTPRequestHandler):
    """A Slack incoming webhook on 127.0.0.1: records each JSON body, answers ``status``."""

    received: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    """(URL, handler class): the handler's ``received`` bodies and settable ``status``."""
    _SlackWebhook.received, _SlackWebhook.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _SlackWebhook)
    # a short poll interval: shutdown() waits for the loop to notice, 0.5 s by default
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/services/T000/B000/XXXX", _SlackWebhook
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def postgresql_server():
    """The SQLAlchemy URL of a PostgreSQL server: $AUDITOR_TEST_POSTGRESQL_URL, else one started for the session.

    Skips (saying why) only when no server can be started here.
    """
    given = os.environ.get(postgresql.ENV_URL)
    if given:
        yield given
        return
    try:
        server = postgresql.start()
    except postgresql.NoServer as exc:
        pytest.skip(f"PostgreSQL: no server could be started ({exc}); set {postgresql.ENV_URL} to use one")
    yield server.url
    postgresql.stop(server.directory)


@pytest.fixture
def postgresql_url(postgresql_server):
    """A new, empty database on the test server, dropped after the test (its URL, with the password)."""
    with postgresql.fresh_database(postgresql_server) as url:
        yield url


def pytest_collection_modifyitems(items):
    """A test on the PostgreSQL server starts (or reaches) a database server: it is end to end, not in the quick loop."""
    for item in items:
        on_server = {"postgresql_url", "postgresql_server"} & set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if on_server or (callspec is not None and callspec.params.get("store_url") == "postgresql"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Where a store-touching test keeps its state: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "state.db")
    return request.getfixturevalue("postgresql_url")
