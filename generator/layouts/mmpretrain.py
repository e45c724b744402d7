"""mmpretrain's ResNet (V1b), ResNetV1c and ResNetV1d in an ImageClassifier: torchvision's
names under backbone., a deep stem as backbone.stem.N.{conv,bn}, the classifier as
head.fc; an average-pool shortcut where nothing strides has no empty slot before its
conv. The file builds resnet.py's modules and its state_dict speaks these names; without
a classifier they are the backbone's own (ResNet's state_dict, an mmdet or mmseg
checkpoint's backbone. entries)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..spec import PLAIN_KINDS, BlockKind
from . import resnet
from .layout import CheckpointNames, Lack, View

if TYPE_CHECKING:
    from ..plan import Plan

# mmpretrain's ResNet depths: each arch's block and blocks a stage.
BASIC, BOTTLENECK = PLAIN_KINDS
ARCHS = {
    18: (BASIC, [2, 2, 2, 2]),
    34: (BASIC, [3, 4, 6, 3]),
    50: (BOTTLENECK, [3, 4, 6, 3]),
    101: (BOTTLENECK, [3, 4, 23, 3]),
    152: (BOTTLENECK, [3, 8, 36, 3]),
}
# A deep stem's convs and norms in the Sequential of resnet.py's names.
DEEP_STEM = {"conv1.0": "stem.0.conv", "conv1.1": "stem.0.bn", "conv1.3": "stem.1.conv"}
DEEP_STEM |= {"conv1.4": "stem.1.bn", "conv1.6": "stem.2.conv", "bn1": "stem.2.bn"}


def _lacks(spec: Any) -> Iterator[Lack]:
    """What mmpretrain's ResNet, ResNetV1c and ResNetV1d have no argument for."""
    stages, stem = spec.stages, spec.stem
    if (stages.block[0], stages.stage_depths()) not in ARCHS.values() or len(set(stages.block)) > 1:
        yield ("stages", "depths"), "builds ResNet-18, 34, 50, 101 and 152 only"
    channels = stem.channels[-1] if stem.channels else 64
    if stem.type == "cifar" or (
        stem.type == "deep" and stem.channels and stem.channels[:2] != [channels // 2] * 2
    ):
        yield ("stem", "type"), "has a 7x7 stem or three 3x3 convs of half, half, all channels"
    pool = stem.pool
    if pool is not None and (
        pool.type != "max"
        or pool.ceil_mode
        or pool.zero_padded
        or (pool.kernel_size, pool.stride, pool.padding) != (3, 2, 1)
    ):
        yield ("stem", "pool"), "has a 3x3 stride-2 max pool after the stem only"
    if not stem.norm or stages.preactivation:
        yield ("stem", "norm"), "is post-activation with a stem norm only"
    widths = list(stages.widths or [64])
    if widths != [widths[0] * 2**index for index in range(len(widths))]:
        yield ("stages", "widths"), "doubles the widths from stage to stage only"
    if stages.groups != 1 or stages.width_per_group != 64:
        yield ("stages", "groups"), "has no grouped convs"
    if stages.attention.type != "none":
        yield ("stages", "attention"), "has no attention"
    if stages.shortcut not in ("projection", "avg_down") or not stages.shortcut_norm:
        yield ("stages", "shortcut"), "has projection or avg_down shortcuts with a norm only"
    if set(stages.dilations or [1]) != {1} or stages.drop_path or spec.input.resize is not None:
        yield ("stages", "dilations"), "is undilated, without drop path or resize, here"
    if stages.pruned_widths is not None or stages.reduce_first != 1 or spec.head.dropout:
        yield ("stages", "pruned_widths"), "has no pruned or reduced widths, or dropout"
    if spec.norm.type != "batch" or spec.weight_standardization is not None:
        yield ("norm", "type"), "has batch norm and plain convs only"
    if spec.activation != "relu" or spec.conv_bias or spec.anti_alias != "none":
        yield ("activation",), "has ReLU, no conv biases and no anti-aliasing only"


def _names(plan: Plan) -> CheckpointNames:
    headed = plan.head.num_classes > 0
    prefix = "backbone." if headed else ""
    deep = plan.stem.type == "deep"
    parts = {own: prefix + theirs for own, theirs in DEEP_STEM.items()} if deep else {}
    if not deep and headed:
        parts |= {"conv1": "backbone.conv1", "bn1": "backbone.bn1"}
    for stage in plan.stages:
        for block in stage.blocks:
            names = [name for name, _ in block.shortcut]
            if names == ["downsample.1", "downsample.2"]:  # an empty pool slot
                own = f"{block.name}.downsample"
                parts |= {f"{own}.1": f"{prefix}{own}.0", f"{own}.2": f"{prefix}{own}.1"}
    if headed:
        parts["fc"] = "head.fc"
    stages = {stage.name: prefix + stage.name for stage in plan.stages}
    model = "ImageClassifier" if headed else "ResNet"
    return CheckpointNames(f"mmpretrain's {model}", parts, stages, {})


STEM = re.compile(r"^stem\.([012])\.(conv|bn)$")
SHORTCUT = re.compile(r"^(layer\d+\.\d+)\.downsample\.([01])$")


def _keys(names: list[str]) -> dict[str, str] | None:
    """mmpretrain's tensors under resnet.py's names; None where the names are not its
    (a classifier's backbone. and head., or a V1c or V1d backbone's stem)."""
    classifier = any(name.startswith("backbone.") for name in names) and all(
        name.startswith(("backbone.", "head.")) for name in names
    )
    inner = [name.removeprefix("backbone.") for name in names]
    if not classifier and not any(STEM.match(name.rsplit(".", 1)[0]) for name in inner):
        return None
    stem = {theirs: own for own, theirs in DEEP_STEM.items()}
    avg_down = any(".downsample.2." in name for name in inner)
    pooled = {name.rsplit(".downsample.", 1)[0] for name in inner if ".downsample.2." in name}
    renamed = {}
    for name, short in zip(names, inner, strict=True):
        module, _, entry = short.rpartition(".")
        shortcut = SHORTCUT.match(module)
        if name.startswith("head.fc."):
            module = "fc"
        elif module in stem:
            module = stem[module]
        elif avg_down and shortcut and shortcut.group(1) not in pooled:
            module = f"{shortcut.group(1)}.downsample.{int(shortcut.group(2)) + 1}"
        renamed[name] = f"{module}.{entry}"
    return renamed


def _config(model: Any) -> dict[str, Any]:
    backbone = getattr(model, "backbone", model)
    settings = ("depth", "style", "strides", "dilations", "deep_stem", "avg_down")
    return {setting: getattr(backbone, setting, None) for setting in settings}


def _settled(config: dict[str, Any]) -> dict[str, Any]:
    """What mmpretrain's arguments say that the weights cannot show: where a bottleneck
    strides (style pytorch: the 3x3, caffe: the first 1x1) and each stage's stride."""
    fields: dict[str, Any] = {"stages": {}}
    block = ARCHS.get(config.get("depth"), (BOTTLENECK, []))[0]
    if config.get("style") is not None and block == BOTTLENECK:
        fields["stages"]["stride_on"] = "1x1" if config["style"] == "caffe" else "3x3"
    if config.get("strides") is not None:
        fields["stages"]["strides"] = list(config["strides"])
    if config.get("dilations") is not None:
        fields["stages"]["dilations"] = list(config["dilations"])
    return fields


def _implied(data: dict[str, Any]) -> dict[str, Any]:
    """What mmpretrain's ResNets always are, which their weights cannot show: ReLU, a max
    pool, plain convs, no anti-aliasing, drop path or dropout."""
    fixed: dict[str, Any] = {"activation": "relu", "anti_alias": "none"}
    fixed |= {"weight_standardization": None, "stem": {"pool": {"type": "max"}}}
    return fixed | {"stages": {"drop_path": 0.0}, "head": {"dropout": 0.0}}


LAYOUT = replace(
    resnet.LAYOUT,
    name="mmpretrain",
    blocks=frozenset[BlockKind](PLAIN_KINDS),
    preactivation=False,
    pool_conv=False,
    anti_alias=False,
    lacks=_lacks,
    names=_names,
)
VIEW = View(
    "mmpretrain",
    (
        "mmpretrain.models.classifiers.image.ImageClassifier",
        "mmpretrain.models.backbones.resnet.ResNet",
        "mmpretrain.models.backbones.resnet.ResNetV1c",
        "mmpretrain.models.backbones.resnet.ResNetV1d",
    ),
    keys=_keys,
    config=_config,
    settled=_settled,
    implied=_implied,
)
