"""What the flow asks of a block family, answered in one module per family.

The spine (plan, analysis, render, compare, the tree reader) knows residual blocks only
through this interface, and `generator.blocks` registers the families. A family answers
for its block kinds: the layers of a block under their checkpoint names, the checks
across spec fields that only it needs, its templates and what they need, how
`for_inference` folds its norms, how `diff` describes it, and how `import` reads one of
its blocks back from a module tree. Where a family keeps what the spine asks of most
blocks, the default here says it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Finding
from ..spec import BlockKind, Spec
from ..widths import bottleneck_width

if TYPE_CHECKING:
    from ..layers import Named
    from ..plan import Plan, StagePlan
    from ..readers.state import StateReader
    from ..readers.tree import TreeReader

Rule = Callable[[Any], Iterator[Finding]]  # of a spec, read through rules' recording view


def stage_count(stages: Any) -> int:
    """How many stages `depths` or `design` gives, read through rules' recording view."""
    _read = (stages.depths, stages.design)
    return len(stages.stage_depths())


@dataclass(frozen=True)
class BlockShape:
    """One block's numbers, as a family's layer builder needs them."""

    kind: BlockKind
    in_channels: int
    first_width: int  # its first conv's output: the width, or a part (SENet-154), or pruned
    width: int
    out_channels: int
    stride: int
    first_dilation: int  # of its first 3x3 conv: a stage's first block keeps the previous one's
    dilation: int  # of the stage, and so of a basic block's second 3x3 conv
    has_shortcut_module: bool
    groups: int  # of its grouped 3x3 convs


@dataclass(frozen=True)
class StageShape:
    """A stage's numbers, for a family's checks before its blocks are built."""

    index: int
    kind: BlockKind
    depth: int
    in_channels: int
    out_channels: int
    width: int  # the inner width, or a block's output width without one
    reduced: int  # its blocks' first conv's output
    groups: int  # of its grouped convs: 1 without an inner width


@dataclass(frozen=True)
class ConvArguments:
    """What the blocks' constructors pass their convs, as the generated file writes it;
    each list is empty where the network does not need the argument."""

    groups: list[str]  # groups=N of a grouped 3x3
    first_dilation: list[str]  # dilation=first_dilation: a block's first 3x3
    dilation: list[str]  # dilation=dilation: the stage's own
    conv2_dilation: list[str]  # of a bottleneck's 3x3: one of the two above
    stride: list[str]  # a bottleneck's 3x3 carries the stride
    reduced_width: str  # a block without an inner width: its first conv's output
    reduced_inner: str  # a block with one: its first conv's output


@dataclass
class BlockConvs:
    """What a family reads of a block of a module tree for the spine to judge: its first
    conv (a module), the widths, where it strides, and its last norm."""

    first: Any  # the conv its input meets: its output is the block's first width
    width: int
    out: int
    groups: int
    stride: int = 1
    stride_on: str | None = None  # where a strided bottleneck strides
    first_dilation: int = 1
    dilation: int | None = None  # of a basic block's second conv: its stage's
    last_norm: Any = None  # the norm zero init zeroes (None: no weights read to tell)
    aa_stride: int | None = None  # the stride an anti-aliasing pool takes, if there is one
    takes: int | None = None  # the channels the block takes, where not its first conv's
    attended: int | None = None  # the channels its attention sees, where not its output's
    preact: bool = False  # its norms go before its convs (a block shows it, not the network)


@dataclass
class ReadBlock:
    """A block read from a module tree, as the spine turns blocks into stage fields."""

    kind: BlockKind
    in_channels: int
    first_width: int  # its first conv's output
    width: int
    out_channels: int
    stride: int
    stride_on: str | None  # where a strided bottleneck strides
    groups: int
    first_dilation: int
    dilation: int | None  # of a basic block's second conv: its stage's
    shortcut: str  # identity, projection or avg_down
    shortcut_norm: bool | None
    dilates: bool  # it shows its stage dilated beyond its first conv: by a same-padded
    # shortcut pool, a 3x3 projection at stride 1, or a blur at stride 1 (timm's, where a
    # dilated stage starts)
    attention: tuple[str, int] | None  # ("se", hidden) or ("eca", kernel size)
    drop_path: float
    last_norm: Any  # pre-activated: the last conv, which zero init zeroes instead
    preact: bool = False


