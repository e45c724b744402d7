"""The leaves of a module tree, as the tree reader reads them: convs, norms, activations
and anti-aliasing pools."""

from __future__ import annotations

from typing import Any

from torch import nn

from .common import NotExpressible, Readings, class_name, short_name, side

STD_CONV = "timm.layers.std_conv.StdConv2d"
FROZEN_NORM = "torchvision.ops.misc.FrozenBatchNorm2d"
# timm's norms that hold their activation, in its ConvNormAct and resnetv2.py's blocks
BATCH_NORM_ACT = "timm.layers.norm_act.BatchNormAct2d"
GROUP_NORM_ACT = "timm.layers.norm_act.GroupNormAct"
FROZEN_NORM_ACT = "timm.layers.norm_act.FrozenBatchNormAct2d"
NORM_ACTS = {BATCH_NORM_ACT, GROUP_NORM_ACT, FROZEN_NORM_ACT}
# timm's norms that are their own activation, and that activation's parameter
EVONORM_S0 = "timm.layers.evo_norm.EvoNorm2dS0"
FILTER_RESPONSE_NORM = "timm.layers.filter_response_norm.FilterResponseNormTlu2d"
NORM_ACTIVATIONS = {EVONORM_S0: "v", FILTER_RESPONSE_NORM: "tau"}
# Norm settings every norm of the language has.
EPS, MOMENTUM = 1e-5, 0.1


