"""Read a ResNet's module tree back into spec data: the reverse of `build`, for `import`.

Each module is recognised by its class and settings, in the order of the tree; the
first one the spec language cannot express stops the reading with its name and why.
The network's spine (stem, stages, shortcuts, attention, head) is read here, each
block by its family (`generator.blocks`), each library's tree through its layout's
view (`generator.layouts`). The data holds every field that applies, so that
`generator.shortest` can leave out whatever a default or a base spec already says.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from torch import nn

from ..blocks import BLOCK_PARTS, FAMILIES, KNOWN_BLOCKS, READ_CLASSES, families_in
from ..blocks.family import ReadBlock
from ..layouts import DEFAULT_VIEW, LAYOUTS, VIEWS, View
from .common import NotExpressible, Setting, class_name, short_name, side
from .leaves import (
    Leaves,
    activation_kind,
    conv_norm_act,
    drop_rate,
    is_classifier_conv,
    is_linear,
)
from .network import pruned, stage_fields, zero_init
from .state import read_settled
from .stem import read_stem

LEGACY_SE = "timm.models.senet.SEModule"
SE = "timm.layers.squeeze_excite.SEModule"
ECA = "timm.layers.eca.EcaModule"
TORCHVISION_SE = "torchvision.ops.misc.SqueezeExcitation"
SIGMOIDS = {"torch.nn.modules.activation.Sigmoid", "timm.layers.activations.Sigmoid"}
LAYOUT = "conv1, bn1, act1, maxpool, layer1..., global_pool, fc"
# Besides the stages; torchvision calls the activation relu and the pool avgpool.
NETWORK_PARTS = {"conv1", "bn1", "act1", "relu", "maxpool", "global_pool", "avgpool", "fc"}
NETWORK_PARTS |= {"norm", "act"}  # a pre-activation network's last norm, or an activation
NETWORK_PARTS |= {"final_conv"}  # a 1x1 conv, norm and activation before the pool
BLOCK_ACTIVATIONS = ("act1", "act2", "act3", "relu", "act")


def read_model(model: nn.Module) -> dict[str, Any]:
    """Spec data (all but name, description and reference) of a ResNet's module tree."""
    view = VIEWS.get(class_name(model))
    if view is not None and view.config is not None:
        return read_configured(model, view)
    try:
        return TreeReader(view or DEFAULT_VIEW).read(model)
    except NotExpressible as error:
        if view is None:
            raise
        raise NotExpressible(view.own_name(error.module), error.reason) from None


def read_configured(model: nn.Module, view: View) -> dict[str, Any]:
    """A model that carries its config (HF's, mmpretrain's): its state read through the
    layout's names, and what the weights cannot show from the config."""
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert view.config is not None
    return read_settled(shapes, view.config(model), view)[0]


