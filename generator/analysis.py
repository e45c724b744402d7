"""Parameters, multiply-adds and output sizes, computed from the plan without torch.

Multiply-adds count convolutions and the classifier (weights only, as
`torch.utils.flop_counter` does, which reports two FLOPs per multiply-add); norms,
activations, pools and additions are left out, as in the ResNet papers' tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from generator.plan import (
    AvgPool,
    BlockPlan,
    Conv,
    EfficientChannelAttention,
    GlobalAvgPool,
    Layer,
    Linear,
    MaxPool,
    Named,
    Norm,
    PadChannels,
    Plan,
    PlanError,
    Resize,
    SqueezeExcite,
)

Shape = tuple[int, int, int]  # channels, height, width


@dataclass(frozen=True)
class PartFigures:
    """One row of `resnetgen show`: the stem, a stage or the head."""

    name: str
    blocks: int
    stride: int
    output: Shape
    params: int
    macs: int


@dataclass(frozen=True)
class Analysis:
    input: Shape
    parts: tuple[PartFigures, ...]
    layer_params: dict[str, int]  # module name -> parameters it holds

    @property
    def params(self) -> int:
        return sum(part.params for part in self.parts)

    @property
    def macs(self) -> int:
        return sum(part.macs for part in self.parts)

    @property
    def output_stride(self) -> int:
        return math.prod(part.stride for part in self.parts if part.name != "head")


class _Tally:
    def __init__(self) -> None:
        self.params = 0
        self.macs = 0
        self.layer_params: dict[str, int] = {}

    def run(self, layers: tuple[Named, ...] | list[Named], shape: Shape, prefix: str = "") -> Shape:
        for name, layer in layers:
            params, macs, shape = _layer(layer, shape)
            for part, count in params.items():
                self.layer_params[".".join(filter(None, (prefix + name, part)))] = count
                self.params += count
            self.macs += macs
        return shape


def analyse(plan: Plan, size: tuple[int, int] | None = None) -> Analysis:
    """Figures for `plan` at `size` (height, width); the spec's nominal size by default."""
    height, width = size or plan.input_size
    source: Shape = (plan.in_channels, height, width)
    parts: list[PartFigures] = []
    layer_params: dict[str, int] = {}

    tally = _Tally()
    shape = tally.run([("", plan.resize)] if plan.resize else [], source)
    before_stem = shape
    shape = tally.run(plan.stem.layers, shape)
    parts.append(_part("stem", 0, before_stem, shape, tally))
    layer_params.update(tally.layer_params)

    for stage in plan.stages:
        tally = _Tally()
        before = shape
        for index, block in enumerate(stage.blocks):
            shape = _block(block, shape, tally, f"{stage.name}.{index}.")
        parts.append(_part(stage.name, stage.depth, before, shape, tally))
        layer_params.update(tally.layer_params)

    tally = _Tally()
    channels = tally.run(plan.head.layers, shape)[0]
    parts.append(PartFigures("head", 0, 1, (channels, 1, 1), tally.params, tally.macs))
    layer_params.update(tally.layer_params)
    return Analysis(source, tuple(parts), layer_params)


def _part(name: str, blocks: int, before: Shape, after: Shape, tally: _Tally) -> PartFigures:
    stride = max(1, round(before[1] / after[1]))
    return PartFigures(name, blocks, stride, after, tally.params, tally.macs)


def _block(block: BlockPlan, shape: Shape, tally: _Tally, prefix: str) -> Shape:
    body = tally.run(block.body, shape, prefix)
    shortcut = tally.run(block.shortcut, shape, prefix)
    if body != shortcut:
        raise AssertionError(f"{prefix}: residual {body} and shortcut {shortcut} differ")
    return body


def _layer(layer: Layer, shape: Shape) -> tuple[dict[str, int], int, Shape]:
    """Parameters of the layer's modules (by sub-module name), multiply-adds, output shape."""
    channels, height, width = shape
    if isinstance(layer, Conv):
        out_h = _out(height, layer.kernel_size, layer.stride, layer.padding, ceil=False)
        out_w = _out(width, layer.kernel_size, layer.stride, layer.padding, ceil=False)
        weights = _conv_weights(layer)
        params = weights + (layer.out_channels if layer.bias else 0)
        return {"": params}, weights * out_h * out_w, (layer.out_channels, out_h, out_w)
    if isinstance(layer, Norm):
        return {"": 2 * layer.channels}, 0, shape
    if isinstance(layer, MaxPool):
        out_h = _out(height, layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode)
        out_w = _out(width, layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode)
        return {}, 0, (channels, out_h, out_w)
    if isinstance(layer, AvgPool):
        out_h = _out(height, layer.stride, layer.stride, 0, ceil=True)
        out_w = _out(width, layer.stride, layer.stride, 0, ceil=True)
        return {}, 0, (channels, out_h, out_w)
    if isinstance(layer, PadChannels):
        stride = layer.stride
        return {}, 0, (channels + layer.extra_channels, -(-height // stride), -(-width // stride))
    if isinstance(layer, SqueezeExcite):
        down = layer.channels * layer.hidden
        params = {"fc1": down + layer.hidden, "fc2": down + layer.channels}
        return params, 2 * down, shape
    if isinstance(layer, EfficientChannelAttention):
        return {"conv": layer.kernel_size}, layer.kernel_size * layer.channels, shape
    if isinstance(layer, Resize):
        return {}, 0, (channels, *layer.size)
    if isinstance(layer, GlobalAvgPool):
        return {}, 0, (channels, 1, 1)
    if isinstance(layer, Linear):
        macs = layer.in_features * layer.out_features
        return {"": macs + layer.out_features}, macs, (layer.out_features, 1, 1)
    raise TypeError(f"no analysis for {layer!r}")


def _conv_weights(conv: Conv) -> int:
    return conv.kernel_size**2 * conv.in_channels // conv.groups * conv.out_channels


def _out(size: int, kernel: int, stride: int, padding: int, ceil: bool) -> int:
    """PyTorch's output length of a convolution or pool along one axis."""
    span = size + 2 * padding - kernel
    if span < 0:
        raise PlanError([(("input", "size"), "the input is too small for this network")])
    steps = -(-span // stride) if ceil else span // stride
    # In ceil mode the last window must start inside the input or its left padding.
    if ceil and steps * stride >= size + padding:
        steps -= 1
    return steps + 1
