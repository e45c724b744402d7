"""Parameters, multiply-adds and output sizes, computed from the plan without torch.

Multiply-adds count convolutions (the anti-aliasing blur's too) and the classifier
(weights only, as `torch.utils.flop_counter` does, which reports two FLOPs per
multiply-add); norms, activations, pools and additions are left out, as in the ResNet
papers' tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from .errors import PlanError
from .layers import (
    AntiAlias,
    AvgPool,
    Composite,
    Conv,
    EfficientChannelAttention,
    GlobalAvgPool,
    Layer,
    Linear,
    MaxPool,
    Named,
    Norm,
    PadChannels,
    Resize,
    SqueezeExcite,
)

if TYPE_CHECKING:
    from .plan import BlockPlan, Plan

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
    activations: int  # elements output by its conv, norm, pool, attention and classifier layers


@dataclass(frozen=True)
class Analysis:
    input: Shape
    parts: tuple[PartFigures, ...]
    layer_params: dict[str, int]  # module name -> parameters it holds
    features: Shape  # what forward_features returns: the last stage's, or a final conv's

    @property
    def params(self) -> int:
        return sum(part.params for part in self.parts)

    @property
    def macs(self) -> int:
        return sum(part.macs for part in self.parts)

    @property
    def activations(self) -> int:
        return sum(part.activations for part in self.parts)

    @property
    def output_stride(self) -> int:
        return math.prod(part.stride for part in self.parts if part.name != "head")


class _Tally:
    def __init__(self) -> None:
        self.params = 0
        self.macs = 0
        self.activations = 0
        self.layer_params: dict[str, int] = {}

    def run(self, layers: tuple[Named, ...] | list[Named], shape: Shape, prefix: str = "") -> Shape:
        for name, layer in layers:
            figures = layer_figures(layer, shape)
            for part, count in figures.params.items():
                # A layer named "" holds its parts directly under its block's prefix.
                key = ".".join(filter(None, ((prefix + name).rstrip("."), part)))
                self.layer_params[key] = count
                self.params += count
            self.macs += figures.macs
            self.activations += figures.activations
            shape = figures.shape
        return shape


def analyse(plan: Plan, size: tuple[int, int] | None = None) -> Analysis:
    """Figures for `plan` at `size` (height, width); the spec's nominal size by default."""
    height, width = size or plan.input_size
    source: Shape = (plan.in_channels, height, width)
    parts: list[PartFigures] = []
    layer_params: dict[str, int] = {}

    tally = _Tally()
    shape = tally.run([("", plan.resize)] if plan.resize else [], source)
    shape = tally.run(plan.stem.layers, shape)
    parts.append(_part("stem", 0, plan.stem.stride, shape, tally))
    layer_params.update(tally.layer_params)

    for stage in plan.stages:
        tally = _Tally()
        for block in stage.blocks:
            shape = _block(block, shape, tally, f"{block.name}.")
        parts.append(_part(stage.name, stage.depth, stage.stride, shape, tally))
        layer_params.update(tally.layer_params)

    tally = _Tally()
    pool = next(i for i, (name, _) in enumerate(plan.head.layers) if name == "global_pool")
    features = tally.run(plan.head.layers[:pool], shape)
    channels = tally.run(plan.head.layers[pool:], features)[0]
    head = PartFigures("head", 0, 1, (channels, 1, 1), tally.params, tally.macs, tally.activations)
    parts.append(head)
    layer_params.update(tally.layer_params)
    return Analysis(source, tuple(parts), layer_params, features)


def _part(name: str, blocks: int, stride: int, after: Shape, tally: _Tally) -> PartFigures:
    return PartFigures(name, blocks, stride, after, tally.params, tally.macs, tally.activations)


def _block(block: BlockPlan, shape: Shape, tally: _Tally, prefix: str) -> Shape:
    body = tally.run(block.body, shape, prefix)
    shortcut = tally.run(block.shortcut, shape, prefix)
    if block.residual and body != shortcut:
        # Odd sizes do this to timm's average-pool anti-aliasing, which rounds down where
        # the ResNet-D shortcut rounds up; the reference fails on them too.
        sizes = [f"{height}x{width}" for _, height, width in (body, shortcut)]
        message = (
            f"at this input size the residual branch of {prefix.rstrip('.')} gives {sizes[0]} "
            f"and its shortcut {sizes[1]}; the network does not take it"
        )
        raise PlanError([(("input", "size"), message)])
    return body


