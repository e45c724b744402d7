"""The plan: a spec resolved into every layer of the network, with nothing left to interpret.

Templates and the analysis read only the plan. Each layer that holds parameters or
changes the shape of the data is listed under the name its module gets in the
generated file, so the plan's names are the generated model's `state_dict` prefixes.
The network's spine (stem, stages, shortcuts, attention, head) is planned here; each
block's branch by its family (`generator.blocks`), under its layout's names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .blocks import FAMILIES, families_in, family_of
from .blocks.family import BlockFamily, BlockShape, StageShape
from .errors import Finding, PlanError
from .layers import (
    AvgPool,
    Composite,
    Conv,
    EfficientChannelAttention,
    GlobalAvgPool,
    Layer,
    Linear,
    Named,
    Norm,
    PadChannels,
    Resize,
    SqueezeExcite,
)
from .layouts import LAYOUTS, CheckpointNames, Layout
from .spec import (
    ACTIVATING_NORMS,
    GROUPED_NORMS,
    ActivationType,
    AntiAliasType,
    AttentionType,
    BlockKind,
    NormType,
    ShortcutKind,
    Spec,
    StrideOn,
)
from .stem import StemPlan, plan_stem
from .widths import se_hidden


@dataclass(frozen=True)
class BlockPlan:
    name: str  # its module's: layer1.0, or stages.0.blocks.0
    in_channels: int
    width: int
    out_channels: int
    stride: int
    body: tuple[Named, ...]
    shortcut: tuple[Named, ...]  # empty: the identity, or none where not `residual`
    residual: bool = True  # False: the block is its branch alone (shortcut none)


@dataclass(frozen=True)
class StagePlan:
    name: str
    block: BlockKind
    depth: int
    in_channels: int
    width: int
    out_channels: int
    groups: int  # of its grouped 3x3 convs
    stride: int
    first_shortcut: str  # "identity" or the network's shortcut kind
    attention: int | None  # se: hidden channels; eca: kernel size; else None
    dilation: int
    first_dilation: int  # of the first block's 3x3 convs: the previous stage's dilation
    drop_path: tuple[float, float]  # stochastic depth rate of the first and the last block
    pruned: tuple[tuple[int, int], ...] | None  # each block's first and 3x3 conv widths
    blocks: tuple[BlockPlan, ...]


@dataclass(frozen=True)
class HeadPlan:
    in_features: int
    num_classes: int
    dropout: float
    final_norm: bool  # a norm on the last stage's output (pre-activation's)
    final_activation: bool  # an activation on it, the final norm's or alone
    final_conv: int | None  # the channels of a 1x1 conv, norm and activation after it
    layers: tuple[Named, ...]


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    references: tuple[str, ...]
    in_channels: int
    input_size: tuple[int, int]
    resize: Resize | None
    conv_bias: bool
    weight_standardization: float | None  # its eps; None: plain convs
    norm: NormType
    norm_groups: int
    norm_group_size: int | None  # channels a group, in place of a fixed number of groups
    activation: ActivationType
    anti_alias: AntiAliasType
    attention: AttentionType
    attention_activation: ActivationType  # of squeeze-and-excitation, between its convs
    preactivation: bool
    stride_on: StrideOn
    groups: int
    shortcut: ShortcutKind
    shortcut_norm: bool
    shortcut_kernel: int  # of a projection where its stage strides or dilates
    reduce_first: int  # a block's first conv outputs its inner width divided by this
    pruned: bool  # each block has its own widths, each stage its own channels
    block_settings: tuple[tuple[str, Any], ...]  # the block families' own stage fields
    layout: Layout  # what the modules are called in the checkpoints
    branch_activation: bool  # a basic block activates its branch before attention and sum
    zero_init_residual: bool
    drop_path_rate: float  # of the last block; stochastic depth rises to it from 0
    drop_path_float32: bool  # the rates spread by a float32 torch.linspace
    stem: StemPlan
    stages: tuple[StagePlan, ...]
    head: HeadPlan

    @cached_property
    def checkpoint_names(self) -> CheckpointNames | None:
        """The layout's names for the modules, where its checkpoints' are not the file's."""
        return self.layout.names(self) if self.layout.names is not None else None

    @property
    def stage_strides(self) -> tuple[int, ...]:
        """Stride of each stage's output relative to the (resized) input."""
        stride = self.stem.stride
        strides = []
        for stage in self.stages:
            stride *= stage.stride
            strides.append(stride)
        return tuple(strides)

    @property
    def dilated(self) -> bool:
        return any(stage.dilation > 1 or stage.first_dilation > 1 for stage in self.stages)

    @property
    def separate_activation(self) -> bool:
        """Whether an activation module follows each norm; an activating norm is its own."""
        return self.norm not in ACTIVATING_NORMS

    @property
    def foldable(self) -> bool:
        """Whether every norm is a batch norm right after a plain conv, which it can fold
        into for inference."""
        return self.norm in ("batch", "frozen_batch") and not (
            self.preactivation or self.weight_standardization is not None
        )

    @property
    def drop_path(self) -> bool:
        return self.drop_path_rate > 0

    @property
    def block_kinds(self) -> tuple[BlockKind, ...]:
        """The block kinds in use, in the order they first appear."""
        return tuple(dict.fromkeys(stage.block for stage in self.stages))

    def setting(self, field: str) -> Any:
        """A block family's own field of the spec's stages, as `stages.FIELD` gave it."""
        return dict(self.block_settings)[field]

    def named_layers(self) -> list[Named]:
        """Every layer under its full module name, in the order data meets it."""
        layers: list[Named] = []
        if self.resize is not None:
            layers.append(("", self.resize))
        layers.extend(self.stem.layers)
        for stage in self.stages:
            for block in stage.blocks:
                prefix = f"{block.name}."
                layers.extend((prefix + name, layer) for name, layer in block.body + block.shortcut)
        layers.extend(self.head.layers)
        return layers


