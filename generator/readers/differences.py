"""Holding the generated model to the model it was read from, module by module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch import nn

from ..blocks import READ_CLASSES
from ..layouts import CheckpointNames
from .common import class_name, short_name, side
from .leaves import FROZEN_NORM, FROZEN_NORM_ACT, norm_channels


def layer_differences(
    reference: nn.Module, generated: nn.Module, names: CheckpointNames | None = None
) -> Iterator[str]:
    """Each module of either model whose settings the other does not match, by name.

    Convolutions, norms, pools, the classifier and stochastic depth are compared by what
    they compute (sizes, strides, paddings, dilations, groups, rates); activations and
    containers, named differently by each library, are left to the reading. Where the
    generated file's modules take a library's `names` in their state (HF's, mmpretrain's),
    the layers with state are compared under them; that library keeps its parameter-free
    layers where it likes (HF's pools in its embedder), which the logits hold instead.
    """
    want, got = dict(_described(reference)), dict(_described(generated))
    if names is not None:
        want = {name: layer for name, layer in want.items() if layer[0] in STATEFUL}
        got = {
            names.name(f"{name}.weight").rsplit(".", 1)[0]: layer
            for name, layer in got.items()
            if layer[0] in STATEFUL
        }
    for name in [*want, *(n for n in got if n not in want)]:
        if want.get(name) != got.get(name):
            expected = want.get(name, "nothing")
            found = got.get(name, "nothing")
            yield f"{name}: the reference has {expected}, the spec gives {found}"


STATEFUL = ("conv", "linear", "norm")
# Weight-standardised convs: timm's and the generated file's, and HF's BiT's.
STANDARDISED_CONVS = ("StdConv2d", "WeightStandardizedConv2d")


def _described(model: nn.Module) -> Iterator[tuple[str, tuple[Any, ...]]]:
    skip: list[str] = []
    unused: set[str] = set()
    for name, module in model.named_modules():
        if any(name.startswith(prefix + ".") for prefix in skip) or name in unused:
            continue
        family, _ = READ_CLASSES.get(class_name(module), (None, None))
        if family is not None:  # a block whose family knows modules it builds and never uses
            unused |= {f"{name}.{part}" for part in family.unused_parts(module)}
        description = describe_layer(module)
        if description is not None:
            if type(module) is nn.Sequential:
                skip.append(name)
            yield name, description


def pointwise(in_channels: int, out_channels: int, groups: int, bias: bool) -> tuple[Any, ...]:
    """What `describe_layer` says of a plain 1x1 conv (an attention's)."""
    unit = (1, 1)
    return ("conv", in_channels, out_channels, unit, unit, (0, 0), unit, groups, bias, False)


def describe_layer(module: nn.Module) -> tuple[Any, ...] | None:
    """What a module computes, as a tuple of its settings; None for the modules compared
    by the reading alone (activations, containers) or that compute nothing."""
    if isinstance(module, nn.Conv2d | nn.Conv1d):
        return (
            "conv",
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            module.stride,
            module.padding,
            module.dilation,
            module.groups,
            module.bias is not None,
            short_name(module) in STANDARDISED_CONVS,
        )
    if isinstance(module, nn.Linear):
        return ("linear", module.in_features, module.out_features, module.bias is not None)
    if (
        isinstance(module, nn.BatchNorm2d | nn.GroupNorm)
        or class_name(module) in (FROZEN_NORM, FROZEN_NORM_ACT)
        or short_name(module) == "FrozenBatchNorm2d"
    ):
        kind = (
            "group"
            if isinstance(module, nn.GroupNorm)
            else "frozen"
            if not isinstance(module, nn.BatchNorm2d)
            else "batch"
        )
        groups = module.num_groups if isinstance(module, nn.GroupNorm) else None
        return ("norm", kind, norm_channels(module), module.eps, groups)
    if short_name(module) in ("EvoNorm2dS0", "EvoNormS0"):  # timm's, and the generated file's
        return ("norm", "evonorm_s0", norm_channels(module), module.eps, module.groups)
    if short_name(module) in ("FilterResponseNormTlu2d", "FilterResponseNorm"):
        return ("norm", "filter_response", norm_channels(module), module.eps, None)
    if type(module) in (nn.ConstantPad2d, nn.ZeroPad2d) and module.value == 0:
        return ("zero padding", module.padding)
    if type(module) is nn.MaxPool2d:
        return (
            "max pool",
            side(module.kernel_size),
            side(module.stride),
            side(module.padding),
            module.ceil_mode,
        )
    if class_name(module) == "timm.layers.pool2d_same.AvgPool2dSame":
        return ("same-padded average pool", side(module.kernel_size), side(module.stride))
    if type(module) is nn.Sequential and len(module) == 2 and type(module[0]) is nn.ZeroPad2d:
        pool = module[1]
        if (
            module[0].padding == (0, 1, 0, 1)
            and type(pool) is nn.AvgPool2d
            and side(pool.padding) == 0
        ):
            return ("same-padded average pool", side(pool.kernel_size), side(pool.stride))
    if type(module) is nn.AvgPool2d and side(module.kernel_size) == side(module.stride) == 1:
        return None  # the identity: timm's average anti-aliasing where nothing strides
    if type(module) is nn.AvgPool2d:
        return (
            "average pool",
            side(module.kernel_size),
            side(module.stride),
            side(module.padding),
            module.ceil_mode,
            module.count_include_pad,
        )
    if short_name(module) in ("BlurPool2d", "BlurPool"):  # timm's, and the generated file's
        return ("blur pool", module.channels, module.stride)
    if short_name(module) == "DropPath":
        rate = getattr(module, "drop_prob", getattr(module, "rate", 0.0))
        return ("stochastic depth", rate) if rate else None
    return None
