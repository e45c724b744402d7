"""torchvision's and timm's resnet.py: conv1, bn1, maxpool, layer1..., se, fc; every block
family's names. The tree reader's own names are these."""

from __future__ import annotations

from ..spec import RESNET_KINDS, BlockKind
from .layout import Layout, View

LAYOUT = Layout(
    "resnet",
    stem=None,
    norm="bn",
    numbers_one_conv=True,
    stem_pool="maxpool",
    stages=None,
    named_shortcut=False,
    shortcut_first=False,
    attention="se",
    classifier="fc",
    conv_classifier=False,
    blocks=frozenset[BlockKind](RESNET_KINDS),
    preactivation=True,
    pool_conv=True,
    anti_alias=True,
)
VIEW = View(
    "resnet",
    ("timm.models.resnet.ResNet", "torchvision.models.resnet.ResNet"),
    keys=lambda names: {name: name for name in names},
)
