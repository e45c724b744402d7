"""What every reader says of the modules it reads, torch or not: their names, and the
refusal of one the spec language cannot express."""

from __future__ import annotations

from typing import Any


class NotExpressible(Exception):
    """A module of the model that the spec language cannot express."""

    def __init__(self, module: str, reason: str) -> None:
        self.module = module or "(model)"
        self.reason = reason
        super().__init__(f"{self.module}: {reason}")


def class_name(module: Any) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def short_name(module: Any) -> str:
    return type(module).__name__


def chained(before: Any, after: Any, name: str) -> None:
    """Two convs, the second taking what the first gives."""
    if before.out_channels != after.in_channels:
        raise NotExpressible(name, "convs whose channels do not chain")


def expands_by_four(last: Any, block: str) -> None:
    if last.out_channels % 4:
        raise NotExpressible(
            f"{block}.conv3",
            f"{last.out_channels} channels out; a bottleneck expands a stage's width by 4",
        )


def side(value: Any) -> int | None:
    """One number for a square setting: 3 or (3, 3); None when the sides differ."""
    if isinstance(value, int):
        return value
    values = set(value)
    return values.pop() if len(values) == 1 else None
