"""Start a sandbox: moto's application served on 127.0.0.1, the planned world built into it.

The estate is always built with moto's gaps filled (``fills``). It is then
served either with the fills (the default: answers as AWS gives them) or in
stock mode, as a stock moto server serves the same estate (a real estate
omits fields and lacks calls the same way); ``Sandbox.serve_stock`` switches
a running sandbox between the two.

moto keeps its state in process-wide globals, so one process holds one
sandbox at a time: ``start_sandbox`` closes any sandbox this process still
has open (its endpoint stops answering) and resets moto's state, every
backend in the process and not only the sandbox's.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.sandbox.plan import Plant

if TYPE_CHECKING:
    from auditor.sandbox.build import Built

REGION = "us-east-1"  # the home region of Identity Center and the trail
_lock = threading.Lock()
_open: list[Sandbox] = []


@dataclass
class Planted:
    """One lifecycle problem deliberately planted (or, in ``Sandbox.boundary``, a case just short of one)."""

    problem: str
    principal_type: str  # idc_user | idc_group | iam_user | iam_role | access_key | permission_set | root
    name: str  # the principal's name (IdC user or group, IAM user or role, permission set, "root"); a deleted
    # IdC user's id, the only name left of it
    account_id: str | None
    detail: dict


@dataclass
class Sandbox:
    """A running sandbox organisation; ``close()`` (or leaving the ``with`` block) stops its server."""

    endpoint_url: str
    region: str
    as_of: datetime
    size: str
    seed: int
    management_account_id: str
    organization_id: str
    trail_bucket: str
    hr_feed: Path
    planted: list[Planted]
    clean: list[tuple[str, str, str | None]]  # (principal_type, name, account_id) with no planted problem
    boundary: list[Planted] = field(default_factory=list)  # just inside a threshold: must not be reported
    accounts: dict[str, str] = field(default_factory=dict)  # account name -> id
    identity_store_id: str = ""
    instance_arn: str = ""
    config_file: Path | None = None  # beside the HR feed: settings for `auditor run --config`
    planted_file: Path | None = None  # beside the HR feed: planted, boundary and clean as JSON
    stock: bool = False  # served as stock moto serves it, without the fills
    _server: Any = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        """Environment for the product: the endpoint, fake credentials, the home region."""
        from auditor.sandbox.build import FAKE_KEY_ID, FAKE_SECRET

        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_DEFAULT_REGION": self.region,
        }

    def serve_stock(self, stock: bool = True) -> None:
        """Serve this estate as stock moto serves it (``True``) or with moto's gaps filled (``False``).

        The estate stays as built; only the answers change. The fills are
        process-wide, like moto's state, so this affects moto in the whole
        process.
        """
        from auditor.sandbox import fills
        from auditor.sandbox.fills.sso_admin import record_all_for_stock

        with _lock:
            if self._server is None:
                raise RuntimeError("the sandbox is closed")
            if stock:
                record_all_for_stock()  # the estate provisioned what it assigned, stock moto must know it
                fills.uninstall()
            else:
                fills.install()
            self.stock = stock

    def close(self) -> None:
        from auditor.sandbox import fills, moto_setup

        with _lock:
            if self._server is None:
                return
            self._server.stop()
            self._server = None
            if self in _open:
                _open.remove(self)
            fills.uninstall()
            moto_setup.uninstall()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PortUnavailable(OSError):
    """The port asked for cannot be bound (another process listens on it): nothing was built."""


def check_port(port: int, host: str = "127.0.0.1") -> None:
    """Raise ``PortUnavailable`` when ``port`` cannot be bound, before anything is built.

    The server binds only after moto's process-wide state has been reset
    (which closes any sandbox still open), so the port is tried here first,
    with the SO_REUSEADDR a listening server sets.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except (OSError, OverflowError) as exc:  # taken, not allowed, or not a port number at all
            why = getattr(exc, "strerror", None) or str(exc)
            raise PortUnavailable(f"cannot serve on {host}:{port}: {why} (choose another --port)") from exc


