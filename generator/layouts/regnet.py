"""timm's regnet.py: the stem as stem.conv and stem.bn, stages s1, s2, ... holding blocks
b1, b2, ..., each block's convs as ConvNormAct modules (conv1.conv, conv1.bn, ...), its
squeeze-and-excitation as se, a projection as downsample.conv and downsample.bn, and the
classifier as head.fc."""

from __future__ import annotations

from ..spec import REGNET_KINDS, BlockKind
from .layout import Layout, View

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
    stage_names="s{number}",
    block_names="b{number}",
)
VIEW = View("regnet", ())
