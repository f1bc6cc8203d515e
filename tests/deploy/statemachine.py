"""Runs an Amazon States Language definition's steps in order, calling a function for each Lambda task.

Only what deploy/template.yaml's workflow uses is understood (Task through
``lambda:invoke``, Parallel, Map with ``ItemsPath``/``ItemSelector``/
``ItemProcessor``, ``Parameters`` with ``.$`` paths, ``ResultPath``,
``OutputPath``); anything else raises, so a definition that grows past it
fails the test instead of being skipped. Branches and map items run one
after another: the order the test observes is one the service may choose.
Retries and timeouts are the service's; they are not simulated.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Invoke = Callable[[str, dict], Any]  # (function name, payload) -> the function's answer
UNDERSTOOD = {
    "Task": {"Type", "Comment", "Resource", "Parameters", "OutputPath", "ResultPath", "Retry", "Next", "End"},
    "Parallel": {"Type", "Comment", "Branches", "ResultPath", "Next", "End"},
    "Map": {
        "Type",
        "Comment",
        "ItemsPath",
        "ItemSelector",
        "ItemProcessor",
        "MaxConcurrency",
        "ToleratedFailurePercentage",
        "ResultPath",
        "Next",
        "End",
    },
}


def path_get(data: Any, path: str) -> Any:
    if path == "$":
        return data
    if not path.startswith("$."):
        raise ValueError(f"unsupported path {path!r}")
    for part in path[2:].split("."):
        data = data[part]
    return data


def resolve(template: Any, data: Any, context: dict) -> Any:
    """``Parameters``/``ItemSelector``: keys ending ``.$`` take the value at their path ($ input, $$ context)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = path_get(context, value[1:]) if value.startswith("$$") else path_get(data, value)
            else:
                out[key] = resolve(value, data, context)
        return out
    if isinstance(template, list):
        return [resolve(v, data, context) for v in template]
    return template


def _result(state: dict, data: Any, result: Any) -> Any:
    path = state.get("ResultPath", "$")
    if path is None:
        output = data
    elif path == "$":
        output = result
    else:
        output = copy.deepcopy(data)
        *parents, last = path[2:].split(".")
        target = output
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = result
    return path_get(output, state.get("OutputPath", "$"))


def run(definition: dict, data: Any, invoke: Invoke, context: dict | None = None) -> Any:
    """Run ``definition`` (StartAt/States) on ``data``; returns the final output."""
    states = definition["States"]
    name = definition["StartAt"]
    while True:
        state = states[name]
        kind = state["Type"]
        unknown = set(state) - UNDERSTOOD.get(kind, set())
        if kind not in UNDERSTOOD or unknown:
            raise ValueError(f"state {name}: {kind} with {sorted(unknown)} is not understood here")
        if kind == "Task":
            if state["Resource"] != "arn:aws:states:::lambda:invoke":
                raise ValueError(f"state {name}: only lambda:invoke tasks are understood")
            parameters = resolve(state["Parameters"], data, context or {})
            result = {"Payload": invoke(parameters["FunctionName"], parameters["Payload"])}
        elif kind == "Parallel":
            result = [run(branch, data, invoke, context) for branch in state["Branches"]]
        else:
            items = path_get(data, state.get("ItemsPath", "$"))
            result = []
            for index, item in enumerate(items):
                item_context = {**(context or {}), "Map": {"Item": {"Index": index, "Value": item}}}
                selected = resolve(state["ItemSelector"], data, item_context) if "ItemSelector" in state else item
                result.append(run(state["ItemProcessor"], selected, invoke, context))
        data = _result(state, data, result)
        if state.get("End"):
            return data
        name = state["Next"]
