"""timm's legacy senet.py: the stem in layer0 (conv1, bn1, relu1, ..., pool0), the
attention as se_module, the classifier as last_linear; its basic and bottleneck blocks."""

from __future__ import annotations

from typing import Any

from ..spec import PLAIN_KINDS, BlockKind
from .layout import Layout, View

LAYOUT = Layout(
    "legacy_senet",
    stem="layer0",
    norm="bn",
    numbers_one_conv=True,
    stem_pool="pool0",
    stages=None,
    named_shortcut=False,
    shortcut_first=False,
    attention="se_module",
    classifier="last_linear",
    conv_classifier=False,
    blocks=frozenset[BlockKind](PLAIN_KINDS),
    preactivation=False,
    pool_conv=False,
    anti_alias=False,
)


def _children(children: dict[str, Any]) -> dict[str, Any]:
    """A legacy SENet's parts under resnet.py's names: its layer0 as conv1 (a deep stem's
    convs, norms and activations as a Sequential, as timm nests them), bn1 and act1; its
    pool0 as maxpool, its last_linear as fc."""
    from torch import nn

    from ..readers.common import NotExpressible

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


def _keys(names: list[str]) -> dict[str, str] | None:
    """A legacy SENet's tensors under resnet.py's names (as `_children` shows its tree)."""
    if not any(name.startswith("layer0.") for name in names):
        return None
    deep = any(name.startswith("layer0.conv3.") for name in names)
    stem = {"conv1": "conv1.0", "bn1": "conv1.1", "conv2": "conv1.3", "bn2": "conv1.4"}
    stem |= {"conv3": "conv1.6", "bn3": "bn1"} if deep else {"conv1": "conv1", "bn1": "bn1"}
    renamed = {}
    for name in names:
        head, _, rest = name.partition(".")
        if head == "layer0":
            part, _, entry = rest.partition(".")
            renamed[name] = f"{stem.get(part, 'layer0.' + part)}.{entry}"
        elif head == "last_linear":
            renamed[name] = f"fc.{rest}"
        else:
            renamed[name] = name.replace(".se_module.", ".se.")
    return renamed


VIEW = View(
    "legacy_senet",
    ("timm.models.senet.SENet",),
    children=_children,
    names=(
        (r"^conv1(\.\d)?$", "layer0"),
        (r"^bn1$", "layer0"),
        (r"^maxpool", "pool0"),
        (r"^fc$", "last_linear"),
    ),
    keys=_keys,
)
