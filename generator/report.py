"""Figures of a network as people read them: a per-part table and one-line summaries."""

from __future__ import annotations

from .analysis import Analysis
from .blocks import families_in
from .plan import Plan

COLUMNS = (
    "part",
    "blocks",
    "channels",
    "stride",
    "output",
    "params",
    "multiply-adds",
    "activations",
)


def format_macs(macs: int, scale_of: int | None = None) -> str:
    """Multiply-adds in G or M, chosen by `scale_of` (default: `macs` itself)."""
    if (scale_of if scale_of is not None else macs) >= 10**9:
        return f"{macs / 1e9:.3f} G"
    return f"{macs / 1e6:.2f} M"


def format_count(count: int) -> str:
    if count >= 10**6:
        return f"{count / 1e6:.1f} M"
    return f"{count / 1e3:.0f} k" if count >= 10**3 else str(count)


def describe_network(plan: Plan, analysis: Analysis) -> str:
    blocks = sum(stage.depth for stage in plan.stages)
    kinds = " and ".join(plan.block_kinds)
    layout = f", in the {plan.layout.name} layout" if plan.layout.name != "resnet" else ""
    return (
        f"{plan.name}: {blocks} {kinds} blocks in {len(plan.stages)} stages, "
        f"{format_count(analysis.params)} parameters{layout}."
    )


GROUPS_COLUMNS = ("stage", "blocks", "width", "inner width", "groups", "group width")


def groups_rows(plan: Plan) -> list[tuple[str, ...]]:
    """Each stage's depth, width, inner width and groups, for networks whose stages differ
    in groups (RegNet's, from its design space); none for the others."""
    if not any(family.stage_groups for family in families_in(plan.block_kinds)):
        return []
    return [
        (
            stage.name,
            str(stage.depth),
            str(stage.out_channels),
            str(stage.width),
            str(stage.groups),
            str(stage.width // stage.groups),
        )
        for stage in plan.stages
    ]


def groups_table(plan: Plan) -> list[str]:
    """groups_rows as aligned text lines, with their header; none without rows."""
    rows = groups_rows(plan)
    return aligned([GROUPS_COLUMNS, *rows], right=set(range(1, 6))) if rows else []


def size_line(analysis: Analysis) -> str:
    return f"{analysis.params:,} parameters, {format_macs(analysis.macs)} multiply-adds"


def format_bytes(count: int) -> str:
    return f"{count / 2**20:.1f} MiB"


def figures_rows(analysis: Analysis) -> list[tuple[str, ...]]:
    """One row per part and a total: the columns of COLUMNS, as text."""
    rows = []
    for part in analysis.parts:
        channels, height, width = part.output
        is_head = part.name == "head"
        rows.append(
            (
                part.name,
                str(part.blocks) if part.blocks else "-",
                str(channels),
                "-" if is_head else str(part.stride),
                "-" if is_head else f"{height}x{width}",
                f"{part.params:,}",
                format_macs(part.macs, analysis.macs),
                format_bytes(4 * part.activations),
            )
        )
    rows.append(
        (
            "total",
            str(sum(part.blocks for part in analysis.parts)),
            "",
            str(analysis.output_stride),
            "",
            f"{analysis.params:,}",
            format_macs(analysis.macs),
            format_bytes(4 * analysis.activations),
        )
    )
    return rows


def figures_table(analysis: Analysis) -> list[str]:
    """The per-part table as aligned text lines: names left, numbers right."""
    return aligned([COLUMNS, *figures_rows(analysis)], right=set(range(1, len(COLUMNS))))


def aligned(rows: list[tuple[str, ...]], right: set[int]) -> list[str]:
    """Rows of cells as text lines in columns; the columns in `right` are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


ACTIVATIONS_NOTE = (
    "activations: float32 outputs of every conv, norm, pool, attention and classifier "
    "layer in one forward pass"
)
