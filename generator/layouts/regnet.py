"""timm's regnet.py: the stem as stem.conv and stem.bn, stages s1, s2, ... holding blocks
b1, b2, ..., each block's convs as ConvNormAct modules (conv1.conv, conv1.bn, ...), its
squeeze-and-excitation as se, a projection as downsample.conv and downsample.bn, and the
classifier as head.fc."""

from __future__ import annotations

import re
from typing import Any

from ..inherit import deep_merge
from ..spec import REGNET_KINDS, BlockKind
from .layout import Layout, Patterns, View, renamed

LAYOUT = Layout(
    "regnet",
    stem="stem",
    norm="bn",
    numbers_one_conv=False,
    stem_pool="maxpool",
    stages=None,
    named_shortcut=True,
    shortcut_first=False,
    attention="se",
    classifier="head.fc",
    conv_classifier=False,
    blocks=frozenset[BlockKind](REGNET_KINDS),
    preactivation=False,
    pool_conv=False,
    anti_alias=False,
    init="pycls",
    stage_names="s{number}",
    block_names="b{number}",
)
NETWORK = "timm.models.regnet.RegNet"


def _children(children: dict[str, Any]) -> dict[str, Any]:
    """A RegNet's parts under resnet.py's names: its stem's conv and norm (holding the
    activation) as conv1 and bn1, each stage's blocks as layerN, its head's pool and
    classifier as global_pool and fc; an empty final_conv is no part."""
    from torch import nn

    from ..readers.common import NotExpressible, class_name, short_name
    from ..readers.leaves import CONV_NORM_ACT

    view = dict(children)
    stem = view.pop("stem", None)
    if class_name(stem) != CONV_NORM_ACT:
        raise NotExpressible("stem", f"{short_name(stem)} where a conv, norm and activation belong")
    view.update(conv1=stem.conv, bn1=stem.bn, act1=stem.bn.act)
    index = 1
    while f"s{index}" in view:
        view[f"layer{index}"] = nn.Sequential(*view.pop(f"s{index}").children())
        index += 1
    if type(view.get("final_conv")) is nn.Identity:
        del view["final_conv"]
    head = view.pop("head", None)
    view.update(global_pool=getattr(head, "global_pool", None), fc=getattr(head, "fc", None))
    return {name: module for name, module in view.items() if module is not None}


def _shortcut(module: Any, name: str) -> Any:
    """A projection's ConvNormAct as the Sequential of resnet.py: the conv and the norm."""
    from torch import nn

    from ..readers.common import NotExpressible, class_name
    from ..readers.leaves import CONV_NORM_ACT

    if class_name(module) != CONV_NORM_ACT:
        return module
    if type(module.bn.act) is not nn.Identity:
        raise NotExpressible(f"{name}.bn.act", "an activation on a shortcut")
    return nn.Sequential(module.conv, module.bn)


# A RegNet's tensor names and resnet.py's, pattern by pattern.
KEYS: Patterns = (
    (r"^stem\.conv\.", "conv1."),
    (r"^stem\.bn\.", "bn1."),
    (r"^s(\d+)\.b(\d+)\.", lambda m: f"layer{m[1]}.{int(m[2]) - 1}."),
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
    (r"^head\.fc\.", "fc."),
)


def _keys(names: list[str]) -> dict[str, str] | None:
    """A RegNet's tensors under resnet.py's names: stem.conv and stem.bn as conv1 and bn1,
    sN.bM as layerN.(M-1), a projection's conv and bn as downsample.0 and .1, head.fc
    as fc; each block's own parts (conv1.conv, ..., se) keep their names."""
    if not any(name.startswith("stem.conv.") for name in names) or not any(
        re.match(r"s\d+\.b\d+\.", name) for name in names
    ):
        return None
    return renamed(names, KEYS)


def implied(data: dict[str, Any]) -> dict[str, Any]:
    """What a RegNet's weights cannot show and every RegNet the language builds is: a 3x3
    stem conv striding 2 without a pool, every stage striding 2, no anti-aliasing or
    standardised convs (its blocks stride on their 3x3, the only place they can)."""
    count = len(data["stages"]["depths"])
    return {
        "stem": {"type": "strided_3x3", "pool": {"type": "none"}},
        "stages": {"strides": [2] * count, "stride_on": "3x3"},
        "anti_alias": "none",
        "weight_standardization": None,
    }


def implied_unless_timm(data: dict[str, Any]) -> dict[str, Any]:
    """`implied`, and what only timm's RegNets have: dilation, drop path, dropout."""
    count = len(data["stages"]["depths"])
    unlike_timm = {"stages": {"dilations": [1] * count, "drop_path": 0.0}, "head": {"dropout": 0.0}}
    return deep_merge(implied(data), unlike_timm)


VIEW = View(
    "regnet",
    (NETWORK,),
    children=_children,
    shortcut=_shortcut,
    names=(
        (r"^layer(\d+)\.(\d+)", lambda m: f"s{m.group(1)}.b{int(m.group(2)) + 1}"),
        (r"^layer(\d+)", r"s\1"),
        (r"^conv1", "stem.conv"),
        (r"^bn1", "stem.bn"),
        (r"^fc", "head.fc"),
        (r"\.downsample\.0", ".downsample.conv"),
        (r"\.downsample\.1", ".downsample.bn"),
    ),
    keys=_keys,
    implied=implied,
)
