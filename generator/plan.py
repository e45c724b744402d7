"""The plan: a spec resolved into every layer of the network, with nothing left to interpret.

Templates and the analysis read only the plan. Each layer that holds parameters or
changes the shape of the data is listed under the name its module gets in the
generated file, so the plan's names are the generated model's `state_dict` prefixes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from .layouts import LAYOUTS, Layout
from .spec import (
    ACTIVATING_NORMS,
    BASIC_KINDS,
    GROUPED_NORMS,
    SELECTIVE_KERNEL_KINDS,
    ActivationType,
    AntiAliasType,
    AttentionType,
    AvdPlace,
    BlockKind,
    FieldPath,
    NormType,
    ShortcutKind,
    Spec,
    StemType,
    StrideOn,
)
from .spec import SelectiveKernel as SelectiveKernelSettings

EXPANSION: dict[str, int] = {
    "basic": 1,
    "bottleneck": 4,
    "res2net": 4,
    "resnest": 4,
    "sk_basic": 1,
    "sk_bottleneck": 4,
}
DEFAULT_STEM_CHANNELS: dict[str, tuple[int, ...]] = {
    "classic": (64,),
    "deep": (32, 32, 64),
    "cifar": (16,),
}


@dataclass(frozen=True)
class Conv:
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    bias: bool = False
    dilation: int = 1


@dataclass(frozen=True)
class Norm:
    channels: int
    trainable: bool = True  # a frozen batch norm holds buffers, not parameters
    per_channel: int = 2  # parameters: a scale and a shift, and an activating norm's own


@dataclass(frozen=True)
class MaxPool:
    kernel_size: int
    stride: int
    padding: int
    ceil_mode: bool
    zero_padded: bool = False  # the input padded with zeros, the pool itself unpadded


@dataclass(frozen=True)
class AvgPool:
    """The ResNet-D shortcut pool: a `stride`-sized window in ceil mode, as timm builds it.

    `same`: in a dilated stage of stride 1, timm's 2x2 window at stride 1 over the input
    zero-padded by one pixel on the right and below, so the size stays.
    """

    stride: int
    same: bool = False


@dataclass(frozen=True)
class AntiAlias:
    """The stride of a conv or pool, taken after it (Zhang 2019, arXiv:1904.11486).

    blur: a fixed 3x3 binomial filter per channel over the input reflection-padded by one
    pixel, at `stride`; avg: a `stride` x `stride` average pool.
    """

    kind: Literal["blur", "avg"]
    channels: int
    stride: int


@dataclass(frozen=True)
class PadChannels:
    """Option A shortcut: keep every `stride`-th pixel, append zero channels."""

    stride: int
    extra_channels: int


@dataclass(frozen=True)
class SqueezeExcite:
    """Global average, 1x1 conv down to `hidden`, ReLU, 1x1 conv back up, sigmoid gate."""

    channels: int
    hidden: int


@dataclass(frozen=True)
class EfficientChannelAttention:
    """Global average, a 1-D conv of `kernel_size` across channels, sigmoid gate."""

    channels: int
    kernel_size: int


@dataclass(frozen=True)
class MultiScaleConvs:
    """Res2Net's 3x3 stage over `scale` splits of `width` channels (arXiv:1904.01169).

    Each of the first `scale - 1` splits (one at scale 1) goes through `conv` and a
    norm, under convs.N and bns.N; the last split passes on. Chained, each conv also
    takes the previous one's output; side by side (a block with a shortcut module),
    each conv takes its split alone, and the last split is average-pooled (3x3, padded
    by 1) at the block's stride.
    """

    width: int
    scale: int
    conv: Conv
    norm: Norm
    side_by_side: bool

    @property
    def convs(self) -> int:
        return max(1, self.scale - 1)


@dataclass(frozen=True)
class AvgPool3x3:
    """A 3x3 average pool over the input zero-padded by one pixel, zeros counted, at
    `stride`: ResNeSt's downsampling in place of a strided conv."""

    stride: int


@dataclass(frozen=True)
class SplitAttention:
    """ResNeSt's split attention (arXiv:2004.08955): `conv` gives `radix` candidate maps of
    `channels` in `groups` groups, normed (bn0) and ReLU'd; their sum, pooled, passes a 1x1
    conv to `hidden` (fc1, with a bias), a norm (bn1), a ReLU and a 1x1 conv back to
    radix x channels (fc2, with a bias), whose softmax across the candidates (a sigmoid
    at radix 1) weighs them into one."""

    channels: int
    radix: int
    groups: int
    hidden: int
    conv: Conv
    norm: Norm  # of the candidates; bn1, of the hidden width, is a norm of the same kind


