"""The layers a plan lists: what each computes, in the numbers that fix its module.

These are the layers every block family and the network's spine share. A family's own
layer of several modules is a `Composite`: it tells the analysis its figures and the
plan its norms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .spec import ACTIVATING_NORMS, NormType

if TYPE_CHECKING:
    from .analysis import LayerFigures, Shape


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

    @classmethod
    def of(cls, kind: NormType, channels: int) -> Norm:
        """A norm of the network's kind over `channels`."""
        per_channel = 3 if kind in ACTIVATING_NORMS else 2  # EvoNorm's v, FRN's tau
        return cls(channels, trainable=kind != "frozen_batch", per_channel=per_channel)


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


class Composite:
    """A block family's own layer of several modules (frozen dataclasses all)."""

    def figures(self, shape: Shape) -> LayerFigures:
        """Its parameters by sub-module, multiply-adds, output shape and activations."""
        raise NotImplementedError

    def norms(self, name: str) -> list[tuple[str, Norm]]:
        """The norms it holds that the network's norm settings constrain, by module name
        (one of each kind of norm it repeats); `name` is its own."""
        return []

    def state(self, name: str, norm: NormType) -> dict[str, tuple[int, ...]]:
        """Its modules' state_dict entries under `name`, with their shapes; `norm` is the
        network's norm kind."""
        return {}


Layer = (
    Conv
    | Norm
    | MaxPool
    | AvgPool
    | AntiAlias
    | PadChannels
    | SqueezeExcite
    | EfficientChannelAttention
    | Resize
    | GlobalAvgPool
    | Linear
    | Composite
)
Named = tuple[str, Layer]
