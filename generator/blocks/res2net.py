"""Res2Net's bottleneck (Gao et al. 2019, arXiv:1904.01169), as timm's res2net.py builds
it: the first 1x1 conv's output is cut into `scale` splits, each but the last through a
3x3 conv that also takes the previous split's output."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..analysis import LayerFigures, Shape, layer_figures
from ..errors import Finding
from ..layers import Composite, Conv, Named, Norm
from ..render.modules import norm_layer
from ..render.text import call_text, repeated
from ..spec import STRIDE_ON_KINDS, BlockKind, NormType, Spec, Stages
from ..state import Shapes, conv_shapes, norm_shapes
from .family import BlockConvs, BlockFamily, BlockShape, ConvArguments

if TYPE_CHECKING:
    from ..plan import Plan, StagePlan
    from ..readers.state import StateReader
    from ..readers.tree import TreeReader

SCALE = "res2net scale"  # the reader's setting


@dataclass(frozen=True)
class MultiScaleConvs(Composite):
    """Res2Net's 3x3 stage over `scale` splits of `width` channels.

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

    def figures(self, shape: Shape) -> LayerFigures:
        """Each split conv sees `width` channels; the pooled last split keeps its own."""
        split: Shape = (self.width, shape[1], shape[2])
        conv = layer_figures(self.conv, split)
        norm = layer_figures(self.norm, conv.shape)
        params: dict[str, int] = {}
        for index in range(self.convs):
            params[f"convs.{index}"] = conv.params[""]
        for index in range(self.convs):
            params.update({f"bns.{index}": norm.params[""]} if norm.params else {})
        out = (self.width * self.scale, *conv.shape[1:])
        passed = self.width if self.scale > 1 else 0  # the last split, pooled or not
        activations = self.convs * (conv.activations + norm.activations)
        if self.side_by_side and passed:
            activations += passed * out[1] * out[2]
        return LayerFigures(params, self.convs * conv.macs, out, activations)

    def norms(self, name: str) -> list[tuple[str, Norm]]:
        return [(f"{name}bns.0", self.norm)]

    def state(self, name: str, norm: NormType) -> Shapes:
        shapes: Shapes = {}
        for index in range(self.convs):
            shapes.update(conv_shapes(f"{name}.convs.{index}", self.conv))
        for index in range(self.convs):
            shapes.update(norm_shapes(f"{name}.bns.{index}", self.width, norm))
        return shapes


