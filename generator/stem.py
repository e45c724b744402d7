"""The stem's plan: its convs, norms and pool, named as its layout names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .layers import AntiAlias, Conv, Layer, MaxPool, Named, Norm
from .layouts import LAYOUTS
from .spec import Spec, StemType

DEFAULT_STEM_CHANNELS: dict[str, tuple[int, ...]] = {
    "classic": (64,),
    "deep": (32, 32, 64),
    "cifar": (16,),
    "strided_3x3": (32,),
}


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


def plan_stem(spec: Spec) -> StemPlan:
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
    elif stem.type == "strided_3x3":
        convs = [Conv(source, channels[0], 3, stride=2, padding=1, bias=bias)]
    else:
        convs = [Conv(source, channels[0], 3, padding=1, bias=bias)]
    conv_names, norm_names = LAYOUTS[spec.layout].stem_names(len(convs), stem.norm)
    layers: list[Named] = []
    for index, (conv, conv_name) in enumerate(zip(convs, conv_names, strict=True)):
        layers.append((conv_name, conv))
        if stem.norm or index < len(convs) - 1:
            layers.append((norm_names[index], Norm.of(spec.norm.type, conv.out_channels)))

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
    return _numbered(name, [conv, *after, Norm.of(spec.norm.type, channels)])


def _numbered(name: str, layers: list[Layer]) -> list[Named]:
    """One layer under `name`, or several under name.0, name.1, ... (a Sequential)."""
    if len(layers) == 1:
        return [(name, layers[0])]
    return [(f"{name}.{index}", layer) for index, layer in enumerate(layers)]


def _stem_pool(spec: Spec) -> StemPool | None:
    pool = spec.stem.pool
    if pool is None:
        unpooled = spec.stem.type in ("cifar", "strided_3x3")
        return None if unpooled else StemPool("max", 3, 2, 1, False)
    if pool.type == "none":
        return None
    return StemPool(
        pool.type, pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode, pool.zero_padded
    )
