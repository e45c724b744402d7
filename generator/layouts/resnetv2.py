"""timm's resnetv2.py: the stem and its pool in stem, blocks in stages.N.blocks with
norm1, norm2, ..., shortcuts as downsample.conv and downsample.norm, held before the
convs, and a 1x1 conv classifier as head.fc (BiT's); its basic and bottleneck blocks."""

from __future__ import annotations

from typing import Any

from ..spec import PLAIN_KINDS, BlockKind
from .layout import Layout, View

LAYOUT = Layout(
    "resnetv2",
    stem="stem",
    norm="norm",
    numbers_one_conv=False,
    stem_pool="stem.pool",
    stages="stages",
    named_shortcut=True,
    shortcut_first=True,
    attention="se",
    classifier="head.fc",
    conv_classifier=True,
    blocks=frozenset[BlockKind](PLAIN_KINDS),
    preactivation=True,
    pool_conv=False,
    anti_alias=False,
)
SHORTCUTS = {
    "timm.models.resnetv2.DownsampleConv": ("conv", "norm"),
    "timm.models.resnetv2.DownsampleAvg": ("pool", "conv", "norm"),
}


def _children(children: dict[str, Any]) -> dict[str, Any]:
    """A ResNetV2's parts under resnet.py's names: its stem's convs as conv1 (a deep
    stem's as a Sequential of conv, norm, activation, ...; each norm holds its
    activation), a last norm as bn1, its pool (after a zero padding, perhaps) as
    maxpool; each stage's blocks as layerN, its head's pool and classifier as
    global_pool and fc."""
    from torch import nn

    from ..readers.common import NotExpressible

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


def _shortcut(module: Any, name: str) -> Any:
    """resnetv2.py's shortcut modules as the Sequential of resnet.py: the pool (an
    empty slot where it does not pool), the conv, the norm where it has one."""
    from torch import nn

    from ..readers.common import NotExpressible, class_name, short_name

    if module is None:
        return None
    parts = SHORTCUTS.get(class_name(module))
    if parts is None:
        raise NotExpressible(name, f"{short_name(module)} as a shortcut")
    modules = [getattr(module, part) for part in parts]
    if type(modules[-1]) is nn.Identity:
        modules.pop()
    return nn.Sequential(*modules)


# A ResNetV2's stem parts under resnet.py's names; its norm after a one-conv stem is bn1.
STEM_KEYS = {"conv": "conv1", "conv1": "conv1.0", "norm1": "conv1.1", "conv2": "conv1.3"}
STEM_KEYS |= {"norm2": "conv1.4", "conv3": "conv1.6", "norm3": "bn1", "norm": "bn1"}
BLOCK_KEYS = {"norm1": "bn1", "norm2": "bn2", "norm3": "bn3"}
BLOCK_KEYS |= {"downsample.conv": "downsample.0", "downsample.norm": "downsample.1"}


def _keys(names: list[str]) -> dict[str, str] | None:
    """A ResNetV2's tensors under resnet.py's names (as `_children` shows its tree):
    stages.S.blocks.B as layer{S+1}.B, its norms as bnK, a projection as downsample.0
    and .1 (an average pool before it has no weights to tell), head.fc as fc."""
    if not any(name.startswith(("stem.conv", "stem.norm", "stages.")) for name in names):
        return None
    renamed = {}
    for name in names:
        head, _, rest = name.partition(".")
        if head == "stem":
            part, _, entry = rest.partition(".")
            renamed[name] = f"{STEM_KEYS.get(part, 'stem.' + part)}.{entry}"
        elif head == "stages" and ".blocks." in rest:
            stage, _, block = rest.partition(".blocks.")
            index, _, inner = block.partition(".")
            part, entry = inner.rsplit(".", 1) if "." in inner else (inner, "")
            part = BLOCK_KEYS.get(part, part)
            renamed[name] = f"layer{_number(stage) + 1}.{index}.{part}.{entry}"
        elif name.startswith("head.fc."):
            renamed[name] = name.removeprefix("head.")
        else:
            renamed[name] = name
    return renamed


def _number(text: str) -> int:
    return int(text) if text.isdigit() else -2  # no stage: layer-1, which nothing takes


VIEW = View(
    "resnetv2",
    ("timm.models.resnetv2.ResNetV2",),
    children=_children,
    shortcut=_shortcut,
    names=(
        (r"^layer(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks."),
        (r"^conv1\.[0-6]", "stem"),
        (r"^conv1$", "stem.conv"),
        (r"^bn1$", "stem"),
        (r"^maxpool", "stem.pool"),
        (r"^(global_pool|fc)", r"head.\1"),
    ),
    keys=_keys,
)