def build_plan(spec: Spec) -> Plan:
    stem = plan_stem(spec)
    stage_plans = _stages(spec, stem.out_channels)
    head = _head(spec, stage_plans[-1].out_channels)
    stages, resize = spec.stages, spec.input.resize
    plan = Plan(
        name=spec.name,
        description=spec.description,
        references=tuple(spec.reference),
        in_channels=spec.input.channels,
        input_size=(spec.input.size[0], spec.input.size[1]),
        resize=Resize((resize[0], resize[1]), spec.input.resize_mode) if resize else None,
        conv_bias=spec.conv_bias,
        weight_standardization=ws.eps if (ws := spec.weight_standardization) else None,
        norm=spec.norm.type,
        norm_groups=spec.norm.groups,
        norm_group_size=spec.norm.group_size if spec.norm.type == "group" else None,
        activation=spec.activation,
        anti_alias=spec.anti_alias,
        attention=stages.attention.type,
        attention_activation=stages.attention.activation,
        preactivation=stages.preactivation,
        stride_on=stages.stride_on,
        groups=stages.groups,
        shortcut=stages.shortcut,
        shortcut_norm=stages.shortcut_norm and stages.shortcut not in ("zero_pad", "none"),
        shortcut_kernel=stages.shortcut_kernel,
        reduce_first=stages.reduce_first,
        pruned=stages.pruned_widths is not None,
        block_settings=tuple(
            item for family in FAMILIES for item in family.settings(stages).items()
        ),
        layout=LAYOUTS[spec.layout],
        branch_activation=stages.branch_activation,
        zero_init_residual=spec.init.zero_init_residual,
        drop_path_rate=stages.drop_path,
        drop_path_float32=stages.drop_path_float32,
        stem=stem,
        stages=stage_plans,
        head=head,
    )
    if plan.norm in GROUPED_NORMS:
        _check_group_norm(plan)
    if plan.weight_standardization is not None:
        _check_standardisable(plan)
    return plan


def _stages(spec: Spec, in_channels: int) -> tuple[StagePlan, ...]:
    """Every stage, or every stage's problem at once."""
    stages = spec.stages
    depths = stages.stage_depths()
    count = len(depths)
    kinds = stages.block * count if len(stages.block) == 1 else stages.block
    widths = stages.stage_widths() or [64 * 2**i for i in range(count)]
    first_stride = family_of(kinds[0]).first_stride
    strides = stages.strides or [first_stride] + [2] * (count - 1)
    dilations = stages.dilations or [1] * count
    rates = drop_path_rates(stages.drop_path, sum(depths))
    problems: list[Finding] = []
    plans: list[StagePlan] = []
    previous_dilation = 1
    for index, (kind, depth, base, stride, dilation) in enumerate(
        zip(kinds, depths, widths, strides, dilations, strict=True)
    ):
        family = family_of(kind)
        out_channels = base * family.expansion(kind)
        # A pruned network's own channel counts; its attention keeps the unpruned size.
        attention = None if family.own_attention else _attention_size(spec, out_channels)
        if stages.pruned_channels:
            out_channels = stages.pruned_channels[index]
        width, groups = family.stage_width(kind, base, stages)
        shape = StageShape(
            index=index,
            kind=kind,
            depth=depth,
            in_channels=in_channels,
            out_channels=out_channels,
            width=width,
            reduced=width // stages.reduce_first,
            groups=groups,
        )
        problem = _stage_problem(spec, family, shape)
        if problem is not None:
            problems.append(problem)
            continue
        first = sum(depths[:index])
        stage_rates = rates[first : first + depth]
        dilations = (previous_dilation, dilation)
        plans.append(_stage(spec, shape, stride, dilations, attention, stage_rates))
        in_channels = out_channels
        previous_dilation = dilation
    if problems:
        raise PlanError(problems)
    return tuple(plans)


