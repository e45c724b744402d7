"""The blocks' part of a generated file's context: the block classes' and make_stage's
parameters, the arguments each call passes, and each block family's own context.

Every parameter appears only when the network uses it: `width` for blocks with an inner
width (and for blocks without one sharing make_stage with them), the attention size,
the dilation, the stochastic depth rates, the block class itself when stages mix kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..blocks import families_in, family_of
from ..blocks.family import ConvArguments
from ..plan import Plan, StagePlan
from .modules import reduced
from .shortcuts import projection_kernels
from .text import LINE_LENGTH

ATTENTION_PARAMETER = {"se": "se_channels", "eca": "eca_kernel_size"}


@dataclass(frozen=True)
class _Parameters:
    """The optional parameters the network's blocks and make_stage take."""

    mixed: bool  # stages of different kinds: make_stage takes the block class
    widths: list[str]  # a block's widths: none, its inner width, or (pruned) its first too
    attention: str | None  # the attention's size
    two_dilations: bool  # a block takes its stage's dilation and its first conv's
    identity: str  # the shortcut of a block that keeps its shape
    downsample_type: str  # the type of a block's shortcut module
    groups: bool  # each stage gives its blocks their groups

    @property
    def dilations(self) -> list[str]:
        return ["dilation", "first_dilation"] if self.two_dilations else ["dilation"]


def block_context(plan: Plan) -> dict[str, object]:
    """What the block templates, make_stage and the network's constructor need."""
    kinds = plan.block_kinds
    mixed = len(kinds) > 1
    has_width = mixed or family_of(kinds[0]).inner(kinds[0])
    # A basic block's two 3x3 convs differ in dilation where a dilated stage starts (the
    # first keeps the previous stage's); a bottleneck's one 3x3 takes its block's first.
    # So does the anti-aliasing pool's condition, where a blur runs at a dilated stage's start.
    two_dilations = plan.dilated and (
        any(family_of(kind).two_dilations(kind) for kind in kinds) or plan.anti_alias == "blur"
    )
    parameters = _Parameters(
        mixed=mixed,
        # A pruned network's blocks each have their own first and 3x3 widths.
        widths=["first_width", "width"] if plan.pruned else ["width"] if has_width else [],
        # A family that sizes its attention itself takes no size.
        attention=None
        if any(family_of(kind).own_attention for kind in kinds)
        else ATTENTION_PARAMETER.get(plan.attention),
        two_dilations=two_dilations,
        identity="None" if plan.preactivation else "nn.Identity()",
        downsample_type="nn.Module | None"
        if plan.preactivation or plan.shortcut == "none"
        else "nn.Module",
        groups=any(family_of(kind).stage_groups for kind in kinds),
    )
    prefix = "PreAct" if plan.preactivation else ""
    classes = {kind: prefix + family_of(kind).class_name(kind) for kind in kinds}
    convs = _conv_arguments(plan, two_dilations, "width" if has_width else "out_channels")
    families = families_in(kinds)
    contexts = {family.name: family.context(plan, convs) for family in families}
    # ConvNormAct's parameters, from the family whose blocks are built of it.
    conv_norm_act = [own["conv_norm_act"] for own in contexts.values() if "conv_norm_act" in own]
    return {
        "mixed": mixed,
        "conv3x3": _conv3x3(plan),
        "convs": convs,
        "downsample_type": parameters.downsample_type,
        "identity": parameters.identity,
        "zero_init": {kind: family_of(kind).zero_init(kind, plan) for kind in kinds},
        "block_classes": classes,
        "block_class": "block_class" if mixed else classes[kinds[0]],
        "block_helpers": [t for family in families for t in family.helper_templates(plan)],
        "block_templates": [family_of(kind).template(kind, plan) for kind in kinds],
        "uses_conv1x1": any(family_of(kind).uses_conv1x1(kind, plan) for kind in kinds),
        **_signatures(plan, parameters, classes),
        **_stage_calls(plan, parameters, classes),
        "conv_norm_act": conv_norm_act[0] if conv_norm_act else None,
        **contexts,
    }


def _conv_arguments(plan: Plan, two_dilations: bool, mid_channels: str) -> ConvArguments:
    dilation = ["dilation=dilation"] if plan.dilated else []
    first_dilation = ["dilation=first_dilation"] if plan.dilated else []
    return ConvArguments(
        groups=[f"groups={plan.groups}"] if plan.groups > 1 else [],
        first_dilation=first_dilation,
        dilation=dilation,
        conv2_dilation=first_dilation if two_dilations else dilation,
        stride=["stride"] if plan.stride_on == "3x3" and plan.anti_alias == "none" else [],
        # The first conv's output: the inner width, or a part of it (SENet-154's half).
        reduced_width=reduced(plan, mid_channels),
        reduced_inner="first_width" if plan.pruned else reduced(plan, "width"),
    )