class Leaves(Readings):
    """A module tree's leaves as the tree reader reads them, each fixing what the
    network's first of its kind fixes (the norm, the activation, the convs' bias and
    weight standardisation, anti-aliasing)."""

    def conv(self, module: nn.Module | None, name: str, kernel: int | None = None) -> nn.Conv2d:
        """A square, zero-padded Conv2d of `kernel` (any size if None) that keeps the size
        of its input but for its stride."""
        standardised = module is not None and class_name(module) == STD_CONV
        if type(module) is not nn.Conv2d and not standardised:
            found = short_name(module) if module is not None else "nothing"
            raise NotExpressible(name, f"{found} where a Conv2d belongs")
        self.standardization.see(module.eps if standardised else None, name)
        sides = [module.kernel_size, module.stride, module.padding, module.dilation]
        if any(len(set(side)) != 1 for side in sides) or module.padding_mode != "zeros":
            raise NotExpressible(name, "a conv with unequal sides or other padding than zeros")
        size = module.kernel_size[0]
        if kernel is not None and size != kernel:
            message = f"a {size}x{size} conv where the language has a {kernel}x{kernel}"
            raise NotExpressible(name, message)
        if module.padding[0] != module.dilation[0] * (size // 2):
            raise NotExpressible(name, f"padding {module.padding[0]} does not keep the size")
        self.bias.see(module.bias is not None, name)
        return module

    def norm_of(
        self, module: nn.Module | None, name: str, channels: int, with_act: bool = False
    ) -> None:
        kind = norm_kind(module, name, with_act)
        # A group norm's groups settle norm.groups or norm.group_size once all are read.
        if kind[0] == "group":
            self.seen("group norms").append((kind[1], channels, name))
            kind = kind[:1]
        self.norm.see(kind, name)
        size = norm_channels(module)
        if size != channels:
            raise NotExpressible(name, f"normalises {size} channels where {channels} arrive")

    def norm_fields(self) -> dict[str, Any]:
        """The spec's norm, as every norm read gives it: a group norm's groups, the same in
        each, or the channels of a group, the same in each."""
        kind = self.norm.value
        if kind[0] != "group":
            return {"type": kind[0], **({"groups": kind[1]} if len(kind) > 1 else {})}
        norms = self.seen("group norms")
        groups = {count for count, _, _ in norms}
        if len(groups) == 1:
            return {"type": "group", "groups": groups.pop()}
        sizes = {channels // count for count, channels, _ in norms}
        if len(sizes) == 1 and all(channels % count == 0 for count, channels, _ in norms):
            return {"type": "group", "group_size": sizes.pop()}
        count, channels, first = norms[0]
        other, other_channels, name = next(norm for norm in norms if norm[0] != count)
        message = (
            f"{other} groups over {other_channels} channels, where {first} has {count} over "
            f"{channels}; the spec language has one number of groups, or one group size"
        )
        raise NotExpressible(name, message)

    def norm_and_act(
        self,
        norm: nn.Module | None,
        act: nn.Module | None,
        names: tuple[str, str],
        channels: int,
    ) -> None:
        """A norm and the activation after it: two modules, or timm's norm holding the
        activation (a view shows it followed by its own activation)."""
        if norm is not None and class_name(norm) in NORM_ACTIVATIONS:
            self.norm_of(norm, names[0], channels, with_act=True)
            if act is not None and type(act) is not nn.Identity:
                raise NotExpressible(names[1], "an activation after a norm that activates")
            return
        held = norm is not None and class_name(norm) in NORM_ACTS and act is norm.act
        self.norm_of(norm, names[0], channels, with_act=held)
        self.act(act, f"{names[0]}.act" if held else names[1])

    def act(self, module: nn.Module | None, name: str) -> None:
        self.activation.see(activation_kind(module, name), name)

    def anti_aliasing(self, module: nn.Module, name: str, channels: int) -> int:
        """The stride of an anti-aliasing pool, once its kind is the network's."""
        if type(module) is nn.AvgPool2d:
            kernel, stride, padding = (
                side(v) for v in (module.kernel_size, module.stride, module.padding)
            )
            if kernel != stride or padding != 0 or module.ceil_mode:
                raise NotExpressible(name, "an average pool other than timm's anti-aliasing one")
            self.anti_alias.see("avg", name)
            return stride
        if short_name(module) == "BlurPool2d" and class_name(module).startswith("timm."):
            if module.filt_size != 3 or module.pad_mode != "reflect" or module.channels != channels:
                raise NotExpressible(name, "a blur pool other than timm's 3x3 binomial filter")
            self.anti_alias.see("blur", name)
            return module.stride
        raise NotExpressible(name, f"{short_name(module)} where an anti-aliasing pool belongs")

    def block_anti_aliasing(
        self, parts: dict[str, nn.Module], name: str, channels: int
    ) -> int | None:
        """The stride a block's anti-aliasing pool takes from its 3x3 conv; None without one."""
        pool = parts.get("aa")
        if pool is None or type(pool) is nn.Identity:
            return None
        return self.anti_aliasing(pool, f"{name}.aa", channels)


def zero_padding(module: nn.Module) -> int | None:
    """The pixels a zero padding adds on every side; None for anything else."""
    if type(module) not in (nn.ConstantPad2d, nn.ZeroPad2d) or module.value != 0:
        return None
    sides = set(module.padding)
    return sides.pop() if len(sides) == 1 else None


def is_linear(module: nn.Module) -> bool:
    """nn.Linear, or timm's subclass of it (same computation; pruned networks' heads)."""
    return type(module) is nn.Linear or class_name(module) == "timm.layers.linear.Linear"


def drop_rate(module: nn.Module | None, name: str) -> float:
    if module is None or type(module) is nn.Identity:
        return 0.0
    if short_name(module) == "DropPath" and hasattr(module, "drop_prob"):
        if not getattr(module, "scale_by_keep", True):
            raise NotExpressible(name, "stochastic depth without rescaling the kept samples")
        return float(module.drop_prob)
    raise NotExpressible(name, f"{short_name(module)} where stochastic depth belongs")


def is_classifier_conv(module: nn.Module | None, features: int) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.kernel_size == (1, 1)
        and module.stride == (1, 1)
        and module.groups == 1
        and module.bias is not None
        and module.in_channels == features
    )


def norm_kind(module: nn.Module | None, name: str, with_act: bool = False) -> tuple[str, ...]:
    """The kind of a plain norm, or with `with_act` of timm's norm holding its activation.
    timm's norm with no activation (and no drop) is a plain norm."""
    kind = class_name(module) if module is not None else ""
    if not with_act and kind in NORM_ACTS:
        with_act = type(module.act) is nn.Identity and type(module.drop) is nn.Identity
    batch = kind == BATCH_NORM_ACT if with_act else type(module) is nn.BatchNorm2d
    group = (kind == GROUP_NORM_ACT) == with_act and isinstance(module, nn.GroupNorm)
    frozen = kind == FROZEN_NORM_ACT if with_act else kind == FROZEN_NORM
    if batch:
        if (
            module.eps == EPS
            and module.momentum == MOMENTUM
            and module.affine
            and module.track_running_stats
        ):
            return ("batch",)
        raise NotExpressible(
            name, "a batch norm with other eps, momentum or statistics than PyTorch's defaults"
        )
    if group and module.eps == EPS and module.affine:
        return ("group", module.num_groups)
    if not with_act and kind in NORM_ACTIVATIONS:
        raise NotExpressible(
            name,
            f"{short_name(module)} where a norm without an activation belongs; the language's "
            "EvoNorm-S0 and FRN go where every norm activates (pre-activation blocks)",
        )
    if with_act and kind in NORM_ACTIVATIONS:
        if getattr(module, NORM_ACTIVATIONS[kind]) is None:
            raise NotExpressible(name, f"{short_name(module)} without its activation")
        if kind == EVONORM_S0 and module.eps == EPS:
            return ("evonorm_s0", module.groups)
        if kind == FILTER_RESPONSE_NORM and module.eps == EPS and module.rms:
            return ("filter_response",)
    if frozen and module.eps == EPS:
        return ("frozen_batch",)
    found = short_name(module) if module is not None else "nothing"
    raise NotExpressible(
        name,
        f"{found} where a norm belongs; the language has BatchNorm2d, GroupNorm, a "
        "frozen batch norm, EvoNorm-S0 and FRN with TLU, with eps 1e-5",
    )


def norm_channels(module: nn.Module) -> int:
    if isinstance(module, nn.GroupNorm):
        return module.num_channels
    return module.weight.shape[0]


def activation_kind(module: nn.Module | None, name: str) -> str:
    if type(module) is nn.ReLU:
        return "relu"
    if type(module) is nn.SiLU:
        return "silu"
    if (type(module) is nn.GELU and module.approximate == "none") or (
        module is not None and class_name(module) == "timm.layers.activations.GELU"
    ):
        return "gelu"
    if type(module) is nn.LeakyReLU and module.negative_slope == 0.01:
        return "leaky_relu"
    found = short_name(module) if module is not None else "nothing"
    raise NotExpressible(
        name,
        f"{found} is not an activation the spec language has (relu, silu, gelu, "
        "leaky_relu with slope 0.01)",
    )


CONV_NORM_ACT = "timm.layers.conv_bn_act.ConvNormAct"


def conv_norm_act(reader: Leaves, module: Any, name: str, kernel: int, act: bool) -> nn.Conv2d:
    """timm's ConvNormAct: a conv, then a norm holding the activation (or none)."""
    if class_name(module) != CONV_NORM_ACT:
        found = short_name(module) if module is not None else "nothing"
        raise NotExpressible(name, f"{found} where timm's ConvNormAct belongs")
    if getattr(module, "aa", None) is not None:
        message = "anti-aliasing in a block of timm's ConvNormAct, which the language has not"
        raise NotExpressible(f"{name}.aa", message)
    conv = reader.conv(module.conv, f"{name}.conv", kernel)
    norm = module.bn
    reader.norm_of(norm, f"{name}.bn", conv.out_channels, with_act=True)
    if type(norm.drop) is not nn.Identity:
        raise NotExpressible(f"{name}.bn.drop", "DropBlock is not in the spec language yet")
    if act:
        reader.act(norm.act, f"{name}.bn.act")
    elif type(norm.act) is not nn.Identity:
        raise NotExpressible(f"{name}.bn.act", "an activation where timm's block has none")
    return conv
