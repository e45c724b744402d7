"""What every reader says of the modules it reads, torch or not: their names, and the
refusal of one the spec language cannot express."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any


class NotExpressible(Exception):
    """A module of the model that the spec language cannot express."""

    def __init__(self, module: str, reason: str) -> None:
        self.module = module or "(model)"
        self.reason = reason
        super().__init__(f"{self.module}: {reason}")


class ConfigNotFollowed(NotExpressible):
    """A setting of a library's config (the model's, or a folder's config.json) that the
    spec language cannot follow: the weights beside it are then not read otherwise."""


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


@dataclass
class Setting:
    """A network-wide setting (norm, activation, conv bias): the first module fixes it."""

    what: str
    value: object = None
    where: str = ""

    def see(self, value: object, module: str) -> None:
        if self.where and value != self.value:
            raise NotExpressible(
                module,
                f"{self.what} {_shown(value)}, where {self.where} has {_shown(self.value)}; "
                f"the spec language has one {self.what} for the whole network",
            )
        if not self.where:
            self.value, self.where = value, module


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return " with ".join(str(part) for part in value)
    return str(value)


class Readings:
    """What a reading of one network has fixed so far, whatever it reads (a module tree,
    a checkpoint's names and shapes): the network-wide settings, which the first module
    of each kind fixes, and what block families keep of their own (`setting`, `seen`)."""

    def __init__(self) -> None:
        self.norm = Setting("norm")
        self.activation = Setting("activation")
        self.bias = Setting("conv bias")
        self.anti_alias = Setting("anti-aliasing")
        self.reduce_first = Setting("first-conv reduction")
        self.standardization = Setting("conv weight standardisation")
        # Each bottleneck's three convs and name, for the pruned check once all are read.
        self.prunable: list[tuple[Any, Any, Any, str]] = []
        self._settings: dict[str, Setting] = {}
        self._seen: defaultdict[str, list[Any]] = defaultdict(list)

    def setting(self, what: str) -> Setting:
        """The network-wide setting `what` (a block family's), made when first asked for."""
        return self._settings.setdefault(what, Setting(what))

    def seen(self, what: str) -> list[Any]:
        """What the reading collected under `what`, for a decision once all is read."""
        return self._seen[what]

    def reduction(self, first: Any, width: int, name: str) -> None:
        """How much a block's first conv narrows its inner width, as timm's
        block_reduce_first does (width // reduce_first)."""
        fits = [r for r in range(1, 9) if width // r == first.out_channels]
        if not fits:
            raise NotExpressible(
                name,
                f"{first.out_channels} channels where the inner width is {width}; the "
                "language's first conv has the inner width divided by 1 to 8",
            )
        self.reduce_first.see(fits[0], name)
