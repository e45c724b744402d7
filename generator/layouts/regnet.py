"""timm's regnet.py: the stem as stem.conv and stem.bn, stages s1, s2, ... holding blocks
b1, b2, ..., each block's convs as ConvNormAct modules (conv1.conv, conv1.bn, ...), its
squeeze-and-excitation as se, a projection as downsample.conv and downsample.bn, and the
classifier as head.fc."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..inherit import deep_merge
from ..spec import REGNET_KINDS, BlockKind
from .layout import Lack, Layout, Patterns, View, renamed

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
    preactivation=True,
    pool_conv=False,
    anti_alias=False,
    init="pycls",
    stage_names="s{number}",
    block_names="b{number}",
    final_conv="final_conv",
    conv_units=True,
)
NETWORK = "timm.models.regnet.RegNet"


def timm_only(spec: Any) -> Iterator[Lack]:
    """What timm's regnet.py builds and torchvision's and HF's RegNets do not: stages
    without a projection, linear outputs, stochastic depth, dilation."""
    stages = spec.stages
    if stages.shortcut != "projection":
        yield ("stages", "shortcut"), "has projection shortcuts only"
    if stages.linear_output:
        yield ("stages", "linear_output"), "activates every block's output"
    if stages.drop_path:
        yield ("stages", "drop_path"), "has no stochastic depth"
    if stages.dilations is not None and set(stages.dilations) != {1}:
        yield ("stages", "dilations"), "has no dilated stages"


def _children(children: dict[str, Any]) -> dict[str, Any]:
    """A RegNet's parts under resnet.py's names: its stem's conv and norm (holding the
    activation) as conv1 and bn1, each stage's blocks as layerN, its head's pool and
    classifier as global_pool and fc; its final_conv as itself, or where it holds an
    activation alone as act, or where it is empty as no part."""
    from torch import nn

    from ..readers.common import NotExpressible, class_name, short_name
    from ..readers.leaves import CONV_NORM_ACT

    view = dict(children)
    stem = view.pop("stem", None)
    if type(stem) is nn.Conv2d:  # a pre-activation RegNet's: the first block normalises
        view["conv1"] = stem
    elif class_name(stem) == CONV_NORM_ACT:
        view.update(conv1=stem.conv, bn1=stem.bn, act1=stem.bn.act)
    else:
        message = f"{short_name(stem)} where a conv (a norm and an activation) belongs"
        raise NotExpressible("stem", message)
    index = 1
    while f"s{index}" in view:
        view[f"layer{index}"] = nn.Sequential(*view.pop(f"s{index}").children())
        index += 1
    # final_conv holds a conv, norm and activation, an activation alone, or nothing.
    final = view.pop("final_conv", None)
    if class_name(final) == CONV_NORM_ACT:
        view["final_conv"] = final
    elif final is not None and type(final) is not nn.Identity:
        view["act"] = final
    head = view.pop("head", None)
    view.update(global_pool=getattr(head, "global_pool", None), fc=getattr(head, "fc", None))
    return {name: module for name, module in view.items() if module is not None}


def _shortcut(module: Any, name: str) -> Any:
    """A shortcut as the Sequential of resnet.py: a projection's ConvNormAct as its conv
    and norm, a bare conv (a pre-activation block's) as itself; after an average pool,
    the pool and either."""
    from torch import nn

    from ..readers.common import NotExpressible, class_name
    from ..readers.leaves import CONV_NORM_ACT

    parts = list(module) if type(module) is nn.Sequential else [module]
    if len(parts) == 2 and not isinstance(parts[0], nn.Conv2d):
        pool, unit, name = parts[0], parts[1], f"{name}.1"
    else:
        pool, unit = None, module
    if class_name(unit) == CONV_NORM_ACT:
        if type(unit.bn.act) is not nn.Identity:
            raise NotExpressible(f"{name}.bn.act", "an activation on a shortcut")
        unit = [unit.conv, unit.bn]
    elif type(unit) is nn.Conv2d:
        unit = [unit]
    else:
        return module
    return nn.Sequential(*([pool] if pool is not None else []), *unit)


# A RegNet's tensor names and resnet.py's, pattern by pattern.
KEYS: Patterns = (
    (r"^stem\.conv\.", "conv1."),
    (r"^stem\.weight$", "conv1.weight"),
    (r"^stem\.bn\.", "bn1."),
    (r"^s(\d+)\.b(\d+)\.", lambda m: f"layer{m[1]}.{int(m[2]) - 1}."),
    (r"\.downsample\.1\.conv\.", ".downsample.1."),
    (r"\.downsample\.1\.bn\.", ".downsample.2."),
    (r"\.downsample\.conv\.", ".downsample.0."),
    (r"\.downsample\.bn\.", ".downsample.1."),
    (r"\.downsample\.weight$", ".downsample.0.weight"),
    (r"^head\.fc\.", "fc."),
)


def _keys(names: list[str]) -> dict[str, str] | None:
    """A RegNet's tensors under resnet.py's names: stem.conv (or a bare stem) and stem.bn
    as conv1 and bn1, sN.bM as layerN.(M-1), a projection's conv (or bare conv) and bn as
    downsample.0 and .1, after an average pool as .1 and .2, head.fc as fc; each block's
    own parts (conv1.conv, ..., se; norm1, conv1, ... pre-activated) keep their names."""
    stem = any(name.startswith("stem.conv.") or name == "stem.weight" for name in names)
    if not stem or not any(re.match(r"s\d+\.b\d+\.", name) for name in names):
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
    """`implied`, and what only timm's RegNets have: dilation, drop path, linear outputs,
    dropout."""
    count = len(data["stages"]["depths"])
    unlike_timm = {
        "stages": {"dilations": [1] * count, "drop_path": 0.0, "linear_output": False},
        "head": {"dropout": 0.0},
    }
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
        (r"^act$", "final_conv"),
    ),
    keys=_keys,
    implied=implied,
)
