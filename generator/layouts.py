"""Layouts: what each part of a network is called in one family's checkpoints.

The plan says what the network is; its layout says what the modules are called and how
they nest, so that the same network loads the checkpoints of another family of models.
A layout is a row of this table: the plan names its layers from it, the templates name
their attributes from it, and `rules` refuses what a row has no names for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from .spec import PLAIN_KINDS, BlockKind, LayoutName


@dataclass(frozen=True)
class Layout:
    name: LayoutName
    stem: str | None  # a Sequential holding the stem's convs, norms and activations, by
    # number (conv1, bn1, act1, conv2, ...), and its pool where `stem_pool` is inside it;
    # None: conv1 (deep: a Sequential) and bn1
    norm: str  # a numbered norm's name before its number: bn1, or norm1
    numbers_one_conv: bool  # a stem of one conv in its Sequential: conv1 and bn1, or conv
    stem_pool: str  # inside the stem's Sequential where it starts with the stem's name
    stages: str | None  # a Sequential of stages, each holding its blocks under `blocks`;
    # None: the stages are layer1, layer2, ...
    named_shortcut: bool  # a shortcut's pool, conv and norm by name; else by position
    shortcut_first: bool  # a block holds its shortcut before its convs (state_dict order)
    attention: str
    classifier: str
    conv_classifier: bool  # a 1x1 conv with a bias, on the pooled features (BiT's)
    blocks: frozenset[BlockKind]  # the block kinds it has names for
    preactivation: bool  # whether it names pre-activation networks' parts
    pool_conv: bool  # whether it names a strided conv in place of the stem's max pool
    anti_alias: bool  # whether it names anti-aliasing pools

    def stem_names(self, count: int) -> tuple[list[str], list[str]]:
        """The module names of a stem of `count` convs: each conv's, then each norm's
        (a deep stem's norms but the last sit inside its Sequential)."""
        if self.stem is None:
            if count == 1:
                return ["conv1"], ["bn1"]
            return ["conv1.0", "conv1.3", "conv1.6"], ["conv1.1", "conv1.4", "bn1"]
        numbers = range(1, count + 1) if count > 1 or self.numbers_one_conv else [""]
        convs = [f"{self.stem}.conv{number}" for number in numbers]
        return convs, [f"{self.stem}.{self.norm}{number}" for number in numbers]

    @property
    def classifier_parts(self) -> tuple[str, str]:
        """A conv classifier's container and its name in it: ("head", "fc")."""
        container, _, name = self.classifier.partition(".")
        return container, name

    @property
    def names_children(self) -> bool:
        """Whether the generated file nests modules by name (in an OrderedDict)."""
        return bool(self.stem or self.stages or self.named_shortcut or self.conv_classifier)

    @property
    def pool_in_stem(self) -> bool:
        return self.stem is not None and self.stem_pool.startswith(f"{self.stem}.")

    def stage_name(self, index: int) -> str:
        return f"layer{index + 1}" if self.stages is None else f"{self.stages}.{index}"

    def block_name(self, stage: str, index: int) -> str:
        return f"{stage}.{index}" if self.stages is None else f"{stage}.blocks.{index}"

    def shortcut_name(self, part: str, position: int) -> str:
        """The module name of a shortcut's pool, conv or norm, at `position` in its
        Sequential (a pool slot, empty or not, comes first in an avg_down shortcut)."""
        return f"downsample.{part if self.named_shortcut else position}"


_RESNET_BLOCKS = frozenset[BlockKind](get_args(BlockKind))
_PLAIN_BLOCKS = frozenset[BlockKind](PLAIN_KINDS)

LAYOUTS: dict[LayoutName, Layout] = {
    "resnet": Layout(
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
        blocks=_RESNET_BLOCKS,
        preactivation=True,
        pool_conv=True,
        anti_alias=True,
    ),
    "legacy_senet": Layout(
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
        blocks=_PLAIN_BLOCKS,
        preactivation=False,
        pool_conv=False,
        anti_alias=False,
    ),
    "resnetv2": Layout(
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
        blocks=_PLAIN_BLOCKS,
        preactivation=True,
        pool_conv=False,
        anti_alias=False,
    ),
}
