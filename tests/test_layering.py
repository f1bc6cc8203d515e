"""Imports between auditor's packages are at module level, where a reader sees the dependencies.

A function-local import hides a dependency (often a cycle between floors). The one allowed is the
sandbox's lazy start in the demo commands: the sandbox needs the optional emulator dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "auditor"
ALLOWED = {("cli/demo.py", "auditor.sandbox")}


def _local_imports(tree: ast.Module):
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("auditor"):
                yield node.lineno, node.module
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("auditor"):
                        yield node.lineno, alias.name


def test_no_function_local_imports_between_auditor_packages():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("sandbox/"):
            continue  # inside the sandbox, its own lazy imports of the emulator-backed modules
        for line, module in _local_imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if (relative, module) not in ALLOWED:
                offenders.append(f"auditor/{relative}:{line} imports {module}")
    assert offenders == [], (
        "move these imports to module level (fix the cycle by moving code down a floor):\n" + "\n".join(offenders)
    )