def _stage_problem(spec: Spec, family: BlockFamily, stage: StageShape) -> Finding | None:
    """Why a stage's numbers cannot make its blocks, if they cannot."""
    stages, number = spec.stages, stage.index + 1
    if stage.width < 1:
        message = f"gives stage {number} a bottleneck width of 0; raise it or the width"
        return ("stages", "width_per_group"), message
    reduced, grouped = stage.reduced, stage.groups
    if family.reduces_first and (reduced < 1 or reduced % grouped):
        message = (
            f"leaves stage {number} a first conv of {reduced} channels, which "
            f"{grouped} groups cannot take"
            if reduced
            else f"leaves stage {number} a first conv of no channels"
        )
        return ("stages", "reduce_first"), message
    problem = family.stage_problem(spec, stage)
    if problem is not None:
        return problem
    if stages.shortcut == "zero_pad" and stage.out_channels < stage.in_channels:
        message = (
            f"a zero_pad shortcut cannot reduce channels, but stage {number} goes from "
            f"{stage.in_channels} to {stage.out_channels}"
        )
        return ("stages", "widths", stage.index), message
    pruned = stages.pruned_widths[stage.index] if stages.pruned_widths else None
    if pruned and any(first % stages.groups or second % stages.groups for first, second in pruned):
        message = f"gives stage {number} a 3x3 conv's width that {stages.groups} groups cannot take"
        return ("stages", "pruned_widths", stage.index), message
    return None


def _stage(
    spec: Spec,
    shape: StageShape,
    stride: int,
    dilations: tuple[int, int],
    attention: int | None,
    rates: list[float],
) -> StagePlan:
    """A stage's blocks: the first changes the resolution and the channels; `dilations`
    are the previous stage's and its own."""
    stages, layout, family = spec.stages, LAYOUTS[spec.layout], family_of(shape.kind)
    pruned = stages.pruned_widths[shape.index] if stages.pruned_widths else None
    previous_dilation, dilation = dilations
    name = layout.stage_name(shape.index)
    reshapes = stride != 1 or shape.in_channels != shape.out_channels
    first = stages.shortcut if reshapes or stages.shortcut == "projection_all" else "identity"
    blocks = []
    for position in range(shape.depth):
        is_first = position == 0
        shortcut = first if is_first else _later_shortcut(stages.shortcut)
        first_width, block_width = pruned[position] if pruned else (shape.reduced, shape.width)
        block = BlockShape(
            kind=shape.kind,
            in_channels=shape.in_channels if is_first else shape.out_channels,
            first_width=first_width,
            width=block_width,
            out_channels=shape.out_channels,
            stride=stride if is_first else 1,
            first_dilation=previous_dilation if is_first else dilation,
            dilation=dilation,
            has_shortcut_module=shortcut != "identity",
            groups=shape.groups,
        )
        blocks.append(
            BlockPlan(
                name=layout.block_name(name, position),
                in_channels=block.in_channels,
                width=block_width,
                out_channels=shape.out_channels,
                stride=block.stride,
                body=family.body(block, spec) + _attention(spec, shape.out_channels, attention),
                shortcut=_shortcut(shortcut, block, spec),
                residual=shortcut != "none",
            )
        )
    return StagePlan(
        name=name,
        block=shape.kind,
        depth=shape.depth,
        in_channels=shape.in_channels,
        width=shape.width,
        out_channels=shape.out_channels,
        groups=shape.groups,
        stride=stride,
        first_shortcut=first,
        attention=attention,
        dilation=dilation,
        first_dilation=previous_dilation,
        drop_path=(rates[0], rates[-1]),
        pruned=tuple((first, second) for first, second in pruned) if pruned else None,
        blocks=tuple(blocks),
    )


def _head(spec: Spec, in_channels: int) -> HeadPlan:
    """What the blocks' families end a network with (a pre-activation network's last
    norm, an activation), a final conv, the global pool and the classifier."""
    layout, stages, norm = LAYOUTS[spec.layout], spec.stages, spec.norm.type
    families = families_in(tuple(stages.block))
    final: list[Named] = []
    final_norm = any(family.final_norm(stages) for family in families)
    if final_norm:
        final.append(("norm", Norm.of(norm, in_channels)))
    final_conv = spec.head.final_conv
    if final_conv is not None and layout.final_conv is not None:
        conv = Conv(in_channels, final_conv, 1, bias=spec.conv_bias)
        final.append((f"{layout.final_conv}.conv", conv))
        final.append((f"{layout.final_conv}.{layout.norm}", Norm.of(norm, final_conv)))
        in_channels = final_conv
    num_classes = spec.head.num_classes
    fc: Layer = Linear(in_channels, num_classes)
    if layout.conv_classifier:
        fc = Conv(in_channels, num_classes, 1, bias=True)
    classifiers = ((layout.classifier, fc),) if num_classes else ()
    return HeadPlan(
        in_features=in_channels,
        num_classes=num_classes,
        dropout=spec.head.dropout,
        final_norm=final_norm,
        final_activation=final_conv is None
        and any(family.final_activation(stages) for family in families),
        final_conv=final_conv,
        layers=(*final, ("global_pool", GlobalAvgPool()), *classifiers),
    )


