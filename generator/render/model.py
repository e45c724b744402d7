"""Render a plan into the source of a standalone PyTorch model file.

Templates place what the plan says; the names, literals, docstrings and line breaks
they need are made here and in the modules beside this one (the stem, the shortcuts,
the blocks, `for_inference`), so the output is already in `ruff format` style.
"""

from __future__ import annotations

from ..analysis import Analysis
from ..blocks import families_in
from ..plan import Plan
from ..provenance import Provenance, with_header
from ..report import describe_network, figures_table, format_macs, groups_table, size_line
from .blocks import block_context
from .environment import environment
from .inference import inference_context
from .modules import ACTIVATIONS, KAIMING_GAIN, conv_class, norm_layer
from .names import names_context
from .shortcuts import avg_down_pool, projection_kernels, shortcut_return
from .stem import ZERO_PADDED_COMMENT, bare_stem, classifier, stem_entries, stem_pool
from .text import LINE_LENGTH, docstring_text, wrap


def render_model(plan: Plan, analysis: Analysis, provenance: Provenance) -> str:
    body = environment().get_template("model.py.jinja").render(_context(plan, analysis))
    return with_header(provenance, body, "python")


def _context(plan: Plan, analysis: Analysis) -> dict[str, object]:
    shortcuts = {stage.first_shortcut for stage in plan.stages}
    uses_downsample = shortcuts != {"identity"}
    blocks = block_context(plan)
    return {
        "plan": plan,
        "network_class": network_class(plan),
        "bias": repr(plan.conv_bias),
        "conv_class": conv_class(plan),
        "norm": lambda channels: norm_layer(plan, channels),
        "norm_name": plan.layout.norm,
        "shortcut_return": lambda parts: shortcut_return(plan, parts),
        "act": lambda kind=None: ACTIVATIONS[kind or plan.activation],
        "kaiming_gain": KAIMING_GAIN[plan.activation],
        "docstring": docstring_text(_module_docstring(plan, analysis)),
        "factory_summary": _factory_summary(plan, analysis),
        "resize_size": repr(plan.resize.size) if plan.resize else None,
        "signature": [
            f"num_classes: int = {plan.head.num_classes}",
            f"in_channels: int = {plan.in_channels}",
        ],
        "stem_pool": stem_pool(plan),
        "stem_entries": stem_entries(plan),
        "bare_stem": bare_stem(plan),
        "zero_padded_comment": ZERO_PADDED_COMMENT,
        "classifier": classifier(plan),
        "stage_channels": [stage.out_channels for stage in plan.stages],
        "stage_strides": list(plan.stage_strides),
        "shortcut_template": "projection" if plan.shortcut == "projection_all" else plan.shortcut,
        **blocks,
        **inference_context(plan),
        "uses": {
            "downsample": uses_downsample,
            "identity_first": uses_downsample and "identity" in shortcuts,
            "conv1x1": blocks["uses_conv1x1"]
            or (uses_downsample and plan.shortcut == "avg_down")
            or 1 in projection_kernels(plan),
        },
        **avg_down_pool(plan),
        # A block that changes shape without a shortcut is given none.
        **({"downsample_call": "None"} if plan.shortcut == "none" else {}),
        **names_context(plan),
    }


def network_class(plan: Plan) -> str:
    """The network's class: its block family's network, or the ResNet."""
    (family, *others) = families_in(plan.block_kinds)
    return "ResNet" if others else family.network_class


def _factory_summary(plan: Plan, analysis: Analysis) -> str:
    """The factory's docstring: one line, or where that is too long, a summary line and
    the figures below it."""
    line = f"Build {plan.name} ({size_line(analysis)})."
    if len(f'    """{line}"""') <= LINE_LENGTH:
        return line
    return f"Build {plan.name}.\n\n    {size_line(analysis)}.\n    "


def _module_docstring(plan: Plan, analysis: Analysis) -> str:
    channels, height, width = analysis.input
    paragraphs = [describe_network(plan, analysis), plan.description]
    figures = [
        f"Parameters: {analysis.params:,}",
        f"Multiply-adds: {format_macs(analysis.macs)} at {channels}x{height}x{width}",
    ]
    if plan.references:
        figures.append(f"Weight-compatible with {' and '.join(plan.references)}.")
    lines = wrap(paragraphs) + [""] + figures + [""] + figures_table(analysis) + [""]
    groups = groups_table(plan)
    lines += [*groups, ""] if groups else []
    return "\n".join(lines)