class TreeReader(Leaves):
    """One reading of one network, seen through its layout's view."""

    def __init__(self, view: View) -> None:
        super().__init__()
        self.view = view
        self.shortcut_kernel = Setting("shortcut kernel")

    def read(self, model: nn.Module) -> dict[str, Any]:
        children = dict(model.named_children())
        if self.view.children is not None:
            children = self.view.children(children)
        stage_names = _check_layout(model, children)
        stem = read_stem(self, children)
        blocks_in = stem["channels"][-1]
        stages: list[list[ReadBlock]] = []
        for stage_name in stage_names:
            stage = self.stage(children[stage_name], stage_name, blocks_in)
            stages.append(stage)
            blocks_in = stage[0].out_channels
        final_conv, features = self.final_parts(children, blocks_in)
        preactivation = any(block.preact for stage in stages for block in stage)
        layout = LAYOUTS[self.view.layout]
        head = self.head(model, children, features, conv=layout.conv_classifier)
        data: dict[str, Any] = {"input": {"channels": stem.pop("in_channels")}, "stem": stem}
        data["stages"] = stage_fields(stages, stage_names, pruned(self, stages))
        data["stages"]["shortcut_kernel"] = self.shortcut_kernel.value or 1
        data["stages"]["reduce_first"] = self.reduce_first.value or 1
        for family in FAMILIES:
            data["stages"].update(family.fields(self))
        se_activation = self.setting("attention activation").value
        if se_activation is not None:
            data["stages"]["attention"]["activation"] = se_activation
        data["stages"]["preactivation"] = preactivation
        _check_end(children, data["stages"], final_conv)
        data["head"] = head if final_conv is None else {**head, "final_conv": final_conv}
        data["conv_bias"] = bool(self.bias.value)
        norm = self.norm.value
        data["norm"] = self.norm_fields()
        if self.activation.value is not None:  # none where every norm is its own
            data["activation"] = self.activation.value
        data["anti_alias"] = self.anti_alias.value or "none"
        data["init"] = {"zero_init_residual": zero_init(stages, norm[0])}
        data["layout"] = layout.name
        eps = self.standardization.value
        data["weight_standardization"] = {"eps": eps} if eps is not None else None
        return data

    def final_parts(self, children: dict[str, nn.Module], channels: int) -> tuple[int | None, int]:
        """What comes between the last stage and the pool: a last norm and its activation
        (a pre-activation network's), an activation alone, or a final conv, norm and
        activation; the final conv's channels (None without one) and the features."""
        if "norm" in children:
            self.norm_and_act(children["norm"], children.get("act"), ("norm", "act"), channels)
        elif "act" in children:
            self.act(children["act"], "act")
        if "final_conv" not in children:
            return None, channels
        conv = conv_norm_act(self, children["final_conv"], "final_conv", 1, act=True)
        if conv.in_channels != channels:
            message = f"takes {conv.in_channels} channels where {channels} arrive"
            raise NotExpressible("final_conv.conv", message)
        return conv.out_channels, conv.out_channels

    def stage(self, stage: nn.Module, name: str, in_channels: int) -> list[ReadBlock]:
        if type(stage) is not nn.Sequential or len(stage) == 0:
            raise NotExpressible(
                name, f"{short_name(stage)} where a stage (a Sequential of blocks) belongs"
            )
        blocks = []
        for index, block in enumerate(stage):
            blocks.append(self.block(block, f"{name}.{index}", in_channels))
            in_channels = blocks[-1].out_channels
        return blocks

    def block(self, module: nn.Module, name: str, in_channels: int) -> ReadBlock:
        family, kind = READ_CLASSES.get(class_name(module), (None, None))
        if family is None or kind is None:
            reason = (
                f"{short_name(module)} is not a block the spec language has ({KNOWN_BLOCKS} blocks)"
            )
            raise NotExpressible(name, reason)
        whole = family.read_whole(self, module, name, in_channels)
        if whole is not None:
            return whole
        parts = dict(module.named_children())
        if "se_module" in parts:  # the legacy SENet's name for it
            parts["se"] = parts.pop("se_module")
        for part, child in parts.items():
            if part not in BLOCK_PARTS:
                raise NotExpressible(
                    f"{name}.{part}", f"{short_name(child)} is not a part of a ResNet block"
                )
        if "drop_block" in parts and type(parts["drop_block"]) is not nn.Identity:
            raise NotExpressible(f"{name}.drop_block", "DropBlock is not in the spec language yet")
        held = family.held_activations(parts)
        for part in BLOCK_ACTIVATIONS:
            if part in parts and part not in held:
                self.act(parts[part], f"{name}.{part}")
        convs = family.read(self, kind, module, parts, name)
        takes = convs.takes or convs.first.in_channels
        if takes != in_channels:
            message = f"takes {takes} channels where {in_channels} arrive"
            raise NotExpressible(f"{name}.conv1", message)
        shortcut, shortcut_norm, shows_dilation = self.shortcut(
            parts.get("downsample"), f"{name}.downsample", in_channels, convs.out, convs.stride
        )
        return ReadBlock(
            kind=kind,
            in_channels=in_channels,
            first_width=convs.first.out_channels,
            width=convs.width,
            out_channels=convs.out,
            stride=convs.stride,
            stride_on=convs.stride_on,
            groups=convs.groups,
            first_dilation=convs.first_dilation,
            dilation=convs.dilation,
            shortcut=shortcut,
            shortcut_norm=shortcut_norm,
            dilates=shows_dilation or convs.aa_stride == 1,
            attention=read_attention(self, parts.get("se"), f"{name}.se"),
            drop_path=drop_rate(parts.get("drop_path"), f"{name}.drop_path"),
            last_norm=convs.last_norm,
        )

    def shortcut(
        self, module: nn.Module | None, name: str, in_channels: int, out: int, stride: int
    ) -> tuple[str, bool | None, bool]:
        """Its kind (identity, projection or avg_down), whether it has a norm, and whether
        it shows its stage dilated."""
        if self.view.shortcut is not None:
            module = self.view.shortcut(module, name)
        if module is None or type(module) is nn.Identity:
            return "identity", None, False
        if type(module) is not nn.Sequential:
            raise NotExpressible(
                name, f"{short_name(module)} as a shortcut; the language's is a Sequential"
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
                    f"{short_name(pool)} before a shortcut conv; the language has an average pool",
                )
        return kind, has_norm, same_pool or dilated

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
            average = type(pool) is nn.AdaptiveAvgPool2d and side(pool.output_size) == 1
        if not average:
            raise NotExpressible(
                pool_name, f"{_describe_pool(pool)}; the language pools by a global average"
            )
        fc = children.get("fc")
        if type(fc) is nn.Identity:
            num_classes = 0
        elif conv and is_classifier_conv(fc, features):
            num_classes = fc.out_channels
        elif not conv and is_linear(fc) and fc.bias is not None and fc.in_features == features:
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
                "fc", f"{short_name(fc)} where a {kind} classifier on {features} features belongs"
            )
        return {"num_classes": num_classes, "dropout": float(getattr(model, "drop_rate", 0.0))}


