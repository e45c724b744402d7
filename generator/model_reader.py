"""Read a ResNet's module tree back into spec data: the reverse of `build`, for `import`.

Each module is recognised by its class and settings, in the order of the tree; the
first one the spec language cannot express stops the reading with its name and why.
The data holds every field that applies, so that `generator.shortest` can leave out
whatever a default or a base spec already says. `layer_differences` then holds the
generated model to the reference, module by module.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .layouts import LAYOUTS
from .plan import (
    EXPANSION,
    bottleneck_width,
    drop_path_rates,
    se_hidden,
    sk_hidden,
    split_attention_hidden,
)
from .spec import BASIC_KINDS, LayoutName

LEGACY_SENET = "timm.models.senet.SENet"
RESNETV2 = "timm.models.resnetv2.ResNetV2"
NETWORKS = {
    "timm.models.resnet.ResNet",
    "torchvision.models.resnet.ResNet",
    LEGACY_SENET,
    RESNETV2,
}
BLOCKS = {
    "timm.models.resnet.BasicBlock": "basic",
    "timm.models.resnet.Bottleneck": "bottleneck",
    "torchvision.models.resnet.BasicBlock": "basic",
    "torchvision.models.resnet.Bottleneck": "bottleneck",
    "timm.models.res2net.Bottle2neck": "res2net",
    "timm.models.resnest.ResNestBottleneck": "resnest",
    "timm.models.sknet.SelectiveKernelBasic": "sk_basic",
    "timm.models.sknet.SelectiveKernelBottleneck": "sk_bottleneck",
    "timm.models.senet.SEResNetBlock": "basic",
    "timm.models.senet.SEResNetBottleneck": "bottleneck",
    "timm.models.senet.SEResNeXtBottleneck": "bottleneck",
    "timm.models.senet.SEBottleneck": "bottleneck",
}
# resnetv2.py's blocks: their kind, and whether they pre-activate
RESNETV2_BLOCKS = {
    "timm.models.resnetv2.PreActBasic": ("basic", True),
    "timm.models.resnetv2.PreActBottleneck": ("bottleneck", True),
    "timm.models.resnetv2.Bottleneck": ("bottleneck", False),
}
RESNETV2_SHORTCUTS = {
    "timm.models.resnetv2.DownsampleConv": ("conv", "norm"),
    "timm.models.resnetv2.DownsampleAvg": ("pool", "conv", "norm"),
}
STD_CONV = "timm.layers.std_conv.StdConv2d"
# Basic blocks that activate their branch before the attention and the sum
BRANCH_ACTIVATED = {"timm.models.senet.SEResNetBlock"}
LEGACY_SE = "timm.models.senet.SEModule"
SE = "timm.layers.squeeze_excite.SEModule"
ECA = "timm.layers.eca.EcaModule"
FROZEN_NORM = "torchvision.ops.misc.FrozenBatchNorm2d"
# timm's norms that hold their activation, in its ConvNormAct (SKNet's blocks)
BATCH_NORM_ACT = "timm.layers.norm_act.BatchNormAct2d"
GROUP_NORM_ACT = "timm.layers.norm_act.GroupNormAct"
FROZEN_NORM_ACT = "timm.layers.norm_act.FrozenBatchNormAct2d"
NORM_ACTS = {BATCH_NORM_ACT, GROUP_NORM_ACT, FROZEN_NORM_ACT}
# timm's norms that are their own activation, and that activation's parameter
EVONORM_S0 = "timm.layers.evo_norm.EvoNorm2dS0"
FILTER_RESPONSE_NORM = "timm.layers.filter_response_norm.FilterResponseNormTlu2d"
NORM_ACTIVATIONS = {EVONORM_S0: "v", FILTER_RESPONSE_NORM: "tau"}
CONV_NORM_ACT = "timm.layers.conv_bn_act.ConvNormAct"
SELECTIVE_KERNEL = "timm.layers.selective_kernel.SelectiveKernel"
SELECTIVE_KERNEL_ATTENTION = "timm.layers.selective_kernel.SelectiveKernelAttn"
SIGMOIDS = {"torch.nn.modules.activation.Sigmoid", "timm.layers.activations.Sigmoid"}
LAYOUT = "conv1, bn1, act1, maxpool, layer1..., global_pool, fc"
# Besides the stages; torchvision calls the activation relu and the pool avgpool.
NETWORK_PARTS = {"conv1", "bn1", "act1", "relu", "maxpool", "global_pool", "avgpool", "fc"}
NETWORK_PARTS |= {"norm", "act"}  # a pre-activation network's last norm
CONVS_AND_NORMS = {f"{part}{index}" for part in ("conv", "bn", "act") for index in (1, 2, 3)}
BLOCK_PARTS = CONVS_AND_NORMS | {"relu", "downsample", "se", "drop_path", "drop_block", "aa"}
BLOCK_PARTS |= {"convs", "bns", "pool", "avd_first", "avd_last", "act"}  # of other families
SPLIT_ATTENTION = "timm.layers.split_attn.SplitAttn"
# Norm settings every norm of the language has.
EPS, MOMENTUM = 1e-5, 0.1


class NotExpressible(Exception):
    """A module of the model that the spec language cannot express."""

    def __init__(self, module: str, reason: str) -> None:
        self.module = module or "(model)"
        self.reason = reason
        super().__init__(f"{self.module}: {reason}")


def class_name(module: nn.Module) -> str:
    return f"{type(module).__module__}.{type(module).__qualname__}"


def _short(module: nn.Module) -> str:
    return type(module).__name__


@dataclass
class _Setting:
    """A network-wide setting (norm, activation, conv bias): the first module fixes it."""

    what: str
    value: object = None
    where: str = ""

    def see(self, value: object, module: str) -> None:
        if self.where and value != self.value:
            raise NotExpressible(
                module,
                f"{self.what} {_shown(value)}, where {self.where} has {_shown(self.value)}; "
                f"the spec language has one {self.what} for the whole network",
            )
        if not self.where:
            self.value, self.where = value, module


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return " with ".join(str(part) for part in value)
    return str(value)


@dataclass
class _Block:
    kind: str
    in_channels: int
    first_width: int  # its first conv's output
    width: int
    out_channels: int
    stride: int
    stride_on: str | None  # where a strided bottleneck strides
    groups: int
    first_dilation: int
    dilation: int | None  # of a basic block's second conv: its stage's
    shortcut: str  # identity, projection or avg_down
    shortcut_norm: bool | None
    dilates: bool  # it shows its stage dilated beyond its first conv: by a same-padded
    # shortcut pool, a 3x3 projection at stride 1, or a blur at stride 1 (timm's, where a
    # dilated stage starts)
    attention: tuple[str, int] | None  # ("se", hidden) or ("eca", kernel size)
    drop_path: float
    last_norm: nn.Module  # pre-activated: the last conv, which zero init zeroes instead
    preact: bool = False


class _Reader:
    def __init__(self) -> None:
        self.norm = _Setting("norm")
        self.activation = _Setting("activation")
        self.bias = _Setting("conv bias")
        self.anti_alias = _Setting("anti-aliasing")
        self.reduce_first = _Setting("first-conv reduction")
        self.shortcut_kernel = _Setting("shortcut kernel")
        self.scale = _Setting("res2net scale")
        # Each bottleneck's three convs and name, for `pruned` to weigh once all are read.
        self.bottleneck_convs: list[tuple[nn.Conv2d, nn.Conv2d, nn.Conv2d, str]] = []
        self.radix = _Setting("split-attention radix")
        self.avd = _Setting("place of ResNeSt's downsampling pool")
        self.split_input = _Setting("selective kernels' input split")
        self.branch_activation = _Setting("activation ending a basic block's branch")
        self.standardization = _Setting("conv weight standardisation")
        self.preactivation = _Setting("pre-activation")
        # Each selective kernel's channels and hidden width, for one rounding to fit all.
        self.sk_widths: list[tuple[int, int, str]] = []

    # Leaves -----------------------------------------------------------------------

    def conv(self, module: nn.Module | None, name: str, kernel: int | None = None) -> nn.Conv2d:
        """A square, zero-padded Conv2d of `kernel` (any size if None) that keeps the size
        of its input but for its stride."""
        standardised = module is not None and class_name(module) == STD_CONV
        if type(module) is not nn.Conv2d and not standardised:
            found = _short(module) if module is not None else "nothing"
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
        self.norm.see(_norm_kind(module, name, with_act), name)
        size = _norm_channels(module)
        if size != channels:
            raise NotExpressible(name, f"normalises {size} channels where {channels} arrive")

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

    def conv_norm_act(
        self, module: nn.Module | None, name: str, kernel: int, act: bool
    ) -> nn.Conv2d:
        """timm's ConvNormAct: a conv, then a norm holding the activation (or none)."""
        if class_name(module) != CONV_NORM_ACT:
            found = _short(module) if module is not None else "nothing"
            raise NotExpressible(name, f"{found} where timm's ConvNormAct belongs")
        if getattr(module, "aa", None) is not None:
            message = "anti-aliasing in a selective-kernel block, which the language has not"
            raise NotExpressible(f"{name}.aa", message)
        conv = self.conv(module.conv, f"{name}.conv", kernel)
        norm = module.bn
        self.norm_of(norm, f"{name}.bn", conv.out_channels, with_act=True)
        if type(norm.drop) is not nn.Identity:
            raise NotExpressible(f"{name}.bn.drop", "DropBlock is not in the spec language yet")
        if act:
            self.act(norm.act, f"{name}.bn.act")
        elif type(norm.act) is not nn.Identity:
            raise NotExpressible(f"{name}.bn.act", "an activation where timm's block has none")
        return conv

    def act(self, module: nn.Module | None, name: str) -> None:
        self.activation.see(_activation(module, name), name)

    # The network ---------------------------------------------------------------------

    def read(self, model: nn.Module) -> dict[str, Any]:
        children = dict(model.named_children())
        layout: LayoutName = "resnet"
        view = VIEWS.get(class_name(model))
        if view is not None:
            children, layout = view.view(children), view.layout
        stage_names = _check_layout(model, children)
        stem = self.stem(children)
        blocks_in = stem["channels"][-1]
        stages: list[list[_Block]] = []
        for stage_name in stage_names:
            stage = self.stage(children[stage_name], stage_name, blocks_in)
            stages.append(stage)
            blocks_in = stage[0].out_channels
        if "norm" in children:  # a pre-activation network's last norm
            self.norm_and_act(children["norm"], children.get("act"), ("norm", "act"), blocks_in)
        preactivation = any(block.preact for stage in stages for block in stage)
        if preactivation != ("norm" in children):
            raise NotExpressible(
                "norm",
                "a last norm without pre-activation blocks, or those without it; the "
                "language's pre-activation networks have both",
            )
        head = self.head(model, children, blocks_in, conv=LAYOUTS[layout].conv_classifier)
        data: dict[str, Any] = {"input": {"channels": stem.pop("in_channels")}, "stem": stem}
        pruned = self.pruned(stages)
        data["stages"] = _stages(stages, stage_names, pruned)
        data["stages"]["shortcut_kernel"] = self.shortcut_kernel.value or 1
        data["stages"]["reduce_first"] = self.reduce_first.value or 1
        data["stages"]["scale"] = self.scale.value or 4
        data["stages"]["radix"] = self.radix.value or 2
        data["stages"]["avd"] = self.avd.value or "none"
        if self.sk_widths:
            data["stages"]["selective_kernel"] = self.selective_kernel_settings()
        data["head"] = head
        data["conv_bias"] = bool(self.bias.value)
        norm = self.norm.value
        data["norm"] = {"type": norm[0], **({"groups": norm[1]} if len(norm) > 1 else {})}
        if self.activation.value is not None:  # none where every norm is its own
            data["activation"] = self.activation.value
        data["anti_alias"] = self.anti_alias.value or "none"
        data["init"] = {"zero_init_residual": _zero_init(stages, norm[0])}
        data["layout"] = layout
        data["stages"]["branch_activation"] = bool(self.branch_activation.value)
        data["stages"]["preactivation"] = preactivation
        eps = self.standardization.value
        data["weight_standardization"] = {"eps": eps} if eps is not None else None
        return data

    def selective_kernel_settings(self) -> dict[str, Any]:
        """The reduction and rounding that give every selective kernel its hidden width."""
        pairs = {(channels, hidden) for channels, hidden, _ in self.sk_widths}
        fit = _rounding(pairs, sk_hidden, divisors=[8, 16, 32], reductions=[16, 8])
        if fit:
            reduction, divisor = fit
            split = bool(self.split_input.value)
            return {"reduction": reduction, "divisor": divisor, "split_input": split}
        raise NotExpressible(
            self.sk_widths[0][2],
            "hidden widths that follow no reduction and rounding from 1 to 256 (channels / "
            "reduction, rounded to a multiple of the divisor)",
        )

    def stem(self, children: dict[str, nn.Module]) -> dict[str, Any]:
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
            convs = [self.conv(parts[i], f"conv1.{i}", 3) for i in (0, 3, 6)]
            strides = [conv.stride[0] for conv in convs]
            if strides != [2, 1, 1]:
                raise NotExpressible(
                    "conv1", f"deep stem strides {strides}; the language's are 2, 1, 1"
                )
            for index in (1, 4):
                names = (f"conv1.{index}", f"conv1.{index + 1}")
                channels = convs[index // 3].out_channels
                self.norm_and_act(parts[index], parts[index + 1], names, channels)
            for before, after in zip(convs, convs[1:], strict=False):
                _chained(before, after, "conv1")
            stem = {"type": "deep", "channels": [conv.out_channels for conv in convs]}
            first = convs[0]
        else:
            first = self.conv(conv1, "conv1")
            shape = (first.kernel_size[0], first.stride[0])
            types = {(7, 2): "classic", (3, 1): "cifar"}
            if shape not in types:
                raise NotExpressible(
                    "conv1",
                    f"a {shape[0]}x{shape[0]} stride-{shape[1]} stem conv; the language "
                    "has 7x7 stride 2 (classic) and 3x3 stride 1 (cifar)",
                )
            stem = {"type": types[shape], "channels": [first.out_channels]}
        channels = stem["channels"][-1]
        stem["norm"] = "bn1" in children  # pre-activation leaves it to the first block
        if stem["norm"]:
            act_name = "act1" if "act1" in children else "relu"
            self.norm_and_act(children["bn1"], children.get(act_name), ("bn1", act_name), channels)
        stem["pool"] = self.stem_pool(children.get("maxpool"), channels)
        stem["in_channels"] = first.in_channels
        return stem

    def stem_pool(self, pool: nn.Module | None, channels: int) -> dict[str, Any]:
        if pool is None or type(pool) is nn.Identity:
            return {"type": "none"}
        if type(pool) is nn.AvgPool2d:  # timm's anti-aliasing by average, in place of the max pool
            return {"type": "max", "stride": self.anti_aliasing(pool, "maxpool", channels)}
        parts = list(pool) if type(pool) is nn.Sequential else [pool]
        zero_padded = len(parts) == 2 and _zero_padding(parts[0]) is not None
        if zero_padded:
            padding = _zero_padding(parts[0])
            found = parts[1]
            if type(found) is not nn.MaxPool2d or _side(found.padding) != 0:
                raise NotExpressible(
                    "maxpool", "a zero padding before other than an unpadded max pool"
                )
            kernel, own_stride = _side(found.kernel_size), _side(found.stride)
            if None in (kernel, own_stride) or _side(found.dilation) != 1:
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
            _short(parts[1]) == "BlurPool2d" or type(parts[1]) is nn.AvgPool2d
        ):
            stride = self.anti_aliasing(parts.pop(1), "maxpool.1", channels)
        shift = 0 if stride is None else 1  # the anti-aliasing pool keeps its slot
        if len(parts) == 1 and type(parts[0]) is nn.MaxPool2d:
            found = parts[0]
            sides = [_side(found.kernel_size), _side(found.stride), _side(found.padding)]
            if None in sides or _side(found.dilation) != 1:
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
            conv = self.conv(parts[0], "maxpool.0")
            if conv.in_channels != channels or conv.out_channels != channels or conv.groups != 1:
                raise NotExpressible("maxpool.0", "a pooling conv that changes the channels")
            self.norm_of(parts[1], f"maxpool.{1 + shift}", channels)
            self.act(parts[2], f"maxpool.{2 + shift}")
            return {
                "type": "conv",
                "kernel_size": conv.kernel_size[0],
                "stride": stride or conv.stride[0],
                "padding": conv.padding[0],
            }
        raise NotExpressible(
            "maxpool",
            f"{_short(pool)} as the stem pool; the language has a max pool, a "
            "strided conv, or none, each perhaps anti-aliased",
        )

    def anti_aliasing(self, module: nn.Module, name: str, channels: int) -> int:
        """The stride of an anti-aliasing pool, once its kind is the network's."""
        if type(module) is nn.AvgPool2d:
            kernel, stride, padding = (
                _side(v) for v in (module.kernel_size, module.stride, module.padding)
            )
            if kernel != stride or padding != 0 or module.ceil_mode:
                raise NotExpressible(name, "an average pool other than timm's anti-aliasing one")
            self.anti_alias.see("avg", name)
            return stride
        if _short(module) == "BlurPool2d" and class_name(module).startswith("timm."):
            if module.filt_size != 3 or module.pad_mode != "reflect" or module.channels != channels:
                raise NotExpressible(name, "a blur pool other than timm's 3x3 binomial filter")
            self.anti_alias.see("blur", name)
            return module.stride
        raise NotExpressible(name, f"{_short(module)} where an anti-aliasing pool belongs")

    def stage(self, stage: nn.Module, name: str, in_channels: int) -> list[_Block]:
        if type(stage) is not nn.Sequential or len(stage) == 0:
            raise NotExpressible(
                name, f"{_short(stage)} where a stage (a Sequential of blocks) belongs"
            )
        blocks = []
        for index, block in enumerate(stage):
            blocks.append(self.block(block, f"{name}.{index}", in_channels))
            in_channels = blocks[-1].out_channels
        return blocks

    def block(self, block: nn.Module, name: str, in_channels: int) -> _Block:
        if class_name(block) in RESNETV2_BLOCKS:
            return self.resnetv2_block(block, name, in_channels)
        kind = BLOCKS.get(class_name(block))
        if kind is None:
            reason = (
                f"{_short(block)} is not a block the spec language has (timm's or "
                "torchvision's BasicBlock and Bottleneck, or timm's Res2Net, ResNeSt and "
                "SKNet blocks)"
            )
            raise NotExpressible(name, reason)
        parts = dict(block.named_children())
        if "se_module" in parts:  # the legacy SENet's name for it
            parts["se"] = parts.pop("se_module")
        if kind == "basic":
            self.branch_activation.see(class_name(block) in BRANCH_ACTIVATED, name)
        for part, module in parts.items():
            if part not in BLOCK_PARTS:
                raise NotExpressible(
                    f"{name}.{part}", f"{_short(module)} is not a part of a ResNet block"
                )
        if "drop_block" in parts and type(parts["drop_block"]) is not nn.Identity:
            raise NotExpressible(f"{name}.drop_block", "DropBlock is not in the spec language yet")
        acts = [part for part in ("act1", "act2", "act3", "relu", "act") if part in parts]
        if kind == "resnest" and type(parts.get("act2")) is nn.Identity:
            acts.remove("act2")  # split attention holds its own
        for part in acts:
            self.act(parts[part], f"{name}.{part}")
        takes = None  # the channels the block's first layer takes, where not its conv1's
        if kind == "sk_basic":
            conv1, takes = self.selective_kernel(parts.get("conv1"), f"{name}.conv1")
            conv2 = self.conv_norm_act(parts.get("conv2"), f"{name}.conv2", 3, act=False)
            _chained(conv1, conv2, name)
            self.reduction(conv1, conv2.out_channels, f"{name}.conv1")
            if conv2.stride[0] != 1 or conv2.groups != 1:
                raise NotExpressible(f"{name}.conv2", "a strided or grouped second conv")
            width = out = conv2.out_channels
            aa_stride, stride, stride_on, groups = None, conv1.stride[0], None, 1
            first_dilation, dilation = conv1.dilation[0], conv2.dilation[0]
            last_norm = parts["conv2"].bn
        elif kind == "sk_bottleneck":
            conv1 = self.conv_norm_act(parts.get("conv1"), f"{name}.conv1", 1, act=True)
            conv2, conv2_takes = self.selective_kernel(parts.get("conv2"), f"{name}.conv2")
            conv3 = self.conv_norm_act(parts.get("conv3"), f"{name}.conv3", 1, act=False)
            if conv1.out_channels != conv2_takes:
                raise NotExpressible(name, "convs whose channels do not chain")
            _chained(conv2, conv3, name)
            _expands_by_four(conv3, name)
            self.reduction(conv1, conv2.out_channels, f"{name}.conv1")
            if conv1.stride[0] != 1 or conv3.stride[0] != 1:
                raise NotExpressible(name, "a selective-kernel block strides on its kernel only")
            width, out = conv2.out_channels, conv3.out_channels
            aa_stride, stride = None, conv2.stride[0]
            stride_on = "3x3" if stride > 1 else None
            groups, first_dilation, dilation = conv2.groups, conv2.dilation[0], None
            last_norm = parts["conv3"].bn
        elif kind == "basic":
            conv1 = self.conv(parts.get("conv1"), f"{name}.conv1", 3)
            conv2 = self.conv(parts.get("conv2"), f"{name}.conv2", 3)
            self.norm_of(parts.get("bn1"), f"{name}.bn1", conv1.out_channels)
            self.norm_of(parts.get("bn2"), f"{name}.bn2", conv2.out_channels)
            _chained(conv1, conv2, name)
            self.reduction(conv1, conv2.out_channels, f"{name}.conv1")
            for conv, part in ((conv1, "conv1"), (conv2, "conv2")):
                if conv.groups != 1:
                    raise NotExpressible(f"{name}.{part}", "a grouped conv in a basic block")
            if conv2.stride[0] != 1:
                raise NotExpressible(f"{name}.conv2", "a basic block strides on its first conv")
            width = out = conv2.out_channels
            aa_stride = self.block_anti_aliasing(parts, name, conv1.out_channels)
            stride = conv1.stride[0] * (aa_stride or 1)
            stride_on, groups = None, 1
            first_dilation, dilation = conv1.dilation[0], conv2.dilation[0]
            last_norm = parts["bn2"]
        elif kind == "resnest":
            conv1, conv2, conv3, stride = self.resnest_convs(parts, name)
            width, out = conv2.in_channels, conv3.out_channels
            aa_stride, stride_on = None, "3x3" if stride > 1 else None
            groups = conv2.groups // self.radix.value
            first_dilation, dilation = conv2.dilation[0], None
            last_norm = parts["bn3"]
        elif kind == "res2net":
            conv1, conv2, conv3 = self.res2net_convs(block, parts, name)
            width, out = conv2.out_channels, conv3.out_channels
            aa_stride, stride = None, conv2.stride[0]
            stride_on = "3x3" if stride > 1 else None
            groups, first_dilation, dilation = conv2.groups, conv2.dilation[0], None
            last_norm = parts["bn3"]
        else:
            conv1 = self.conv(parts.get("conv1"), f"{name}.conv1", 1)
            conv2 = self.conv(parts.get("conv2"), f"{name}.conv2", 3)
            conv3 = self.conv(parts.get("conv3"), f"{name}.conv3", 1)
            for index, conv in enumerate((conv1, conv2, conv3), start=1):
                self.norm_of(parts.get(f"bn{index}"), f"{name}.bn{index}", conv.out_channels)
            _chained(conv1, conv2, name)
            _chained(conv2, conv3, name)
            # A bottleneck whose widths follow no formula may be a pruned network's: the
            # network decides, once every block is read.
            self.bottleneck_convs.append((conv1, conv2, conv3, name))
            if conv3.stride[0] != 1 or (conv1.stride[0] > 1 and conv2.stride[0] > 1):
                raise NotExpressible(name, "a bottleneck strides once, on its first 1x1 or its 3x3")
            width, out = conv2.out_channels, conv3.out_channels
            aa_stride = self.block_anti_aliasing(parts, name, width)
            stride = conv1.stride[0] * conv2.stride[0] * (aa_stride or 1)
            stride_on = ("1x1" if conv1.stride[0] > 1 else "3x3") if stride > 1 else None
            groups, first_dilation, dilation = conv2.groups, conv2.dilation[0], None
            last_norm = parts["bn3"]
        takes = takes or conv1.in_channels
        if takes != in_channels:
            message = f"takes {takes} channels where {in_channels} arrive"
            raise NotExpressible(f"{name}.conv1", message)
        shortcut, shortcut_norm, shows_dilation = self.shortcut(
            parts.get("downsample"), f"{name}.downsample", in_channels, out, stride
        )
        return _Block(
            kind=kind,
            in_channels=in_channels,
            first_width=conv1.out_channels,
            width=width,
            out_channels=out,
            stride=stride,
            stride_on=stride_on,
            groups=groups,
            first_dilation=first_dilation,
            dilation=dilation,
            shortcut=shortcut,
            shortcut_norm=shortcut_norm,
            dilates=shows_dilation or aa_stride == 1,
            attention=self.attention(parts.get("se"), f"{name}.se"),
            drop_path=_drop_rate(parts.get("drop_path"), f"{name}.drop_path"),
            last_norm=last_norm,
        )

    def resnetv2_block(self, block: nn.Module, name: str, in_channels: int) -> _Block:
        """resnetv2.py's blocks: pre-activation ones, each norm (holding its activation)
        before its conv, or its post-activation bottleneck."""
        kind, preact = RESNETV2_BLOCKS[class_name(block)]
        parts = dict(block.named_children())
        count = 2 if kind == "basic" else 3
        known = {f"{part}{i}" for part in ("conv", "norm") for i in range(1, count + 1)}
        known |= {"downsample", "drop_path"} | ({"act3"} if not preact else set())
        for part, module in parts.items():
            if part not in known:
                raise NotExpressible(
                    f"{name}.{part}", f"{_short(module)} is not a part of a ResNet block"
                )
        kernels = (3, 3) if kind == "basic" else (1, 3, 1)
        convs = [
            self.conv(parts.get(f"conv{i}"), f"{name}.conv{i}", kernel)
            for i, kernel in enumerate(kernels, start=1)
        ]
        for before, after in itertools.pairwise(convs):
            _chained(before, after, name)
        for index, conv in enumerate(convs, start=1):
            norm, where = parts.get(f"norm{index}"), f"{name}.norm{index}"
            if preact or index < count:  # a norm holding its activation
                act = getattr(norm, "act", None)
                channels = conv.in_channels if preact else conv.out_channels
                self.norm_and_act(norm, act, (where, f"{where}.act"), channels)
            else:
                self.norm_of(norm, where, conv.out_channels)
                self.act(parts.get("act3"), f"{name}.act3")
        self.preactivation.see(preact, name)
        first, middle, last = convs[0], convs[-2], convs[-1]
        if kind == "bottleneck":
            self.bottleneck_convs.append((convs[0], convs[1], convs[2], name))
        if last.stride[0] != 1 or (kind == "bottleneck" and first.stride[0] > 1):
            raise NotExpressible(name, "a resnetv2 block strides on its first 3x3 only")
        if kind == "basic":
            self.reduction(first, last.out_channels, f"{name}.conv1")
        stride = middle.stride[0] if kind == "bottleneck" else first.stride[0]
        if first.in_channels != in_channels:
            message = f"takes {first.in_channels} channels where {in_channels} arrive"
            raise NotExpressible(f"{name}.conv1", message)
        shortcut, shortcut_norm, shows_dilation = self.shortcut(
            _resnetv2_shortcut(parts.get("downsample"), f"{name}.downsample"),
            f"{name}.downsample",
            in_channels,
            last.out_channels,
            stride,
        )
        strided = middle if kind == "bottleneck" else first
        return _Block(
            kind=kind,
            in_channels=in_channels,
            first_width=first.out_channels,
            width=middle.out_channels if kind == "bottleneck" else last.out_channels,
            out_channels=last.out_channels,
            stride=stride,
            stride_on="3x3" if stride > 1 and kind == "bottleneck" else None,
            groups=strided.groups,
            first_dilation=strided.dilation[0],
            dilation=last.dilation[0] if kind == "basic" else None,
            shortcut=shortcut,
            shortcut_norm=shortcut_norm,
            dilates=shows_dilation,
            attention=None,
            drop_path=_drop_rate(parts.get("drop_path"), f"{name}.drop_path"),
            last_norm=last if preact else parts[f"norm{count}"],
            preact=preact,
        )

    def res2net_convs(
        self, block: nn.Module, parts: dict[str, nn.Module], name: str
    ) -> tuple[nn.Conv2d, nn.Conv2d, nn.Conv2d]:
        """Res2Net's 1x1, its first split conv (all of them alike) and its last 1x1."""
        convs, bns = parts.get("convs"), parts.get("bns")
        if not isinstance(convs, nn.ModuleList) or not isinstance(bns, nn.ModuleList):
            raise NotExpressible(name, "a Res2Net block without its convs and bns lists")
        scale = block.scale
        conv1 = self.conv(parts.get("conv1"), f"{name}.conv1", 1)
        splits = [self.conv(conv, f"{name}.convs.{i}", 3) for i, conv in enumerate(convs)]
        conv3 = self.conv(parts.get("conv3"), f"{name}.conv3", 1)
        first = splits[0]
        width = first.out_channels
        if len(splits) != max(1, scale - 1) or any(
            _layer(conv) != _layer(first) for conv in splits
        ):
            raise NotExpressible(f"{name}.convs", "split convs that differ from one another")
        if conv1.out_channels != width * scale or conv3.in_channels != width * scale:
            message = f"{conv1.out_channels} channels where {scale} splits of {width} belong"
            raise NotExpressible(f"{name}.conv1", message)
        self.scale.see(scale, name)
        self.norm_of(parts.get("bn1"), f"{name}.bn1", conv1.out_channels)
        for index, norm in enumerate(bns):
            self.norm_of(norm, f"{name}.bns.{index}", width)
        self.norm_of(parts.get("bn3"), f"{name}.bn3", conv3.out_channels)
        if conv1.stride[0] != 1 or conv3.stride[0] != 1:
            raise NotExpressible(name, "a Res2Net block strides on its split convs only")
        _expands_by_four(conv3, name)
        return conv1, first, conv3

    def resnest_convs(
        self, parts: dict[str, nn.Module], name: str
    ) -> tuple[nn.Conv2d, nn.Conv2d, nn.Conv2d, int]:
        """ResNeSt's 1x1, its split attention's 3x3, its last 1x1 and the block's stride."""
        conv1 = self.conv(parts.get("conv1"), f"{name}.conv1", 1)
        attention = parts.get("conv2")
        if class_name(attention) != SPLIT_ATTENTION:
            found = _short(attention) if attention is not None else "nothing"
            raise NotExpressible(f"{name}.conv2", f"{found} where split attention belongs")
        conv2 = self.split_attention(attention, f"{name}.conv2")
        conv3 = self.conv(parts.get("conv3"), f"{name}.conv3", 1)
        self.norm_of(parts.get("bn1"), f"{name}.bn1", conv1.out_channels)
        self.norm_of(parts.get("bn3"), f"{name}.bn3", conv3.out_channels)
        if conv1.out_channels != conv2.in_channels or conv3.in_channels != conv2.in_channels:
            raise NotExpressible(name, "convs whose channels do not follow one another")
        if conv1.stride[0] != 1 or conv3.stride[0] != 1:
            raise NotExpressible(name, "a ResNeSt block strides on its split attention only")
        stride = conv2.stride[0]
        pools = {part: parts.get(part) for part in ("avd_first", "avd_last")}
        placed = [part for part, pool in pools.items() if pool is not None]
        if placed:
            (part,) = placed
            pool = pools[part]
            if _layer(pool) != ("average pool", 3, _side(pool.stride), 1, False, True):
                raise NotExpressible(f"{name}.{part}", "a pool other than ResNeSt's 3x3 average")
            if stride != 1:
                raise NotExpressible(f"{name}.{part}", "a pool beside a strided split attention")
            stride = _side(pool.stride)
            self.avd.see("before" if part == "avd_first" else "after", f"{name}.{part}")
        return conv1, conv2, conv3, stride

    def split_attention(self, module: nn.Module, name: str) -> nn.Conv2d:
        """Split attention as the language builds it; its 3x3 conv, read as one of `groups`
        groups over the input (the candidates' conv has groups x radix)."""
        radix, conv = module.radix, self.conv(module.conv, f"{name}.conv", 3)
        width = conv.in_channels
        groups = conv.groups // radix if conv.groups % radix == 0 else 0
        fc1, fc2 = module.fc1, module.fc2
        plain = (
            groups > 0
            and conv.out_channels == width * radix
            and type(module.act0) is nn.ReLU
            and type(module.act1) is nn.ReLU
            and type(module.drop) is nn.Identity
            and _layer(fc1) == _pointwise(width, fc1.out_channels, groups, bias=True)
            and fc1.out_channels == split_attention_hidden(width, radix)
            and _layer(fc2) == _pointwise(fc1.out_channels, width * radix, groups, bias=True)
        )
        if not plain:
            raise NotExpressible(name, "a split attention other than ResNeSt's")
        self.radix.see(radix, name)
        self.norm_of(module.bn0, f"{name}.bn0", conv.out_channels)
        self.norm_of(module.bn1, f"{name}.bn1", fc1.out_channels)
        return conv

    def selective_kernel(self, module: nn.Module | None, name: str) -> tuple[nn.Conv2d, int]:
        """timm's selective kernel as the language builds it: its first path's conv (the
        second is the same but twice as dilated), and the channels it takes."""
        if class_name(module) != SELECTIVE_KERNEL:
            found = _short(module) if module is not None else "nothing"
            raise NotExpressible(name, f"{found} where a selective kernel belongs")
        paths = list(module.paths)
        if len(paths) != 2:
            raise NotExpressible(f"{name}.paths", "a selective kernel of other than two paths")
        first, second = (
            self.conv_norm_act(path, f"{name}.paths.{index}", 3, act=True)
            for index, path in enumerate(paths)
        )
        self.split_input.see(bool(module.split_input), name)
        takes = first.in_channels * (2 if module.split_input else 1)
        if _layer(second) != _layer(
            nn.Conv2d(
                first.in_channels,
                first.out_channels,
                3,
                first.stride,
                2 * first.padding[0],
                2 * first.dilation[0],
                first.groups,
                first.bias is not None,
                device="meta",
            )
        ):
            message = "a second path other than the first dilated twice as far"
            raise NotExpressible(f"{name}.paths.1", message)
        attention, where = module.attn, f"{name}.attn"
        channels = first.out_channels
        hidden = getattr(getattr(attention, "fc_reduce", None), "out_channels", 0)
        plain = (
            class_name(attention) == SELECTIVE_KERNEL_ATTENTION
            and attention.num_paths == 2
            and type(attention.act) is nn.ReLU
            and _layer(attention.fc_reduce) == _pointwise(channels, hidden, 1, bias=False)
            and _layer(attention.fc_select) == _pointwise(hidden, 2 * channels, 1, bias=False)
        )
        if not plain:
            raise NotExpressible(where, "a selective-kernel attention other than SKNet's")
        # timm's attention norm is a batch norm whatever the network's, frozen with it.
        frozen = self.norm.value == ("frozen_batch",)
        if _norm_kind(attention.bn, f"{where}.bn") != ("frozen_batch" if frozen else "batch",):
            message = "a norm other than the batch norm (frozen with the network's) timm has"
            raise NotExpressible(f"{where}.bn", message)
        self.sk_widths.append((channels, hidden, where))
        return first, takes

    def pruned(self, stages: list[list[_Block]]) -> bool:
        """Whether the bottlenecks' widths are a pruned network's: they follow no
        reduction, or a stage's output channels are no multiple of 4. Raises where that
        is so but the network is not all post-activation bottlenecks."""
        try:
            for conv1, conv2, conv3, name in self.bottleneck_convs:
                _expands_by_four(conv3, name)
                self.reduction(conv1, conv2.out_channels, f"{name}.conv1")
        except NotExpressible:
            if any(b.kind != "bottleneck" or b.preact for stage in stages for b in stage):
                raise
            self.reduce_first = _Setting("first-conv reduction")
            return True
        return False

    def reduction(self, first: nn.Conv2d, width: int, name: str) -> None:
        """How much a block's first conv narrows its inner width, as timm's
        block_reduce_first does (width // reduce_first)."""
        fits = [r for r in range(1, 9) if width // r == first.out_channels]
        if not fits:
            raise NotExpressible(
                name,
                f"{first.out_channels} channels where the inner width is {width}; the "
                "language's first conv has the inner width divided by 1 to 8",
            )
        self.reduce_first.see(fits[0], name)

    def block_anti_aliasing(
        self, parts: dict[str, nn.Module], name: str, channels: int
    ) -> int | None:
        """The stride a block's anti-aliasing pool takes from its 3x3 conv; None without one."""
        pool = parts.get("aa")
        if pool is None or type(pool) is nn.Identity:
            return None
        return self.anti_aliasing(pool, f"{name}.aa", channels)

    def shortcut(
        self, module: nn.Module | None, name: str, in_channels: int, out: int, stride: int
    ) -> tuple[str, bool | None, bool]:
        if module is None or type(module) is nn.Identity:
            return "identity", None, False
        if type(module) is not nn.Sequential:
            raise NotExpressible(
                name, f"{_short(module)} as a shortcut; the language's is a Sequential"
            )
        parts = list(module)
        pool = None
        if parts and not isinstance(parts[0], nn.Conv2d):
            pool, parts = parts[0], parts[1:]
        kind = "projection" if pool is None else "avg_down"
        offset = 0 if pool is None else 1
        if not parts or len(parts) > 2:
            raise NotExpressible(
                name, "a shortcut that is not a conv, a norm and perhaps a pool before"
            )
        conv = self.conv(parts[0], f"{name}.{offset}")
        if conv.kernel_size[0] not in (1, 3) or (conv.kernel_size[0] == 3 and pool is not None):
            raise NotExpressible(
                f"{name}.{offset}",
                f"a {conv.kernel_size[0]}x{conv.kernel_size[0]} shortcut conv; the language's "
                "is a 1x1, or a 3x3 on a strided or dilated projection",
            )
        if conv.kernel_size[0] == 3:
            self.shortcut_kernel.see(3, f"{name}.{offset}")
        if conv.in_channels != in_channels or conv.out_channels != out:
            raise NotExpressible(
                f"{name}.{offset}", "a shortcut conv that does not match its block"
            )
        has_norm = len(parts) == 2
        if has_norm:
            self.norm_of(parts[1], f"{name}.{offset + 1}", out)
        # A 3x3 projection at stride 1 shows its stage dilated, as a same-padded pool does.
        dilated = conv.kernel_size[0] == 3 and stride == 1
        same_pool = False
        if pool is not None:
            same_pool = class_name(pool) == "timm.layers.pool2d_same.AvgPool2dSame"
            if not (type(pool) in (nn.AvgPool2d, nn.Identity) or same_pool):
                raise NotExpressible(
                    f"{name}.0",
                    f"{_short(pool)} before a shortcut conv; the language has an average pool",
                )
        return kind, has_norm, same_pool or dilated

    def attention(self, module: nn.Module | None, name: str) -> tuple[str, int] | None:
        if module is None or type(module) is nn.Identity:
            return None
        kind = class_name(module)
        if kind == LEGACY_SE:
            fc1, fc2 = module.fc1, module.fc2
            plain = (
                type(module.relu) is nn.ReLU
                and type(module.sigmoid) is nn.Sigmoid
                and fc1.bias is not None
                and fc2.bias is not None
            )
            if not plain:
                raise NotExpressible(name, "a squeeze-and-excitation other than the paper's")
            return "se", fc1.out_channels
        if kind == SE:
            fc1, fc2 = module.fc1, module.fc2
            plain = (
                type(module.bn) is nn.Identity
                and type(module.act) is nn.ReLU
                and class_name(module.gate) in SIGMOIDS
                and not module.add_maxpool
                and fc1.bias is not None
                and fc2.bias is not None
            )
            if not plain:
                raise NotExpressible(
                    name, "a squeeze-and-excitation other than 1x1 conv, ReLU, 1x1 conv, sigmoid"
                )
            return "se", fc1.out_channels
        if kind == ECA:
            plain = (
                module.conv2 is None and module.act is None and class_name(module.gate) in SIGMOIDS
            )
            conv = module.conv
            if (
                not plain
                or conv.bias is not None
                or conv.padding[0] != (conv.kernel_size[0] - 1) // 2
            ):
                raise NotExpressible(name, "an efficient channel attention other than the paper's")
            return "eca", conv.kernel_size[0]
        raise NotExpressible(
            name, f"{_short(module)} is an attention the spec language lacks (se, eca)"
        )

    def head(
        self, model: nn.Module, children: dict[str, nn.Module], features: int, conv: bool
    ) -> dict[str, Any]:
        """The pool, the dropout and the classifier: a Linear, or with `conv` a 1x1 conv
        with a bias (BiT's)."""
        pool_name = "global_pool" if "global_pool" in children else "avgpool"
        pool = children.get(pool_name)
        if class_name(pool) == "timm.layers.adaptive_avgmax_pool.SelectAdaptivePool2d":
            average = pool.pool_type in ("avg", "fast", "fastavg") and not pool.is_identity()
        else:
            average = type(pool) is nn.AdaptiveAvgPool2d and _side(pool.output_size) == 1
        if not average:
            raise NotExpressible(
                pool_name, f"{_describe_pool(pool)}; the language pools by a global average"
            )
        fc = children.get("fc")
        if type(fc) is nn.Identity:
            num_classes = 0
        elif conv and _is_classifier_conv(fc, features):
            num_classes = fc.out_channels
        elif not conv and _is_linear(fc) and fc.bias is not None and fc.in_features == features:
            num_classes = fc.out_features
            if num_classes == 0:
                raise NotExpressible(
                    "fc",
                    "a classifier with no outputs; a spec leaves the classifier out with "
                    "num_classes: 0, as timm does",
                )
        else:
            kind = "1x1 conv" if conv else "Linear"
            raise NotExpressible(
                "fc", f"{_short(fc)} where a {kind} classifier on {features} features belongs"
            )
        return {"num_classes": num_classes, "dropout": float(getattr(model, "drop_rate", 0.0))}


def read_model(model: nn.Module) -> dict[str, Any]:
    """Spec data (all but name, description and reference) of a ResNet's module tree."""
    try:
        return _Reader().read(model)
    except NotExpressible as error:
        view = VIEWS.get(class_name(model))
        if view is None:
            raise
        name = error.module
        for pattern, original in view.names:
            name = re.sub(pattern, original, name)
        raise NotExpressible(name, error.reason) from None


@dataclass(frozen=True)
class _View:
    """A family whose tree the reader sees under resnet.py's names: its layout, the view
    of its children, and how the view's names read back in its own tree (for errors)."""

    layout: LayoutName
    view: Callable[[dict[str, nn.Module]], dict[str, nn.Module]]
    names: list[tuple[str, str | Callable[[re.Match[str]], str]]]


def _legacy_senet_view(children: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """A legacy SENet's parts under resnet.py's names: its layer0 as conv1 (a deep stem's
    convs, norms and activations as a Sequential, as timm nests them), bn1 and act1; its
    pool0 as maxpool, its last_linear as fc."""
    view = dict(children)
    stem = view.pop("layer0", None)
    parts = dict(stem.named_children()) if isinstance(stem, nn.Sequential) else {}
    count = sum(1 for part in parts if part.startswith("conv"))
    order = [f"{kind}{index}" for index in range(1, count + 1) for kind in ("conv", "bn", "relu")]
    if count not in (1, 3) or list(parts) != order:
        raise NotExpressible("layer0", "a stem other than one 7x7 conv or three 3x3 convs")
    if count == 1:
        view.update(conv1=parts["conv1"], bn1=parts["bn1"], act1=parts["relu1"])
    else:
        inner = nn.Sequential(*(parts[part] for part in order[:7]))
        view.update(conv1=inner, bn1=parts["bn3"], act1=parts["relu3"])
    renames = {"pool0": "maxpool", "last_linear": "fc"}
    return {renames.get(name, name): module for name, module in view.items()}


def _resnetv2_view(children: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """A ResNetV2's parts under resnet.py's names: its stem's convs as conv1 (a deep
    stem's as a Sequential of conv, norm, activation, ...; each norm holds its
    activation), a last norm as bn1, its pool (after a zero padding, perhaps) as
    maxpool; each stage's blocks as layerN, its head's pool and classifier as
    global_pool and fc."""
    view = dict(children)
    stem = view.pop("stem", None)
    parts = dict(stem.named_children()) if isinstance(stem, nn.Sequential) else {}
    pool = [parts.pop(name) for name in ("pad", "pool") if name in parts]
    deep = "conv1" in parts
    order = ["conv1", "norm1", "conv2", "norm2", "conv3"] if deep else ["conv"]
    norm = "norm3" if deep else "norm"
    if list(parts) not in (order, [*order, norm]):
        raise NotExpressible("stem", "a stem other than one 7x7 conv or three 3x3 convs")
    if deep:
        modules = [parts["conv1"], parts["norm1"], getattr(parts["norm1"], "act", None)]
        modules += [parts["conv2"], parts["norm2"], getattr(parts["norm2"], "act", None)]
        view["conv1"] = nn.Sequential(
            *(m if m is not None else nn.Identity() for m in modules), parts["conv3"]
        )
    else:
        view["conv1"] = parts["conv"]
    if norm in parts:
        view.update(bn1=parts[norm], act1=getattr(parts[norm], "act", None))
    view["maxpool"] = nn.Sequential(*pool) if len(pool) > 1 else pool[0] if pool else None
    stages = view.pop("stages", None)
    for index, stage in enumerate(stages.children() if stages is not None else ()):
        view[f"layer{index + 1}"] = getattr(stage, "blocks", stage)
    if "norm" in view:
        if type(view["norm"]) is nn.Identity:
            del view["norm"]
        else:
            view["act"] = getattr(view["norm"], "act", None)
    head = view.pop("head", None)
    view.update(global_pool=getattr(head, "global_pool", None), fc=getattr(head, "fc", None))
    return {name: module for name, module in view.items() if module is not None}


def _resnetv2_shortcut(module: nn.Module | None, name: str) -> nn.Module | None:
    """resnetv2.py's shortcut modules as the Sequential of resnet.py: the pool (an
    empty slot where it does not pool), the conv, the norm where it has one."""
    if module is None:
        return None
    parts = RESNETV2_SHORTCUTS.get(class_name(module))
    if parts is None:
        raise NotExpressible(name, f"{_short(module)} as a shortcut")
    modules = [getattr(module, part) for part in parts]
    if type(modules[-1]) is nn.Identity:
        modules.pop()
    return nn.Sequential(*modules)


VIEWS = {
    LEGACY_SENET: _View(
        "legacy_senet",
        _legacy_senet_view,
        [
            (r"^conv1(\.\d)?$", "layer0"),
            (r"^bn1$", "layer0"),
            (r"^maxpool", "pool0"),
            (r"^fc$", "last_linear"),
        ],
    ),
    RESNETV2: _View(
        "resnetv2",
        _resnetv2_view,
        [
            (r"^layer(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks."),
            (r"^conv1\.[0-6]", "stem"),
            (r"^conv1$", "stem.conv"),
            (r"^bn1$", "stem"),
            (r"^maxpool", "stem.pool"),
            (r"^(global_pool|fc)", r"head.\1"),
        ],
    ),
}


def _check_layout(model: nn.Module, children: dict[str, nn.Module]) -> list[str]:
    """The names of the stages, once every child is a part of the language's layout."""
    stage_names = []
    for name, module in children.items():
        stage = re.fullmatch(r"layer(\d+)", name)
        if stage and int(stage.group(1)) == len(stage_names) + 1:
            stage_names.append(name)
        elif name not in NETWORK_PARTS:
            raise NotExpressible(
                name,
                f"{_short(module)} is not a part of the ResNet layout the spec language "
                f"describes ({LAYOUT})",
            )
    if class_name(model) not in NETWORKS:
        raise NotExpressible(
            "",
            f"{_short(model)} is not timm's or torchvision's ResNet, whose forward the spec "
            "language follows",
        )
    if not 1 <= len(stage_names) <= 8:
        raise NotExpressible("", f"{len(stage_names)} stages; the language has 1 to 8")
    return stage_names


def _stages(stages: list[list[_Block]], names: list[str], pruned: bool) -> dict[str, Any]:
    firsts = [stage[0] for stage in stages]
    kinds = [block.kind for block in firsts]
    for stage, name in zip(stages, names, strict=True):
        for index, block in enumerate(stage[1:], start=1):
            where = f"{name}.{index}"
            if block.kind != stage[0].kind:
                raise NotExpressible(
                    where, "a stage that mixes block kinds; the language has one per stage"
                )
            if block.stride != 1:
                raise NotExpressible(where, "a stride after a stage's first block")
    widths = [block.out_channels // EXPANSION[block.kind] for block in firsts]
    if pruned:  # the unpruned widths are the defaults the attention's sizes follow
        widths = [64 * 2**index for index in range(len(stages))]
    data: dict[str, Any] = {
        "block": kinds[0] if len(set(kinds)) == 1 else kinds,
        "depths": [len(stage) for stage in stages],
        "widths": widths,
        "strides": [block.stride for block in firsts],
        "dilations": _dilations(stages),
    }
    data["drop_path"], data["drop_path_float32"] = _drop_path(stages, names)
    bottlenecks = [(b, w) for b, w in _every_block(stages, names) if b.kind not in BASIC_KINDS]
    placements = {b.stride_on for stage in stages for b in stage if b.stride_on}
    if len(placements) > 1:
        raise NotExpressible(
            names[0], "bottlenecks that stride on the 1x1 in one stage and the 3x3 in another"
        )
    data["stride_on"] = placements.pop() if placements else "3x3"
    data.update(_shortcuts(stages, names))
    if pruned:
        data["pruned_channels"] = [block.out_channels for block in firsts]
        data["pruned_widths"] = [[[b.first_width, b.width] for b in stage] for stage in stages]
        data["groups"] = firsts[0].groups
    elif bottlenecks:
        data.update(_grouping(bottlenecks, any(kind in BASIC_KINDS for kind in kinds)))
    data["attention"] = _attention(stages, names)
    return data


def _every_block(stages: list[list[_Block]], names: list[str]) -> list[tuple[_Block, str]]:
    """Every block with its module name, in order."""
    return [
        (block, f"{name}.{index}")
        for stage, name in zip(stages, names, strict=True)
        for index, block in enumerate(stage)
    ]


def _shortcuts(stages: list[list[_Block]], names: list[str]) -> dict[str, Any]:
    every = _every_block(stages, names)
    later = [(block, where) for block, where in every if not where.endswith(".0")]
    if any(block.shortcut != "identity" for block, _ in later):
        kind = "projection_all"
        for block, where in every:
            if block.shortcut != "projection":
                raise NotExpressible(
                    f"{where}.downsample",
                    "a block without a projection where others after a stage's first have "
                    "one; the language projects on all of those or none",
                )
    else:
        kinds = {block.shortcut for block, _ in every} - {"identity"}
        if len(kinds) > 1:
            raise NotExpressible(names[0], "stages with different kinds of shortcut")
        kind = kinds.pop() if kinds else "projection"
        for block, where in every:
            keeps = block.stride == 1 and block.in_channels == block.out_channels
            if keeps and block.shortcut != "identity":
                raise NotExpressible(
                    f"{where}.downsample",
                    "a projection on a block that keeps its shape; the language projects "
                    "where the shape changes, or on every block",
                )
    norms = {block.shortcut_norm for block, _ in every if block.shortcut_norm is not None}
    if len(norms) > 1:
        raise NotExpressible(names[0], "shortcuts with a norm and shortcuts without one")
    return {"shortcut": kind, "shortcut_norm": norms.pop() if norms else True}


def _grouping(bottlenecks: list[tuple[_Block, str]], mixed: bool) -> dict[str, int]:
    """groups and width_per_group, as `bottleneck_width` turns them into inner widths."""
    groups = {block.groups for block, _ in bottlenecks}
    where = f"{bottlenecks[0][1]}.conv2"
    if len(groups) > 1:
        raise NotExpressible(where, "stages with different group counts")
    (count,) = groups
    pairs = [(block.out_channels // 4, block.width) for block, _ in bottlenecks]
    fits = [
        per_group
        for per_group in (64, *range(1, 4097))
        if all(bottleneck_width(base, per_group, count) == inner for base, inner in pairs)
    ]
    if not fits:
        raise NotExpressible(
            where,
            "inner widths that follow no width_per_group: the language's bottleneck width "
            "is floor(width * width_per_group / 64) * groups",
        )
    if mixed and (count, fits[0]) != (1, 64):
        raise NotExpressible(where, "grouped or widened bottlenecks beside basic blocks")
    return {"groups": count, "width_per_group": fits[0]}


def _dilations(stages: list[list[_Block]]) -> list[int]:
    """Each stage's dilation, from its later blocks and the next stage's first block.

    A stage whose own dilation appears nowhere (one bottleneck, last) keeps the previous
    one, unless its first block shows it dilated further.
    """
    known: list[int | None] = []
    for stage in stages:
        seen = [b.first_dilation for b in stage[1:]] + [b.dilation for b in stage if b.dilation]
        known.append(seen[0] if seen else None)
    for index, stage in enumerate(stages[1:], start=1):
        if known[index - 1] is None:
            known[index - 1] = stage[0].first_dilation
    dilations = []
    previous = 1
    for stage, value in zip(stages, known, strict=True):
        if value is None:
            value = previous * 2 if stage[0].dilates else previous  # as timm doubles it
        dilations.append(value)
        previous = value
    return dilations


def _drop_path(stages: list[list[_Block]], names: list[str]) -> tuple[float, bool]:
    """The rate stochastic depth rises to, and whether the rates are spread in float32:
    as `drop_path_rates` spreads them, exactly, or as timm's resnetv2 does, by a float32
    torch.linspace."""
    every = _every_block(stages, names)
    rates = [block.drop_path for block, _ in every]
    steps = max(len(rates) - 1, 1)
    # The last block's rate may be the rate rounded: 0.1 * 3 / 3 is 0.10000000000000002.
    candidates = [rates[-1], *(rate * steps / index for index, rate in enumerate(rates) if index)]
    for largest in candidates:
        if drop_path_rates(largest, len(rates)) == rates:
            return largest, False
    nominal = float(f"{rates[-1]:.7g}")  # 0.10000000149011612, a float32's 0.1, is 0.1
    if torch.linspace(0, nominal, len(rates)).tolist() == rates:
        return nominal, True
    expected = drop_path_rates(rates[-1], len(rates))
    where = next(
        f"{w}.drop_path" for (b, w), e in zip(every, expected, strict=True) if b.drop_path != e
    )
    raise NotExpressible(
        where,
        "drop rates that do not rise linearly from 0 at the first block to the last "
        f"block's {rates[-1]}, as the language's stochastic depth does",
    )


def _attention(stages: list[list[_Block]], names: list[str]) -> dict[str, Any]:
    every = _every_block(stages, names)
    kinds = {block.attention[0] if block.attention else "none" for block, _ in every}
    where = f"{every[0][1]}.se"
    if len(kinds) > 1:
        raise NotExpressible(where, "blocks with different attention; the language has one for all")
    (kind,) = kinds
    if kind != "se":
        return {"type": kind}
    pairs = {(block.out_channels, block.attention[1]) for block, _ in every}
    fit = _rounding(pairs, se_hidden, divisors=[8, 1], reductions=[16])
    if fit:
        reduction, divisor = fit
        return {"type": "se", "reduction": reduction, "divisor": divisor}
    raise NotExpressible(
        where,
        "hidden widths that follow no reduction and divisor from 1 to 256 (channels / "
        "reduction, rounded to a multiple of the divisor)",
    )


def _rounding(
    pairs: set[tuple[int, int]],
    width: Callable[[int, int, int], int],
    divisors: list[int],
    reductions: list[int],
) -> tuple[int, int] | None:
    """The reduction and divisor, each from 1 to 256 with the given ones tried first, for
    which `width(channels, reduction, divisor)` is every (channels, hidden) pair's hidden."""
    for divisor in dict.fromkeys([*divisors, *range(1, 257)]):
        for reduction in dict.fromkeys([*reductions, *range(1, 257)]):
            if all(width(channels, reduction, divisor) == hidden for channels, hidden in pairs):
                return reduction, divisor
    return None


def _zero_init(stages: list[list[_Block]], norm: str) -> bool:
    """Whether each block's last norm starts at zero. A frozen norm never does in a spec:
    it would silence its branch for good (it only ever holds a checkpoint's values)."""
    weights = [getattr(block.last_norm, "weight", None) for stage in stages for block in stage]
    if norm == "frozen_batch" or any(w is None or w.is_meta for w in weights):
        return False
    return all(not torch.any(weight) for weight in weights)


def _expands_by_four(last: nn.Conv2d, block: str) -> None:
    if last.out_channels % 4:
        raise NotExpressible(
            f"{block}.conv3",
            f"{last.out_channels} channels out; a bottleneck expands a stage's width by 4",
        )


def _is_classifier_conv(module: nn.Module | None, features: int) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.kernel_size == (1, 1)
        and module.stride == (1, 1)
        and module.groups == 1
        and module.bias is not None
        and module.in_channels == features
    )


def _zero_padding(module: nn.Module) -> int | None:
    """The pixels a zero padding adds on every side; None for anything else."""
    if type(module) not in (nn.ConstantPad2d, nn.ZeroPad2d) or module.value != 0:
        return None
    sides = set(module.padding)
    return sides.pop() if len(sides) == 1 else None


def _is_linear(module: nn.Module) -> bool:
    """nn.Linear, or timm's subclass of it (same computation; pruned networks' heads)."""
    return type(module) is nn.Linear or class_name(module) == "timm.layers.linear.Linear"


def _drop_rate(module: nn.Module | None, name: str) -> float:
    if module is None or type(module) is nn.Identity:
        return 0.0
    if _short(module) == "DropPath" and hasattr(module, "drop_prob"):
        if not getattr(module, "scale_by_keep", True):
            raise NotExpressible(name, "stochastic depth without rescaling the kept samples")
        return float(module.drop_prob)
    raise NotExpressible(name, f"{_short(module)} where stochastic depth belongs")


def _chained(before: nn.Conv2d, after: nn.Conv2d, name: str) -> None:
    if before.out_channels != after.in_channels:
        raise NotExpressible(name, "convs whose channels do not chain")


def _side(value: Any) -> int | None:
    """One number for a square setting: 3 or (3, 3); None when the sides differ."""
    if isinstance(value, int):
        return value
    values = set(value)
    return values.pop() if len(values) == 1 else None


def _norm_kind(module: nn.Module | None, name: str, with_act: bool = False) -> tuple[str, ...]:
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
            f"{_short(module)} where a norm without an activation belongs; the language's "
            "EvoNorm-S0 and FRN go where every norm activates (pre-activation blocks)",
        )
    if with_act and kind in NORM_ACTIVATIONS:
        if getattr(module, NORM_ACTIVATIONS[kind]) is None:
            raise NotExpressible(name, f"{_short(module)} without its activation")
        if kind == EVONORM_S0 and module.eps == EPS:
            return ("evonorm_s0", module.groups)
        if kind == FILTER_RESPONSE_NORM and module.eps == EPS and module.rms:
            return ("filter_response",)
    if frozen and module.eps == EPS:
        return ("frozen_batch",)
    found = _short(module) if module is not None else "nothing"
    raise NotExpressible(
        name,
        f"{found} where a norm belongs; the language has BatchNorm2d, GroupNorm, a "
        "frozen batch norm, EvoNorm-S0 and FRN with TLU, with eps 1e-5",
    )


def _norm_channels(module: nn.Module) -> int:
    if isinstance(module, nn.GroupNorm):
        return module.num_channels
    return module.weight.shape[0]


def _activation(module: nn.Module | None, name: str) -> str:
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
    found = _short(module) if module is not None else "nothing"
    raise NotExpressible(
        name,
        f"{found} is not an activation the spec language has (relu, silu, gelu, "
        "leaky_relu with slope 0.01)",
    )


def _describe_pool(pool: nn.Module | None) -> str:
    if pool is None:
        return "no global pool"
    kind = getattr(pool, "pool_type", None)
    return f"{_short(pool)} with pool type {kind!r}" if kind is not None else _short(pool)


# Holding the generated model to the reference --------------------------------------------


def layer_differences(reference: nn.Module, generated: nn.Module) -> Iterator[str]:
    """Each module of either model whose settings the other does not match, by name.

    Convolutions, norms, pools, the classifier and stochastic depth are compared by what
    they compute (sizes, strides, paddings, dilations, groups, rates); activations and
    containers, named differently by each library, are left to the reading.
    """
    want, got = dict(_layers(reference)), dict(_layers(generated))
    for name in [*want, *(n for n in got if n not in want)]:
        if want.get(name) != got.get(name):
            expected = want.get(name, "nothing")
            found = got.get(name, "nothing")
            yield f"{name}: the reference has {expected}, the spec gives {found}"


def _layers(model: nn.Module) -> Iterator[tuple[str, tuple[Any, ...]]]:
    skip: list[str] = []
    unused: set[str] = set()
    for name, module in model.named_modules():
        if any(name.startswith(prefix + ".") for prefix in skip) or name in unused:
            continue
        if getattr(module, "scale", None) == 1 and hasattr(module, "convs"):
            unused.add(f"{name}.pool")  # Res2Net at scale 1 builds a pool it never uses
        description = _layer(module)
        if description is not None:
            if type(module) is nn.Sequential:
                skip.append(name)
            yield name, description


def _pointwise(in_channels: int, out_channels: int, groups: int, bias: bool) -> tuple[Any, ...]:
    """What `_layer` says of a plain 1x1 conv (an attention's)."""
    unit = (1, 1)
    return ("conv", in_channels, out_channels, unit, unit, (0, 0), unit, groups, bias, False)


def _layer(module: nn.Module) -> tuple[Any, ...] | None:
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
            _short(module) == "StdConv2d",  # timm's, and the generated file's
        )
    if isinstance(module, nn.Linear):
        return ("linear", module.in_features, module.out_features, module.bias is not None)
    if (
        isinstance(module, nn.BatchNorm2d | nn.GroupNorm)
        or class_name(module) in (FROZEN_NORM, FROZEN_NORM_ACT)
        or _short(module) == "FrozenBatchNorm2d"
    ):
        kind = (
            "group"
            if isinstance(module, nn.GroupNorm)
            else "frozen"
            if not isinstance(module, nn.BatchNorm2d)
            else "batch"
        )
        groups = module.num_groups if isinstance(module, nn.GroupNorm) else None
        return ("norm", kind, _norm_channels(module), module.eps, groups)
    if _short(module) in ("EvoNorm2dS0", "EvoNormS0"):  # timm's, and the generated file's
        return ("norm", "evonorm_s0", _norm_channels(module), module.eps, module.groups)
    if _short(module) in ("FilterResponseNormTlu2d", "FilterResponseNorm"):
        return ("norm", "filter_response", _norm_channels(module), module.eps, None)
    if type(module) in (nn.ConstantPad2d, nn.ZeroPad2d) and module.value == 0:
        return ("zero padding", module.padding)
    if type(module) is nn.MaxPool2d:
        return (
            "max pool",
            _side(module.kernel_size),
            _side(module.stride),
            _side(module.padding),
            module.ceil_mode,
        )
    if class_name(module) == "timm.layers.pool2d_same.AvgPool2dSame":
        return ("same-padded average pool", _side(module.kernel_size), _side(module.stride))
    if type(module) is nn.Sequential and len(module) == 2 and type(module[0]) is nn.ZeroPad2d:
        pool = module[1]
        if (
            module[0].padding == (0, 1, 0, 1)
            and type(pool) is nn.AvgPool2d
            and _side(pool.padding) == 0
        ):
            return ("same-padded average pool", _side(pool.kernel_size), _side(pool.stride))
    if type(module) is nn.AvgPool2d and _side(module.kernel_size) == _side(module.stride) == 1:
        return None  # the identity: timm's average anti-aliasing where nothing strides
    if type(module) is nn.AvgPool2d:
        return (
            "average pool",
            _side(module.kernel_size),
            _side(module.stride),
            _side(module.padding),
            module.ceil_mode,
            module.count_include_pad,
        )
    if _short(module) in ("BlurPool2d", "BlurPool"):  # timm's, and the generated file's
        return ("blur pool", module.channels, module.stride)
    if _short(module) == "DropPath":
        rate = getattr(module, "drop_prob", getattr(module, "rate", 0.0))
        return ("stochastic depth", rate) if rate else None
    return None
