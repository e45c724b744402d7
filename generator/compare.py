"""What two networks differ in, for reviewing a new variant against the one it came from.

Both sides are compared as resolved plans, so defaults and `extends:` chains are
already settled: a difference is a difference in the network, not in how it was written.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.analysis import Analysis
from generator.plan import Plan


@dataclass(frozen=True)
class Comparison:
    first: str
    second: str
    fields: list[tuple[str, str, str]]  # field, first value, second value; only those that differ
    parts: list[
        tuple[str, int, int, int, int]
    ]  # part, params (first, second), macs (first, second)


def describe(plan: Plan) -> dict[str, str]:
    """The network as flat, readable facts."""
    stem = plan.stem
    pool = "none"
    if stem.pool is not None:
        pool = f"{stem.pool.type} {stem.pool.kernel_size}/{stem.pool.stride}/{stem.pool.padding}"
        pool += " ceil" if stem.pool.ceil_mode else ""
    facts = {
        "input.channels": str(plan.in_channels),
        "input.resize": "x".join(map(str, plan.resize.size)) if plan.resize else "none",
        "stem.type": stem.type,
        "stem.channels": ", ".join(map(str, stem.channels)),
        "stem.pool": pool,
        "stages": str(len(plan.stages)),
        "stride_on": plan.stride_on,
        "groups": str(plan.groups),
        "shortcut": plan.shortcut + ("" if plan.shortcut_norm else " without norm"),
        "attention": plan.attention,
        "norm": plan.norm + (f" ({plan.norm_groups} groups)" if plan.norm == "group" else ""),
        "conv_bias": _yes(plan.conv_bias),
        "zero_init_residual": _yes(plan.zero_init_residual),
        "head.num_classes": str(plan.head.num_classes),
        "head.dropout": str(plan.head.dropout),
    }
    for stage in plan.stages:
        width = f", inner width {stage.width}" if stage.block == "bottleneck" else ""
        attention = f", attention {stage.attention}" if stage.attention else ""
        facts[stage.name] = (
            f"{stage.depth} x {stage.block}{width}, {stage.out_channels} channels, "
            f"stride {stage.stride}{attention}"
        )
    return facts


def compare(
    first: Plan, first_figures: Analysis, second: Plan, second_figures: Analysis
) -> Comparison:
    facts, other = describe(first), describe(second)
    fields = [
        (key, facts.get(key, "-"), other.get(key, "-"))
        for key in dict.fromkeys([*facts, *other])
        if facts.get(key) != other.get(key)
    ]
    mine = {part.name: part for part in first_figures.parts}
    theirs = {part.name: part for part in second_figures.parts}
    parts = []
    for name in dict.fromkeys([*mine, *theirs]):
        a, b = mine.get(name), theirs.get(name)
        parts.append(
            (
                name,
                a.params if a else 0,
                b.params if b else 0,
                a.macs if a else 0,
                b.macs if b else 0,
            )
        )
    parts.append(
        (
            "total",
            first_figures.params,
            second_figures.params,
            first_figures.macs,
            second_figures.macs,
        )
    )
    return Comparison(first.name, second.name, fields, parts)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