def read_attention(reader: Leaves, module: nn.Module | None, name: str) -> tuple[str, int] | None:
    """A block's channel attention: its kind and size, or None without one; the
    activation inside squeeze-and-excitation is the reader's "attention activation"."""
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
        reader.setting("attention activation").see(
            activation_kind(module.act, f"{name}.act"), f"{name}.act"
        )
        plain = (
            type(module.bn) is nn.Identity
            and class_name(module.gate) in SIGMOIDS
            and not module.add_maxpool
            and fc1.bias is not None
            and fc2.bias is not None
        )
        if not plain:
            raise NotExpressible(
                name,
                "a squeeze-and-excitation other than 1x1 conv, activation, 1x1 conv, sigmoid",
            )
        return "se", fc1.out_channels
    if kind == TORCHVISION_SE:  # torchvision's RegNet-Y
        fc1, fc2 = module.fc1, module.fc2
        reader.setting("attention activation").see(
            activation_kind(module.activation, f"{name}.activation"), f"{name}.activation"
        )
        plain = type(module.scale_activation) is nn.Sigmoid
        if not plain or fc1.bias is None or fc2.bias is None:
            raise NotExpressible(name, "a squeeze-and-excitation other than the paper's")
        return "se", fc1.out_channels
    if kind == ECA:
        plain = module.conv2 is None and module.act is None and class_name(module.gate) in SIGMOIDS
        conv = module.conv
        if not plain or conv.bias is not None or conv.padding[0] != (conv.kernel_size[0] - 1) // 2:
            raise NotExpressible(name, "an efficient channel attention other than the paper's")
        return "eca", conv.kernel_size[0]
    raise NotExpressible(
        name, f"{short_name(module)} is an attention the spec language lacks (se, eca)"
    )


def _check_end(children: dict[str, nn.Module], stages: dict[str, Any], conv: int | None) -> None:
    """The last norm and the activation before the head that the blocks' families end
    their networks with, and no other."""
    fields = SimpleNamespace(**{"linear_output": False, **stages})
    kinds = stages["block"] if isinstance(stages["block"], list) else [stages["block"]]
    families = families_in(tuple(kinds))
    if any(family.final_norm(fields) for family in families) != ("norm" in children):
        raise NotExpressible(
            "norm",
            "a last norm without pre-activation blocks, or those without it; the "
            "language's pre-activation networks have both",
        )
    wants_activation = conv is None and any(family.final_activation(fields) for family in families)
    if "norm" not in children and wants_activation != ("act" in children):
        raise NotExpressible(
            "act",
            "an activation before the head where the blocks activate their outputs, or none "
            "where they leave them linear",
        )


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
                f"{short_name(module)} is not a part of the ResNet layout the spec language "
                f"describes ({LAYOUT})",
            )
    if class_name(model) not in VIEWS:
        raise NotExpressible(
            "",
            f"{short_name(model)} is not timm's or torchvision's ResNet, whose forward the spec "
            "language follows",
        )
    if not 1 <= len(stage_names) <= 8:
        raise NotExpressible("", f"{len(stage_names)} stages; the language has 1 to 8")
    return stage_names


def _describe_pool(pool: nn.Module | None) -> str:
    if pool is None:
        return "no global pool"
    kind = getattr(pool, "pool_type", None)
    return f"{short_name(pool)} with pool type {kind!r}" if kind is not None else short_name(pool)