def drop_path_rates(largest: float, blocks: int) -> list[float]:
    """Stochastic depth rising linearly from 0 at the first block to `largest` at the last.

    The generated file computes the same list with the same expression.
    """
    return [largest * index / max(blocks - 1, 1) for index in range(blocks)]


def _check_group_norm(plan: Plan) -> None:
    size = plan.norm_group_size
    for name, layer in plan.named_layers():
        for norm_name, norm in _norms(name, layer):
            if size is not None and norm.channels % size:
                message = f"does not divide the {norm.channels} channels of {norm_name}"
                raise PlanError([(("norm", "group_size"), message)])
            if size is None and norm.channels % plan.norm_groups:
                message = (
                    f"{plan.norm_groups} groups do not divide the {norm.channels} channels "
                    f"of {norm_name}"
                )
                raise PlanError([(("norm", "groups"), message)])


def _norms(name: str, layer: Layer) -> list[tuple[str, Norm]]:
    """The norms a layer is or holds, under their module names."""
    if isinstance(layer, Norm):
        return [(name, layer)]
    if isinstance(layer, Composite):
        return layer.norms(name)
    return []


def _check_standardisable(plan: Plan) -> None:
    """Each standardised filter needs two weights at least, to have a variance."""
    classifier = plan.layout.classifier
    for name, layer in plan.named_layers():
        weights = (
            layer.in_channels // layer.groups * layer.kernel_size**2
            if isinstance(layer, Conv)
            else 2
        )
        if weights < 2 and name != classifier:
            message = f"cannot standardise {name}, whose filters hold one weight each"
            raise PlanError([(("weight_standardization",), message)])


def _attention_size(spec: Spec, channels: int) -> int | None:
    attention = spec.stages.attention
    if attention.type == "se":
        return se_hidden(channels, attention.reduction, attention.divisor)
    if attention.type == "eca":
        # The ECA paper's adaptive kernel: the odd size nearest (log2(C) + 1) / 2, at least 3.
        size = int(abs(math.log(channels, 2) + 1) / 2)
        return max(size if size % 2 else size + 1, 3)
    return None


def _attention(spec: Spec, channels: int, size: int | None) -> tuple[Named, ...]:
    if size is None:
        return ()
    name = LAYOUTS[spec.layout].attention
    if spec.stages.attention.type == "se":
        return ((name, SqueezeExcite(channels, size)),)
    return ((name, EfficientChannelAttention(channels, size)),)


def _later_shortcut(kind: ShortcutKind) -> str:
    return "projection" if kind == "projection_all" else "identity"


def _shortcut(kind: str, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
    if kind in ("identity", "none"):
        return ()
    in_channels, out_channels, stride = block.in_channels, block.out_channels, block.stride
    if kind == "zero_pad":
        return (("downsample", PadChannels(stride, out_channels - in_channels)),)
    bias = spec.conv_bias
    # An avg-pool shortcut always has a pool slot, empty at stride 1 in an undilated stage,
    # so that, numbered, its conv and norm stay at .1 and .2.
    parts: list[tuple[str, Layer | None]] = []
    if kind == "avg_down":
        first = family_of(block.kind).pool_follows_first_dilation
        dilated = (block.first_dilation if first else block.dilation) > 1
        pool = AvgPool(stride) if stride > 1 else AvgPool(1, same=True) if dilated else None
        parts += [("pool", pool), ("conv", Conv(in_channels, out_channels, 1, bias=bias))]
    elif (stride > 1 or block.dilation > 1) and spec.stages.shortcut_kernel == 3:
        # SENet-154's 3x3 shortcut conv, dilated as its block's first conv is.
        first = block.first_dilation
        parts.append(("conv", Conv(in_channels, out_channels, 3, stride, first, 1, bias, first)))
    else:
        parts.append(("conv", Conv(in_channels, out_channels, 1, stride=stride, bias=bias)))
    if spec.stages.shortcut_norm:
        parts.append(("norm", Norm.of(spec.norm.type, out_channels)))
    layout = LAYOUTS[spec.layout]
    return tuple(
        (layout.shortcut_name(part, position, spec.stages.shortcut_norm), layer)
        for position, (part, layer) in enumerate(parts)
        if layer is not None
    )
