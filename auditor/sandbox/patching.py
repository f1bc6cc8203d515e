"""Attributes set on moto's classes and modules, undone in reverse order."""

from __future__ import annotations

from typing import Any

_MISSING = object()


class Patches:
    """What was set where and what was there before, so ``undo`` gives moto back exactly its own code."""

    def __init__(self) -> None:
        self._done: list[tuple[Any, str, Any]] = []  # (owner, attribute, what was there), in patch order

    def __bool__(self) -> bool:
        return bool(self._done)

    def set(self, owner: Any, name: str, value: Any) -> None:
        self._done.append((owner, name, owner.__dict__.get(name, _MISSING)))
        setattr(owner, name, value)

    def undo(self) -> None:
        while self._done:
            owner, name, original = self._done.pop()
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