def default_as_of() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def _start_server(port: int, size: str, seed: int, as_of: datetime) -> tuple[Any, str]:
    """Reset moto, seed its ids, set its clock, install the fills, and serve on 127.0.0.1."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # read when an IAM backend is created
    from moto.moto_api._internal import mock_random
    from moto.moto_api._internal.models import moto_api_backend

    from auditor.sandbox import fills, moto_setup

    moto_api_backend.reset()
    mock_random.seed(f"auditor-sandbox:{size}:{seed}")
    moto_setup.install(as_of)
    fills.install()  # the builder needs them, whichever mode the estate is served in
    server = _Server("127.0.0.1", port)
    host, bound = server.address
    return server, f"http://{host}:{bound}"


class _Server:
    """moto's WSGI application served over HTTP/1.1 with connections kept alive, as AWS endpoints keep them.

    moto's own server (werkzeug's development server) closes every
    connection after one response, so a client would open a TCP connection
    per request, which no AWS endpoint makes it do; every idle connection
    is kept, however many clients hold one. Requests are dispatched to
    moto's services without its per-request lock (``dispatch``). ``app`` may
    be wrapped (a benchmark counts requests so).
    """

    THREADS = 40  # more than the product's widest fan-out (32 fetch threads) plus the other collectors

    def __init__(self, host: str, port: int) -> None:
        from cheroot.wsgi import Server
        from moto.server import create_backend_app

        from auditor.sandbox.dispatch import Dispatcher

        self.app = Dispatcher(create_backend_app)
        self._server = Server((host, port), self._dispatch, numthreads=self.THREADS, server_name="sandbox")
        # cheroot keeps at most ten idle connections open and closes the rest after their response: the
        # product's 32 fetch threads would each reconnect per object, as no AWS endpoint makes them do
        self._server.keep_alive_conn_limit = None
        self._server.prepare()  # binds here: a port that cannot be bound raises in the caller
        self.address: tuple[str, int] = self._server.bind_addr
        self._thread = threading.Thread(target=self._server.serve, name="sandbox-server", daemon=True)
        self._thread.start()

    def _dispatch(self, environ, start_response):
        return self.app(environ, start_response)

    def stop(self) -> None:
        self._server.stop()
        self._thread.join()


def _planted(plant: Plant, built: Built) -> Planted:
    detail = dict(plant.detail)
    if plant.key is not None:
        detail["access_key_id"] = plant.key.key_id
    account_id = built.account_ids[plant.account_key] if plant.account_key else None
    name = built.user_ids[plant.user_id_of] if plant.user_id_of else plant.name
    return Planted(plant.problem, plant.principal_type, name, account_id, detail)


def start_sandbox(
    *,
    size: str = "small",
    seed: int = 1,
    as_of: datetime | None = None,
    workdir: Path,
    port: int = 0,
    stock: bool = False,
    delivery_minutes: int | None = None,
) -> Sandbox:
    """Build a sandbox organisation and serve it; deterministic for a (size, seed, as_of).

    ``as_of`` defaults to now (UTC) truncated to the minute; everything the
    product reads is placed relative to it, even when it lies in the past.
    ``workdir`` receives hr.csv, config.toml (settings for ``auditor run
    --config``) and planted.json (see ``workdir.py``).
    ``stock`` serves the same estate without the fills, as stock moto would.
    ``delivery_minutes`` is the span of events one log object holds (default
    eight hours; CloudTrail's own is about five minutes, many more objects).
    Only one sandbox lives per process: starting one closes the previous
    one and resets moto's process-wide state.
    """
    from auditor.sandbox.activity import generate
    from auditor.sandbox.backdate import backdate
    from auditor.sandbox.build import Clients, build
    from auditor.sandbox.lifecycle_plants import add_records as add_lifecycle_records
    from auditor.sandbox.people import write_hr_csv
    from auditor.sandbox.trail import DELIVERY_MINUTES, deliver
    from auditor.sandbox.workdir import write_config, write_planted
    from auditor.sandbox.world import plan_world

    as_of = default_as_of() if as_of is None else as_of
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of = as_of.astimezone(UTC)
    check_port(port)
    world = plan_world(size, seed, as_of, REGION)
    for previous in list(_open):
        previous.close()
    with _lock:
        server, endpoint = _start_server(port, size, seed, as_of)
        sandbox = Sandbox(
            endpoint_url=endpoint,
            region=REGION,
            as_of=as_of,
            size=size,
            seed=seed,
            management_account_id="",
            organization_id="",
            trail_bucket="",
            hr_feed=Path(workdir),
            planted=[],
            clean=[],
            _server=server,
        )
        _open.append(sandbox)
    try:
        clients = Clients(endpoint, REGION)
        built = build(world, clients)
        records = generate(world, built)
        add_lifecycle_records(world, built, clients, records)
        deliver(world, built, records, delivery_minutes or DELIVERY_MINUTES)
        backdate(world, built, records)
        sandbox.hr_feed = write_hr_csv(Path(workdir) / "hr.csv", world.people)
        ids = built.account_ids
        sandbox.management_account_id, sandbox.organization_id = built.management_id, built.organization_id
        sandbox.trail_bucket, sandbox.identity_store_id, sandbox.instance_arn = (
            built.trail_bucket,
            built.identity_store_id,
            built.instance_arn,
        )
        sandbox.accounts = {world.account(key).name: account_id for key, account_id in ids.items()}
        sandbox.planted = [_planted(p, built) for p in world.plants]
        sandbox.boundary = [_planted(p, built) for p in world.boundary]
        sandbox.clean = [(kind, name, ids[key] if key else None) for kind, name, key in world.clean]
        if stock:
            sandbox.serve_stock()
        sandbox.config_file = write_config(world, Path(workdir), sandbox.hr_feed)
        sandbox.planted_file = write_planted(sandbox, Path(workdir))
    except BaseException:
        sandbox.close()
        raise
    return sandbox


def serve(*, size: str, seed: int, as_of: datetime | None, workdir: Path, port: int, stock: bool = False) -> None:
    """Build a sandbox, print how to reach it, and serve until SIGINT or SIGTERM (``stock``: without the fills)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start_sandbox(size=size, seed=seed, as_of=as_of, workdir=workdir, port=port, stock=stock) as sandbox:
            mode = ", stock moto: no gaps filled" if sandbox.stock else ""
            print(
                f"sandbox {sandbox.size} (seed {sandbox.seed}, as of {sandbox.as_of.isoformat()}{mode}) "
                f"at {sandbox.endpoint_url}"
            )
            for name, value in sandbox.env().items():
                print(f"export {name}={value}")
            print(f"HR feed: {sandbox.hr_feed}")
            print(f"settings for `auditor run --config`: {sandbox.config_file}")
            print(f"planted problems: {sandbox.planted_file}")
            print(f"organisation trail bucket: {sandbox.trail_bucket}")
            print("Ctrl-C to stop.", flush=True)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