class BlockFamily:
    """One family of residual blocks. Subclasses say what differs from these defaults."""

    name: str  # the key of its templates' context
    kinds: tuple[BlockKind, ...]
    known_as: str  # its blocks' classes, in a sentence of those `import` reads
    rules: tuple[Rule, ...] = ()
    reduces_first: bool = True  # its first conv narrows by stages.reduce_first
    classes: dict[str, BlockKind] = {}  # module-tree classes `import` reads as its blocks
    parts: frozenset[str] = frozenset()  # the names of those blocks' children
    helpers: tuple[str, ...] = ()  # templates of the classes its blocks use, before them
    folds_conv_bias: bool = False  # a conv with a bias feeds one of its batch norms
    first_stride: int = 1  # the first stage's, by default (later ones stride 2)
    network_class: str = "ResNet"  # the generated network's class, of its blocks alone
    own_attention: bool = False  # its blocks place and size their attention themselves
    stage_groups: bool = False  # its stages differ in groups: each block is given its own
    shortcut_free: bool = False  # its blocks may go without a shortcut (stages.shortcut none)
    # An avg-pool shortcut's pool keeps its 2x2 window at stride 1 where the block's first
    # 3x3 dilates (timm's regnet.py), not where its stage does (resnet.py's).
    pool_follows_first_dilation: bool = False

    # The plan ----------------------------------------------------------------------------

    def expansion(self, kind: BlockKind) -> int:
        """A block's output channels over its stage's width."""
        return 4

    def inner(self, kind: BlockKind) -> bool:
        """Whether its blocks have an inner width (a bottleneck's, from groups and
        width_per_group); without one a block is two 3x3 convs of one group."""
        return True

    def stage_width(self, kind: BlockKind, base: int, stages: Any) -> tuple[int, int]:
        """A stage's inner width (its blocks' width without one) and its 3x3's groups,
        from the stage's base width."""
        if not self.inner(kind):
            return base, 1
        return bottleneck_width(base, stages.width_per_group, stages.groups), stages.groups

    def settings(self, stages: Any) -> dict[str, object]:
        """Its own fields of the spec's stages, as the plan keeps them."""
        return {}

    def final_norm(self, stages: Any) -> bool:
        """Whether a network of its blocks ends in a norm before the head: a
        pre-activation one, whose last sum no block normalises (ResNet v2's)."""
        return bool(stages.preactivation)

    def final_activation(self, stages: Any) -> bool:
        """Whether such a network ends in an activation before the head (the final
        norm's, or one alone)."""
        return bool(stages.preactivation)

    def stage_problem(self, spec: Spec, stage: StageShape) -> Finding | None:
        """Why a stage's numbers cannot make its blocks; None where they can."""
        return None

    def body(self, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
        """The residual branch's layers, named as the generated module names them."""
        raise NotImplementedError

    # The generated file ------------------------------------------------------------------

    def class_name(self, kind: BlockKind) -> str:
        raise NotImplementedError

    def template(self, kind: BlockKind, plan: Plan) -> str:
        return f"blocks/{kind}.py.jinja"

    def context(self, plan: Plan, convs: ConvArguments) -> dict[str, object]:
        """What its templates need beyond the spine's context, under its name."""
        return {}

    def zero_init(self, kind: BlockKind, plan: Plan) -> str:
        """The module whose weight starts at zero for its branch to start at zero."""
        return "bn3"

    def uses_conv1x1(self, kind: BlockKind, plan: Plan) -> bool:
        return True

    def helper_templates(self, plan: Plan) -> tuple[str, ...]:
        """The templates of the classes its blocks use, written before them."""
        return self.helpers

    def conv3x3(self, kind: BlockKind) -> bool | None:
        """Whether its 3x3 convs are the file's conv3x3, grouped (True) or not (False);
        None where it builds its own."""
        return None

    def two_dilations(self, kind: BlockKind) -> bool:
        """Whether its two 3x3 convs differ in dilation where a dilated stage starts."""
        return False

    def fold_norms(self, kind: BlockKind) -> tuple[int, ...]:
        """N of each convN/bnN pair `for_inference` folds."""
        return (1, 3)

    def fold_template(self, kind: BlockKind) -> str | None:
        """The template folding the norms of its own layers, if it has any."""
        return None

    # How diff and the model card describe it --------------------------------------------

    def facts(self, plan: Plan) -> dict[str, str]:
        """Its settings under their spec fields, "-" where the network has none of it."""
        return {}

    def stage_words(self, stage: StagePlan, plan: Plan) -> list[str]:
        """What a stage of its blocks is built from, after their count and kind."""
        return []

    def diagram_words(self, plan: Plan) -> list[str]:
        return []

    # How import reads it back ------------------------------------------------------------

    def read(
        self, reader: TreeReader, kind: BlockKind, module: Any, parts: dict[str, Any], name: str
    ) -> BlockConvs:
        """The convs of `module`, a block of one of its classes whose children are `parts`."""
        raise NotImplementedError

    def state_kind(self, parts: set[str]) -> BlockKind | None:
        """Which of its kinds a block of a checkpoint is, by its tensors' names (relative
        to the block); None where it is none of its blocks."""
        return None

    def read_state(
        self, reader: StateReader, kind: BlockKind, name: str, in_channels: int
    ) -> BlockConvs:
        """The convs of a block of a checkpoint, by its tensors' shapes under `name`;
        the first conv's input is `in_channels`."""
        raise NotImplementedError

    def read_whole(
        self, reader: TreeReader, module: Any, name: str, in_channels: int
    ) -> ReadBlock | None:
        """A block of a class whose parts the spine does not know, read whole; None for
        the others, whose parts the spine reads around `read`."""
        return None

    def unused_parts(self, module: Any) -> set[str]:
        """Children of one of its blocks that the library builds and never runs."""
        return set()

    def held_activations(self, parts: dict[str, Any]) -> set[str]:
        """Activation slots its blocks keep empty because a layer holds its own."""
        return set()

    def stage_data(self, blocks: list[tuple[ReadBlock, str]]) -> dict[str, Any] | None:
        """Its own stage fields from every block read (each with its module name), in
        place of the spine's groups, widths per group and attention; None: the spine's."""
        return None

    def fields(self, reader: TreeReader) -> dict[str, Any]:
        """Its own fields of the spec's stages, once every block is read."""
        return {}
