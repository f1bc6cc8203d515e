"""A small interpreter of the offboarding state machine's definition: the states it uses, in the order it says.

Task (``lambda:invoke``, ``.waitForTaskToken``), Choice (StringEquals, BooleanEquals), Parallel (branches one
after the other), Succeed; Parameters with ``.$`` paths, ResultSelector, ResultPath null. A waiting task calls
``on_wait`` (the test approves there) and goes on when it returns, as Step Functions does on SendTaskSuccess.
"""

from __future__ import annotations

from collections.abc import Callable


def _get(data, path: str, context: dict):
    root, rest = (context, path[2:]) if path.startswith("$$") else (data, path[1:])
    for part in [p for p in rest.split(".") if p]:
        root = root[part]
    return root


def _resolve(template, data, context: dict):
    if isinstance(template, dict):
        return {
            (k[:-2] if k.endswith(".$") else k): (
                _get(data, v, context) if k.endswith(".$") else _resolve(v, data, context)
            )
            for k, v in template.items()
        }
    return template


def drive(machine: dict, data: dict, invoke: Callable[[dict], dict], on_wait: Callable[[str], None]) -> dict:
    """Run ``machine`` (StartAt, States) on ``data``; returns its output."""
    name = machine["StartAt"]
    while True:
        state = machine["States"][name]
        kind = state["Type"]
        if kind == "Succeed":
            return data
        if kind == "Choice":
            name = next(
                (
                    c["Next"]
                    for c in state["Choices"]
                    if _get(data, c["Variable"], {}) == c.get("StringEquals", c.get("BooleanEquals"))
                ),
                state["Default"],
            )
            continue
        if kind == "Parallel":
            for branch in state["Branches"]:
                drive(branch, data, invoke, on_wait)
            result = None
        else:
            token = f"token-{name}"
            params = _resolve(state["Parameters"], data, {"Task": {"Token": token}})
            result = {"Payload": invoke(params["Payload"])}
            if state["Resource"].endswith(".waitForTaskToken"):
                on_wait(token)
                result = {}
            if "ResultSelector" in state:
                result = _resolve(state["ResultSelector"], result, {})
        if "ResultPath" not in state:  # ResultPath null: the state's input passes on
            data = result
        if state.get("End"):
            return data
        name = state["Next"]
