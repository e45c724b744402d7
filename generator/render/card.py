"""Render a plan's model card: what the variant is, its per-stage figures and a diagram."""

from __future__ import annotations

from ..analysis import Analysis
from ..blocks import family_of
from ..plan import Plan
from ..provenance import Provenance, with_header
from ..report import (
    ACTIVATIONS_NOTE,
    COLUMNS,
    GROUPS_COLUMNS,
    figures_rows,
    groups_rows,
    size_line,
)
from .environment import environment
from .text import markdown_text


def render_card(plan: Plan, analysis: Analysis, provenance: Provenance) -> str:
    body = environment().get_template("card.md.jinja").render(_card_context(plan, analysis))
    return with_header(provenance, body, "markdown")


def _card_context(plan: Plan, analysis: Analysis) -> dict[str, object]:
    channels, height, width = analysis.input
    return {
        "plan": plan,
        "description": markdown_text(plan.description or plan.name),
        "references": " and ".join(f"`{reference}`" for reference in plan.references),
        "summary": f"{size_line(analysis)} at {channels}x{height}x{width}.",
        "input": f"{channels}x{height}x{width}",
        "activations_note": ACTIVATIONS_NOTE,
        "columns": COLUMNS,
        "rows": figures_rows(analysis),
        "groups_columns": GROUPS_COLUMNS,
        "groups_rows": groups_rows(plan),
        "nodes": _diagram(plan, analysis),
    }


def _diagram(plan: Plan, analysis: Analysis) -> list[tuple[str, str]]:
    """Mermaid nodes from the input to the head, each labelled with its output."""
    parts = {part.name: part for part in analysis.parts}

    def size(name: str) -> str:
        channels, height, width = parts[name].output
        return f"{channels}x{height}x{width}"

    stem = plan.stem
    convs = {
        "classic": "7x7 conv",
        "deep": "three 3x3 convs",
        "cifar": "3x3 conv",
        "strided_3x3": "3x3 stride-2 conv",
    }[stem.type]
    pool = f"{stem.pool.type} pool /{stem.pool.stride}" if stem.pool else "no pool"
    if stem.pool and plan.anti_alias != "none":
        pool = f"{stem.pool.type} pool, {plan.anti_alias} anti-aliased /{stem.pool.stride}"
    channels, height, width = analysis.input
    nodes = [("input", f"input<br/>{channels}x{height}x{width}")]
    if plan.resize:
        nodes.append(("resize", f"resize<br/>{plan.resize.size[0]}x{plan.resize.size[1]}"))
    channel_list = ", ".join(map(str, stem.channels))
    nodes.append(("stem", f"stem<br/>{convs} ({channel_list}), {pool}<br/>{size('stem')}"))
    for stage in plan.stages:
        extras = family_of(stage.block).diagram_words(plan)
        extras += [f"/{stage.stride}"] if stage.stride > 1 else []
        if stage.stride > 1 and plan.anti_alias != "none":
            extras.append(f"{plan.anti_alias} anti-aliased")
        if plan.attention != "none":
            extras.append(plan.attention.upper())
        detail = " ".join([f"{stage.depth} x {stage.block}", *extras])
        nodes.append((stage.name, f"{stage.name}<br/>{detail}<br/>{size(stage.name)}"))
    dropout = f", dropout {plan.head.dropout}" if plan.head.dropout else ""
    classes = plan.head.num_classes
    classifier = f"fc<br/>{classes} classes" if classes else "no classifier<br/>pooled features"
    head = f"head<br/>average pool{dropout}, {classifier}"
    nodes.append(("head", head))
    return nodes
