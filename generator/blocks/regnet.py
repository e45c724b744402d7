"""RegNet's block (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020,
arXiv:2003.13678), as pycls, torchvision and timm's regnet.py build it: a 1x1 conv, a 3x3
conv of groups `group_width` channels wide and a 1x1 conv, each with its norm and all but
the last with the activation, at an inner width of the output width times the bottleneck
ratio; RegNet-Y puts squeeze-and-excitation after the 3x3, its hidden width sized from
the block's input (the X block has none). Its stages differ in groups, so each block is
given its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import Finding
from ..layers import Conv, Named, Norm, SqueezeExcite
from ..render.modules import conv_norm_act
from ..spec import BlockKind, Spec
from .family import (
    BlockConvs,
    BlockFamily,
    BlockShape,
    ConvArguments,
    ReadBlock,
    StageShape,
)

if TYPE_CHECKING:
    from ..plan import Plan, StagePlan
    from ..readers.state import StateReader
    from ..readers.tree import TreeReader

KIND: BlockKind = "regnet"
TIMM = "timm.models.regnet.Bottleneck"
TIMM_PREACT = "timm.models.regnet.PreBottleneck"
TORCHVISION = "torchvision.models.regnet.ResBottleneckBlock"
# A block's ConvNormAct modules, in the order data meets them.
UNITS = ("conv1", "conv2", "conv3")
# The names a checkpoint's RegNet block holds its tensors under, pre-activated or not.
NORMS = ("norm1", "norm2", "norm3")
STATE_PARTS = {*UNITS, *NORMS, "se", "downsample"}
MAX_STAGES, MAX_DEPTH = 8, 256


def se_hidden(in_channels: int, reduction: int) -> int:
    """A RegNet-Y block's squeeze width: its input's channels over the reduction, rounded
    (RegNet's se_ratio = 1 / reduction, as pycls, torchvision and timm round it)."""
    return int(round(in_channels * (1 / reduction)))


def _regnet_fields(spec: Any) -> Iterator[Finding]:
    """What only RegNet's blocks take, and what they need."""
    stages = spec.stages
    regnet = KIND in stages.block
    own = (("group_width", None), ("bottleneck_ratio", 1.0), ("design", None))
    for field, unset in (*own, ("linear_output", False)):
        if not regnet and getattr(stages, field) != unset:
            yield ("stages", field), "applies to regnet blocks only, and this network has none"
    if stages.shortcut == "none" and set(stages.block) != {KIND}:
        yield ("stages", "shortcut"), "none applies to networks of regnet blocks only"
    if regnet and stages.preactivation:
        if stages.shortcut == "none":
            yield ("stages", "shortcut"), "none applies to post-activation regnet blocks only"
        if stages.linear_output:
            yield ("stages", "linear_output"), "pre-activated blocks' outputs are linear already"
    if not regnet:
        return
    if stages.group_width is None:
        yield ("stages", "group_width"), "regnet blocks need a group width"
    for field, default in (("groups", 1), ("width_per_group", 64), ("reduce_first", 1)):
        if getattr(stages, field) != default:
            yield ("stages", field), "does not apply to regnet blocks: give stages.group_width"
    if stages.design is not None:
        depths = stages.stage_depths()
        if len(depths) > MAX_STAGES:
            message = f"gives {len(depths)} stages; at most {MAX_STAGES} (raise w_m or w_0)"
            yield ("stages", "design"), message
        elif max(depths) > MAX_DEPTH:
            message = f"gives a stage of {max(depths)} blocks; at most {MAX_DEPTH}"
            yield ("stages", "design"), message


class RegNetBlocks(BlockFamily):
    name = "regnet"
    kinds = (KIND,)
    known_as = "RegNet Bottleneck"
    rules = (_regnet_fields,)
    classes: dict[str, BlockKind] = {TIMM: KIND, TIMM_PREACT: KIND, TORCHVISION: KIND}
    parts = frozenset({*UNITS, *NORMS, "act3"})
    helpers = ("blocks/conv_norm_act.py.jinja",)
    reduces_first = False  # its first conv is a 1x1 of the inner width, ungrouped
    first_stride = 2  # the stem strides 2 alone: every stage halves the resolution
    network_class = "RegNet"
    own_attention = True
    stage_groups = True
    shortcut_free = True
    pool_follows_first_dilation = True

    # The plan ----------------------------------------------------------------------------

    def expansion(self, kind: BlockKind) -> int:
        return 1

    def stage_width(self, kind: BlockKind, base: int, stages: Any) -> tuple[int, int]:
        """The inner width, the output width times the bottleneck ratio, and its groups
        of `group_width` channels (capped at the inner width)."""
        inner = int(round(base * stages.bottleneck_ratio))
        group_width = min(stages.group_width or 1, max(inner, 1))
        return inner, max(inner // group_width, 1)

    def final_norm(self, stages: Any) -> bool:
        return False  # timm's pre-activation RegNets end in the activation alone

    def final_activation(self, stages: Any) -> bool:
        """Where the blocks leave their outputs unactivated (linear, or pre-activation),
        the activation comes before the head (timm's final_conv slot)."""
        return bool(stages.linear_output or stages.preactivation)

    def stage_problem(self, spec: Spec, stage: StageShape) -> Finding | None:
        group_width = min(spec.stages.group_width or 1, stage.width)
        if stage.width % group_width:
            message = (
                f"does not divide stage {stage.index + 1}'s inner width of {stage.width}; "
                "make the widths multiples of it, or give stages.design"
            )
            return ("stages", "group_width"), message
        return None

    def body(self, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
        """conv1, conv2, se, conv3 as conv and norm units; pre-activated, each conv
        after its norm (norm1, conv1, norm2, conv2, se, norm3, conv3), as timm's
        PreBottleneck."""
        width, norm, dilation = block.width, spec.norm.type, block.first_dilation
        convs = (
            Conv(block.in_channels, width, 1),
            Conv(width, width, 3, block.stride, dilation, block.groups, False, dilation),
            Conv(width, block.out_channels, 1),
        )
        attention = spec.stages.attention
        se: list[Named] = []
        if attention.type == "se":
            se = [("se", SqueezeExcite(width, se_hidden(block.in_channels, attention.reduction)))]
        layers: list[Named] = []
        for number, conv in enumerate(convs, start=1):
            if spec.stages.preactivation:
                unit = [(f"norm{number}", Norm.of(norm, conv.in_channels)), (f"conv{number}", conv)]
            else:
                unit = [
                    (f"conv{number}.conv", conv),
                    (f"conv{number}.bn", Norm.of(norm, conv.out_channels)),
                ]
            # The squeeze-and-excitation follows the 3x3, before the last unit.
            layers += (se if number == 3 else []) + unit
        return tuple(layers)

    # The generated file ------------------------------------------------------------------

    def class_name(self, kind: BlockKind) -> str:
        return "RegNetBlock"

    def context(self, plan: Plan, convs: ConvArguments) -> dict[str, object]:
        attention = plan.setting("regnet_attention")
        return {
            "se_ratio": f"{1 / attention:g}" if attention else None,
            "conv_norm_act": conv_norm_act(plan, dilated=plan.dilated, grouped=True),
            "linear_output": plan.setting("linear_output"),
            "bare": any(stage.first_shortcut == "none" for stage in plan.stages),
            # A pre-activated block's 3x3 is a bare conv.
            "preact_conv2": [
                "width",
                "width",
                3,
                "stride=stride",
                *(["padding=dilation", "dilation=dilation"] if plan.dilated else ["padding=1"]),
                "groups=groups",
                f"bias={plan.conv_bias!r}",
            ],
        }

    def settings(self, stages: Any) -> dict[str, object]:
        se = stages.attention.type == "se" and KIND in stages.block
        return {
            "regnet_attention": stages.attention.reduction if se else None,
            "linear_output": stages.linear_output,
        }

    def zero_init(self, kind: BlockKind, plan: Plan) -> str:
        return "conv3" if plan.preactivation else "conv3.bn"

    def uses_conv1x1(self, kind: BlockKind, plan: Plan) -> bool:
        return plan.preactivation  # a pre-activated block's 1x1s are bare convs

    def helper_templates(self, plan: Plan) -> tuple[str, ...]:
        """ConvNormAct wherever a conv and its norm are one unit: in post-activation
        blocks, and in a pre-activated network only as its final conv."""
        return self.helpers if not plan.preactivation or plan.head.final_conv else ()

    def template(self, kind: BlockKind, plan: Plan) -> str:
        return f"blocks/{'preact_' if plan.preactivation else ''}regnet.py.jinja"

    def fold_norms(self, kind: BlockKind) -> tuple[int, ...]:
        return ()  # its convs and norms are ConvNormAct's

    def fold_template(self, kind: BlockKind) -> str | None:
        return "blocks/regnet_folds.py.jinja"

    # How diff and the model card describe it --------------------------------------------

    def facts(self, plan: Plan) -> dict[str, str]:
        if KIND not in plan.block_kinds:
            return {"stages.group_width": "-", "stages.linear_output": "-"}
        widths = sorted({stage.width // stage.groups for stage in plan.stages})
        linear = "yes" if plan.setting("linear_output") else "no"
        return {"stages.group_width": ", ".join(map(str, widths)), "stages.linear_output": linear}

    def stage_words(self, stage: StagePlan, plan: Plan) -> list[str]:
        return [f"inner width {stage.width}", f"{stage.groups} groups"]

    # How import reads it back ------------------------------------------------------------

    def read_whole(
        self, reader: TreeReader, module: Any, name: str, in_channels: int
    ) -> ReadBlock | None:
        """timm's RegNet Bottleneck: three ConvNormAct (the last without its activation),
        squeeze-and-excitation after the 3x3 perhaps, the activation after the sum."""
        from torch import nn

        from ..readers.common import NotExpressible, chained, class_name, short_name
        from ..readers.leaves import conv_norm_act, drop_rate
        from ..readers.tree import read_attention

        if class_name(module) == TORCHVISION:
            parts = _torchvision_parts(module, name)
            convs = [
                _conv_norm_activation(reader, parts.get(unit), f"{name}.{unit}", kernel)
                for unit, kernel in zip(UNITS, (1, 3, 1), strict=True)
            ]
        elif class_name(module) == TIMM:
            parts = dict(module.named_children())
            convs = [
                conv_norm_act(reader, parts.get(unit), f"{name}.{unit}", kernel, unit != "conv3")
                for unit, kernel in zip(UNITS, (1, 3, 1), strict=True)
            ]
        elif class_name(module) == TIMM_PREACT:
            parts = dict(module.named_children())
            convs = _preactivated_convs(reader, parts, name)
        else:
            return None
        preact = class_name(module) == TIMM_PREACT
        known = {*UNITS, "se", "downsample", "drop_path"}
        known |= set(NORMS) if preact else {"act3"}
        for part, child in parts.items():
            if part not in known:
                raise NotExpressible(f"{name}.{part}", f"{short_name(child)} is not a part of it")
        for before, after in zip(convs, convs[1:], strict=False):
            chained(before, after, name)
        first, middle, last = convs
        if not preact:
            act3 = parts.get("act3")
            linear = type(act3) is nn.Identity  # RegNet-Z's: no activation after the sum
            reader.setting("linear output").see(linear, f"{name}.act3")
            if not linear:
                reader.act(act3, f"{name}.act3")
        if first.stride[0] != 1 or last.stride[0] != 1:
            raise NotExpressible(name, "a RegNet block strides on its 3x3 only")
        if first.in_channels != in_channels:
            message = f"takes {first.in_channels} channels where {in_channels} arrive"
            raise NotExpressible(f"{name}.conv1.conv", message)
        stride = middle.stride[0]
        shortcut, shortcut_norm, shows_dilation = reader.shortcut(
            parts.get("downsample"), f"{name}.downsample", in_channels, last.out_channels, stride
        )
        reshapes = stride != 1 or in_channels != last.out_channels
        if reshapes and class_name(module) != TORCHVISION and module.downsample is None:
            if preact:
                message = "None on a pre-activated block that changes shape; it needs a shortcut"
                raise NotExpressible(f"{name}.downsample", message)
            shortcut = "none"  # timm's downsample=None: the block is its branch alone
        return ReadBlock(
            kind=KIND,
            in_channels=in_channels,
            first_width=first.out_channels,
            width=middle.out_channels,
            out_channels=last.out_channels,
            stride=stride,
            stride_on=None,
            groups=middle.groups,
            first_dilation=middle.dilation[0],
            dilation=None,
            shortcut=shortcut,
            shortcut_norm=shortcut_norm,
            dilates=shows_dilation,
            attention=read_attention(reader, parts.get("se"), f"{name}.se"),
            drop_path=drop_rate(parts.get("drop_path"), f"{name}.drop_path"),
            last_norm=parts["conv3"] if preact else _norm_of(parts["conv3"]),
            preact=preact,
        )

    def state_kind(self, parts: set[str]) -> BlockKind | None:
        units = {part.split(".", 1)[0] for part in parts}
        post = {f"{unit}.conv.weight" for unit in UNITS}
        pre = {f"{unit}.weight" for unit in UNITS} | {f"{norm}.weight" for norm in NORMS}
        return KIND if units <= STATE_PARTS and (post <= parts or pre <= parts) else None

    def read_state(
        self, reader: StateReader, kind: BlockKind, name: str, in_channels: int
    ) -> BlockConvs:
        from ..readers.common import chained

        preact = reader.has(f"{name}.norm1.weight")  # each norm before its conv
        convs, channels = [], in_channels
        for number, (unit, kernel) in enumerate(zip(UNITS, (1, 3, 1), strict=True), start=1):
            if preact:
                reader.norm_of(f"{name}.norm{number}", channels)
                convs.append(reader.conv(f"{name}.{unit}", channels, kernel))
            else:
                convs.append(reader.conv(f"{name}.{unit}.conv", channels, kernel))
                reader.norm_of(f"{name}.{unit}.bn", convs[-1].out_channels)
            channels = convs[-1].out_channels
        for before, after in zip(convs, convs[1:], strict=False):
            chained(before, after, name)
        first, middle, last = convs
        if not preact:
            reader.assume("stages.linear_output false")  # an activation shows no weights
        return BlockConvs(
            first=first,
            width=middle.out_channels,
            out=last.out_channels,
            groups=middle.groups,
            attended=middle.out_channels,
            preact=preact,
        )

    def fields(self, reader: Any) -> dict[str, Any]:
        """Whether the blocks read leave their outputs linear (a module tree shows it)."""
        linear = reader.setting("linear output").value
        return {} if linear is None else {"linear_output": linear}

    def stage_data(self, blocks: list[tuple[ReadBlock, str]]) -> dict[str, Any]:
        """The group width, the bottleneck ratio and the attention that give every
        block's widths, groups and squeeze width."""
        from ..readers.common import NotExpressible

        group_width = max(block.width // block.groups for block, _ in blocks)
        for block, where in blocks:
            if min(group_width, block.width) != block.width // block.groups:
                message = f"groups {block.width // block.groups} channels wide, where others"
                raise NotExpressible(f"{where}.conv2", f"{message} are {group_width}")
        ratios = {block.width / block.out_channels for block, _ in blocks}
        ratio = min(ratios)
        for block, where in blocks:
            if int(round(block.out_channels * ratio)) != block.width:
                message = "an inner width that follows no bottleneck ratio of the others"
                raise NotExpressible(f"{where}.conv2", message)
        attention: dict[str, Any] = {"type": "none"}
        squeezes = {(block.in_channels, block.attention) for block, _ in blocks}
        if any(found is not None for _, found in squeezes):
            reduction = next(
                (
                    r
                    for r in (4, *range(1, 257))
                    if all(
                        found is not None and found == ("se", se_hidden(channels, r))
                        for channels, found in squeezes
                    )
                ),
                None,
            )
            if reduction is None:
                message = "squeeze widths that follow no reduction of each block's input"
                raise NotExpressible(f"{blocks[0][1]}.se", message)
            attention = {"type": "se", "reduction": reduction}
        # Widths as read, not from the design space: a spec extending one says so.
        return {
            "group_width": group_width,
            "bottleneck_ratio": ratio,
            "attention": attention,
            "design": None,
        }


def _norm_of(unit: Any) -> Any:
    """The norm of a conv, norm and activation: timm's ConvNormAct's bn, or torchvision's
    Conv2dNormActivation's second module."""
    return unit.bn if hasattr(unit, "bn") else unit[1]


def _preactivated_convs(reader: Any, parts: dict[str, Any], name: str) -> list[Any]:
    """timm's PreBottleneck: each bare conv after its norm, which holds the activation."""
    convs = []
    for number, kernel in enumerate((1, 3, 1), start=1):
        conv = reader.conv(parts.get(f"conv{number}"), f"{name}.conv{number}", kernel)
        norm, where = parts.get(f"norm{number}"), f"{name}.norm{number}"
        act = getattr(norm, "act", None)
        reader.norm_and_act(norm, act, (where, f"{where}.act"), conv.in_channels)
        convs.append(conv)
    return convs


def _torchvision_parts(module: Any, name: str) -> dict[str, Any]:
    """torchvision's ResBottleneckBlock under timm's names: f.a, f.b, f.c as conv1, conv2,
    conv3, f.se as se, proj as downsample, activation as act3."""
    from ..readers.common import NotExpressible, short_name

    parts = dict(module.named_children())
    branch = dict(parts.pop("f").named_children()) if "f" in parts else {}
    named = {"a": "conv1", "b": "conv2", "c": "conv3", "se": "se"}
    for part, child in branch.items():
        if part not in named:
            raise NotExpressible(f"{name}.f.{part}", f"{short_name(child)} is not a part of it")
    renamed = {named[part]: child for part, child in branch.items()}
    own = {"proj": "downsample", "activation": "act3"}
    return renamed | {own.get(part, part): child for part, child in parts.items()}


def _conv_norm_activation(reader: Any, unit: Any, name: str, kernel: int) -> Any:
    """torchvision's Conv2dNormActivation: a conv, a norm and (but the last) an activation."""
    from torch import nn

    from ..readers.common import NotExpressible, short_name

    layers = list(unit) if isinstance(unit, nn.Sequential) else []
    if len(layers) not in (2, 3):
        found = short_name(unit) if unit is not None else "nothing"
        raise NotExpressible(name, f"{found} where a conv, a norm and an activation belong")
    conv = reader.conv(layers[0], f"{name}.0", kernel)
    reader.norm_of(layers[1], f"{name}.1", conv.out_channels)
    if len(layers) == 3:
        reader.act(layers[2], f"{name}.2")
    return conv


REGNET = RegNetBlocks()
