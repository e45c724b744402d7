"""What two networks differ in, for reviewing a new variant against the one it came from.

Both sides are compared as resolved plans, so defaults and `extends:` chains are
already settled: a difference is a difference in the network, not in how it was written.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analysis import Analysis
from .blocks import FAMILIES, family_of
from .plan import Plan, StagePlan
from .spec import GROUPED_NORMS


@dataclass(frozen=True)
class Comparison:
    first: str
    second: str
    fields: list[tuple[str, str, str]]  # field, first value, second value; only those that differ
    parts: list[
        tuple[str, int, int, int, int]
    ]  # part, params (first, second), macs (first, second)


def describe(plan: Plan) -> dict[str, str]:
    """The network as flat, readable facts, each under the spec field that sets it."""
    stem = plan.stem
    pool = "none"
    if stem.pool is not None:
        pool = f"{stem.pool.type} {stem.pool.kernel_size}/{stem.pool.stride}/{stem.pool.padding}"
        pool += " ceil" if stem.pool.ceil_mode else ""
        pool += " zero-padded" if stem.pool.zero_padded else ""
    resize = f"{'x'.join(map(str, plan.resize.size))} {plan.resize.mode}" if plan.resize else "none"
    facts = {
        "input.channels": str(plan.in_channels),
        "input.size": "x".join(map(str, plan.input_size)),
        "input.resize": resize,
        "stem.type": stem.type,
        "stem.channels": ", ".join(map(str, stem.channels)),
        "stem.norm": _yes(stem.norm),
        "stem.pool": pool,
        "stages": str(len(plan.stages)),
        "stages.preactivation": _yes(plan.preactivation),
        "stages.stride_on": plan.stride_on,
        "stages.groups": str(plan.groups),
        "stages.shortcut": plan.shortcut,
        "stages.shortcut_norm": _yes(plan.shortcut_norm),
        "stages.shortcut_kernel": f"{plan.shortcut_kernel}x{plan.shortcut_kernel}",
        "stages.reduce_first": str(plan.reduce_first),
        **{field: fact for family in FAMILIES for field, fact in family.facts(plan).items()},
        "stages.attention": plan.attention,
        "stages.attention.activation": plan.attention_activation if plan.attention == "se" else "-",
        "stages.branch_activation": _yes(plan.branch_activation),
        "stages.drop_path_float32": _yes(plan.drop_path_float32),
        "layout": plan.layout.name,
        "head.num_classes": str(plan.head.num_classes),
        "head.dropout": str(plan.head.dropout),
        "head.final_conv": str(plan.head.final_conv or "-"),
        "conv_bias": _yes(plan.conv_bias),
        "weight_standardization.eps": str(ws) if (ws := plan.weight_standardization) else "-",
        "norm": plan.norm + _norm_groups(plan),
        "activation": plan.activation,
        "anti_alias": plan.anti_alias,
        "init.zero_init_residual": _yes(plan.zero_init_residual),
    }
    for stage in plan.stages:
        facts[stage.name] = _stage_text(stage, plan)
    return facts


def _stage_text(stage: StagePlan, plan: Plan) -> str:
    """A stage in one line: everything its blocks are built from."""
    attention = plan.attention
    words = [f"{stage.depth} x {stage.block}", *family_of(stage.block).stage_words(stage, plan)]
    words += [f"{stage.out_channels} channels", f"stride {stage.stride}"]
    if (stage.first_dilation, stage.dilation) != (1, 1):
        words.append(f"dilation {stage.first_dilation}, then {stage.dilation}")
    if attention == "se":
        words.append(f"se attention with {stage.attention} hidden channels")
    elif attention == "eca":
        words.append(f"eca attention with kernel {stage.attention}")
    if stage.drop_path != (0.0, 0.0):
        first, last = stage.drop_path
        words.append(f"drop path {first:g} to {last:g}")
    return ", ".join(words)


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


def _norm_groups(plan: Plan) -> str:
    if plan.norm_group_size is not None:
        return f" (groups of {plan.norm_group_size} channels)"
    return f" ({plan.norm_groups} groups)" if plan.norm in GROUPED_NORMS else ""
