"""The constructor calls of the modules every part of a generated file uses: the norm,
the activation, the conv class, the anti-aliasing pools."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..plan import Plan


def norm_layer(plan: Plan, channels: object) -> str:
    """The constructor call of the network's norm over `channels`."""
    if plan.norm == "group" and plan.norm_group_size is not None:
        size = plan.norm_group_size
        groups = channels // size if isinstance(channels, int) else f"{channels} // {size}"
        return f"nn.GroupNorm({groups}, {channels})"
    if plan.norm == "group":
        return f"nn.GroupNorm({plan.norm_groups}, {channels})"
    if plan.norm == "frozen_batch":
        return f"FrozenBatchNorm2d({channels})"
    if plan.norm == "evonorm_s0":
        return f"EvoNormS0({plan.norm_groups}, {channels})"
    if plan.norm == "filter_response":
        return f"FilterResponseNorm({channels})"
    return f"nn.BatchNorm2d({channels})"


def conv_norm_act(plan: Plan, dilated: bool, grouped: bool) -> dict[str, list[str]]:
    """ConvNormAct's parameters and its conv's arguments: a dilation and groups only
    where the blocks built of it take them."""
    return {
        "parameters": [
            "in_channels: int",
            "out_channels: int",
            "kernel_size: int",
            "stride: int = 1",
            *(["dilation: int = 1"] if dilated else []),
            *(["groups: int = 1"] if grouped else []),
            "act: bool = True",
        ],
        "arguments": [
            "in_channels",
            "out_channels",
            "kernel_size",
            "stride=stride",
            "padding=dilation * (kernel_size // 2)" if dilated else "padding=kernel_size // 2",
            *(["dilation=dilation"] if dilated else []),
            *(["groups=groups"] if grouped else []),
            f"bias={plan.conv_bias!r}",
        ],
    }


def batch_norm_class(plan: Plan) -> str:
    """The batch norm of a network that may freeze its norms: frozen with them."""
    return "FrozenBatchNorm2d" if plan.norm == "frozen_batch" else "nn.BatchNorm2d"


ACTIVATIONS = {
    "relu": "nn.ReLU(inplace=True)",
    "silu": "nn.SiLU(inplace=True)",
    "gelu": "nn.GELU()",
    "leaky_relu": "nn.LeakyReLU(0.01, inplace=True)",
}
KAIMING_GAIN = {  # the nonlinearity argument of kaiming_normal_; SiLU and GELU take ReLU's
    "relu": 'nonlinearity="relu"',
    "silu": 'nonlinearity="relu"',
    "gelu": 'nonlinearity="relu"',
    "leaky_relu": 'a=0.01, nonlinearity="leaky_relu"',
}
ANTI_ALIAS_POOLS = {"blur": "BlurPool({channels}, {stride})", "avg": "nn.AvgPool2d({stride})"}


def conv_class(plan: Plan) -> str:
    return "nn.Conv2d" if plan.weight_standardization is None else "StdConv2d"


def reduced(plan: Plan, channels: str) -> str:
    """A block's first conv's output: its inner width, or a part of it (SENet-154's half)."""
    return f"{channels} // {plan.reduce_first}" if plan.reduce_first > 1 else channels
