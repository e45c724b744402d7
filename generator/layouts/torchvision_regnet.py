"""torchvision's RegNets. The file builds regnet.py's modules, each block's shortcut held
first as torchvision holds it and its blocks by their index, and its state_dict speaks
torchvision's names: stem.0 and stem.1, trunk_output.blockS.blockS-B (S from 1, B from
0: the names hold a hyphen) with proj.0 and proj.1, f.a, f.b, f.se, f.c (each conv at 0,
its norm at 1), then fc."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from . import regnet
from .layout import CheckpointNames, Lack, Patterns, View, renamed

if TYPE_CHECKING:
    from ..plan import Plan

NETWORK = "torchvision.models.regnet.RegNet"
BLOCK = "torchvision.models.regnet.ResBottleneckBlock"
# A block's parts: the file's (regnet.py's) and torchvision's.
UNITS = {"conv1": "f.a", "conv2": "f.b", "conv3": "f.c"}
BLOCK_NAMES = {f"{own}.conv": f"{theirs}.0" for own, theirs in UNITS.items()}
BLOCK_NAMES |= {f"{own}.bn": f"{theirs}.1" for own, theirs in UNITS.items()}
BLOCK_NAMES |= {"se.fc1": "f.se.fc1", "se.fc2": "f.se.fc2"}
BLOCK_NAMES |= {"downsample.conv": "proj.0", "downsample.bn": "proj.1"}


def _names(plan: Plan) -> CheckpointNames:
    stages = {
        stage.name: f"trunk_output.block{index}.block{index}"
        for index, stage in enumerate(plan.stages, start=1)
    }
    parts = {"stem.conv": "stem.0", "stem.bn": "stem.1", "head.fc": "fc"}
    return CheckpointNames("torchvision's RegNet", parts, stages, BLOCK_NAMES, index_after="-")


def _lacks(spec: Any) -> Iterator[Lack]:
    """What torchvision's RegNet cannot build: timm's own, and a squeeze-and-excitation
    whose activation is not the network's."""
    yield from regnet.timm_only(spec)
    attention = spec.stages.attention
    if attention.type == "se" and attention.activation != spec.activation:
        yield ("stages", "attention", "activation"), "activates its attention as its blocks"


LAYOUT = replace(
    regnet.LAYOUT,
    name="torchvision_regnet",
    shortcut_first=True,
    block_names="{index}",
    final_conv=None,
    preactivation=False,
    lacks=_lacks,
    names=_names,
)


def _children(children: dict[str, Any]) -> dict[str, Any]:
    """A torchvision RegNet's parts under resnet.py's names: its stem's conv, norm and
    activation as conv1, bn1 and act1, each stage of trunk_output as layerN, avgpool and
    fc as they are."""
    from torch import nn

    from ..readers.common import NotExpressible, short_name

    view = dict(children)
    stem = view.pop("stem", None)
    if not isinstance(stem, nn.Sequential) or len(stem) != 3:
        raise NotExpressible("stem", f"{short_name(stem)} where a conv, norm and activation belong")
    view["conv1"], view["bn1"], view["act1"] = stem
    trunk = view.pop("trunk_output", None)
    for index, stage in enumerate(trunk.children() if trunk is not None else (), start=1):
        view[f"layer{index}"] = nn.Sequential(*stage.children())
    return view


def _shortcut(module: Any, name: str) -> Any:
    """A projection's conv and norm, a Sequential already; none where the shape stays."""
    from torch import nn

    return nn.Sequential(*module) if module is not None else None


KEYS: Patterns = (
    (r"^stem\.0\.", "conv1."),
    (r"^stem\.1\.", "bn1."),
    (r"^trunk_output\.block(\d+)\.block\d+-(\d+)\.", r"layer\1.\2."),
    (r"\.proj\.(\d)\.", r".downsample.\1."),
    *((rf"\.{re.escape(theirs)}\.", f".{own}.") for own, theirs in BLOCK_NAMES.items()),
)


def _keys(names: list[str]) -> dict[str, str] | None:
    """torchvision's RegNet tensors under resnet.py's names (each block's parts under
    regnet.py's); None where the names are not torchvision's (no trunk_output)."""
    if not any(name.startswith("trunk_output.") for name in names):
        return None
    return renamed(names, KEYS)


VIEW = View(
    "torchvision_regnet",
    (NETWORK,),
    children=_children,
    shortcut=_shortcut,
    names=(
        (r"^layer(\d+)\.(\d+)", lambda m: f"trunk_output.block{m[1]}.block{m[1]}-{m[2]}"),
        (r"^layer(\d+)", r"trunk_output.block\1"),
        (r"^conv1", "stem.0"),
        (r"^bn1", "stem.1"),
        (r"\.downsample\.(\d)", r".proj.\1"),
    ),
    keys=_keys,
    implied=regnet.implied_unless_timm,
)
