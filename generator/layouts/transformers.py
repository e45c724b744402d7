"""HF transformers' ResNet and BiT. The file builds resnet.py's modules, each block's
shortcut held first as HF holds it, and its state_dict speaks HF's names:
resnet.embedder.embedder.{convolution,normalization}, resnet.encoder.stages.S.layers.B
with layer.K.{convolution,normalization} and shortcut.*, classifier.1 (ResNet); or
bit.embedder.convolution, blocks with norm1, conv1, ..., downsample.conv, bit.norm,
classifier.1 (BiT). Without a classifier, the names are ResNetModel's and BitModel's,
without the resnet. or bit. before them."""

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

BASIC, BOTTLENECK = PLAIN_KINDS  # HF's layer_type values are the language's kinds
# The HF hub's ResNets and BiT by their ids: the model type and what config.json states
# besides the defaults (ResNetConfig's, BitConfig's) and their 1000 ImageNet classes.
HUB: dict[str, tuple[str, dict[str, Any]]] = {
    "microsoft/resnet-18": (
        "resnet",
        {"layer_type": BASIC, "depths": [2, 2, 2, 2], "hidden_sizes": [64, 128, 256, 512]},
    ),
    "microsoft/resnet-26": ("resnet", {"depths": [2, 2, 2, 2]}),
    "microsoft/resnet-34": (
        "resnet",
        {"layer_type": BASIC, "depths": [3, 4, 6, 3], "hidden_sizes": [64, 128, 256, 512]},
    ),
    "microsoft/resnet-50": ("resnet", {"depths": [3, 4, 6, 3]}),
    "microsoft/resnet-101": ("resnet", {"depths": [3, 4, 23, 3]}),
    "microsoft/resnet-152": ("resnet", {"depths": [3, 8, 36, 3]}),
    "google/bit-50": ("bit", {}),
}
# Each model type's config class and the prefix of its model classes.
HF_MODELS = {"resnet": ("ResNetConfig", "ResNet"), "bit": ("BitConfig", "Bit")}
# HF's activation names (ACT2FN) that are the language's.
ACTIVATIONS = {"relu": "relu", "silu": "silu", "swish": "silu", "gelu": "gelu"}


def _lacks(spec: Any) -> Iterator[Lack]:
    """What HF's ResNetConfig (or, pre-activated, BitConfig) has no setting for."""
    stages, stem = spec.stages, spec.stem
    bit = stages.preactivation
    if stem.type != "classic" or stem.norm == bit:
        yield ("stem", "type"), f"has a 7x7 stem conv {'without' if bit else 'with'} a norm only"
    pool = stem.pool
    shape = (3, 2, 1) if pool is None else (pool.kernel_size, pool.stride, pool.padding)
    zero_padded = pool is not None and pool.zero_padded
    plain = pool is None or (pool.type == "max" and not pool.ceil_mode)
    if not plain or shape != (3, 2, 1) or zero_padded != bit:
        where = "over zero-padded input" if bit else "padded by 1"
        yield ("stem", "pool"), f"has a 3x3 stride-2 max pool {where} after the stem only"
    if set(stages.block) != {BOTTLENECK} and (bit or set(stages.block) != {BASIC}):
        kinds = BOTTLENECK if bit else f"all {BASIC} or all {BOTTLENECK}"
        yield ("stages", "block"), f"has {kinds} blocks only"
    if stages.groups != 1 or stages.width_per_group != 64:
        yield ("stages", "groups"), "has no grouped convs"
    if stages.attention.type != "none":
        yield ("stages", "attention"), "has no attention"
    if stages.shortcut != "projection" or stages.shortcut_norm == bit:
        norm = "without" if bit else "with"
        yield ("stages", "shortcut"), f"has 1x1 projection shortcuts {norm} a norm only"
    strides = stages.strides or [1]
    if any(stride != 2 for stride in strides[1:]) or set(stages.dilations or [1]) != {1}:
        yield ("stages", "strides"), "strides each stage but the first by 2, undilated"
    elif bit and strides[0] != 1:
        yield ("stages", "strides"), "pre-activated is BiT, whose first stage keeps its stride"
    if spec.activation not in ACTIVATIONS.values() or (not bit and spec.activation != "relu"):
        # HF's ResNet leaves the convs inside a block on ReLU whatever hidden_act says.
        acts = "ReLU, SiLU or GELU" if bit else "ReLU"
        yield ("activation",), f"{'pre' if bit else 'post'}-activated has {acts} only"
    if stages.drop_path or spec.head.dropout or spec.input.resize is not None:
        yield ("stages", "drop_path"), "has no drop path, dropout or input resize here"
    if stages.pruned_widths is not None or stages.reduce_first != 1:
        yield ("stages", "pruned_widths"), "has no pruned or reduced widths"
    if spec.conv_bias or spec.anti_alias != "none":
        yield ("conv_bias",), "has no conv biases or anti-aliasing"
    if bit and (spec.norm.type != "group" or spec.weight_standardization is None):
        yield ("norm", "type"), "pre-activated is BiT: group norm and standardised convs"
    elif bit and (spec.weight_standardization.eps != 1e-8 or stages.stride_on != "3x3"):
        yield ("weight_standardization",), "pre-activated is BiT: eps 1e-8, 3x3 strides"
    elif not bit and (spec.norm.type != "batch" or spec.weight_standardization is not None):
        yield ("norm", "type"), "post-activated has batch norm and plain convs only"