def _res2net(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    if "res2net" not in stages.block:
        if stages.scale != 4:
            yield ("stages", "scale"), "applies to res2net blocks only, and this network has none"
        return
    # timm's Res2Net block strides on its 3x3 convs, after its norms; like timm's, it
    # takes no anti-aliasing or first-conv reduction, which other blocks and the stem do.
    if stages.preactivation:
        yield ("stages", "preactivation"), "res2net blocks are post-activation only"
    if stages.stride_on != "3x3" and set(STRIDE_ON_KINDS) & set(stages.block):
        yield ("stages", "stride_on"), "res2net blocks stride on their 3x3 convs only"


class Res2NetBlocks(BlockFamily):
    name = "res2net"
    kinds = ("res2net",)
    known_as = "Res2Net"
    rules = (_res2net,)
    reduces_first = False
    classes: dict[str, BlockKind] = {"timm.models.res2net.Bottle2neck": "res2net"}
    parts = frozenset({"conv1", "bn1", "convs", "bns", "pool", "act", "conv3", "bn3"})

    def settings(self, stages: Stages) -> dict[str, object]:
        return {"scale": stages.scale}

    def body(self, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
        """1x1 to `scale` splits, the split convs, 1x1 expand; no anti-aliasing or reduction."""
        bias, width, scale = spec.conv_bias, block.width, spec.stages.scale
        first = block.first_dilation
        split_conv = Conv(width, width, 3, block.stride, first, spec.stages.groups, bias, first)
        norm = spec.norm.type
        return (
            ("conv1", Conv(block.in_channels, width * scale, 1, bias=bias)),
            ("bn1", Norm.of(norm, width * scale)),
            (
                "",
                MultiScaleConvs(
                    width, scale, split_conv, Norm.of(norm, width), block.has_shortcut_module
                ),
            ),
            ("conv3", Conv(width * scale, block.out_channels, 1, bias=bias)),
            ("bn3", Norm.of(norm, block.out_channels)),
        )

    # The generated file ------------------------------------------------------------------

    def class_name(self, kind: BlockKind) -> str:
        return "Res2NetBottleneck"

    def context(self, plan: Plan, convs: ConvArguments) -> dict[str, object]:
        """The split convs and their norms, as ModuleLists."""
        count = max(1, plan.setting("scale") - 1)
        conv = call_text(
            "conv3x3", "width", "width", "stride", *convs.groups, *convs.conv2_dilation
        )
        return {
            "scale": plan.setting("scale"),
            "convs": count,
            "lists": [
                repeated("convs", conv, f"for _ in range({count})"),
                repeated("bns", norm_layer(plan, "width"), f"for _ in range({count})"),
            ],
        }

    def conv3x3(self, kind: BlockKind) -> bool | None:
        return True

    def fold_template(self, kind: BlockKind) -> str | None:
        return "blocks/res2net_folds.py.jinja"

    # How diff and the model card describe it --------------------------------------------

    def facts(self, plan: Plan) -> dict[str, str]:
        used = "res2net" in plan.block_kinds
        return {"stages.scale": str(plan.setting("scale")) if used else "-"}

    def stage_words(self, stage: StagePlan, plan: Plan) -> list[str]:
        return [f"{plan.setting('scale')} splits of {stage.width}"]

    def diagram_words(self, plan: Plan) -> list[str]:
        return [f"scale {plan.setting('scale')}"]

    # How import reads it back ------------------------------------------------------------

    def read(
        self, reader: TreeReader, kind: BlockKind, module: Any, parts: dict[str, Any], name: str
    ) -> BlockConvs:
        """Res2Net's 1x1, its first split conv (all of them alike) and its last 1x1."""
        from torch import nn

        from ..readers.common import NotExpressible, expands_by_four
        from ..readers.differences import describe_layer

        convs, bns = parts.get("convs"), parts.get("bns")
        if not isinstance(convs, nn.ModuleList) or not isinstance(bns, nn.ModuleList):
            raise NotExpressible(name, "a Res2Net block without its convs and bns lists")
        scale = module.scale
        conv1 = reader.conv(parts.get("conv1"), f"{name}.conv1", 1)
        splits = [reader.conv(conv, f"{name}.convs.{i}", 3) for i, conv in enumerate(convs)]
        conv3 = reader.conv(parts.get("conv3"), f"{name}.conv3", 1)
        first = splits[0]
        width = first.out_channels
        if len(splits) != max(1, scale - 1) or any(
            describe_layer(conv) != describe_layer(first) for conv in splits
        ):
            raise NotExpressible(f"{name}.convs", "split convs that differ from one another")
        if conv1.out_channels != width * scale or conv3.in_channels != width * scale:
            message = f"{conv1.out_channels} channels where {scale} splits of {width} belong"
            raise NotExpressible(f"{name}.conv1", message)
        reader.setting(SCALE).see(scale, name)
        reader.norm_of(parts.get("bn1"), f"{name}.bn1", conv1.out_channels)
        for index, norm in enumerate(bns):
            reader.norm_of(norm, f"{name}.bns.{index}", width)
        reader.norm_of(parts.get("bn3"), f"{name}.bn3", conv3.out_channels)
        if conv1.stride[0] != 1 or conv3.stride[0] != 1:
            raise NotExpressible(name, "a Res2Net block strides on its split convs only")
        expands_by_four(conv3, name)
        stride = first.stride[0]
        return BlockConvs(
            first=conv1,
            width=first.out_channels,
            out=conv3.out_channels,
            stride=stride,
            stride_on="3x3" if stride > 1 else None,
            groups=first.groups,
            first_dilation=first.dilation[0],
            dilation=None,
            last_norm=parts["bn3"],
        )

    def state_kind(self, parts: set[str]) -> BlockKind | None:
        return "res2net" if "convs.0.weight" in parts else None

    def read_state(
        self, reader: StateReader, kind: BlockKind, name: str, in_channels: int
    ) -> BlockConvs:
        from ..readers.common import NotExpressible, expands_by_four

        conv1 = reader.conv(f"{name}.conv1", in_channels, 1)
        reader.norm_of(f"{name}.bn1", conv1.out_channels)
        count = len([k for k in reader.shapes if re.fullmatch(rf"{name}\.convs\.\d+\.weight", k)])
        width = reader.shapes[f"{name}.convs.0.weight"][0]  # each split conv keeps its width
        splits = [reader.conv(f"{name}.convs.{index}", width, 3) for index in range(count)]
        first = splits[0]
        for index, split in enumerate(splits):
            if split != first:
                raise NotExpressible(
                    f"{name}.convs.{index}", "split convs that differ from one another"
                )
            reader.norm_of(f"{name}.bns.{index}", width)
        scale = conv1.out_channels // width
        if conv1.out_channels != width * scale or count != max(1, scale - 1):
            message = f"{conv1.out_channels} channels where {count} splits of {width} belong"
            raise NotExpressible(f"{name}.conv1", message)
        conv3 = reader.conv(f"{name}.conv3", conv1.out_channels, 1)
        reader.norm_of(f"{name}.bn3", conv3.out_channels)
        expands_by_four(conv3, name)
        reader.setting(SCALE).see(scale, name)
        return BlockConvs(
            first=conv1,
            width=width,
            out=conv3.out_channels,
            groups=first.groups,
        )

    def unused_parts(self, module: Any) -> set[str]:
        return {"pool"} if module.scale == 1 else set()  # timm builds it, never uses it

    def fields(self, reader: TreeReader) -> dict[str, Any]:
        return {"scale": reader.setting(SCALE).value or 4}


RES2NET = Res2NetBlocks()
