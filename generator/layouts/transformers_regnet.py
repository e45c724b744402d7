"""HF transformers' RegNet. The file builds regnet.py's modules, each block's shortcut
held first as HF holds it and its blocks by their index, and its state_dict speaks HF's
names: regnet.embedder.embedder.{convolution,normalization},
regnet.encoder.stages.S.layers.B with shortcut.* and layer.K.{convolution,normalization}
(K from 0; a Y block's squeeze-and-excitation at layer.2.attention.0 and .2, its last
conv at layer.3), classifier.1. Without a classifier, the names are RegNetModel's,
without the regnet. before them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import regnet, transformers
from .layout import CheckpointNames, Lack, Patterns, View, renamed
from .transformers import ACTIVATIONS

if TYPE_CHECKING:
    from ..plan import Plan

MODELS = "transformers.models.regnet.modeling_regnet"
HF_MODELS = {"regnet": ("RegNetConfig", "RegNet")}
# The HF hub's RegNets whose configs are known here, by their ids: RegNetConfig's
# defaults are RegNetY-4.0GF's; each is the timm entry of its name, renamed.
HUB: dict[str, tuple[str, dict[str, Any]]] = {
    "facebook/regnet-y-040": ("regnet", {}),
    "facebook/regnet-x-002": (
        "regnet",
        {
            "layer_type": "x",
            "hidden_sizes": [24, 56, 152, 368],
            "depths": [1, 1, 4, 7],
            "groups_width": 8,
        },
    ),
}


def _lacks(spec: Any) -> Iterator[Lack]:
    """What HF's RegNetConfig has no setting for."""
    yield from regnet.timm_only(spec)
    stages = spec.stages
    if stages.bottleneck_ratio != 1.0:
        yield ("stages", "bottleneck_ratio"), "has a bottleneck ratio of 1 only"
    attention = stages.attention
    if attention.type not in ("none", "se") or (
        attention.type == "se" and attention.reduction != 4
    ):
        yield ("stages", "attention"), "has squeeze-and-excitation of a quarter of the input only"
    if attention.type == "se" and attention.activation != "relu":
        yield ("stages", "attention", "activation"), "activates its attention by ReLU only"
    if spec.norm.type != "batch":
        yield ("norm", "type"), "has batch norm only"
    if spec.activation not in ACTIVATIONS.values():
        yield ("activation",), "has ReLU, SiLU or GELU only"
    if spec.stem.channels is not None and len(spec.stem.channels) != 1:
        yield ("stem", "channels"), "has one stem conv"
    if spec.head.dropout or spec.input.resize is not None:
        yield ("head", "dropout"), "has no dropout or input resize"


def _names(plan: Plan) -> CheckpointNames:
    headed = plan.head.num_classes > 0
    prefix = "regnet." if headed else ""
    stem = f"{prefix}embedder.embedder"
    parts = {"stem.conv": f"{stem}.convolution", "stem.bn": f"{stem}.normalization"}
    if headed:
        parts["head.fc"] = "classifier.1"
    stages = {
        stage.name: f"{prefix}encoder.stages.{index}.layers"
        for index, stage in enumerate(plan.stages)
    }
    last = 3 if plan.attention == "se" else 2  # a Y block's squeeze-and-excitation is layer.2
    units = {"conv1": "layer.0", "conv2": "layer.1", "conv3": f"layer.{last}"}
    block = {"downsample.conv": "shortcut.convolution", "downsample.bn": "shortcut.normalization"}
    for own, theirs in units.items():
        block |= {f"{own}.conv": f"{theirs}.convolution", f"{own}.bn": f"{theirs}.normalization"}
    block |= {"se.fc1": "layer.2.attention.0", "se.fc2": "layer.2.attention.2"}
    model = "RegNetForImageClassification" if headed else "RegNetModel"
    return CheckpointNames(f"HF transformers' {model}", parts, stages, block)


LAYOUT = replace(
    regnet.LAYOUT,
    name="transformers_regnet",
    shortcut_first=True,
    block_names="{index}",
    final_conv=None,
    preactivation=False,
    lacks=_lacks,
    names=_names,
)

KEYS: Patterns = (
    (r"^(regnet\.)?embedder\.embedder\.convolution\.", "conv1."),
    (r"^(regnet\.)?embedder\.embedder\.normalization\.", "bn1."),
    (
        r"^(regnet\.)?encoder\.stages\.(\d+)\.layers\.(\d+)\.",
        lambda m: f"layer{int(m[2]) + 1}.{m[3]}.",
    ),
    (r"\.shortcut\.convolution\.", ".downsample.0."),
    (r"\.shortcut\.normalization\.", ".downsample.1."),
    (r"\.layer\.2\.attention\.0\.", ".se.fc1."),
    (r"\.layer\.2\.attention\.2\.", ".se.fc2."),
    (r"\.layer\.0\.convolution\.", ".conv1.conv."),
    (r"\.layer\.0\.normalization\.", ".conv1.bn."),
    (r"\.layer\.1\.convolution\.", ".conv2.conv."),
    (r"\.layer\.1\.normalization\.", ".conv2.bn."),
    (r"\.layer\.[23]\.convolution\.", ".conv3.conv."),
    (r"\.layer\.[23]\.normalization\.", ".conv3.bn."),
    (r"^classifier\.1\.", "fc."),
)


def _keys(names: list[str]) -> dict[str, str] | None:
    """HF's RegNet tensors under resnet.py's names (each block's parts under regnet.py's);
    None where they are not HF's RegNet's. A RegNetModel's names are a headless HF
    ResNet's: its checkpoint reads as a RegNet where its tree or its config.json says
    so, as one otherwise."""
    if not any(name.startswith(("regnet.embedder.", "embedder.embedder.")) for name in names):
        return None
    return renamed(names, KEYS)


def _settled(config: dict[str, Any]) -> dict[str, Any]:
    """What a HF RegNetConfig states that the weights cannot show: the activation and
    whether the first stage strides."""
    from ..readers.common import ConfigNotFollowed

    if config.get("model_type") != "regnet":
        return {}
    act = config.get("hidden_act", "relu")
    if act not in ACTIVATIONS:
        raise ConfigNotFollowed("config.json hidden_act", repr(act))
    depths = config.get("depths") or [2, 6, 12, 2]
    first = 2 if config.get("downsample_in_first_stage", True) else 1
    return {
        "activation": ACTIVATIONS[act],
        "stages": {"strides": [first] + [2] * (len(depths) - 1)},
    }


VIEW = View(
    "transformers_regnet",
    (f"{MODELS}.RegNetForImageClassification", f"{MODELS}.RegNetModel"),
    keys=_keys,
    config=transformers.VIEW.config,
    settled=_settled,
    implied=regnet.implied_unless_timm,
    model_types=("regnet",),
)
