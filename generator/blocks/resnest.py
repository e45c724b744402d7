"""ResNeSt's bottleneck (Zhang et al. 2020, arXiv:2004.08955), as timm's resnest.py builds
it: its 3x3 conv is split attention over `radix` candidate maps, and a strided block may
downsample by a 3x3 average pool before or after it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..analysis import LayerFigures, Shape, conv_weights, layer_figures, output_size
from ..errors import Finding
from ..layers import Composite, Conv, Named, Norm
from ..spec import STRIDE_ON_KINDS, BlockKind, NormType, Spec, Stages
from ..state import Shapes, conv_shapes, norm_shapes
from ..widths import make_divisible
from .family import BlockConvs, BlockFamily, BlockShape, ConvArguments, StageShape

if TYPE_CHECKING:
    from ..plan import Plan, StagePlan
    from ..readers.state import StateReader
    from ..readers.tree import TreeReader

SPLIT_ATTENTION = "timm.layers.split_attn.SplitAttn"
RADIX, AVD = "split-attention radix", "place of ResNeSt's downsampling pool"  # reader settings


@dataclass(frozen=True)
class AvgPool3x3(Composite):
    """A 3x3 average pool over the input zero-padded by one pixel, zeros counted, at
    `stride`: ResNeSt's downsampling in place of a strided conv."""

    stride: int

    def figures(self, shape: Shape) -> LayerFigures:
        channels, height, width = shape
        window = (3, self.stride, 1, False)
        out = (channels, output_size(height, *window), output_size(width, *window))
        return LayerFigures({}, 0, out, math.prod(out))


@dataclass(frozen=True)
class SplitAttention(Composite):
    """Split attention: `conv` gives `radix` candidate maps of `channels` in `groups`
    groups, normed (bn0) and ReLU'd; their sum, pooled, passes a 1x1 conv to `hidden`
    (fc1, with a bias), a norm (bn1), a ReLU and a 1x1 conv back to radix x channels
    (fc2, with a bias), whose softmax across the candidates (a sigmoid at radix 1)
    weighs them into one."""

    channels: int
    radix: int
    groups: int
    hidden: int
    conv: Conv
    norm: Norm  # of the candidates; bn1, of the hidden width, is a norm of the same kind

    def figures(self, shape: Shape) -> LayerFigures:
        """The candidates' conv and norm, then two 1x1 convs with biases on the pooled sum."""
        conv = layer_figures(self.conv, shape)
        norm = layer_figures(self.norm, conv.shape)
        candidates = self.channels * self.radix
        fc1 = Conv(self.channels, self.hidden, 1, groups=self.groups, bias=True)
        fc2 = Conv(self.hidden, candidates, 1, groups=self.groups, bias=True)
        params = {"conv": conv.params[""], **({"bn0": norm.params[""]} if norm.params else {})}
        params["fc1"] = conv_weights(fc1) + self.hidden
        if self.norm.trainable:
            params["bn1"] = 2 * self.hidden
        params["fc2"] = conv_weights(fc2) + candidates
        out = (self.channels, *conv.shape[1:])
        macs = conv.macs + conv_weights(fc1) + conv_weights(fc2)
        # The convs' and norms' outputs; the weighed sum is no module's output.
        activations = conv.activations + norm.activations + 2 * self.hidden + candidates
        return LayerFigures(params, macs, out, activations)

    def norms(self, name: str) -> list[tuple[str, Norm]]:
        hidden = Norm(self.hidden, self.norm.trainable)
        return [(f"{name}.bn0", self.norm), (f"{name}.bn1", hidden)]

    def state(self, name: str, norm: NormType) -> Shapes:
        candidates = self.channels * self.radix
        fc1 = Conv(self.channels, self.hidden, 1, groups=self.groups, bias=True)
        fc2 = Conv(self.hidden, candidates, 1, groups=self.groups, bias=True)
        return {
            **conv_shapes(f"{name}.conv", self.conv),
            **norm_shapes(f"{name}.bn0", candidates, norm),
            **conv_shapes(f"{name}.fc1", fc1),
            **norm_shapes(f"{name}.bn1", self.hidden, norm),
            **conv_shapes(f"{name}.fc2", fc2),
        }