def _names(plan: Plan) -> CheckpointNames:
    bit = plan.preactivation
    headed = plan.head.num_classes > 0
    model = ("Bit" if bit else "ResNet") + ("ForImageClassification" if headed else "Model")
    prefix = ("bit." if bit else "resnet.") if headed else ""
    if bit:
        parts = {"conv1": f"{prefix}embedder.convolution", "norm": f"{prefix}norm"}
        block = {f"bn{k}": f"norm{k}" for k in (1, 2, 3)} | {"downsample.0": "downsample.conv"}
    else:
        stem = f"{prefix}embedder.embedder"
        parts = {"conv1": f"{stem}.convolution", "bn1": f"{stem}.normalization"}
        block = {"downsample.0": "shortcut.convolution", "downsample.1": "shortcut.normalization"}
        for k in (1, 2, 3):
            block |= {f"conv{k}": f"layer.{k - 1}.convolution"}
            block |= {f"bn{k}": f"layer.{k - 1}.normalization"}
    if headed:
        parts["fc"] = "classifier.1"
    stages = {
        stage.name: f"{prefix}encoder.stages.{index}.layers"
        for index, stage in enumerate(plan.stages)
    }
    return CheckpointNames(f"HF transformers' {model}", parts, stages, block)


# HF's names within a block, under resnet.py's (ResNet's numbered from 0, BiT's from 1).
BLOCK_KEYS = {
    "shortcut.convolution": "downsample.0",
    "shortcut.normalization": "downsample.1",
    "downsample.conv": "downsample.0",
    **{f"layer.{k - 1}.convolution": f"conv{k}" for k in (1, 2, 3)},
    **{f"layer.{k - 1}.normalization": f"bn{k}" for k in (1, 2, 3)},
    **{f"norm{k}": f"bn{k}" for k in (1, 2, 3)},
}
STEM_KEYS = {
    "embedder.embedder.convolution": "conv1",
    "embedder.embedder.normalization": "bn1",
    "embedder.convolution": "conv1",
    "norm": "norm",
}
STAGE = re.compile(r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.(.+)$")


def _keys(names: list[str]) -> dict[str, str] | None:
    """HF's ResNet and BiT tensors under resnet.py's names; None where the names are not
    HF's (its models' embedder, perhaps under resnet. or bit.)."""
    prefix = next((p for p in ("resnet.", "bit.") if any(n.startswith(p) for n in names)), "")
    if not any(name.startswith(f"{prefix}embedder.") for name in names):
        return None
    renamed = {}
    for name in names:
        inner = name.removeprefix(prefix) if name.startswith(prefix) else name
        module, _, entry = inner.rpartition(".")
        block = STAGE.match(module)
        if block:
            stage, index, part = block.groups()
            module = f"layer{int(stage) + 1}.{index}.{BLOCK_KEYS.get(part, part)}"
        elif name.startswith("classifier.1."):
            module = "fc"
        else:
            module = STEM_KEYS.get(module, module)
        renamed[name] = f"{module}.{entry}"
    return renamed


def _config(model: Any) -> dict[str, Any]:
    return model.config.to_dict()


def _settled(config: dict[str, Any]) -> dict[str, Any]:
    """What a HF config states that the weights cannot show: the activation, where the
    stride sits (downsample_in_bottleneck: the first 1x1, else the 3x3) and whether the
    first stage strides; BiT's standardised convs and zero-padded stem pool."""
    from ..readers.common import ConfigNotFollowed

    kind, act = config.get("model_type"), config.get("hidden_act", "relu")
    if kind not in ("resnet", "bit"):
        return {}
    # HF's ResNet activates its stem and each block's sum by hidden_act, the convs inside
    # a block by ReLU whatever it says: one activation throughout is ReLU's.
    if act not in ACTIVATIONS or (kind == "resnet" and act != "relu"):
        raise ConfigNotFollowed("config.json hidden_act", f"{act!r} beside the blocks' ReLUs")
    depths = config.get("depths") or [3, 4, 6, 3]
    first = 2 if config.get("downsample_in_first_stage") else 1
    fields: dict[str, Any] = {"activation": ACTIVATIONS[act]}
    if kind == "resnet":
        fields["stages"] = {"strides": [first] + [2] * (len(depths) - 1)}
        if config.get("layer_type", BOTTLENECK) == BOTTLENECK:
            stride_on = "1x1" if config.get("downsample_in_bottleneck") else "3x3"
            fields["stages"]["stride_on"] = stride_on
        return fields
    if config.get("layer_type") != "preactivation":
        raise ConfigNotFollowed(
            "config.json layer_type", f"BiT's {config.get('layer_type')!r} layers"
        )
    if config.get("global_padding") or config.get("embedding_dynamic_padding"):
        raise ConfigNotFollowed("config.json global_padding", "BiT's dynamic (TF 'SAME') padding")
    if config.get("output_stride", 32) != 32 or config.get("drop_path_rate"):
        raise ConfigNotFollowed("config.json output_stride", "a dilated or drop-path BiT")
    fields["weight_standardization"] = {"eps": 1e-8}
    fields["stem"] = {"pool": {"zero_padded": True}}
    fields["norm"] = {"type": "group", "groups": config.get("num_groups", 32)}
    return fields


def _implied(data: dict[str, Any]) -> dict[str, Any]:
    """What HF's ResNets and BiTs always are, which their weights cannot show: no
    dilation, anti-aliasing, drop path or dropout; a ResNet's max pool and plain convs;
    a BiT's standardised convs, zero-padded pool and strides (on the 3x3, from stage 2)."""
    stages = data["stages"]
    count = len(stages["depths"])
    fixed: dict[str, Any] = {"anti_alias": "none", "head": {"dropout": 0.0}}
    fixed["stages"] = {"dilations": [1] * count, "drop_path": 0.0}
    if not stages.get("preactivation"):
        return fixed | {"weight_standardization": None, "stem": {"pool": {"type": "max"}}}
    fixed["stages"] |= {"strides": [1] + [2] * (count - 1), "stride_on": "3x3"}
    fixed["weight_standardization"] = {"eps": 1e-8}
    return fixed | {"stem": {"pool": {"type": "max", "zero_padded": True}}}


LAYOUT = replace(
    resnet.LAYOUT,
    name="transformers",
    shortcut_first=True,
    blocks=frozenset[BlockKind](PLAIN_KINDS),
    pool_conv=False,
    anti_alias=False,
    lacks=_lacks,
    names=_names,
)
VIEW = View(
    "transformers",
    (
        "transformers.models.resnet.modeling_resnet.ResNetForImageClassification",
        "transformers.models.resnet.modeling_resnet.ResNetModel",
        "transformers.models.bit.modeling_bit.BitForImageClassification",
        "transformers.models.bit.modeling_bit.BitModel",
    ),
    keys=_keys,
    config=_config,
    settled=_settled,
    implied=_implied,
    model_types=("resnet", "bit"),
)
