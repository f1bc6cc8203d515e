"""`auditor demo` and `auditor sandbox serve`: the simulated organisation (the only commands that import it)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from auditor import configure
from auditor.cli import common
from auditor.cli.summary import print_summary
from auditor.exit_codes import EXIT_OK
from auditor.progress import Progress
from auditor.schedule.nightly import nightly_run
from auditor.store import Store

EXAMPLES = {
    "demo": "auditor demo --out ./demo-out --size small --seed 7",
    "sandbox": "auditor sandbox serve --port 5000 --size small",
}
SIZES = ["tiny", "small", "medium", "large"]  # large: the benchmarks' estate, minutes to build


def register(commands: common.Commands) -> None:
    demo = common.add_command(
        commands, "demo", "Build the simulated organisation and run the whole pipeline on it.", EXAMPLES["demo"]
    )
    demo.add_argument(
        "--out", type=Path, default=Path("auditor-demo"), help="output directory (default ./auditor-demo)"
    )
    demo.add_argument("--size", choices=SIZES, default="small")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--as-of", help="ISO 8601 time the estate is built and evaluated at (default now)")
    demo.add_argument("--state", help="state store path or SQLAlchemy URL (default OUT/state.db)")

    sandbox = common.add_command(
        commands,
        "sandbox",
        "Serve the simulated organisation on a local endpoint for `auditor run`.",
        EXAMPLES["sandbox"],
    )
    actions = sandbox.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="build it and serve until interrupted")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--size", choices=SIZES, default="small")
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--as-of", help="ISO 8601 time the estate is built at (default now)")
    serve.add_argument("--workdir", type=Path, default=Path("auditor-sandbox"), help="where the HR feed is written")
    serve.add_argument(
        "--stock",
        action="store_true",
        help="serve the same estate as a stock emulator would, without the filled-in operations and fields "
        "(what a real estate that omits fields and denies optional calls looks like to the auditor)",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from auditor.sandbox import start_sandbox  # the sandbox needs the optional moto dependency

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with Progress.for_stream(sys.stderr) as progress, ExitStack() as stack:
        with progress.phase(f"building the {args.size} sandbox organisation (seed {args.seed})"):
            sandbox = stack.enter_context(
                start_sandbox(size=args.size, seed=args.seed, as_of=common.as_of(args), workdir=out / "sandbox")
            )
        progress.note(f"Sandbox ready at {sandbox.endpoint_url}; running the audit as of {sandbox.as_of.isoformat()}")
        store = Store.open(args.state or out / "state.db")  # the demo never touches the real history
        # the sandbox writes the settings its estate is meant to be audited with (department groups);
        # they go beside the outputs too, for `auditor run`, `analyze` and `explain` on this estate
        config = write_run_config(sandbox.config_file, sandbox.hr_feed, out)
        settings = configure.load(config, required=True)
        with _environment(sandbox.env()):
            result = nightly_run(
                settings, store, out_dir=out, as_of=sandbox.as_of, hr_feed=sandbox.hr_feed, progress=progress
            )
    print_summary(result)
    return result.exit_code


def write_run_config(sandbox_config: Path, hr_feed: Path, out: Path) -> Path:
    """OUT/config.toml: the sandbox's settings, its HR feed named relative to OUT (where the file now lives)."""
    text = sandbox_config.read_text(encoding="utf-8")
    feed = hr_feed.resolve().relative_to(out.resolve()).as_posix()
    text = text.replace(f"feed = {json.dumps(hr_feed.name)}", f"feed = {json.dumps(feed)}", 1)
    path = out / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cmd_sandbox(args: argparse.Namespace) -> int:
    from auditor.sandbox import PortUnavailable, serve  # the sandbox needs the optional moto dependency

    try:
        serve(
            size=args.size,
            seed=args.seed,
            as_of=common.as_of(args),
            workdir=args.workdir,
            port=args.port,
            stock=args.stock,
        )
    except PortUnavailable as exc:
        raise common.UsageError(str(exc)) from exc
    return EXIT_OK


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Point boto3 at the sandbox for the duration of the demo, then restore."""
    saved = {key: os.environ.get(key) for key in values}
    profile = os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if profile is not None:
            os.environ["AWS_PROFILE"] = profile