@dataclass(frozen=True)
class SelectiveKernel:
    """SKNet's selective kernel (Li et al. 2019, arXiv:1903.06586), as timm builds it:
    two paths of a 3x3 conv, a norm and the activation, the second dilated twice as far
    as the first (a 5x5's view), fed half of the input each (`split_input`) or all of it;
    their sum, pooled, passes a 1x1 conv to `hidden` (attn.fc_reduce), a batch norm
    (attn.bn, whatever the network's norm), a ReLU and a 1x1 conv to two weights per
    channel (attn.fc_select), whose softmax across the paths weighs them into one. The
    attention's convs have biases where the paths' do."""

    paths: tuple[Conv, Conv]
    norm: Norm  # of each path; attn.bn is a batch norm, frozen where this one is
    hidden: int

    @property
    def channels(self) -> int:
        return self.paths[0].out_channels


@dataclass(frozen=True)
class Resize:
    size: tuple[int, int]
    mode: str


@dataclass(frozen=True)
class GlobalAvgPool:
    pass


@dataclass(frozen=True)
class Linear:
    in_features: int
    out_features: int


Layer = (
    Conv
    | Norm
    | MaxPool
    | AvgPool
    | AntiAlias
    | PadChannels
    | SqueezeExcite
    | EfficientChannelAttention
    | MultiScaleConvs
    | AvgPool3x3
    | SplitAttention
    | SelectiveKernel
    | Resize
    | GlobalAvgPool
    | Linear
)
Named = tuple[str, Layer]


@dataclass(frozen=True)
class BlockPlan:
    name: str  # its module's: layer1.0, or stages.0.blocks.0
    in_channels: int
    width: int
    out_channels: int
    stride: int
    body: tuple[Named, ...]
    shortcut: tuple[Named, ...]  # empty: the identity


@dataclass(frozen=True)
class StagePlan:
    name: str
    block: BlockKind
    depth: int
    in_channels: int
    width: int
    out_channels: int
    stride: int
    first_shortcut: str  # "identity" or the network's shortcut kind
    attention: int | None  # se: hidden channels; eca: kernel size; else None
    dilation: int
    first_dilation: int  # of the first block's 3x3 convs: the previous stage's dilation
    drop_path: tuple[float, float]  # stochastic depth rate of the first and the last block
    pruned: tuple[tuple[int, int], ...] | None  # each block's first and 3x3 conv widths
    blocks: tuple[BlockPlan, ...]


@dataclass(frozen=True)
class StemPool:
    type: Literal["max", "conv"]
    kernel_size: int
    stride: int
    padding: int
    ceil_mode: bool
    zero_padded: bool = False


@dataclass(frozen=True)
class StemPlan:
    type: StemType
    channels: tuple[int, ...]
    norm: bool
    pool: StemPool | None
    layers: tuple[Named, ...]

    @property
    def out_channels(self) -> int:
        return self.channels[-1]

    @property
    def stride(self) -> int:
        conv = 1 if self.type == "cifar" else 2
        return conv * (self.pool.stride if self.pool else 1)


@dataclass(frozen=True)
class HeadPlan:
    in_features: int
    num_classes: int
    dropout: float
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
    activation: ActivationType
    anti_alias: AntiAliasType
    attention: AttentionType
    preactivation: bool
    stride_on: StrideOn
    groups: int
    shortcut: ShortcutKind
    shortcut_norm: bool
    shortcut_kernel: int  # of a projection where its stage strides or dilates
    reduce_first: int  # a block's first conv outputs its inner width divided by this
    scale: int  # of res2net blocks: splits of the inner width
    pruned: bool  # each block has its own widths, each stage its own channels
    radix: int  # of resnest blocks: candidate maps per group
    avd: AvdPlace  # of resnest blocks: where a 3x3 average pool takes the stride
    selective_kernel: SelectiveKernelSettings  # of sk blocks
    layout: Layout  # what the modules are called in the checkpoints
    branch_activation: bool  # a basic block activates its branch before attention and sum
    zero_init_residual: bool
    drop_path_rate: float  # of the last block; stochastic depth rises to it from 0
    drop_path_float32: bool  # the rates spread by a float32 torch.linspace
    stem: StemPlan
    stages: tuple[StagePlan, ...]
    head: HeadPlan

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


