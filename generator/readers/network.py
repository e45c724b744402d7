"""Blocks read from a module tree, turned into the spec's stage fields: what one block
cannot show alone (dilations, drop rates, the shortcut kind, groups, attention sizes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..blocks import family_of
from ..blocks.family import ReadBlock
from ..plan import drop_path_rates
from ..widths import bottleneck_width, se_hidden
from .common import NotExpressible, Readings, Setting, expands_by_four


def stage_fields(stages: list[list[ReadBlock]], names: list[str], pruned: bool) -> dict[str, Any]:
    firsts = [stage[0] for stage in stages]
    kinds = [block.kind for block in firsts]
    for stage, name in zip(stages, names, strict=True):
        for index, block in enumerate(stage[1:], start=1):
            where = f"{name}.{index}"
            if block.kind != stage[0].kind:
                raise NotExpressible(
                    where, "a stage that mixes block kinds; the language has one per stage"
                )
            if block.stride != 1:
                raise NotExpressible(where, "a stride after a stage's first block")
    widths = [block.out_channels // family_of(block.kind).expansion(block.kind) for block in firsts]
    if pruned:  # the unpruned widths are the defaults the attention's sizes follow
        widths = [64 * 2**index for index in range(len(stages))]
    data: dict[str, Any] = {
        "block": kinds[0] if len(set(kinds)) == 1 else kinds,
        "depths": [len(stage) for stage in stages],
        "widths": widths,
        "strides": [block.stride for block in firsts],
        "dilations": _dilations(stages),
    }
    data["drop_path"], data["drop_path_float32"] = _drop_path(stages, names)
    bottlenecks = [(b, w) for b, w in _every_block(stages, names) if _inner(b.kind)]
    placements = {b.stride_on for stage in stages for b in stage if b.stride_on}
    if len(placements) > 1:
        raise NotExpressible(
            names[0], "bottlenecks that stride on the 1x1 in one stage and the 3x3 in another"
        )
    data["stride_on"] = placements.pop() if placements else "3x3"
    data.update(_shortcuts(stages, names))
    # A family's own fields in place of the groups and the attention, where it has them.
    family = family_of(kinds[0])
    own = family.stage_data(_every_block(stages, names)) if len(set(kinds)) == 1 else None
    if own is not None:
        return {**data, **own}
    if pruned:
        data["pruned_channels"] = [block.out_channels for block in firsts]
        data["pruned_widths"] = [[[b.first_width, b.width] for b in stage] for stage in stages]
        data["groups"] = firsts[0].groups
    elif bottlenecks:
        data.update(_grouping(bottlenecks, not all(_inner(kind) for kind in kinds)))
    data["attention"] = _attention(stages, names)
    return data


def _every_block(stages: list[list[ReadBlock]], names: list[str]) -> list[tuple[ReadBlock, str]]:
    """Every block with its module name, in order."""
    return [
        (block, f"{name}.{index}")
        for stage, name in zip(stages, names, strict=True)
        for index, block in enumerate(stage)
    ]


def _shortcuts(stages: list[list[ReadBlock]], names: list[str]) -> dict[str, Any]:
    every = _every_block(stages, names)
    later = [(block, where) for block, where in every if not where.endswith(".0")]
    if any(block.shortcut != "identity" for block, _ in later):
        kind = "projection_all"
        for block, where in every:
            if block.shortcut != "projection":
                raise NotExpressible(
                    f"{where}.downsample",
                    "a block without a projection where others after a stage's first have "
                    "one; the language projects on all of those or none",
                )
    else:
        kinds = {block.shortcut for block, _ in every} - {"identity"}
        if len(kinds) > 1:
            raise NotExpressible(names[0], "stages with different kinds of shortcut")
        kind = kinds.pop() if kinds else "projection"
        for block, where in every:
            keeps = block.stride == 1 and block.in_channels == block.out_channels
            if keeps and block.shortcut != "identity":
                raise NotExpressible(
                    f"{where}.downsample",
                    "a projection on a block that keeps its shape; the language projects "
                    "where the shape changes, or on every block",
                )
    norms = {block.shortcut_norm for block, _ in every if block.shortcut_norm is not None}
    if len(norms) > 1:
        raise NotExpressible(names[0], "shortcuts with a norm and shortcuts without one")
    return {"shortcut": kind, "shortcut_norm": norms.pop() if norms else True}


def _grouping(bottlenecks: list[tuple[ReadBlock, str]], mixed: bool) -> dict[str, int]:
    """groups and width_per_group, as `bottleneck_width` turns them into inner widths."""
    groups = {block.groups for block, _ in bottlenecks}
    where = f"{bottlenecks[0][1]}.conv2"
    if len(groups) > 1:
        raise NotExpressible(where, "stages with different group counts")
    (count,) = groups
    pairs = [(block.out_channels // 4, block.width) for block, _ in bottlenecks]
    fits = [
        per_group
        for per_group in (64, *range(1, 4097))
        if all(bottleneck_width(base, per_group, count) == inner for base, inner in pairs)
    ]
    if not fits:
        raise NotExpressible(
            where,
            "inner widths that follow no width_per_group: the language's bottleneck width "
            "is floor(width * width_per_group / 64) * groups",
        )
    if mixed and (count, fits[0]) != (1, 64):
        raise NotExpressible(where, "grouped or widened bottlenecks beside basic blocks")
    return {"groups": count, "width_per_group": fits[0]}


def _dilations(stages: list[list[ReadBlock]]) -> list[int]:
    """Each stage's dilation, from its later blocks and the next stage's first block.

    A stage whose own dilation appears nowhere (one bottleneck, last) keeps the previous
    one, unless its first block shows it dilated further.
    """
    known: list[int | None] = []
    for stage in stages:
        seen = [b.first_dilation for b in stage[1:]] + [b.dilation for b in stage if b.dilation]
        known.append(seen[0] if seen else None)
    for index, stage in enumerate(stages[1:], start=1):
        if known[index - 1] is None:
            known[index - 1] = stage[0].first_dilation
    dilations = []
    previous = 1
    for stage, value in zip(stages, known, strict=True):
        if value is None:
            value = previous * 2 if stage[0].dilates else previous  # as timm doubles it
        dilations.append(value)
        previous = value
    return dilations


def _drop_path(stages: list[list[ReadBlock]], names: list[str]) -> tuple[float, bool]:
    """The rate stochastic depth rises to, and whether the rates are spread in float32:
    as `drop_path_rates` spreads them, exactly, or as timm's resnetv2 does, by a float32
    torch.linspace."""
    every = _every_block(stages, names)
    rates = [block.drop_path for block, _ in every]
    steps = max(len(rates) - 1, 1)
    # The last block's rate may be the rate rounded: 0.1 * 3 / 3 is 0.10000000000000002.
    candidates = [rates[-1], *(rate * steps / index for index, rate in enumerate(rates) if index)]
    for largest in candidates:
        if drop_path_rates(largest, len(rates)) == rates:
            return largest, False
    nominal = float(f"{rates[-1]:.7g}")  # 0.10000000149011612, a float32's 0.1, is 0.1
    if torch.linspace(0, nominal, len(rates)).tolist() == rates:
        return nominal, True
    expected = drop_path_rates(rates[-1], len(rates))
    where = next(
        f"{w}.drop_path" for (b, w), e in zip(every, expected, strict=True) if b.drop_path != e
    )
    raise NotExpressible(
        where,
        "drop rates that do not rise linearly from 0 at the first block to the last "
        f"block's {rates[-1]}, as the language's stochastic depth does",
    )


def _attention(stages: list[list[ReadBlock]], names: list[str]) -> dict[str, Any]:
    every = _every_block(stages, names)
    kinds = {block.attention[0] if block.attention else "none" for block, _ in every}
    where = f"{every[0][1]}.se"
    if len(kinds) > 1:
        raise NotExpressible(where, "blocks with different attention; the language has one for all")
    (kind,) = kinds
    if kind != "se":
        return {"type": kind}
    pairs = {(block.out_channels, block.attention[1]) for block, _ in every}
    fit = rounding(pairs, se_hidden, divisors=[8, 1], reductions=[16])
    if fit:
        reduction, divisor = fit
        return {"type": "se", "reduction": reduction, "divisor": divisor}
    raise NotExpressible(
        where,
        "hidden widths that follow no reduction and divisor from 1 to 256 (channels / "
        "reduction, rounded to a multiple of the divisor)",
    )


def rounding(
    pairs: set[tuple[int, int]],
    width: Callable[[int, int, int], int],
    divisors: list[int],
    reductions: list[int],
) -> tuple[int, int] | None:
    """The reduction and divisor, each from 1 to 256 with the given ones tried first, for
    which `width(channels, reduction, divisor)` is every (channels, hidden) pair's hidden."""
    for divisor in dict.fromkeys([*divisors, *range(1, 257)]):
        for reduction in dict.fromkeys([*reductions, *range(1, 257)]):
            if all(width(channels, reduction, divisor) == hidden for channels, hidden in pairs):
                return reduction, divisor
    return None


def zero_init(stages: list[list[ReadBlock]], norm: str) -> bool:
    """Whether each block's last norm starts at zero. A frozen norm never does in a spec:
    it would silence its branch for good (it only ever holds a checkpoint's values)."""
    weights = [getattr(block.last_norm, "weight", None) for stage in stages for block in stage]
    if norm == "frozen_batch" or any(w is None or w.is_meta for w in weights):
        return False
    return all(not torch.any(weight) for weight in weights)


def pruned(reader: Readings, stages: list[list[ReadBlock]]) -> bool:
    """Whether the bottlenecks' widths are a pruned network's: they follow no
    reduction, or a stage's output channels are no multiple of 4. Raises where that
    is so but the network is not all post-activation bottlenecks."""
    prunable = reader.prunable
    try:
        for conv1, conv2, conv3, name in prunable:
            expands_by_four(conv3, name)
            reader.reduction(conv1, conv2.out_channels, f"{name}.conv1")
    except NotExpressible:
        blocks = [block for stage in stages for block in stage]
        if len(prunable) != len(blocks) or any(block.preact for block in blocks):
            raise
        reader.reduce_first = Setting("first-conv reduction")
        return True
    return False


def _inner(kind: Any) -> bool:
    return family_of(kind).inner(kind)
