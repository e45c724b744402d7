"""The plan: a spec resolved into every layer of the network, with nothing left to interpret.

Templates and the analysis read only the plan. Each layer that holds parameters or
changes the shape of the data is listed under the name its module gets in the
generated file, so the plan's names are the generated model's `state_dict` prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.spec import BlockKind, FieldPath, ShortcutKind, Spec, StemType, StrideOn

EXPANSION: dict[str, int] = {"basic": 1, "bottleneck": 4}
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


@dataclass(frozen=True)
class Norm:
    channels: int


@dataclass(frozen=True)
class MaxPool:
    kernel_size: int
    stride: int
    padding: int
    ceil_mode: bool


@dataclass(frozen=True)
class AvgPool:
    """The ResNet-D shortcut pool: a `stride`-sized window in ceil mode, as timm builds it."""

    stride: int


@dataclass(frozen=True)
class PadChannels:
    """Option A shortcut: keep every `stride`-th pixel, append zero channels."""

    stride: int
    extra_channels: int


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


Layer = Conv | Norm | MaxPool | AvgPool | PadChannels | Resize | GlobalAvgPool | Linear
Named = tuple[str, Layer]


@dataclass(frozen=True)
class BlockPlan:
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
    blocks: tuple[BlockPlan, ...]


@dataclass(frozen=True)
class StemPlan:
    type: StemType
    channels: tuple[int, ...]
    pool: MaxPool | None
    layers: tuple[Named, ...]

    @property
    def out_channels(self) -> int:
        return self.channels[-1]


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
    reference: str | None
    in_channels: int
    input_size: tuple[int, int]
    resize: Resize | None
    conv_bias: bool
    stride_on: StrideOn
    groups: int
    shortcut: ShortcutKind
    shortcut_norm: bool
    zero_init_residual: bool
    stem: StemPlan
    stages: tuple[StagePlan, ...]
    head: HeadPlan

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
            for index, block in enumerate(stage.blocks):
                prefix = f"{stage.name}.{index}."
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
    kinds = [stages.block] * count
    widths = stages.widths or [64 * 2**i for i in range(count)]
    strides = stages.strides or [1] + [2] * (count - 1)
    bias = spec.conv_bias

    stem = _stem(spec)
    problems: list[tuple[FieldPath, str]] = []
    stage_plans: list[StagePlan] = []
    in_channels = stem.out_channels
    for index, (kind, depth, base, stride) in enumerate(
        zip(kinds, stages.depths, widths, strides, strict=True)
    ):
        out_channels = base * EXPANSION[kind]
        width = (
            base * stages.width_per_group // 64 * stages.groups if kind == "bottleneck" else base
        )
        if width < 1:
            message = f"gives stage {index + 1} a bottleneck width of 0; raise it or the width"
            problems.append((("stages", "width_per_group"), message))
            continue
        if stages.shortcut == "zero_pad" and out_channels < in_channels:
            message = (
                f"a zero_pad shortcut cannot reduce channels, but stage {index + 1} goes from "
                f"{in_channels} to {out_channels}"
            )
            problems.append((("stages", "widths", index), message))
            continue
        reshapes = stride != 1 or in_channels != out_channels
        first = stages.shortcut if reshapes or stages.shortcut == "projection_all" else "identity"
        blocks = []
        for position in range(depth):
            block_in, block_stride = (in_channels, stride) if position == 0 else (out_channels, 1)
            shortcut = first if position == 0 else _later_shortcut(stages.shortcut)
            blocks.append(
                BlockPlan(
                    in_channels=block_in,
                    width=width,
                    out_channels=out_channels,
                    stride=block_stride,
                    body=_body(kind, block_in, width, out_channels, block_stride, spec),
                    shortcut=_shortcut(
                        shortcut, block_in, out_channels, block_stride, bias, stages.shortcut_norm
                    ),
                )
            )
        stage_plans.append(
            StagePlan(
                name=f"layer{index + 1}",
                block=kind,
                depth=depth,
                in_channels=in_channels,
                width=width,
                out_channels=out_channels,
                stride=stride,
                first_shortcut=first,
                blocks=tuple(blocks),
            )
        )
        in_channels = out_channels
    if problems:
        raise PlanError(problems)

    head = HeadPlan(
        in_features=in_channels,
        num_classes=spec.head.num_classes,
        dropout=spec.head.dropout,
        layers=(
            ("global_pool", GlobalAvgPool()),
            ("fc", Linear(in_channels, spec.head.num_classes)),
        ),
    )
    resize = spec.input.resize
    return Plan(
        name=spec.name,
        description=spec.description,
        reference=spec.reference,
        in_channels=spec.input.channels,
        input_size=(spec.input.size[0], spec.input.size[1]),
        resize=Resize((resize[0], resize[1]), spec.input.resize_mode) if resize else None,
        conv_bias=bias,
        stride_on=stages.stride_on,
        groups=stages.groups,
        shortcut=stages.shortcut,
        shortcut_norm=stages.shortcut_norm,
        zero_init_residual=spec.init.zero_init_residual,
        stem=stem,
        stages=tuple(stage_plans),
        head=head,
    )


def _later_shortcut(kind: ShortcutKind) -> str:
    return "projection" if kind == "projection_all" else "identity"


def _stem(spec: Spec) -> StemPlan:
    stem = spec.stem
    bias = spec.conv_bias
    channels = tuple(stem.channels) if stem.channels else DEFAULT_STEM_CHANNELS[stem.type]
    source = spec.input.channels
    layers: list[Named]
    if stem.type == "deep":
        first, second, third = channels
        layers = [
            ("conv1.0", Conv(source, first, 3, stride=2, padding=1, bias=bias)),
            ("conv1.1", Norm(first)),
            ("conv1.3", Conv(first, second, 3, padding=1, bias=bias)),
            ("conv1.4", Norm(second)),
            ("conv1.6", Conv(second, third, 3, padding=1, bias=bias)),
        ]
    elif stem.type == "classic":
        layers = [("conv1", Conv(source, channels[0], 7, stride=2, padding=3, bias=bias))]
    else:
        layers = [("conv1", Conv(source, channels[0], 3, padding=1, bias=bias))]
    layers.append(("bn1", Norm(channels[-1])))

    pool = stem.pool
    if pool is None and stem.type != "cifar":
        max_pool = MaxPool(kernel_size=3, stride=2, padding=1, ceil_mode=False)
    elif pool is not None and pool.type == "max":
        max_pool = MaxPool(pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode)
    else:
        max_pool = None
    if max_pool is not None:
        layers.append(("maxpool", max_pool))
    return StemPlan(type=stem.type, channels=channels, pool=max_pool, layers=tuple(layers))


def _body(
    kind: BlockKind, in_channels: int, width: int, out_channels: int, stride: int, spec: Spec
) -> tuple[Named, ...]:
    bias = spec.conv_bias
    if kind == "basic":
        return (
            ("conv1", Conv(in_channels, width, 3, stride=stride, padding=1, bias=bias)),
            ("bn1", Norm(width)),
            ("conv2", Conv(width, out_channels, 3, padding=1, bias=bias)),
            ("bn2", Norm(out_channels)),
        )
    stride_1x1, stride_3x3 = (stride, 1) if spec.stages.stride_on == "1x1" else (1, stride)
    groups = spec.stages.groups
    return (
        ("conv1", Conv(in_channels, width, 1, stride=stride_1x1, bias=bias)),
        ("bn1", Norm(width)),
        ("conv2", Conv(width, width, 3, stride_3x3, padding=1, groups=groups, bias=bias)),
        ("bn2", Norm(width)),
        ("conv3", Conv(width, out_channels, 1, bias=bias)),
        ("bn3", Norm(out_channels)),
    )


def _shortcut(
    kind: str, in_channels: int, out_channels: int, stride: int, bias: bool, norm: bool
) -> tuple[Named, ...]:
    if kind == "identity":
        return ()
    if kind == "zero_pad":
        return (("downsample", PadChannels(stride, out_channels - in_channels)),)
    layers: list[Layer] = []
    if kind == "avg_down":
        if stride > 1:
            layers.append(AvgPool(stride))
        conv = Conv(in_channels, out_channels, 1, bias=bias)
    else:
        conv = Conv(in_channels, out_channels, 1, stride=stride, bias=bias)
    layers.append(conv)
    if norm:
        layers.append(Norm(out_channels))
    # An avg-pool shortcut keeps an empty pool slot at stride 1: conv and norm stay at .1 and .2.
    offset = 1 if kind == "avg_down" and stride == 1 else 0
    return tuple((f"downsample.{i + offset}", layer) for i, layer in enumerate(layers))