class PlanError(Exception):
    def __init__(self, problems: list[tuple[FieldPath, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))


def build_plan(spec: Spec) -> Plan:
    stages = spec.stages
    count = len(stages.depths)
    kinds = stages.block * count if len(stages.block) == 1 else stages.block
    widths = stages.widths or [64 * 2**i for i in range(count)]
    strides = stages.strides or [1] + [2] * (count - 1)
    dilations = stages.dilations or [1] * count
    rates = drop_path_rates(stages.drop_path, sum(stages.depths))

    layout = LAYOUTS[spec.layout]
    stem = _stem(spec)
    problems: list[tuple[FieldPath, str]] = []
    stage_plans: list[StagePlan] = []
    in_channels = stem.out_channels
    previous_dilation = 1
    for index, (kind, depth, base, stride, dilation) in enumerate(
        zip(kinds, stages.depths, widths, strides, dilations, strict=True)
    ):
        out_channels = base * EXPANSION[kind]
        # A pruned network's own channel counts; its attention keeps the unpruned size.
        attention = _attention_size(spec, out_channels)
        pruned = stages.pruned_widths[index] if stages.pruned_widths else None
        if stages.pruned_channels:
            out_channels = stages.pruned_channels[index]
        width = (
            base
            if kind in BASIC_KINDS
            else bottleneck_width(base, stages.width_per_group, stages.groups)
        )
        if width < 1:
            message = f"gives stage {index + 1} a bottleneck width of 0; raise it or the width"
            problems.append((("stages", "width_per_group"), message))
            continue
        reduced = width // stages.reduce_first
        grouped = 1 if kind in BASIC_KINDS else stages.groups
        if kind not in ("res2net", "resnest") and (reduced < 1 or reduced % grouped):
            message = (
                f"leaves stage {index + 1} a first conv of {reduced} channels, which "
                f"{grouped} groups cannot take"
                if reduced
                else f"leaves stage {index + 1} a first conv of no channels"
            )
            problems.append((("stages", "reduce_first"), message))
            continue
        if kind == "resnest":
            problem = _split_attention_problem(index, width, stages.groups, stages.radix)
            if problem:
                problems.append(problem)
                continue
        if kind in SELECTIVE_KERNEL_KINDS and stages.selective_kernel.split_input:
            # A selective kernel's paths take half of its input each.
            later = [out_channels] if depth > 1 else []  # what the stage's later blocks take
            inputs = [in_channels, *later] if kind == "sk_basic" else [reduced]
            odd = [count for count in inputs if count % (2 * grouped)]
            if odd:
                message = (
                    f"gives stage {index + 1} a selective kernel over {odd[0]} channels, "
                    f"which two paths of {grouped} group(s) cannot split"
                )
                problems.append((("stages", "selective_kernel", "split_input"), message))
                continue
        if stages.shortcut == "zero_pad" and out_channels < in_channels:
            message = (
                f"a zero_pad shortcut cannot reduce channels, but stage {index + 1} goes from "
                f"{in_channels} to {out_channels}"
            )
            problems.append((("stages", "widths", index), message))
            continue
        if pruned and any(
            first % stages.groups or second % stages.groups for first, second in pruned
        ):
            message = (
                f"gives stage {index + 1} a 3x3 conv's width that {stages.groups} groups "
                "cannot take"
            )
            problems.append((("stages", "pruned_widths", index), message))
            continue
        stage_name = layout.stage_name(index)
        reshapes = stride != 1 or in_channels != out_channels
        first = stages.shortcut if reshapes or stages.shortcut == "projection_all" else "identity"
        blocks = []
        for position in range(depth):
            is_first = position == 0
            shortcut = first if is_first else _later_shortcut(stages.shortcut)
            first_width, block_width = pruned[position] if pruned else (reduced, width)
            block = _Block(
                kind=kind,
                in_channels=in_channels if is_first else out_channels,
                first_width=first_width,
                width=block_width,
                out_channels=out_channels,
                stride=stride if is_first else 1,
                first_dilation=previous_dilation if is_first else dilation,
                dilation=dilation,
                has_shortcut_module=shortcut != "identity",
            )
            blocks.append(
                BlockPlan(
                    name=layout.block_name(stage_name, position),
                    in_channels=block.in_channels,
                    width=block_width,
                    out_channels=out_channels,
                    stride=block.stride,
                    body=_body(block, spec) + _attention(spec, out_channels, attention),
                    shortcut=_shortcut(shortcut, block, spec),
                )
            )
        stage_rates = rates[sum(stages.depths[:index]) :][:depth]
        stage_plans.append(
            StagePlan(
                name=stage_name,
                block=kind,
                depth=depth,
                in_channels=in_channels,
                width=width,
                out_channels=out_channels,
                stride=stride,
                first_shortcut=first,
                attention=attention,
                dilation=dilation,
                first_dilation=previous_dilation,
                drop_path=(stage_rates[0], stage_rates[-1]),
                pruned=tuple((first, second) for first, second in pruned) if pruned else None,
                blocks=tuple(blocks),
            )
        )
        in_channels = out_channels
        previous_dilation = dilation
    if problems:
        raise PlanError(problems)

    final_norm: tuple[Named, ...] = ()
    if stages.preactivation:
        final_norm = (("norm", _norm(spec, in_channels)),)
    num_classes = spec.head.num_classes
    fc: Layer = Linear(in_channels, num_classes)
    if layout.conv_classifier:
        fc = Conv(in_channels, num_classes, 1, bias=True)
    classifier = (layout.classifier, fc)
    classifiers = (classifier,) if num_classes else ()
    head = HeadPlan(
        in_features=in_channels,
        num_classes=num_classes,
        dropout=spec.head.dropout,
        layers=(*final_norm, ("global_pool", GlobalAvgPool()), *classifiers),
    )
    resize = spec.input.resize
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
        activation=spec.activation,
        anti_alias=spec.anti_alias,
        attention=stages.attention.type,
        preactivation=stages.preactivation,
        stride_on=stages.stride_on,
        groups=stages.groups,
        shortcut=stages.shortcut,
        shortcut_norm=stages.shortcut_norm and stages.shortcut != "zero_pad",
        shortcut_kernel=stages.shortcut_kernel,
        reduce_first=stages.reduce_first,
        scale=stages.scale,
        pruned=stages.pruned_widths is not None,
        radix=stages.radix,
        avd=stages.avd,
        selective_kernel=stages.selective_kernel,
        layout=layout,
        branch_activation=stages.branch_activation,
        zero_init_residual=spec.init.zero_init_residual,
        drop_path_rate=stages.drop_path,
        drop_path_float32=stages.drop_path_float32,
        stem=stem,
        stages=tuple(stage_plans),
        head=head,
    )
    if plan.norm in GROUPED_NORMS:
        _check_group_norm(plan)
    if plan.weight_standardization is not None:
        _check_standardisable(plan)
    return plan


