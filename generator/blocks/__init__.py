"""The block families, one module each, and how the spine finds them.

A family (`family.BlockFamily`) answers for its block kinds everywhere in the flow; the
spine asks `family_of(kind)` and never names a kind itself. A new family is a module
here beside its templates in templates/blocks/, added to FAMILIES below and its kinds
to the spec's BlockKind (CONTRIBUTING.md has the steps).
"""

from __future__ import annotations

from ..spec import BlockKind
from .family import BlockFamily
from .plain import PLAIN
from .regnet import REGNET
from .res2net import RES2NET
from .resnest import RESNEST
from .selective_kernel import SELECTIVE_KERNEL_BLOCKS

FAMILIES: tuple[BlockFamily, ...] = (PLAIN, RES2NET, RESNEST, REGNET, SELECTIVE_KERNEL_BLOCKS)

_BY_KIND = {kind: family for family in FAMILIES for kind in family.kinds}

# The module-tree classes `import` reads as blocks, and the names of their children.
READ_CLASSES: dict[str, tuple[BlockFamily, BlockKind]] = {
    name: (family, kind) for family in FAMILIES for name, kind in family.classes.items()
}
BLOCK_PARTS = frozenset({"downsample", "se", "drop_path", "drop_block"}).union(
    *(family.parts for family in FAMILIES)
)
# What an unknown block is told it is not: the first family's classes, then timm's others.
KNOWN_BLOCKS = f"{FAMILIES[0].known_as}, or timm's " + " and ".join(
    [", ".join(family.known_as for family in FAMILIES[1:-1]), FAMILIES[-1].known_as]
)


def state_family(parts: set[str]) -> tuple[BlockFamily | None, BlockKind | None]:
    """The family and kind of a checkpoint's block, by its tensors' names under it."""
    for family in FAMILIES:
        kind = family.state_kind(parts)
        if kind is not None:
            return family, kind
    return None, None


def family_of(kind: BlockKind) -> BlockFamily:
    return _BY_KIND[kind]


def families_in(kinds: tuple[BlockKind, ...]) -> list[BlockFamily]:
    """The families of `kinds`, in FAMILIES' order: the order their helpers are written."""
    return [family for family in FAMILIES if set(family.kinds) & set(kinds)]
