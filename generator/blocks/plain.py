"""resnet.py's own blocks: the basic block (two 3x3 convs) and the bottleneck (1x1 reduce,
3x3, 1x1 expand), post-activation (He et al. 2015, arXiv:1512.03385) and pre-activation
(He et al. 2016, arXiv:1603.05027), as torchvision, timm's resnet.py, its legacy senet.py
and its resnetv2.py build them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import Finding, entries
from ..layers import AntiAlias, Conv, Named, Norm
from ..layouts import LAYOUTS
from ..render.modules import ANTI_ALIAS_POOLS
from ..render.text import LINE_LENGTH
from ..spec import BlockKind, Spec
from .family import BlockConvs, BlockFamily, BlockShape, ConvArguments, ReadBlock, stage_count

if TYPE_CHECKING:
    from ..plan import Plan, StagePlan
    from ..readers.state import StateReader
    from ..readers.tree import TreeReader

TORCHVISION = "torchvision.models.resnet"
TIMM, LEGACY, V2 = "timm.models.resnet", "timm.models.senet", "timm.models.resnetv2"
# Basic blocks that activate their branch before the attention and the sum
BRANCH_ACTIVATED = {f"{LEGACY}.SEResNetBlock"}
# The names a checkpoint's basic block or bottleneck holds its tensors under
STATE_PARTS = {"conv1", "conv2", "conv3", "bn1", "bn2", "bn3", "downsample", "se"}
# The reader's settings: the same for every block of a network
BRANCH, PREACTIVATION = "activation ending a basic block's branch", "pre-activation"
# resnetv2.py's blocks: their kind, and whether they pre-activate
V2_BLOCKS: dict[str, tuple[BlockKind, bool]] = {
    f"{V2}.PreActBasic": ("basic", True),
    f"{V2}.PreActBottleneck": ("bottleneck", True),
    f"{V2}.Bottleneck": ("bottleneck", False),
}


def _stride_on(spec: Any) -> Iterator[Finding]:
    if "bottleneck" not in spec.stages.block and spec.stages.stride_on != "3x3":
        message = "applies to bottleneck blocks only, and this network has none"
        yield ("stages", "stride_on"), message


def _branch_activation(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    if stages.branch_activation and ("basic" not in stages.block or stages.preactivation):
        message = "applies to post-activation basic blocks only, and this network has none"
        yield ("stages", "branch_activation"), message


def _pruned(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    channels, widths = stages.pruned_channels, stages.pruned_widths
    for field, value, other in (
        ("pruned_channels", channels, widths),
        ("pruned_widths", widths, channels),
    ):
        if value is not None and other is None:
            yield ("stages", field), "comes with the other of pruned_channels and pruned_widths"
    if widths is None or channels is None:
        return
    if set(stages.block) != {"bottleneck"} or stages.preactivation:
        yield ("stages", "pruned_widths"), "applies to post-activation bottleneck blocks only"
    if stages.reduce_first != 1:
        yield ("stages", "reduce_first"), "a pruned network gives its first convs' widths"
    if len(widths) == stage_count(stages):
        for index, (blocks, depth) in enumerate(zip(widths, stages.stage_depths(), strict=True)):
            if len(blocks) != depth:
                blocks_text = f"{depth} block" + ("s" if depth != 1 else "")
                message = f"has {entries(len(blocks))} but stage {index + 1} has {blocks_text}"
                yield ("stages", "pruned_widths", index), message


class PlainBlocks(BlockFamily):
    name = "plain"
    kinds = ("basic", "bottleneck")
    known_as = "timm's or torchvision's BasicBlock and Bottleneck"
    rules = (_stride_on, _branch_activation, _pruned)
    classes: dict[str, BlockKind] = {
        f"{TIMM}.BasicBlock": "basic",
        f"{TIMM}.Bottleneck": "bottleneck",
        f"{TORCHVISION}.BasicBlock": "basic",
        f"{TORCHVISION}.Bottleneck": "bottleneck",
        f"{LEGACY}.SEResNetBlock": "basic",
        f"{LEGACY}.SEResNetBottleneck": "bottleneck",
        f"{LEGACY}.SEResNeXtBottleneck": "bottleneck",
        f"{LEGACY}.SEBottleneck": "bottleneck",
        **{name: kind for name, (kind, _) in V2_BLOCKS.items()},
    }
    parts = frozenset(
        {f"{part}{index}" for part in ("conv", "bn", "act") for index in (1, 2, 3)} | {"relu", "aa"}
    )

    def expansion(self, kind: BlockKind) -> int:
        return 1 if kind == "basic" else 4

    def inner(self, kind: BlockKind) -> bool:
        return kind == "bottleneck"

    def body(self, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
        """The residual branch; pre-activation puts each norm before its conv, on its input.

        With anti-aliasing the strided 3x3 conv runs at stride 1 and a pool named `aa`
        takes the stride after its norm and activation; timm applies it where a dilated
        stage starts as well, at stride 1 (a blur without subsampling).
        """
        bias = spec.conv_bias
        width, out = block.width, block.out_channels
        reduced = block.first_width
        first, dilation = block.first_dilation, block.dilation
        aliased = spec.anti_alias != "none" and (block.stride > 1 or first != dilation)
        stride = 1 if aliased else block.stride
        if block.kind == "basic":
            strided = 1
            convs = [
                Conv(block.in_channels, reduced, 3, stride, first, 1, bias, first),
                Conv(reduced, out, 3, 1, dilation, 1, bias, dilation),
            ]
        else:
            on_1x1 = spec.stages.stride_on == "1x1"
            stride_1x1, stride_3x3 = (stride, 1) if on_1x1 else (1, stride)
            groups = spec.stages.groups
            strided = 2
            convs = [
                Conv(block.in_channels, reduced, 1, stride=stride_1x1, bias=bias),
                Conv(reduced, width, 3, stride_3x3, first, groups, bias, first),
                Conv(width, out, 1, bias=bias),
            ]
        preact, norm_name = spec.stages.preactivation, LAYOUTS[spec.layout].norm
        layers: list[Named] = []
        for index, conv in enumerate(convs, start=1):
            channels = conv.in_channels if preact else conv.out_channels
            norm = (f"{norm_name}{index}", Norm.of(spec.norm.type, channels))
            pair = [norm, (f"conv{index}", conv)] if preact else [(f"conv{index}", conv), norm]
            layers.extend(pair)
            # An average pool at stride 1 is the identity: only the blur runs there.
            if index == strided and aliased and (block.stride > 1 or spec.anti_alias == "blur"):
                layers.append(("aa", AntiAlias(spec.anti_alias, conv.out_channels, block.stride)))
        return tuple(layers)

    # The generated file ------------------------------------------------------------------

    def class_name(self, kind: BlockKind) -> str:
        return "BasicBlock" if kind == "basic" else "Bottleneck"

    def template(self, kind: BlockKind, plan: Plan) -> str:
        return f"blocks/{'preact_' if plan.preactivation else ''}{kind}.py.jinja"

    def context(self, plan: Plan, convs: ConvArguments) -> dict[str, object]:
        aliased = plan.anti_alias != "none"
        return {
            "basic_conv1": [*([] if aliased else ["stride"]), *convs.first_dilation],
            "bottleneck_conv2": [
                convs.reduced_inner,
                "width",
                *convs.stride,
                *convs.groups,
                *convs.conv2_dilation,
            ],
            "anti_alias": {
                "basic": _anti_alias_line(plan, convs.reduced_width),
                "bottleneck": _anti_alias_line(plan, "width"),
            }
            if aliased
            else None,
        }

    def zero_init(self, kind: BlockKind, plan: Plan) -> str:
        last = 2 if kind == "basic" else 3
        return f"conv{last}" if plan.preactivation else f"{plan.layout.norm}{last}"

    def uses_conv1x1(self, kind: BlockKind, plan: Plan) -> bool:
        return kind != "basic"

    def conv3x3(self, kind: BlockKind) -> bool | None:
        return kind == "bottleneck"

    def two_dilations(self, kind: BlockKind) -> bool:
        return kind == "basic"

    def fold_norms(self, kind: BlockKind) -> tuple[int, ...]:
        return (1, 2) if kind == "basic" else (1, 2, 3)

    def stage_words(self, stage: StagePlan, plan: Plan) -> list[str]:
        if stage.pruned:
            return ["pruned widths " + ", ".join(f"{a}/{b}" for a, b in stage.pruned)]
        return [f"inner width {stage.width}"] if stage.block == "bottleneck" else []

    # How import reads it back ------------------------------------------------------------

    def read(
        self, reader: TreeReader, kind: BlockKind, module: Any, parts: dict[str, Any], name: str
    ) -> BlockConvs:
        from ..readers.common import NotExpressible, chained, class_name

        if kind == "basic":
            reader.setting(BRANCH).see(class_name(module) in BRANCH_ACTIVATED, name)
        kernels = (3, 3) if kind == "basic" else (1, 3, 1)
        convs = [
            reader.conv(parts.get(f"conv{index}"), f"{name}.conv{index}", kernel)
            for index, kernel in enumerate(kernels, start=1)
        ]
        for index, conv in enumerate(convs, start=1):
            reader.norm_of(parts.get(f"bn{index}"), f"{name}.bn{index}", conv.out_channels)
        for before, after in zip(convs, convs[1:], strict=False):
            chained(before, after, name)
        first, middle, last = convs[0], convs[-2], convs[-1]
        if kind == "basic":
            reader.reduction(first, last.out_channels, f"{name}.conv1")
            for conv, part in ((first, "conv1"), (last, "conv2")):
                if conv.groups != 1:
                    raise NotExpressible(f"{name}.{part}", "a grouped conv in a basic block")
            if last.stride[0] != 1:
                raise NotExpressible(f"{name}.conv2", "a basic block strides on its first conv")
            aa_stride = reader.block_anti_aliasing(parts, name, first.out_channels)
            return BlockConvs(
                first=first,
                width=last.out_channels,
                out=last.out_channels,
                stride=first.stride[0] * (aa_stride or 1),
                stride_on=None,
                groups=1,
                first_dilation=first.dilation[0],
                dilation=last.dilation[0],
                last_norm=parts["bn2"],
                aa_stride=aa_stride,
            )
        # A bottleneck whose widths follow no formula may be a pruned network's: the
        # network decides, once every block is read.
        reader.prunable.append((first, middle, last, name))
        if last.stride[0] != 1 or (first.stride[0] > 1 and middle.stride[0] > 1):
            raise NotExpressible(name, "a bottleneck strides once, on its first 1x1 or its 3x3")
        aa_stride = reader.block_anti_aliasing(parts, name, middle.out_channels)
        stride = first.stride[0] * middle.stride[0] * (aa_stride or 1)
        return BlockConvs(
            first=first,
            width=middle.out_channels,
            out=last.out_channels,
            stride=stride,
            stride_on=("1x1" if first.stride[0] > 1 else "3x3") if stride > 1 else None,
            groups=middle.groups,
            first_dilation=middle.dilation[0],
            dilation=None,
            last_norm=parts["bn3"],
            aa_stride=aa_stride,
        )

    def read_whole(
        self, reader: TreeReader, module: Any, name: str, in_channels: int
    ) -> ReadBlock | None:
        """resnetv2.py's blocks: pre-activation ones, each norm (holding its activation)
        before its conv, or its post-activation bottleneck."""
        from ..readers.common import NotExpressible, chained, class_name, short_name
        from ..readers.leaves import drop_rate

        if class_name(module) not in V2_BLOCKS:
            return None
        kind, preact = V2_BLOCKS[class_name(module)]
        parts = dict(module.named_children())
        count = 2 if kind == "basic" else 3
        known = {f"{part}{i}" for part in ("conv", "norm") for i in range(1, count + 1)}
        known |= {"downsample", "drop_path"} | ({"act3"} if not preact else set())
        for part, child in parts.items():
            if part not in known:
                raise NotExpressible(
                    f"{name}.{part}", f"{short_name(child)} is not a part of a ResNet block"
                )
        kernels = (3, 3) if kind == "basic" else (1, 3, 1)
        convs = [
            reader.conv(parts.get(f"conv{i}"), f"{name}.conv{i}", kernel)
            for i, kernel in enumerate(kernels, start=1)
        ]
        for before, after in zip(convs, convs[1:], strict=False):
            chained(before, after, name)
        for index, conv in enumerate(convs, start=1):
            norm, where = parts.get(f"norm{index}"), f"{name}.norm{index}"
            if preact or index < count:  # a norm holding its activation
                act = getattr(norm, "act", None)
                channels = conv.in_channels if preact else conv.out_channels
                reader.norm_and_act(norm, act, (where, f"{where}.act"), channels)
            else:
                reader.norm_of(norm, where, conv.out_channels)
                reader.act(parts.get("act3"), f"{name}.act3")
        reader.setting(PREACTIVATION).see(preact, name)
        first, middle, last = convs[0], convs[-2], convs[-1]
        if kind == "bottleneck":
            reader.prunable.append((convs[0], convs[1], convs[2], name))
        if last.stride[0] != 1 or (kind == "bottleneck" and first.stride[0] > 1):
            raise NotExpressible(name, "a resnetv2 block strides on its first 3x3 only")
        if kind == "basic":
            reader.reduction(first, last.out_channels, f"{name}.conv1")
        stride = middle.stride[0] if kind == "bottleneck" else first.stride[0]
        if first.in_channels != in_channels:
            message = f"takes {first.in_channels} channels where {in_channels} arrive"
            raise NotExpressible(f"{name}.conv1", message)
        shortcut, shortcut_norm, shows_dilation = reader.shortcut(
            parts.get("downsample"), f"{name}.downsample", in_channels, last.out_channels, stride
        )
        strided = middle if kind == "bottleneck" else first
        return ReadBlock(
            kind=kind,
            in_channels=in_channels,
            first_width=first.out_channels,
            width=middle.out_channels if kind == "bottleneck" else last.out_channels,
            out_channels=last.out_channels,
            stride=stride,
            stride_on="3x3" if stride > 1 and kind == "bottleneck" else None,
            groups=strided.groups,
            first_dilation=strided.dilation[0],
            dilation=last.dilation[0] if kind == "basic" else None,
            shortcut=shortcut,
            shortcut_norm=shortcut_norm,
            dilates=shows_dilation,
            attention=None,
            drop_path=drop_rate(parts.get("drop_path"), f"{name}.drop_path"),
            last_norm=last if preact else parts[f"norm{count}"],
            preact=preact,
        )

    def state_kind(self, parts: set[str]) -> BlockKind | None:
        if not {part.split(".", 1)[0] for part in parts} <= STATE_PARTS:
            return None
        if not {"conv1.weight", "conv2.weight"} <= parts:
            return None
        return "bottleneck" if "conv3.weight" in parts else "basic"

    def read_state(
        self, reader: StateReader, kind: BlockKind, name: str, in_channels: int
    ) -> BlockConvs:
        from ..readers.common import NotExpressible, chained

        kernels = (3, 3) if kind == "basic" else (1, 3, 1)
        convs, channels = [], in_channels
        for index, kernel in enumerate(kernels, start=1):
            if reader.preactivation:  # each norm before its conv, over its input
                reader.norm_of(f"{name}.bn{index}", channels)
            convs.append(reader.conv(f"{name}.conv{index}", channels, kernel))
            channels = convs[-1].out_channels
            if not reader.preactivation:
                reader.norm_of(f"{name}.bn{index}", channels)
        for before, after in zip(convs, convs[1:], strict=False):
            chained(before, after, name)
        first, middle, last = convs[0], convs[-2], convs[-1]
        if kind == "basic":
            reader.reduction(first, last.out_channels, f"{name}.conv1")
            if first.groups != 1 or last.groups != 1:
                raise NotExpressible(f"{name}.conv1", "a grouped conv in a basic block")
        else:
            reader.prunable.append((first, middle, last, name))
        return BlockConvs(
            first=first,
            width=middle.out_channels if kind == "bottleneck" else last.out_channels,
            out=last.out_channels,
            groups=middle.groups if kind == "bottleneck" else 1,
            dilation=1 if kind == "basic" else None,
        )

    def fields(self, reader: TreeReader) -> dict[str, Any]:
        return {"branch_activation": bool(reader.setting(BRANCH).value)}


def _anti_alias_line(plan: Plan, channels: str) -> str:
    """The block's anti-aliasing pool: where it strides, and for a blur where a dilated
    stage starts (an average pool at stride 1 would be the identity)."""
    pool = ANTI_ALIAS_POOLS[plan.anti_alias].format(channels=channels, stride="stride")
    condition = "stride > 1"
    if plan.dilated and plan.anti_alias == "blur":
        condition += " or first_dilation != dilation"
    value = f"{pool} if {condition} else nn.Identity()"
    # As ruff formats it: one line, else the value alone in parentheses, else a part a line.
    if len(f"        self.aa = {value}") <= LINE_LENGTH:
        return f"        self.aa = {value}"
    fits = len(value) + 12 <= LINE_LENGTH
    parts = [value] if fits else [pool, f"if {condition}", "else nn.Identity()"]
    inner = "".join(f"            {part}\n" for part in parts)
    return f"        self.aa = (\n{inner}        )"


PLAIN = PlainBlocks()