@dataclass(frozen=True)
class _Block:
    """One block's shape, as the layer builders need it."""

    kind: BlockKind
    in_channels: int
    first_width: int  # its first conv's output: the width, or a part (SENet-154), or pruned
    width: int
    out_channels: int
    stride: int
    first_dilation: int  # of its first 3x3 conv: a stage's first block keeps the previous one's
    dilation: int  # of the stage, and so of a basic block's second 3x3 conv
    has_shortcut_module: bool


def drop_path_rates(largest: float, blocks: int) -> list[float]:
    """Stochastic depth rising linearly from 0 at the first block to `largest` at the last.

    The generated file computes the same list with the same expression.
    """
    return [largest * index / max(blocks - 1, 1) for index in range(blocks)]


def _norm(spec: Spec, channels: int) -> Norm:
    per_channel = 3 if spec.norm.type in ACTIVATING_NORMS else 2  # EvoNorm's v, FRN's tau
    return Norm(channels, trainable=spec.norm.type != "frozen_batch", per_channel=per_channel)


def _check_group_norm(plan: Plan) -> None:
    for name, layer in plan.named_layers():
        for norm_name, norm in _norms(name, layer):
            if norm.channels % plan.norm_groups:
                message = (
                    f"{plan.norm_groups} groups do not divide the {norm.channels} channels "
                    f"of {norm_name}"
                )
                raise PlanError([(("norm", "groups"), message)])


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