def split_attention_hidden(channels: int, radix: int) -> int:
    """Split attention's hidden width, in timm's arithmetic: make_divisible(channels *
    radix / 4, 8, min_value=32), which rounds up by 8 where rounding lost over a tenth."""
    return make_divisible(channels * radix * 0.25, 8, minimum=32)


def _resnest(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    if "resnest" not in stages.block:
        for field, default in (("radix", 2), ("avd", "none")):
            if getattr(stages, field) != default:
                message = "applies to resnest blocks only, and this network has none"
                yield ("stages", field), message
        return
    # What timm's ResNeSt block refuses to build, or builds only one way.
    if stages.preactivation:
        yield ("stages", "preactivation"), "resnest blocks are post-activation only"
    if stages.stride_on != "3x3" and set(STRIDE_ON_KINDS) & set(stages.block):
        yield ("stages", "stride_on"), "resnest blocks stride on their 3x3 conv or its pool"
    if stages.reduce_first != 1:
        yield ("stages", "reduce_first"), "resnest blocks keep their first conv's full width"
    if stages.attention.type != "none":
        yield ("stages", "attention", "type"), "resnest blocks take no channel attention"
    if spec.anti_alias != "none":
        yield ("anti_alias",), "resnest blocks take no anti-aliasing"


class ResNeStBlocks(BlockFamily):
    name = "resnest"
    kinds = ("resnest",)
    known_as = "ResNeSt"
    rules = (_resnest,)
    reduces_first = False
    classes: dict[str, BlockKind] = {"timm.models.resnest.ResNestBottleneck": "resnest"}
    parts = frozenset(
        {"conv1", "bn1", "act1", "avd_first", "conv2", "act2", "avd_last", "conv3", "bn3"}
        | {"act3"}
    )
    helpers = ("blocks/split_attention.py.jinja",)
    folds_conv_bias = True  # split attention's fc1

    def settings(self, stages: Stages) -> dict[str, object]:
        return {"radix": stages.radix, "avd": stages.avd}

    def stage_problem(self, spec: Spec, stage: StageShape) -> Finding | None:
        """Whether a stage's split attention divides into its groups: the candidates'
        conv has groups x radix groups over the inner width, the 1x1 convs `groups` over
        the hidden."""
        groups, radix, index = spec.stages.groups, spec.stages.radix, stage.index
        if stage.width % (groups * radix):
            message = (
                f"gives stage {index + 1} split attention over {stage.width} channels, which "
                f"{groups * radix} groups (groups x radix) cannot take"
            )
            return ("stages", "radix"), message
        hidden = split_attention_hidden(stage.width, radix)
        if hidden % groups:
            message = (
                f"gives stage {index + 1} a split-attention hidden width of {hidden}, which "
                f"{groups} groups cannot take"
            )
            return ("stages", "groups"), message
        return None

    def body(self, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
        """1x1, split attention (strided, or with an average pool taking the stride), 1x1."""
        stages, bias, width, norm = spec.stages, spec.conv_bias, block.width, spec.norm.type
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
            Norm.of(norm, candidates),
        )
        pool = (f"avd_{'first' if stages.avd == 'before' else 'last'}", AvgPool3x3(block.stride))
        return (
            ("conv1", Conv(block.in_channels, width, 1, bias=bias)),
            ("bn1", Norm.of(norm, width)),
            *([pool] if pooled and stages.avd == "before" else []),
            ("conv2", attention),
            *([pool] if pooled and stages.avd == "after" else []),
            ("conv3", Conv(width, block.out_channels, 1, bias=bias)),
            ("bn3", Norm.of(norm, block.out_channels)),
        )

    # The generated file ------------------------------------------------------------------

    def class_name(self, kind: BlockKind) -> str:
        return "ResNeStBottleneck"

    def context(self, plan: Plan, convs: ConvArguments) -> dict[str, object]:
        """The average pool that may take the stride, and the arguments of the block's
        split attention and of its convs."""
        radix, avd = plan.setting("radix"), plan.setting("avd")
        strided, dilated = avd == "none", plan.dilated
        groups = plan.groups * radix
        return {
            "radix": radix,
            "avd": avd,
            # ruff's layout of the pool's conditional expression, too long for one line
            "pool": "(\n"
            "            nn.AvgPool2d(3, stride, padding=1) if stride > 1 else nn.Identity()\n"
            "        )",
            "conv2": [*(["stride"] if strided else []), *convs.conv2_dilation],
            "parameters": [
                "channels: int",
                *(["stride: int = 1"] if strided else []),
                *(["dilation: int = 1"] if dilated else []),
            ],
            "conv": [
                "channels",
                f"channels * {radix}",
                3,
                *(["stride=stride"] if strided else []),
                "padding=dilation" if dilated else "padding=1",
                *(["dilation=dilation"] if dilated else []),
                *([f"groups={groups}"] if groups > 1 else []),
                f"bias={plan.conv_bias!r}",
            ],
            "groups": [f"groups={plan.groups}"] if plan.groups > 1 else [],
        }

    def fold_template(self, kind: BlockKind) -> str | None:
        return "blocks/resnest_folds.py.jinja"

    # How diff and the model card describe it --------------------------------------------

    def facts(self, plan: Plan) -> dict[str, str]:
        used = "resnest" in plan.block_kinds
        return {
            "stages.radix": str(plan.setting("radix")) if used else "-",
            "stages.avd": plan.setting("avd") if used else "-",
        }

    def stage_words(self, stage: StagePlan, plan: Plan) -> list[str]:
        return [f"inner width {stage.width} x radix {plan.setting('radix')}"]

    def diagram_words(self, plan: Plan) -> list[str]:
        return [f"radix {plan.setting('radix')}"]

    # How import reads it back ------------------------------------------------------------

    def held_activations(self, parts: dict[str, Any]) -> set[str]:
        from torch import nn

        return {"act2"} if type(parts.get("act2")) is nn.Identity else set()  # split attention's

    def read(
        self, reader: TreeReader, kind: BlockKind, module: Any, parts: dict[str, Any], name: str
    ) -> BlockConvs:
        """ResNeSt's 1x1, its split attention's 3x3, its last 1x1 and the block's stride."""
        from ..readers.common import NotExpressible, class_name, short_name, side
        from ..readers.differences import describe_layer

        conv1 = reader.conv(parts.get("conv1"), f"{name}.conv1", 1)
        attention = parts.get("conv2")
        if class_name(attention) != SPLIT_ATTENTION:
            found = short_name(attention) if attention is not None else "nothing"
            raise NotExpressible(f"{name}.conv2", f"{found} where split attention belongs")
        conv2 = _read_split_attention(reader, attention, f"{name}.conv2")
        conv3 = reader.conv(parts.get("conv3"), f"{name}.conv3", 1)
        reader.norm_of(parts.get("bn1"), f"{name}.bn1", conv1.out_channels)
        reader.norm_of(parts.get("bn3"), f"{name}.bn3", conv3.out_channels)
        if conv1.out_channels != conv2.in_channels or conv3.in_channels != conv2.in_channels:
            raise NotExpressible(name, "convs whose channels do not follow one another")
        if conv1.stride[0] != 1 or conv3.stride[0] != 1:
            raise NotExpressible(name, "a ResNeSt block strides on its split attention only")
        stride = conv2.stride[0]
        pools = {part: parts.get(part) for part in ("avd_first", "avd_last")}
        placed = [part for part, pool in pools.items() if pool is not None]
        if placed:
            (part,) = placed
            pool = pools[part]
            if describe_layer(pool) != ("average pool", 3, side(pool.stride), 1, False, True):
                raise NotExpressible(f"{name}.{part}", "a pool other than ResNeSt's 3x3 average")
            if stride != 1:
                raise NotExpressible(f"{name}.{part}", "a pool beside a strided split attention")
            stride = side(pool.stride)
            reader.setting(AVD).see("before" if part == "avd_first" else "after", f"{name}.{part}")
        return BlockConvs(
            first=conv1,
            width=conv2.in_channels,
            out=conv3.out_channels,
            stride=stride,
            stride_on="3x3" if stride > 1 else None,
            groups=conv2.groups // reader.setting(RADIX).value,
            first_dilation=conv2.dilation[0],
            dilation=None,
            last_norm=parts["bn3"],
        )

    def state_kind(self, parts: set[str]) -> BlockKind | None:
        return "resnest" if "conv2.fc1.weight" in parts else None

    def read_state(
        self, reader: StateReader, kind: BlockKind, name: str, in_channels: int
    ) -> BlockConvs:
        from ..readers.common import NotExpressible

        conv1 = reader.conv(f"{name}.conv1", in_channels, 1)
        width = conv1.out_channels
        reader.norm_of(f"{name}.bn1", width)
        attention = f"{name}.conv2"
        conv = reader.conv(f"{attention}.conv", width, 3)
        radix = conv.out_channels // width
        groups = conv.groups // radix if radix and conv.groups % radix == 0 else 0
        reader.norm_of(f"{attention}.bn0", conv.out_channels)
        fc1 = reader.conv(f"{attention}.fc1", width, 1, own_bias=True)
        reader.norm_of(f"{attention}.bn1", fc1.out_channels)
        fc2 = reader.conv(f"{attention}.fc2", fc1.out_channels, 1, own_bias=True)
        plain = (
            groups > 0
            and conv.out_channels == width * radix
            and fc1.groups == groups == fc2.groups
            and fc1.out_channels == split_attention_hidden(width, radix)
            and fc2.out_channels == width * radix
        )
        if not plain:
            raise NotExpressible(attention, "a split attention other than ResNeSt's")
        reader.setting(RADIX).see(radix, attention)
        reader.assume("stages.avd none (a pool has no weights to show it)")
        conv3 = reader.conv(f"{name}.conv3", width, 1)
        reader.norm_of(f"{name}.bn3", conv3.out_channels)
        return BlockConvs(
            first=conv1,
            width=width,
            out=conv3.out_channels,
            groups=groups,
        )

    def fields(self, reader: TreeReader) -> dict[str, Any]:
        return {
            "radix": reader.setting(RADIX).value or 2,
            "avd": reader.setting(AVD).value or "none",
        }


def _read_split_attention(reader: TreeReader, module: Any, name: str) -> Any:
    """Split attention as the language builds it; its 3x3 conv, read as one of `groups`
    groups over the input (the candidates' conv has groups x radix)."""
    from torch import nn

    from ..readers.common import NotExpressible
    from ..readers.differences import describe_layer, pointwise

    radix, conv = module.radix, reader.conv(module.conv, f"{name}.conv", 3)
    width = conv.in_channels
    groups = conv.groups // radix if conv.groups % radix == 0 else 0
    fc1, fc2 = module.fc1, module.fc2
    plain = (
        groups > 0
        and conv.out_channels == width * radix
        and type(module.act0) is nn.ReLU
        and type(module.act1) is nn.ReLU
        and type(module.drop) is nn.Identity
        and describe_layer(fc1) == pointwise(width, fc1.out_channels, groups, bias=True)
        and fc1.out_channels == split_attention_hidden(width, radix)
        and describe_layer(fc2) == pointwise(fc1.out_channels, width * radix, groups, bias=True)
    )
    if not plain:
        raise NotExpressible(name, "a split attention other than ResNeSt's")
    reader.setting(RADIX).see(radix, name)
    reader.norm_of(module.bn0, f"{name}.bn0", conv.out_channels)
    reader.norm_of(module.bn1, f"{name}.bn1", fc1.out_channels)
    return conv


RESNEST = ResNeStBlocks()
