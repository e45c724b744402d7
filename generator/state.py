"""The state_dict a plan's generated model has: every parameter's and buffer's name and
shape, from the plan alone, without torch.

A checkpoint is recognised by it (the zoo network whose state it is), and the tests
hold it to the instantiated models, key for key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layers import (
    Composite,
    Conv,
    EfficientChannelAttention,
    Layer,
    Linear,
    Norm,
    SqueezeExcite,
)
from .spec import NormType

if TYPE_CHECKING:
    from .plan import Plan

Shapes = dict[str, tuple[int, ...]]

# What each norm holds per channel, parameters and buffers alike, in the state_dict's order.
NORM_ENTRIES: dict[NormType, tuple[str, ...]] = {
    "batch": ("weight", "bias", "running_mean", "running_var"),
    "frozen_batch": ("weight", "bias", "running_mean", "running_var"),
    "group": ("weight", "bias"),
    "evonorm_s0": ("weight", "bias", "v"),
    "filter_response": ("weight", "bias", "tau"),
}


def state_shapes(plan: Plan, own_names: bool = False) -> Shapes:
    """Every key of the generated model's state_dict with its tensor's shape, under the
    layout's names (or, with `own_names`, the file's modules' where they differ)."""
    shapes: Shapes = {}
    for name, layer in plan.named_layers():
        shapes.update(layer_shapes(name.rstrip("."), layer, plan.norm))
    names = plan.checkpoint_names
    if names is None or own_names:
        return shapes
    return {names.name(key): shape for key, shape in shapes.items()}


def layer_shapes(name: str, layer: Layer, norm: NormType) -> Shapes:
    """The state of one layer, under its module name; `norm` is the network's norm kind."""
    if isinstance(layer, Conv):
        return conv_shapes(name, layer)
    if isinstance(layer, Norm):
        return norm_shapes(name, layer.channels, norm)
    if isinstance(layer, SqueezeExcite):
        return {
            **conv_shapes(f"{name}.fc1", Conv(layer.channels, layer.hidden, 1, bias=True)),
            **conv_shapes(f"{name}.fc2", Conv(layer.hidden, layer.channels, 1, bias=True)),
        }
    if isinstance(layer, EfficientChannelAttention):
        return {f"{name}.conv.weight": (1, 1, layer.kernel_size)}
    if isinstance(layer, Linear):
        return {
            f"{name}.weight": (layer.out_features, layer.in_features),
            f"{name}.bias": (layer.out_features,),
        }
    if isinstance(layer, Composite):
        return layer.state(name, norm)
    return {}  # pools, resizes, zero padding: no state


def conv_shapes(name: str, conv: Conv) -> Shapes:
    kernel = (conv.kernel_size, conv.kernel_size)
    shapes = {f"{name}.weight": (conv.out_channels, conv.in_channels // conv.groups, *kernel)}
    if conv.bias:
        shapes[f"{name}.bias"] = (conv.out_channels,)
    return shapes


def norm_shapes(name: str, channels: int, norm: NormType) -> Shapes:
    shapes = {f"{name}.{entry}": (channels,) for entry in NORM_ENTRIES[norm]}
    if norm == "batch":
        shapes[f"{name}.num_batches_tracked"] = ()
    return shapes