def _norms(name: str, layer: Layer) -> list[tuple[str, Norm]]:
    """The norms a layer is or holds, under their module names."""
    if isinstance(layer, Norm):
        return [(name, layer)]
    if isinstance(layer, MultiScaleConvs):
        return [(f"{name}bns.0", layer.norm)]
    if isinstance(layer, SplitAttention):
        hidden = Norm(layer.hidden, layer.norm.trainable)
        return [(f"{name}.bn0", layer.norm), (f"{name}.bn1", hidden)]
    if isinstance(layer, SelectiveKernel):  # its attention's norm is a batch norm
        return [(f"{name}.paths.0.bn", layer.norm)]
    return []


def bottleneck_width(width: int, width_per_group: int, groups: int) -> int:
    """The inner width of a bottleneck of base `width`, as torchvision and timm compute it."""
    return width * width_per_group // 64 * groups


def make_divisible(
    value: float, divisor: int, minimum: int | None = None, round_limit: float = 0.9
) -> int:
    """`value` rounded to a multiple of `divisor`, at least `minimum` (the divisor by
    default), and up by one divisor where rounding lost more than 1 - round_limit of it:
    timm's arithmetic for the hidden widths of its attention modules."""
    rounded = max(minimum or divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def se_hidden(channels: int, reduction: int, divisor: int = 8) -> int:
    """Squeeze-and-excitation's hidden width, as timm sizes it from rd_ratio = 1 / reduction
    and rd_divisor."""
    return make_divisible(channels * (1 / reduction), divisor, round_limit=0)


def sk_hidden(channels: int, reduction: int, divisor: int) -> int:
    """A selective kernel's attention's hidden width, as timm sizes it from rd_ratio =
    1 / reduction and rd_divisor."""
    return make_divisible(channels * (1 / reduction), divisor)


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


def _stem(spec: Spec) -> StemPlan:
    stem = spec.stem
    bias = spec.conv_bias
    channels = tuple(stem.channels) if stem.channels else DEFAULT_STEM_CHANNELS[stem.type]
    source = spec.input.channels
    convs: list[Conv]
    if stem.type == "deep":
        first, second, third = channels
        convs = [
            Conv(source, first, 3, stride=2, padding=1, bias=bias),
            Conv(first, second, 3, padding=1, bias=bias),
            Conv(second, third, 3, padding=1, bias=bias),
        ]
    elif stem.type == "classic":
        convs = [Conv(source, channels[0], 7, stride=2, padding=3, bias=bias)]
    else:
        convs = [Conv(source, channels[0], 3, padding=1, bias=bias)]
    conv_names, norm_names = LAYOUTS[spec.layout].stem_names(len(convs))
    layers: list[Named] = []
    for index, (conv, conv_name, norm_name) in enumerate(
        zip(convs, conv_names, norm_names, strict=True)
    ):
        layers.append((conv_name, conv))
        if stem.norm or index < len(convs) - 1:
            layers.append((norm_name, _norm(spec, conv.out_channels)))

    pool = _stem_pool(spec)
    if pool is not None:
        layers.extend(_stem_pool_layers(spec, pool, channels[-1]))
    return StemPlan(stem.type, channels, stem.norm, pool, tuple(layers))


def _stem_pool_layers(spec: Spec, pool: StemPool, channels: int) -> list[Named]:
    name, stride, after = LAYOUTS[spec.layout].stem_pool, pool.stride, []
    if spec.anti_alias != "none" and pool.stride > 1:
        # Anti-aliasing keeps the pool at stride 1 and hands its stride to a pool after it;
        # timm's average pool stands in for a max pool outright.
        anti_alias = AntiAlias(spec.anti_alias, channels, pool.stride)
        if pool.type == "max" and spec.anti_alias == "avg":
            return [(name, anti_alias)]
        stride, after = 1, [anti_alias]
    if pool.type == "max":
        max_pool = MaxPool(pool.kernel_size, stride, pool.padding, pool.ceil_mode, pool.zero_padded)
        return _numbered(name, [max_pool, *after])
    conv = Conv(channels, channels, pool.kernel_size, stride, pool.padding, bias=spec.conv_bias)
    return _numbered(name, [conv, *after, _norm(spec, channels)])


def _numbered(name: str, layers: list[Layer]) -> list[Named]:
    """One layer under `name`, or several under name.0, name.1, ... (a Sequential)."""
    if len(layers) == 1:
        return [(name, layers[0])]
    return [(f"{name}.{index}", layer) for index, layer in enumerate(layers)]


def _stem_pool(spec: Spec) -> StemPool | None:
    pool = spec.stem.pool
    if pool is None:
        return None if spec.stem.type == "cifar" else StemPool("max", 3, 2, 1, False)
    if pool.type == "none":
        return None
    return StemPool(
        pool.type, pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode, pool.zero_padded
    )


def _body(block: _Block, spec: Spec) -> tuple[Named, ...]:
    """The residual branch; pre-activation puts each norm before its conv, on its input.

    With anti-aliasing the strided 3x3 conv runs at stride 1 and a pool named `aa` takes
    the stride after its norm and activation; timm applies it where a dilated stage
    starts as well, at stride 1 (a blur without subsampling).
    """
    if block.kind == "res2net":
        return _res2net_body(block, spec)
    if block.kind == "resnest":
        return _resnest_body(block, spec)
    if block.kind in SELECTIVE_KERNEL_KINDS:
        return _selective_kernel_body(block, spec)
    bias = spec.conv_bias
    width, out = block.width, block.out_channels
    reduced = block.first_width
    first, dilation = block.first_dilation, block.dilation
    aliased = spec.anti_alias != "none" and (block.stride > 1 or first != dilation)
    stride = 1 if aliased else block.stride
    if block.kind == "basic":
        strided = 1
        convs = [
            Conv(block.in_channels, reduced, 3, stride, first, 1, bias, first),
            Conv(reduced, out, 3, 1, dilation, 1, bias, dilation),
        ]
    else:
        on_1x1 = spec.stages.stride_on == "1x1"
        stride_1x1, stride_3x3 = (stride, 1) if on_1x1 else (1, stride)
        groups = spec.stages.groups
        strided = 2
        convs = [
            Conv(block.in_channels, reduced, 1, stride=stride_1x1, bias=bias),
            Conv(reduced, width, 3, stride_3x3, first, groups, bias, first),
            Conv(width, out, 1, bias=bias),
        ]
    preact, norm_name = spec.stages.preactivation, LAYOUTS[spec.layout].norm
    layers: list[Named] = []
    for index, conv in enumerate(convs, start=1):
        channels = conv.in_channels if preact else conv.out_channels
        norm = (f"{norm_name}{index}", _norm(spec, channels))
        layers.extend([norm, (f"conv{index}", conv)] if preact else [(f"conv{index}", conv), norm])
        # An average pool at stride 1 is the identity: only the blur runs there.
        if index == strided and aliased and (block.stride > 1 or spec.anti_alias == "blur"):
            layers.append(("aa", AntiAlias(spec.anti_alias, conv.out_channels, block.stride)))
    return tuple(layers)


def _res2net_body(block: _Block, spec: Spec) -> tuple[Named, ...]:
    """1x1 to `scale` splits, the split convs, 1x1 expand; no anti-aliasing or reduction."""
    bias, width, scale = spec.conv_bias, block.width, spec.stages.scale
    first = block.first_dilation
    split_conv = Conv(width, width, 3, block.stride, first, spec.stages.groups, bias, first)
    return (
        ("conv1", Conv(block.in_channels, width * scale, 1, bias=bias)),
        ("bn1", _norm(spec, width * scale)),
        (
            "",
            MultiScaleConvs(
                width, scale, split_conv, _norm(spec, width), block.has_shortcut_module
            ),
        ),
        ("conv3", Conv(width * scale, block.out_channels, 1, bias=bias)),
        ("bn3", _norm(spec, block.out_channels)),
    )


def _resnest_body(block: _Block, spec: Spec) -> tuple[Named, ...]:
    """1x1, split attention (strided, or with an average pool taking the stride), 1x1."""
    stages, bias, width = spec.stages, spec.conv_bias, block.width
    pooled = stages.avd != "none" and block.stride > 1
    stride, first = 1 if pooled else block.stride, block.first_dilation
    candidates = width * stages.radix
    conv = Conv(width, candidates, 3, stride, first, stages.groups * stages.radix, bias, first)
    attention = SplitAttention(
        width,
        stages.radix,
        stages.groups,
        split_attention_hidden(width, stages.radix),
        conv,
        _norm(spec, candidates),
    )
    pool = (f"avd_{'first' if stages.avd == 'before' else 'last'}", AvgPool3x3(block.stride))
    return (
        ("conv1", Conv(block.in_channels, width, 1, bias=bias)),
        ("bn1", _norm(spec, width)),
        *([pool] if pooled and stages.avd == "before" else []),
        ("conv2", attention),
        *([pool] if pooled and stages.avd == "after" else []),
        ("conv3", Conv(width, block.out_channels, 1, bias=bias)),
        ("bn3", _norm(spec, block.out_channels)),
    )


def _selective_kernel_body(block: _Block, spec: Spec) -> tuple[Named, ...]:
    """timm's SKNet blocks: the selective kernel in place of the (first) 3x3 conv, every
    other conv with its norm (and activation) under one name, as conv and bn."""
    bias, settings, out = spec.conv_bias, spec.stages.selective_kernel, block.out_channels

    def selective_kernel(in_channels: int, channels: int, groups: int) -> SelectiveKernel:
        inputs = in_channels // 2 if settings.split_input else in_channels
        dilations = (block.first_dilation, 2 * block.first_dilation)
        stride = block.stride
        paths = tuple(Conv(inputs, channels, 3, stride, d, groups, bias, d) for d in dilations)
        hidden = sk_hidden(channels, settings.reduction, settings.divisor)
        return SelectiveKernel((paths[0], paths[1]), _norm(spec, channels), hidden)

    if block.kind == "sk_basic":
        dilation = block.dilation
        return (
            ("conv1", selective_kernel(block.in_channels, block.first_width, 1)),
            ("conv2.conv", Conv(block.first_width, out, 3, 1, dilation, 1, bias, dilation)),
            ("conv2.bn", _norm(spec, out)),
        )
    first, width = block.first_width, block.width
    return (
        ("conv1.conv", Conv(block.in_channels, first, 1, bias=bias)),
        ("conv1.bn", _norm(spec, first)),
        ("conv2", selective_kernel(first, width, spec.stages.groups)),
        ("conv3.conv", Conv(width, out, 1, bias=bias)),
        ("conv3.bn", _norm(spec, out)),
    )


def _split_attention_problem(
    index: int, width: int, groups: int, radix: int
) -> tuple[FieldPath, str] | None:
    """Whether a stage's split attention divides into its groups: the candidates' conv
    has groups x radix groups over the inner width, the 1x1 convs `groups` over the hidden."""
    if width % (groups * radix):
        message = (
            f"gives stage {index + 1} split attention over {width} channels, which "
            f"{groups * radix} groups (groups x radix) cannot take"
        )
        return ("stages", "radix"), message
    hidden = split_attention_hidden(width, radix)
    if hidden % groups:
        message = (
            f"gives stage {index + 1} a split-attention hidden width of {hidden}, which "
            f"{groups} groups cannot take"
        )
        return ("stages", "groups"), message
    return None


def split_attention_hidden(channels: int, radix: int) -> int:
    """Split attention's hidden width, in timm's arithmetic: make_divisible(channels *
    radix / 4, 8, min_value=32), which rounds up by 8 where rounding lost over a tenth."""
    return make_divisible(channels * radix * 0.25, 8, minimum=32)


def _shortcut(kind: str, block: _Block, spec: Spec) -> tuple[Named, ...]:
    if kind == "identity":
        return ()
    in_channels, out_channels, stride = block.in_channels, block.out_channels, block.stride
    if kind == "zero_pad":
        return (("downsample", PadChannels(stride, out_channels - in_channels)),)
    bias = spec.conv_bias
    # An avg-pool shortcut always has a pool slot, empty at stride 1 in an undilated stage,
    # so that, numbered, its conv and norm stay at .1 and .2.
    parts: list[tuple[str, Layer | None]] = []
    if kind == "avg_down":
        pool = (
            AvgPool(stride) if stride > 1 else AvgPool(1, same=True) if block.dilation > 1 else None
        )
        parts += [("pool", pool), ("conv", Conv(in_channels, out_channels, 1, bias=bias))]
    elif (stride > 1 or block.dilation > 1) and spec.stages.shortcut_kernel == 3:
        # SENet-154's 3x3 shortcut conv, dilated as its block's first conv is.
        first = block.first_dilation
        parts.append(("conv", Conv(in_channels, out_channels, 3, stride, first, 1, bias, first)))
    else:
        parts.append(("conv", Conv(in_channels, out_channels, 1, stride=stride, bias=bias)))
    if spec.stages.shortcut_norm:
        parts.append(("norm", _norm(spec, out_channels)))
    layout = LAYOUTS[spec.layout]
    return tuple(
        (layout.shortcut_name(part, position), layer)
        for position, (part, layer) in enumerate(parts)
        if layer is not None
    )
