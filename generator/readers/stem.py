"""The stem of a module tree, read into the spec's stem section."""

from __future__ import annotations

from typing import Any

from torch import nn

from .common import NotExpressible, chained, short_name, side
from .leaves import Leaves, zero_padding


def read_stem(reader: Leaves, children: dict[str, nn.Module]) -> dict[str, Any]:
    """The stem's type, channels, norm and pool, and the channels it takes."""
    conv1 = children.get("conv1")
    stem: dict[str, Any]
    if isinstance(conv1, nn.Sequential):
        parts = list(conv1)
        if len(parts) != 7:
            raise NotExpressible(
                "conv1",
                f"a stem of {len(parts)} modules; a deep stem has conv, norm, "
                "activation, conv, norm, activation, conv",
            )
        convs = [reader.conv(parts[i], f"conv1.{i}", 3) for i in (0, 3, 6)]
        strides = [conv.stride[0] for conv in convs]
        if strides != [2, 1, 1]:
            raise NotExpressible(
                "conv1", f"deep stem strides {strides}; the language's are 2, 1, 1"
            )
        for index in (1, 4):
            names = (f"conv1.{index}", f"conv1.{index + 1}")
            channels = convs[index // 3].out_channels
            reader.norm_and_act(parts[index], parts[index + 1], names, channels)
        for before, after in zip(convs, convs[1:], strict=False):
            chained(before, after, "conv1")
        stem = {"type": "deep", "channels": [conv.out_channels for conv in convs]}
        first = convs[0]
    else:
        first = reader.conv(conv1, "conv1")
        shape = (first.kernel_size[0], first.stride[0])
        types = {(7, 2): "classic", (3, 1): "cifar", (3, 2): "strided_3x3"}
        if shape not in types:
            raise NotExpressible(
                "conv1",
                f"a {shape[0]}x{shape[0]} stride-{shape[1]} stem conv; the language "
                "has 7x7 stride 2 (classic), 3x3 stride 1 (cifar) and 3x3 stride 2",
            )
        stem = {"type": types[shape], "channels": [first.out_channels]}
    channels = stem["channels"][-1]
    stem["norm"] = "bn1" in children  # pre-activation leaves it to the first block
    if stem["norm"]:
        act_name = "act1" if "act1" in children else "relu"
        reader.norm_and_act(children["bn1"], children.get(act_name), ("bn1", act_name), channels)
    stem["pool"] = _read_pool(reader, children.get("maxpool"), channels)
    stem["in_channels"] = first.in_channels
    return stem


def _read_pool(reader: Leaves, pool: nn.Module | None, channels: int) -> dict[str, Any]:
    """A max pool, a strided conv, or none, each perhaps anti-aliased."""
    if pool is None or type(pool) is nn.Identity:
        return {"type": "none"}
    if type(pool) is nn.AvgPool2d:  # timm's anti-aliasing by average, in place of the max pool
        return {"type": "max", "stride": reader.anti_aliasing(pool, "maxpool", channels)}
    parts = list(pool) if type(pool) is nn.Sequential else [pool]
    zero_padded = len(parts) == 2 and zero_padding(parts[0]) is not None
    if zero_padded:
        padding = zero_padding(parts[0])
        found = parts[1]
        if type(found) is not nn.MaxPool2d or side(found.padding) != 0:
            raise NotExpressible("maxpool", "a zero padding before other than an unpadded max pool")
        kernel, own_stride = side(found.kernel_size), side(found.stride)
        if None in (kernel, own_stride) or side(found.dilation) != 1:
            raise NotExpressible("maxpool", "a max pool with unequal sides or a dilation")
        return {
            "type": "max",
            "kernel_size": kernel,
            "stride": own_stride,
            "padding": padding,
            "ceil_mode": bool(found.ceil_mode),
            "zero_padded": True,
        }
    stride = None
    if len(parts) in (2, 4) and (
        short_name(parts[1]) == "BlurPool2d" or type(parts[1]) is nn.AvgPool2d
    ):
        stride = reader.anti_aliasing(parts.pop(1), "maxpool.1", channels)
    shift = 0 if stride is None else 1  # the anti-aliasing pool keeps its slot
    if len(parts) == 1 and type(parts[0]) is nn.MaxPool2d:
        found = parts[0]
        sides = [side(found.kernel_size), side(found.stride), side(found.padding)]
        if None in sides or side(found.dilation) != 1:
            raise NotExpressible("maxpool", "a max pool with unequal sides or a dilation")
        kernel, own_stride, padding = sides
        return {
            "type": "max",
            "kernel_size": kernel,
            "stride": stride or own_stride,
            "padding": padding,
            "ceil_mode": bool(found.ceil_mode),
        }
    if len(parts) == 3:
        conv = reader.conv(parts[0], "maxpool.0")
        if conv.in_channels != channels or conv.out_channels != channels or conv.groups != 1:
            raise NotExpressible("maxpool.0", "a pooling conv that changes the channels")
        reader.norm_of(parts[1], f"maxpool.{1 + shift}", channels)
        reader.act(parts[2], f"maxpool.{2 + shift}")
        return {
            "type": "conv",
            "kernel_size": conv.kernel_size[0],
            "stride": stride or conv.stride[0],
            "padding": conv.padding[0],
        }
    raise NotExpressible(
        "maxpool",
        f"{short_name(pool)} as the stem pool; the language has a max pool, a "
        "strided conv, or none, each perhaps anti-aliased",
    )