class LayerFigures(NamedTuple):
    params: dict[str, int]  # sub-module name ("" for the layer itself) -> parameters
    macs: int
    shape: Shape
    activations: int  # elements of the tensors the layer's modules output


def layer_figures(layer: Layer, shape: Shape) -> LayerFigures:
    channels, height, width = shape
    if isinstance(layer, Conv):
        span = layer.dilation * (layer.kernel_size - 1) + 1
        out_h = output_size(height, span, layer.stride, layer.padding, ceil=False)
        out_w = output_size(width, span, layer.stride, layer.padding, ceil=False)
        weights = conv_weights(layer)
        params = weights + (layer.out_channels if layer.bias else 0)
        out = (layer.out_channels, out_h, out_w)
        return LayerFigures({"": params}, weights * out_h * out_w, out, math.prod(out))
    if isinstance(layer, Norm):
        params = {"": layer.per_channel * layer.channels} if layer.trainable else {}
        return LayerFigures(params, 0, shape, math.prod(shape))
    if isinstance(layer, MaxPool | AvgPool):
        if isinstance(layer, MaxPool) and layer.zero_padded:  # the padding is the input's
            pad = 2 * layer.padding
            window = (layer.kernel_size, layer.stride, 0, layer.ceil_mode)
            out = (channels, output_size(height + pad, *window), output_size(width + pad, *window))
            return LayerFigures({}, 0, out, math.prod(out))
        if isinstance(layer, MaxPool):
            window = (layer.kernel_size, layer.stride, layer.padding, layer.ceil_mode)
        elif layer.same:
            window = (1, 1, 0, False)  # the padding makes up for the window's second pixel
        else:
            window = (layer.stride, layer.stride, 0, True)
        out = (channels, output_size(height, *window), output_size(width, *window))
        return LayerFigures({}, 0, out, math.prod(out))
    if isinstance(layer, AntiAlias):
        if layer.kind == "blur":  # a depthwise 3x3 conv over the input padded by one pixel
            if min(height, width) < 2:  # reflection padding needs a pixel to mirror
                raise PlanError([(("input", "size"), "the input is too small for this network")])
            out_h, out_w = (
                output_size(height, 3, layer.stride, 1, False),
                output_size(width, 3, layer.stride, 1, False),
            )
            out = (channels, out_h, out_w)
            return LayerFigures({}, 9 * math.prod(out), out, math.prod(out))
        window = (layer.stride, layer.stride, 0, False)
        out = (channels, output_size(height, *window), output_size(width, *window))
        return LayerFigures({}, 0, out, math.prod(out))
    if isinstance(layer, PadChannels):
        stride = layer.stride
        out = (channels + layer.extra_channels, -(-height // stride), -(-width // stride))
        return LayerFigures({}, 0, out, math.prod(out))
    if isinstance(layer, SqueezeExcite):
        down = layer.channels * layer.hidden
        params = {"fc1": down + layer.hidden, "fc2": down + layer.channels}
        return LayerFigures(params, 2 * down, shape, math.prod(shape) + layer.hidden + channels)
    if isinstance(layer, EfficientChannelAttention):
        macs = layer.kernel_size * layer.channels
        return LayerFigures({"conv": layer.kernel_size}, macs, shape, math.prod(shape) + channels)
    if isinstance(layer, Composite):
        return layer.figures(shape)
    if isinstance(layer, Resize):
        return LayerFigures({}, 0, (channels, *layer.size), 0)
    if isinstance(layer, GlobalAvgPool):
        return LayerFigures({}, 0, (channels, 1, 1), channels)
    if isinstance(layer, Linear):
        macs = layer.in_features * layer.out_features
        out = (layer.out_features, 1, 1)
        return LayerFigures({"": macs + layer.out_features}, macs, out, layer.out_features)
    raise TypeError(f"no analysis for {layer!r}")


def conv_weights(conv: Conv) -> int:
    return conv.kernel_size**2 * conv.in_channels // conv.groups * conv.out_channels


def output_size(size: int, kernel: int, stride: int, padding: int, ceil: bool) -> int:
    """PyTorch's output length of a convolution or pool along one axis."""
    span = size + 2 * padding - kernel
    if span < 0:
        raise PlanError([(("input", "size"), "the input is too small for this network")])
    steps = -(-span // stride) if ceil else span // stride
    # In ceil mode the last window must start inside the input or its left padding.
    if ceil and steps * stride >= size + padding:
        steps -= 1
    return steps + 1