def _signatures(
    plan: Plan, parameters: _Parameters, classes: dict[str, str]
) -> dict[str, list[str]]:
    """The block classes' parameters, and make_stage's."""
    attention = parameters.attention
    optional = [
        *([attention] if attention else []),
        *(parameters.dilations if plan.dilated else []),
    ]
    block_type = " | ".join(f"type[{classes[kind]}]" for kind in plan.block_kinds)
    widths = parameters.widths
    return {
        "block_signature": [
            "in_channels: int",
            *(f"{name}: int" for name in widths),
            "out_channels: int",
            "stride: int",
            f"downsample: {parameters.downsample_type}",
            *(["groups: int"] if parameters.groups else []),
            *(f"{name}: int" for name in optional),
            *(["drop_path: float"] if plan.drop_path else []),
        ],
        "stage_signature": [
            *([f"block_class: {block_type}"] if parameters.mixed else []),
            "in_channels: int",
            *(["widths: list[tuple[int, int]]"] if plan.pruned else (f"{n}: int" for n in widths)),
            "out_channels: int",
            *([] if plan.pruned else ["depth: int"]),
            "stride: int",
            *(["groups: int"] if parameters.groups else []),
            *([f"{attention}: int"] if attention else []),
            *(["dilation: int", "first_dilation: int"] if plan.dilated else []),
            *(["drop_path: list[float]"] if plan.drop_path else []),
        ],
    }


def _stage_calls(plan: Plan, parameters: _Parameters, classes: dict[str, str]) -> dict[str, object]:
    """The arguments make_stage passes its first block and the later ones, and those the
    network passes each make_stage."""
    attention = parameters.attention
    first_optional = [
        *(["groups"] if parameters.groups else []),
        *([attention] if attention else []),
    ]
    later_optional = list(first_optional)
    if plan.dilated:
        two = parameters.two_dilations
        first_optional += ["dilation", "first_dilation"] if two else ["first_dilation"]
        later_optional += ["dilation"] * len(parameters.dilations)
    later_shortcut = "shortcut" if plan.shortcut == "projection_all" else parameters.identity
    stage_args = {}
    first_block = 0
    for stage in plan.stages:
        args: list[object] = [classes[stage.block]] if parameters.mixed else []
        if plan.pruned:
            widths = [_pruned_widths(stage)]
        else:
            widths = [stage.width] if parameters.widths else []
        args += [stage.in_channels, *widths, stage.out_channels]
        args += [] if plan.pruned else [f"depth={stage.depth}"]
        args += [f"stride={stage.stride}"]
        if parameters.groups:
            args.append(f"groups={stage.groups}")
        if attention:
            args.append(f"{attention}={stage.attention}")
        if plan.dilated:
            args += [f"dilation={stage.dilation}", f"first_dilation={stage.first_dilation}"]
        if plan.drop_path:
            args.append(f"drop_path=rates[{first_block}:{first_block + stage.depth}]")
        first_block += stage.depth
        stage_args[stage.name] = args
    widths = parameters.widths
    return {
        "block_args": {
            "first": [*widths, "out_channels", "stride", "shortcut", *first_optional]
            + (["drop_path[0]"] if plan.drop_path else []),
            "later": [*widths, "out_channels", 1, later_shortcut, *later_optional]
            + (["drop_path[index]"] if plan.drop_path else []),
        },
        "stage_args": stage_args,
        "blocks": first_block,
    }


def _conv3x3(plan: Plan) -> dict[str, object]:
    """conv3x3's parameters and the arguments of its conv: groups and dilation only where
    a block or shortcut that uses it needs them; whether anything uses it at all."""
    grouped = [family_of(kind).conv3x3(kind) for kind in plan.block_kinds]
    users = [grouping for grouping in grouped if grouping is not None]
    dilated_projection = 3 in projection_kernels(plan) and plan.dilated
    groups = plan.groups > 1 and any(users)
    dilation = plan.dilated and bool(users) or dilated_projection
    return {
        "used": bool(users) or plan.stem.type != "classic" or 3 in projection_kernels(plan),
        "parameters": [
            "in_channels: int",
            "out_channels: int",
            "stride: int = 1",
            *(["groups: int = 1"] if groups else []),
            *(["dilation: int = 1"] if dilation else []),
        ],
        "arguments": [
            "in_channels",
            "out_channels",
            3,
            "stride=stride",
            "padding=dilation" if dilation else "padding=1",
            *(["groups=groups"] if groups else []),
            *(["dilation=dilation"] if dilation else []),
            f"bias={plan.conv_bias!r}",
        ],
    }


def _pruned_widths(stage: StagePlan) -> str:
    """The stage's list of (first, 3x3) widths; where it cannot stand on a line of its own
    as make_stage's argument, one pair a line, as ruff formats it."""
    assert stage.pruned is not None
    pairs = [f"({first}, {second})" for first, second in stage.pruned]
    if len(f"            [{', '.join(pairs)}],") <= LINE_LENGTH:
        return f"[{', '.join(pairs)}]"
    return "[\n" + "".join(f"                {pair},\n" for pair in pairs) + "            ]"
