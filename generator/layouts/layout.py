"""A layout: what each part of a network is called in one library's checkpoints.

The plan says what the network is; its layout says what the modules are called and how
they nest, so that the same network loads the checkpoints of another library. A layout
is a row of names (`Layout`): the plan names its layers from it, the templates name
their attributes from it, and `rules` refuses what a row has no names for. Where
`import` reads that library's models, the layout's `View` shows their module trees
under resnet.py's names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..spec import BlockKind, LayoutName

if TYPE_CHECKING:
    from ..plan import Plan

# A field's path in the spec and what is wrong with it, as the rules yield them.
Lack = tuple[tuple[str, ...], str]


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
    # What else the library cannot build, for a spec: each field it lacks, and why.
    lacks: Callable[[Any], Iterator[Lack]] | None = None
    # The library's names for the modules where they are not the file's own: the file
    # builds resnet.py's modules and its state_dict speaks the library's names.
    names: Callable[[Plan], CheckpointNames] | None = None
    # How its library starts the convs and the classifier: torchvision's kaiming init, or
    # pycls's (timm's regnet.py): N(0, 2 / fan-out over the groups), zero biases, a
    # classifier from N(0, 0.01).
    init: Literal["kaiming", "pycls"] = "kaiming"
    # Without a Sequential of stages: each stage's name, and each block's in its stage.
    stage_names: str = "layer{number}"
    block_names: str = "{index}"
    # A final 1x1 conv, norm and activation before the pool (timm's RegNets'); None: the
    # layout has no names for one.
    final_conv: str | None = None
    # A conv and its norm as one unit (timm's ConvNormAct: NAME.conv, NAME.bn), a conv
    # without a norm as the unit itself (NAME: a pre-activation RegNet's stem and
    # projections), and an avg-pool shortcut's pool and unit by number (downsample.0, .1).
    conv_units: bool = False

    def stem_names(self, count: int, norm: bool = True) -> tuple[list[str], list[str]]:
        """The module names of a stem of `count` convs, the last one with its `norm` or
        without: each conv's, then each norm's (a deep stem's norms but the last sit
        inside its Sequential)."""
        if self.conv_units and self.stem is not None and count == 1 and not norm:
            return [self.stem], []
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
        if self.stages is None:
            return self.stage_names.format(number=index + 1)
        return f"{self.stages}.{index}"

    def block_name(self, stage: str, index: int) -> str:
        if self.stages is None:
            return f"{stage}.{self.block_names.format(index=index, number=index + 1)}"
        return f"{stage}.blocks.{index}"

    @property
    def numbers_blocks(self) -> bool:
        """Whether a stage's blocks are named other than by their index."""
        return self.block_names != "{index}"

    def shortcut_name(self, part: str, position: int, normed: bool = True) -> str:
        """The module name of a shortcut's pool, conv or norm, at `position` in its
        Sequential (a pool slot, empty or not, comes first in an avg_down shortcut), its
        conv `normed` or not."""
        if not self.named_shortcut:
            return f"downsample.{position}"
        if self.conv_units:
            if part == "pool":
                return "downsample.0"
            pooled = position > (1 if part == "norm" else 0)  # a pool slot before it
            unit = "downsample.1" if pooled else "downsample"
            return f"{unit}.{self.norm if part == 'norm' else part}" if normed else unit
        return f"downsample.{self.norm if part == 'norm' else part}"


@dataclass(frozen=True)
class CheckpointNames:
    """A library's names for a network's modules, where its modules are resnet.py's:
    `parts` by the module's whole name, each stage's blocks by the stage's (the block's
    index follows), and each block's parts by their name in the block. A module none of
    them names keeps its own name."""

    library: str  # what names them: "HF transformers' ResNetForImageClassification"
    parts: dict[str, str]
    stages: dict[str, str]
    block: dict[str, str]
    index_after: str = "."  # between a stage's name and its block's index

    def name(self, own: str) -> str:
        """A tensor's name in the library's state_dict, from its name in the file's."""
        module, _, entry = own.rpartition(".")
        if module in self.parts:
            return f"{self.parts[module]}.{entry}"
        stage, _, rest = module.partition(".")
        if stage in self.stages and rest:
            index, _, part = rest.partition(".")
            block = f"{self.stages[stage]}{self.index_after}{index}"
            return f"{block}.{self.block.get(part, part)}.{entry}"
        return own


Patterns = tuple[tuple[str, str | Callable[[re.Match[str]], str]], ...]


def renamed(names: list[str], patterns: Patterns) -> dict[str, str]:
    """Each name with every (pattern, replacement) of `patterns` applied in turn."""
    result = {}
    for name in names:
        new = name
        for pattern, replacement in patterns:
            new = re.sub(pattern, replacement, new)
        result[name] = new
    return result


@dataclass(frozen=True)
class View:
    """How the tree reader sees one library's networks: under resnet.py's names.

    `children` maps the network's children to resnet.py's (conv1, bn1, maxpool,
    layer1..., fc), `shortcut` a block's shortcut module to resnet.py's Sequential, and
    `names` turns a name of the view back into the library's own, for errors. `keys`
    renames a checkpoint's tensors to resnet.py's names, or says the names are not the
    layout's (None).
    """

    layout: LayoutName
    networks: tuple[str, ...]  # the classes of the networks it reads
    children: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    shortcut: Callable[[Any, str], Any] | None = None
    names: tuple[tuple[str, str | Callable[[re.Match[str]], str]], ...] = ()
    keys: Callable[[list[str]], dict[str, str] | None] | None = None
    # A library whose models carry a config: the tree reader reads such a model's state
    # through `keys` and takes from its `config` what `settled` says the weights cannot
    # show (a checkpoint folder's config.json is read the same way).
    config: Callable[[Any], dict[str, Any]] | None = None
    settled: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # What every network of the layout has that its weights cannot show, given the
    # spec data its state gave.
    implied: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # The model types (a config's model_type) it reads: a config names its view where
    # two views share names (HF's ResNetModel and RegNetModel).
    model_types: tuple[str, ...] = ()

    def own_name(self, name: str) -> str:
        """A module's name in the library's tree, from its name in the view."""
        for pattern, original in self.names:
            name = re.sub(pattern, original, name)
        return name
