"""Time effective permissions and escalation paths over a sandbox estate's snapshot.

Builds the sandbox of the given size, collects its snapshot (not timed),
then times, in a fresh process state each:

  catalogue       reading AWS's action reference (once per process)
  effective       every IAM user, group, role and permission set (per assigned account), actions expanded
  escalation      every escalation path of every one of them

    python bench/effective_permissions.py [--size medium] [--seed N] [--snapshot DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from auditor import snapshot as snapshots
from auditor.permissions import PermissionModel, catalog
from auditor.permissions.escalation import Estate


def collect(size: str, seed: int, workdir: Path) -> Path:
    from auditor.cli import main
    from auditor.sandbox import start_sandbox

    out = workdir / "run"
    with start_sandbox(size=size, seed=seed, as_of=None, workdir=workdir / "sandbox") as sandbox:
        saved = dict(os.environ)
        os.environ.update(sandbox.env())
        os.environ.pop("AWS_PROFILE", None)
        try:
            main(["collect", "--config", str(sandbox.hr_feed.parent / "config.toml"), "--out", str(out)])
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return out / "snapshot" if (out / "snapshot").is_dir() else out


def measure(directory: Path) -> None:
    snapshot = snapshots.load(directory)
    started = time.perf_counter()
    actions = catalog()
    loaded = time.perf_counter() - started

    started = time.perf_counter()
    model = PermissionModel(snapshot, actions)
    effective = [model.iam_user(u) for u in snapshot.table("iam_users")]
    effective += [model.iam_group(g) for g in snapshot.table("iam_groups")]
    effective += [model.iam_role(r) for r in snapshot.table("iam_roles")]
    pairs = {(a.permission_set_arn, a.account_id) for a in snapshot.table("account_assignments")}
    sets = {p.arn: p for p in snapshot.table("permission_sets")}
    effective += [model.permission_set(sets[arn], account) for arn, account in sorted(pairs) if arn in sets]
    granted = sum(len(e.actions) for e in effective)
    computed = time.perf_counter() - started

    started = time.perf_counter()
    estate = Estate(model=model, home_accounts=frozenset(a.account_id for a in snapshot.table("accounts")))
    subjects = [estate.user_subject(u) for u in snapshot.table("iam_users")]
    subjects += [estate.role_subject(r) for r in snapshot.table("iam_roles") if not r.path.startswith("/aws-")]
    subjects += [estate.permission_set_subject(sets[arn], account) for arn, account in sorted(pairs) if arn in sets]
    paths = sum(len(found) for s in subjects for found in estate.paths(s).values())
    searched = time.perf_counter() - started

    print(f"{'step':<12}{'seconds':>9}  what")
    print(f"{'catalogue':<12}{loaded:>9.2f}  {len(actions.everything)} actions, reference {actions.version}")
    print(f"{'effective':<12}{computed:>9.2f}  {len(effective)} principals, {granted} (principal, action) grants")
    print(f"{'escalation':<12}{searched:>9.2f}  {len(subjects)} principals searched, {paths} paths")
    print(f"{'total':<12}{loaded + computed + searched:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--snapshot", type=Path, help="a collected snapshot directory (no sandbox is built)")
    args = parser.parse_args()
    if args.snapshot:
        measure(args.snapshot)
        return
    with tempfile.TemporaryDirectory() as workdir:
        measure(collect(args.size, args.seed, Path(workdir)))


if __name__ == "__main__":
    main()
