"""Rule metadata is checked when a rule is built, bound to its function, and documented from itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import auditor.rules
from auditor import config
from auditor.cli import main
from auditor.config import defaults
from auditor.model import Category, Severity
from auditor.rules import RULES, Rule, RuleContext, rule
from auditor.rules.findings import make_finding
from auditor.rules.registry import GENERAL_SETTINGS, UndeclaredThreshold
from tests.builders import World

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "auditor rules --format md > docs/RULES.md"


def _metadata(**changes) -> dict:
    valid = {
        "id": "idc-example",
        "category": Category.LIFECYCLE,
        "severity": Severity.LOW,
        "title": "Example",
        "description": "An example rule.",
        "controls": ("SOC2-CC6.2",),
    }
    return valid | changes


def _nothing(ctx, meta):
    return []


def _context(world: World) -> RuleContext:
    return RuleContext(snapshot=world.snapshot(), as_of=world.as_of, settings=defaults().section("rules"))


def test_a_control_missing_from_the_catalogue_is_refused_saying_where_to_add_it():
    with pytest.raises(ValueError) as refused:
        rule(**_metadata(controls=("SOC2-CC6.2", "ISO27001-A.9.99")))(_nothing)
    assert "'idc-example'" in str(refused.value)
    assert "'ISO27001-A.9.99'" in str(refused.value)
    assert "CONTROL_TITLES in auditor/controls.py" in str(refused.value)
    assert "idc-example" not in RULES


def test_a_rule_without_controls_is_refused():
    with pytest.raises(ValueError, match="'idc-example'.*declares no controls"):
        rule(**_metadata(controls=()))(_nothing)


@pytest.mark.parametrize("key", ["inactive_dayz", "disabled"])
def test_a_threshold_missing_from_the_config_schema_is_refused_saying_where_to_add_it(key):
    with pytest.raises(ValueError) as refused:
        rule(**_metadata(thresholds=("inactive_days", key)))(_nothing)
    assert f"threshold {key!r} is not a [rules] setting" in str(refused.value)
    assert "SCHEMA['rules'] in auditor/config.py" in str(refused.value)
    assert "config.toml" in str(refused.value)


def test_a_rule_outside_the_known_families_must_name_its_sources():
    with pytest.raises(ValueError, match="add sources=\\(...\\)"):
        rule(**_metadata(id="org-example"))(_nothing)


def test_a_rule_id_registers_once():
    with pytest.raises(ValueError, match="registered twice"):
        rule(**_metadata(id="idc-user-inactive"))(_nothing)


def test_the_function_receives_its_own_rule():
    def emit(ctx, meta):
        user = ctx.snapshot.table("idc_users")[0]
        yield make_finding(
            meta, principal=ctx.idc_principal(user), account_id=None, resource=None, title="t", evidence={}
        )

    world = World()
    world.idc_user("ann")
    example = Rule(**_metadata(sources=("identity_center",)), function=emit)
    (finding,) = example.evaluate(_context(world))
    assert (finding.rule_id, finding.controls, finding.category) == ("idc-example", ["SOC2-CC6.2"], "lifecycle")


def test_reading_an_undeclared_threshold_names_the_rule_and_the_key():
    def exempts_break_glass(ctx, meta):
        return [u for u in ctx.snapshot.table("idc_users") if ctx.is_break_glass(u.user_name)]

    world = World()
    world.idc_user("ann")
    context = _context(world)
    undeclared = Rule(
        **_metadata(sources=("identity_center",), thresholds=("inactive_days",)), function=exempts_break_glass
    )
    with pytest.raises(UndeclaredThreshold) as refused:
        undeclared.evaluate(context)
    assert str(refused.value) == (
        "rule 'idc-example' reads [rules] break_glass_patterns without declaring it: "
        "add 'break_glass_patterns' to thresholds=(...) in its @rule(...) decorator"
    )
    assert context.is_break_glass("breakglass-ann"), "the context's full settings are restored after the rule"
    declared = Rule(
        **_metadata(sources=("identity_center",), thresholds=("break_glass_patterns",)), function=exempts_break_glass
    )
    assert declared.evaluate(context) == []


def test_every_rule_setting_is_read_by_some_rule():
    declared = {key for r in RULES.values() for key in r.thresholds}
    unread = sorted(set(config.SCHEMA["rules"]) - declared - GENERAL_SETTINGS)
    assert unread == [], f"[rules] settings no rule declares in thresholds=(...): {unread}"


def test_every_module_that_defines_rules_is_registered_by_the_package():
    package = Path(auditor.rules.__file__).parent
    imported = {
        alias.name
        for node in ast.parse((package / "__init__.py").read_text()).body
        if isinstance(node, ast.ImportFrom) and node.module == "auditor.rules"
        for alias in node.names
    }
    defining = {p.stem for p in package.glob("*.py") if re.search(r"^@rule\(", p.read_text(), re.MULTILINE)}
    unregistered = sorted(defining - imported)
    assert unregistered == [], f"add {unregistered} to the import list in auditor/rules/__init__.py"


def test_the_rule_catalogue_document_is_what_the_command_prints(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the command as the message says to run it, with the shipped config.toml
    assert main(["rules", "--format", "md"]) == 0
    assert (ROOT / "docs" / "RULES.md").read_text() == capsys.readouterr().out, (
        f"docs/RULES.md is out of date with the rules' metadata; from the repository root run: {REGENERATE}"
    )
