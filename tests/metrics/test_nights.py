"""Three recorded nights on the sandbox, with a leaver, a mover and a joiner handled between them.

`auditor metrics` must show what was done and when: the leaver removed 9
days after their end date, the mover's old group removed 2 days after the
move was seen, the joiner provisioned the day after they started, and the
people still open. One sandbox for the module; the nights change it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from auditor import config, frames
from auditor.cli import main
from auditor.pipeline import run
from auditor.sandbox import start_sandbox
from auditor.sandbox.lifecycle_plants import Nights
from auditor.store import Store

pytestmark = pytest.mark.e2e

NIGHT1 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
NIGHT2 = NIGHT1 + timedelta(days=5)
NIGHT3 = NIGHT1 + timedelta(days=12)


def _at(night: datetime, days: int, hour: int = 10) -> datetime:
    return (night + timedelta(days=days)).replace(hour=hour)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    out = tmp_path_factory.mktemp("nights")
    saved = dict(os.environ)
    with start_sandbox(size="tiny", seed=11, as_of=NIGHT1, workdir=out / "sandbox") as sandbox:
        os.environ.pop("AWS_PROFILE", None)
        os.environ.update(sandbox.env())
        settings = config.load(sandbox.config_file)
        store = Store.open(out / "state.db")
        nights = Nights(sandbox)
        engineers = [r for r in nights.people(status="active", department="engineering") if r["manager_email"]]
        leaver, mover = engineers[0], engineers[1]
        late = dict(
            engineers[2],
            employee_id="E09001",
            user_name="lena.joiner",
            email="lena.joiner@corvid.example",
            display_name="Lena Joiner",
            start_date=(NIGHT1 - timedelta(days=40)).date().isoformat(),
        )
        nights.join(late, "engineering", _at(NIGHT1, -39))
        nights.grant("lena.joiner", "platform-admins", _at(NIGHT1, -37))  # beyond engineering's birthright
        nights.advance(NIGHT1)
        run(settings, out_dir=out / "night1", as_of=NIGHT1, hr_feed=sandbox.hr_feed, store=store)

        end = _at(NIGHT1, 1).date()
        nights.hr(leaver["user_name"], status="terminated", end_date=end.isoformat())
        nights.hr(mover["user_name"], department="data")
        joiner = dict(
            engineers[3],
            employee_id="E09002",
            user_name="omar.joiner",
            email="omar.joiner@corvid.example",
            display_name="Omar Joiner",
            start_date=_at(NIGHT1, 2).date().isoformat(),
        )
        nights.join(joiner, "engineering", _at(NIGHT1, 3))
        nights.advance(NIGHT2)
        run(settings, out_dir=out / "night2", as_of=NIGHT2, hr_feed=sandbox.hr_feed, store=store)

        nights.remove_membership(mover["user_name"], "engineering", _at(NIGHT2, 2))
        nights.deprovision(leaver["user_name"], _at(NIGHT1, 10))  # 9 days after the end date
        nights.advance(NIGHT3)
        run(settings, out_dir=out / "night3", as_of=NIGHT3, hr_feed=sandbox.hr_feed, store=store)
    os.environ.clear()
    os.environ.update(saved)
    return out, store, {"leaver": leaver, "mover": mover, "joiner": joiner, "late": late}


def _metrics(out, capsys) -> dict:
    code = main(["metrics", "--state", str(out / "state.db"), "--format", "json"])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_a_leaver_removed_nine_days_after_their_end_date_shows_nine(history, capsys):
    out, _, people = history
    metrics = _metrics(out, capsys)
    leaver = next(r for r in metrics["leavers"] if r["user_name"] == people["leaver"]["user_name"])
    assert leaver["days"] == 9
    assert leaver["removed_at"].startswith(_at(NIGHT1, 10).date().isoformat())
    engineering = next(r for r in metrics["deprovisioning"] if r["department"] == "engineering")
    assert engineering["max_days"] >= 9 and engineering["done"] >= 1
    # a planted leaver nobody offboarded is still open, with the days it has been open
    assert any(r["days"] is None and r["open_days"] > 0 for r in metrics["leavers"])
    assert any(r["still_open"] for r in metrics["deprovisioning"])


def test_a_mover_s_old_group_removed_two_days_after_the_move_was_seen(history, capsys):
    out, _, people = history
    mover = next(r for r in _metrics(out, capsys)["movers"] if r["user_name"] == people["mover"]["user_name"])
    assert (mover["previous_department"], mover["department"]) == ("engineering", "data")
    assert mover["days"] == 2


def test_a_joiner_provisioned_the_day_after_starting_shows_one_day(history, capsys):
    out, _, people = history
    joiners = {r["user_name"]: r for r in _metrics(out, capsys)["joiners"]}
    assert joiners["omar.joiner"]["days_to_access"] == 1
    assert joiners["lena.joiner"]["days_to_access"] == 1
    assert joiners["lena.joiner"]["beyond_birthright_at_30"] == ["platform-admins"]
    assert joiners["omar.joiner"]["beyond_birthright_at_30"] is None  # not 30 days in yet


def test_backlog_and_time_to_resolve_follow_the_store(history, capsys):
    out, store, _ = history
    metrics = _metrics(out, capsys)
    found = frames.findings(store)
    live = found[found["status"].isin(["new", "open"])]
    assert sum(sum(v for k, v in row.items() if k != "category") for row in metrics["backlog_by_age"]) == len(live)
    resolved = found[found["resolved_at"].notna()]
    assert len(resolved) > 0  # the leaver's and the mover's findings were resolved on night 3
    assert sum(r["resolved"] for r in metrics["time_to_resolve"]) == len(resolved)
    assert sum(w["opened"] for w in metrics["weekly"]) == len(found)


def test_every_format_shows_the_sections(history, capsys):
    out, _, people = history
    for fmt, marker in (
        ("table", "Time to deprovision"),
        ("csv", "section,row,field,value"),
        ("html", "Lifecycle effectiveness"),
    ):
        assert main(["metrics", "--state", str(out / "state.db"), "--format", fmt]) == 0
        text = capsys.readouterr().out
        assert marker in text and people["leaver"]["user_name"] in text


def test_frames_work_in_a_notebook(history):
    out, store, people = history
    runs = frames.runs(store)
    assert list(runs["as_of"]) == [NIGHT1, NIGHT2, NIGHT3]
    inventory = frames.inventory(out / "night3")
    mine = inventory[inventory["user_name"] == people["mover"]["user_name"]]
    assert "via group engineering" not in set(mine["path"])  # the old department's group went on night 3
    joiner = inventory[inventory["user_name"] == "omar.joiner"]
    assert set(joiner["department"]) == {"engineering"} and set(joiner["path"]) == {"via group engineering"}
    events = frames.lifecycle_events(store)
    assert "DeleteGroupMembership" in set(events["event_name"])


def test_the_analysis_examples_run_on_the_demo(history, capsys):
    """docs/ANALYSIS.md's code blocks run, in order, on a recorded run and its store."""
    import re
    from pathlib import Path

    out, _, _ = history
    page = (Path(__file__).resolve().parents[2] / "docs" / "ANALYSIS.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert len(blocks) == 4
    namespace: dict = {}
    for block in blocks:
        code = block.replace('"auditor-demo/state.db"', repr(str(out / "state.db")))
        exec(compile(code.replace('"auditor-demo"', repr(str(out / "night3"))), "ANALYSIS.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "idle_90_days" in printed and "manager_email" in printed and "terraform" in printed


def test_the_report_has_a_lifecycle_section_with_the_nights(history):
    out, _, people = history
    page = (out / "night3" / "report.html").read_text()
    section = page[page.index('<section id="lifecycle"') :]
    section = section[: section.index("</section>")]
    assert "Over 3 recorded runs" in section and people["leaver"]["user_name"] in section
    assert "<style" not in section and "<script" not in section  # the page's one hashed style and script only


def test_since_counts_only_the_later_nights(history, capsys):
    out, _, people = history
    code = main(["metrics", "--state", str(out / "state.db"), "--since", NIGHT2.date().isoformat(), "--format", "json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["nights"] == 2
    leaver = next(r for r in metrics["leavers"] if r["user_name"] == people["leaver"]["user_name"])
    assert leaver["days"] == 9  # still measured from the end date, by the event that removed the access
    assert metrics["movers"] == []  # the move happened between nights 1 and 2
