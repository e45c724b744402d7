"""SKNet's blocks (Li et al. 2019, arXiv:1903.06586), as timm's sknet.py builds them: a
basic block and a bottleneck whose strided 3x3 is a selective kernel, two 3x3 paths (the
second dilated twice as far) weighed channel by channel by attention."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..analysis import LayerFigures, Shape, layer_figures
from ..errors import Finding
from ..layers import Composite, Conv, Named, Norm
from ..render.modules import batch_norm_class, conv_norm_act
from ..render.text import repeated
from ..spec import STRIDE_ON_KINDS, BlockKind, NormType, Spec, Stages
from ..state import Shapes, conv_shapes, norm_shapes
from ..widths import make_divisible
from .family import BlockConvs, BlockFamily, BlockShape, ConvArguments, StageShape

if TYPE_CHECKING:
    from ..plan import Plan, StagePlan
    from ..readers.state import StateReader
    from ..readers.tree import TreeReader

KINDS: tuple[BlockKind, ...] = ("sk_basic", "sk_bottleneck")
SELECTIVE_KERNEL = "timm.layers.selective_kernel.SelectiveKernel"
ATTENTION = "timm.layers.selective_kernel.SelectiveKernelAttn"
SPLIT_INPUT = "selective kernels' input split"  # the reader's setting
WIDTHS = "selective kernels' widths"  # each one's channels, hidden width and name
# A block's ConvNormAct modules, and which holds the selective kernel.
FOLDS = {"sk_basic": (("conv2",), "conv1"), "sk_bottleneck": (("conv1", "conv3"), "conv2")}


@dataclass(frozen=True)
class SelectiveKernel(Composite):
    """Two paths of a 3x3 conv, a norm and the activation, the second dilated twice as far
    as the first (a 5x5's view), fed half of the input each (`split_input`) or all of it;
    their sum, pooled, passes a 1x1 conv to `hidden` (attn.fc_reduce), a batch norm
    (attn.bn, whatever the network's norm), a ReLU and a 1x1 conv to two weights per
    channel (attn.fc_select), whose softmax across the paths weighs them into one. The
    attention's convs have biases where the paths' do."""

    paths: tuple[Conv, Conv]
    norm: Norm  # of each path; attn.bn is a batch norm, frozen where this one is
    hidden: int

    @property
    def channels(self) -> int:
        return self.paths[0].out_channels

    def figures(self, shape: Shape) -> LayerFigures:
        """Two paths of a conv and a norm, then two 1x1 convs and a norm on their sum."""
        inputs: Shape = (self.paths[0].in_channels, shape[1], shape[2])
        params: dict[str, int] = {}
        macs = activations = 0
        for index, conv in enumerate(self.paths):
            path = layer_figures(conv, inputs)
            norm = layer_figures(self.norm, path.shape)
            params[f"paths.{index}.conv"] = path.params[""]
            params.update({f"paths.{index}.bn": norm.params[""]} if norm.params else {})
            macs += path.macs
            activations += path.activations + norm.activations
        channels, hidden, bias = self.channels, self.hidden, self.paths[0].bias
        params["attn.fc_reduce"] = channels * hidden + (hidden if bias else 0)
        if self.norm.trainable:
            params["attn.bn"] = 2 * hidden
        params["attn.fc_select"] = hidden * 2 * channels + (2 * channels if bias else 0)
        macs += 3 * channels * hidden
        # The weighed sum is no module's output.
        activations += 2 * hidden + 2 * channels
        return LayerFigures(params, macs, path.shape, activations)

    def norms(self, name: str) -> list[tuple[str, Norm]]:  # its attention's is a batch norm
        return [(f"{name}.paths.0.bn", self.norm)]

    def state(self, name: str, norm: NormType) -> Shapes:
        channels, hidden, bias = self.channels, self.hidden, self.paths[0].bias
        shapes: Shapes = {}
        for index, conv in enumerate(self.paths):
            shapes.update(conv_shapes(f"{name}.paths.{index}.conv", conv))
            shapes.update(norm_shapes(f"{name}.paths.{index}.bn", channels, norm))
        attention_norm: NormType = "frozen_batch" if norm == "frozen_batch" else "batch"
        return {
            **shapes,
            **conv_shapes(f"{name}.attn.fc_reduce", Conv(channels, hidden, 1, bias=bias)),
            **norm_shapes(f"{name}.attn.bn", hidden, attention_norm),
            **conv_shapes(f"{name}.attn.fc_select", Conv(hidden, 2 * channels, 1, bias=bias)),
        }


def sk_hidden(channels: int, reduction: int, divisor: int) -> int:
    """A selective kernel's attention's hidden width, as timm sizes it from rd_ratio =
    1 / reduction and rd_divisor."""
    return make_divisible(channels * (1 / reduction), divisor)


def _selective_kernel(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    if not set(KINDS) & set(stages.block):
        for field in sorted(stages.selective_kernel.model_fields_set):
            message = "applies to sk_basic and sk_bottleneck blocks only, and this network has none"
            yield ("stages", "selective_kernel", field), message
        return
    # timm's selective-kernel blocks stride on their selective kernel, after its norms.
    if stages.preactivation:
        yield ("stages", "preactivation"), "sk blocks are post-activation only"
    bottlenecks = set(STRIDE_ON_KINDS) & set(stages.block)
    if stages.stride_on != "3x3" and bottlenecks and "sk_bottleneck" in stages.block:
        yield ("stages", "stride_on"), "sk bottlenecks stride on their selective kernel only"
    if spec.anti_alias != "none":
        yield ("anti_alias",), "sk blocks take no anti-aliasing"


class SelectiveKernelBlocks(BlockFamily):
    name = "selective_kernel"
    kinds = KINDS
    known_as = "SKNet"
    rules = (_selective_kernel,)
    classes: dict[str, BlockKind] = {
        "timm.models.sknet.SelectiveKernelBasic": "sk_basic",
        "timm.models.sknet.SelectiveKernelBottleneck": "sk_bottleneck",
    }
    parts = frozenset({"conv1", "conv2", "conv3", "act"})
    helpers = ("blocks/selective_kernel.py.jinja",)

    def expansion(self, kind: BlockKind) -> int:
        return 1 if kind == "sk_basic" else 4

    def inner(self, kind: BlockKind) -> bool:
        return kind == "sk_bottleneck"

    def settings(self, stages: Stages) -> dict[str, object]:
        return {"selective_kernel": stages.selective_kernel}

    def stage_problem(self, spec: Spec, stage: StageShape) -> Finding | None:
        """A selective kernel's paths take half of its input each, where it splits it."""
        if not spec.stages.selective_kernel.split_input:
            return None
        later = [stage.out_channels] if stage.depth > 1 else []  # what later blocks take
        inputs = [stage.in_channels, *later] if stage.kind == "sk_basic" else [stage.reduced]
        odd = [count for count in inputs if count % (2 * stage.groups)]
        if not odd:
            return None
        message = (
            f"gives stage {stage.index + 1} a selective kernel over {odd[0]} channels, "
            f"which two paths of {stage.groups} group(s) cannot split"
        )
        return ("stages", "selective_kernel", "split_input"), message

    def body(self, block: BlockShape, spec: Spec) -> tuple[Named, ...]:
        """The selective kernel in place of the (first) 3x3 conv, every other conv with its
        norm (and activation) under one name, as conv and bn."""
        bias, settings, out = spec.conv_bias, spec.stages.selective_kernel, block.out_channels
        norm = spec.norm.type

        def selective_kernel(in_channels: int, channels: int, groups: int) -> SelectiveKernel:
            inputs = in_channels // 2 if settings.split_input else in_channels
            dilations = (block.first_dilation, 2 * block.first_dilation)
            stride = block.stride
            paths = tuple(Conv(inputs, channels, 3, stride, d, groups, bias, d) for d in dilations)
            hidden = sk_hidden(channels, settings.reduction, settings.divisor)
            return SelectiveKernel((paths[0], paths[1]), Norm.of(norm, channels), hidden)

        if block.kind == "sk_basic":
            dilation = block.dilation
            return (
                ("conv1", selective_kernel(block.in_channels, block.first_width, 1)),
                ("conv2.conv", Conv(block.first_width, out, 3, 1, dilation, 1, bias, dilation)),
                ("conv2.bn", Norm.of(norm, out)),
            )
        first, width = block.first_width, block.width
        return (
            ("conv1.conv", Conv(block.in_channels, first, 1, bias=bias)),
            ("conv1.bn", Norm.of(norm, first)),
            ("conv2", selective_kernel(first, width, spec.stages.groups)),
            ("conv3.conv", Conv(width, out, 1, bias=bias)),
            ("conv3.bn", Norm.of(norm, out)),
        )

    # The generated file ------------------------------------------------------------------

    def class_name(self, kind: BlockKind) -> str:
        return "SelectiveKernelBasicBlock" if kind == "sk_basic" else "SelectiveKernelBottleneck"

    def context(self, plan: Plan, convs: ConvArguments) -> dict[str, object]:
        """ConvNormAct's and SelectiveKernel's parameters, their paths, the attention's
        hidden width, and the arguments each block passes."""
        settings = plan.setting("selective_kernel")
        grouped = plan.groups > 1 and "sk_bottleneck" in plan.block_kinds
        groups = ["groups=groups"] if grouped else []
        block_groups = [f"groups={plan.groups}"] if grouped else []
        path_dilation = "dilation * factor" if plan.dilated else "dilation"
        loop = "for factor in (1, 2)" if plan.dilated else "for dilation in (1, 2)"
        inputs = "in_channels // 2" if settings.split_input else "in_channels"
        path = ("ConvNormAct", [inputs, "out_channels", 3, "stride", path_dilation, *groups])
        divisor, reduction = settings.divisor, settings.reduction
        rounded = f"int(reduced + {divisor / 2:g}) // {divisor} * {divisor}"
        return {
            "split_input": settings.split_input,
            "conv_norm_act": conv_norm_act(plan, dilated=True, grouped=grouped),
            "parameters": [
                "in_channels: int",
                "out_channels: int",
                "stride: int",
                *(["dilation: int = 1"] if plan.dilated else []),
                *(["groups: int = 1"] if grouped else []),
            ],
            "paths": repeated("paths", path, loop),
            "hidden": [
                f"        reduced = out_channels * (1 / {reduction})",
                f"        hidden = max({divisor}, {rounded})",
                f"        hidden += {divisor} if hidden < 0.9 * reduced else 0",
            ],
            "reduction": reduction,
            "divisor": divisor,
            "attention_norm": f"{batch_norm_class(plan)}(hidden)",
            "frozen": plan.norm == "frozen_batch",
            "basic_conv1": convs.first_dilation,
            "basic_conv2": [*convs.dilation, "act=False"],
            "bottleneck_conv2": [*convs.conv2_dilation, *block_groups],
            "folds": {
                kind: (
                    ", ".join([*(f"block.{p}" for p in parts), f"*block.{kernel}.paths"]),
                    kernel,
                )
                for kind, (parts, kernel) in FOLDS.items()
            },
        }

    def zero_init(self, kind: BlockKind, plan: Plan) -> str:
        return "conv2.bn" if kind == "sk_basic" else "conv3.bn"

    def two_dilations(self, kind: BlockKind) -> bool:
        return kind == "sk_basic"

    def fold_norms(self, kind: BlockKind) -> tuple[int, ...]:
        return ()  # its convs and norms are ConvNormAct's

    def fold_template(self, kind: BlockKind) -> str | None:
        return "blocks/selective_kernel_folds.py.jinja"

    # How diff and the model card describe it --------------------------------------------

    def facts(self, plan: Plan) -> dict[str, str]:
        settings = plan.setting("selective_kernel")
        used = set(KINDS) & set(plan.block_kinds)
        facts = {
            "reduction": str(settings.reduction),
            "divisor": str(settings.divisor),
            "split_input": "yes" if settings.split_input else "no",
        }
        return {f"stages.selective_kernel.{key}": v if used else "-" for key, v in facts.items()}

    def stage_words(self, stage: StagePlan, plan: Plan) -> list[str]:
        return [f"inner width {stage.width}"] if stage.block == "sk_bottleneck" else []

    # How import reads it back ------------------------------------------------------------

    def read(
        self, reader: TreeReader, kind: BlockKind, module: Any, parts: dict[str, Any], name: str
    ) -> BlockConvs:
        from ..readers.common import NotExpressible, chained, expands_by_four
        from ..readers.leaves import conv_norm_act

        if kind == "sk_basic":
            conv1, takes = _read_selective_kernel(reader, parts.get("conv1"), f"{name}.conv1")
            conv2 = conv_norm_act(reader, parts.get("conv2"), f"{name}.conv2", 3, act=False)
            chained(conv1, conv2, name)
            reader.reduction(conv1, conv2.out_channels, f"{name}.conv1")
            if conv2.stride[0] != 1 or conv2.groups != 1:
                raise NotExpressible(f"{name}.conv2", "a strided or grouped second conv")
            return BlockConvs(
                first=conv1,
                width=conv2.out_channels,
                out=conv2.out_channels,
                stride=conv1.stride[0],
                stride_on=None,
                groups=1,
                first_dilation=conv1.dilation[0],
                dilation=conv2.dilation[0],
                last_norm=parts["conv2"].bn,
                takes=takes,
            )
        conv1 = conv_norm_act(reader, parts.get("conv1"), f"{name}.conv1", 1, act=True)
        conv2, conv2_takes = _read_selective_kernel(reader, parts.get("conv2"), f"{name}.conv2")
        conv3 = conv_norm_act(reader, parts.get("conv3"), f"{name}.conv3", 1, act=False)
        if conv1.out_channels != conv2_takes:
            raise NotExpressible(name, "convs whose channels do not chain")
        chained(conv2, conv3, name)
        expands_by_four(conv3, name)
        reader.reduction(conv1, conv2.out_channels, f"{name}.conv1")
        if conv1.stride[0] != 1 or conv3.stride[0] != 1:
            raise NotExpressible(name, "a selective-kernel block strides on its kernel only")
        stride = conv2.stride[0]
        return BlockConvs(
            first=conv1,
            width=conv2.out_channels,
            out=conv3.out_channels,
            stride=stride,
            stride_on="3x3" if stride > 1 else None,
            groups=conv2.groups,
            first_dilation=conv2.dilation[0],
            dilation=None,
            last_norm=parts["conv3"].bn,
        )

    def state_kind(self, parts: set[str]) -> BlockKind | None:
        if "conv1.paths.0.conv.weight" in parts:
            return "sk_basic"
        return "sk_bottleneck" if "conv2.paths.0.conv.weight" in parts else None

    def read_state(
        self, reader: StateReader, kind: BlockKind, name: str, in_channels: int
    ) -> BlockConvs:
        from ..readers.common import NotExpressible, expands_by_four

        if kind == "sk_basic":
            first = _state_kernel(reader, f"{name}.conv1", in_channels, single_group=True)
            second = reader.conv(f"{name}.conv2.conv", first.out_channels, 3)
            reader.norm_of(f"{name}.conv2.bn", second.out_channels)
            reader.reduction(first, second.out_channels, f"{name}.conv1")
            if second.groups != 1:
                raise NotExpressible(f"{name}.conv2", "a grouped second conv")
            width = out = second.out_channels
            groups, dilation = 1, 1
        else:
            first = reader.conv(f"{name}.conv1.conv", in_channels, 1)
            reader.norm_of(f"{name}.conv1.bn", first.out_channels)
            kernel = _state_kernel(reader, f"{name}.conv2", first.out_channels, single_group=False)
            last = reader.conv(f"{name}.conv3.conv", kernel.out_channels, 1)
            reader.norm_of(f"{name}.conv3.bn", last.out_channels)
            expands_by_four(last, name)
            reader.reduction(first, kernel.out_channels, f"{name}.conv1")
            width, out, groups, dilation = (
                kernel.out_channels,
                last.out_channels,
                kernel.groups,
                None,
            )
        return BlockConvs(
            first=first,
            width=width,
            out=out,
            groups=groups,
            dilation=dilation,
        )

    def fields(self, reader: TreeReader) -> dict[str, Any]:
        """The reduction and rounding that give every selective kernel its hidden width."""
        from ..readers.common import NotExpressible
        from ..readers.network import rounding

        widths = reader.seen(WIDTHS)
        if not widths:
            return {}
        pairs = {(channels, hidden) for channels, hidden, _ in widths}
        fit = rounding(pairs, sk_hidden, divisors=[8, 16, 32], reductions=[16, 8])
        if fit:
            reduction, divisor = fit
            split = bool(reader.setting(SPLIT_INPUT).value)
            settings = {"reduction": reduction, "divisor": divisor, "split_input": split}
            return {"selective_kernel": settings}
        raise NotExpressible(
            widths[0][2],
            "hidden widths that follow no reduction and rounding from 1 to 256 (channels / "
            "reduction, rounded to a multiple of the divisor)",
        )


def _state_kernel(reader: StateReader, name: str, in_channels: int, single_group: bool) -> Any:
    """A checkpoint's selective kernel over `in_channels`: its first path's conv. Whether
    each path takes half of them shows where the kernel has one group (a basic block's);
    a bottleneck's groups and split both divide its weight, so timm's split is assumed
    where the groups still divide."""
    from ..readers.common import NotExpressible

    per_group = reader.shapes[f"{name}.paths.0.conv.weight"][1]
    if single_group:
        split = per_group * 2 == in_channels
    else:
        split = in_channels % (2 * per_group) == 0
        reader.assume(f"stages.selective_kernel.split_input {str(split).lower()}")
    inputs = in_channels // 2 if split else in_channels
    paths = [reader.conv(f"{name}.paths.{index}.conv", inputs, 3) for index in (0, 1)]
    if paths[0] != paths[1]:
        raise NotExpressible(f"{name}.paths.1", "a second path other than the first")
    channels = paths[0].out_channels
    for index in (0, 1):
        reader.norm_of(f"{name}.paths.{index}.bn", channels)
    reader.setting(SPLIT_INPUT).see(split, name)
    reduce = reader.conv(f"{name}.attn.fc_reduce", channels, 1)
    frozen = reader.norm.value == "frozen_batch"
    reader.norm_of(
        f"{name}.attn.bn", reduce.out_channels, kind="frozen_batch" if frozen else "batch"
    )
    select = reader.conv(f"{name}.attn.fc_select", reduce.out_channels, 1)
    if select.out_channels != 2 * channels or reduce.groups != 1 or select.groups != 1:
        raise NotExpressible(f"{name}.attn", "a selective-kernel attention other than SKNet's")
    reader.seen(WIDTHS).append((channels, reduce.out_channels, f"{name}.attn"))
    return paths[0]


def _read_selective_kernel(reader: TreeReader, module: Any, name: str) -> tuple[Any, int]:
    """timm's selective kernel as the language builds it: its first path's conv (the
    second is the same but twice as dilated), and the channels it takes."""
    from torch import nn

    from ..readers.common import NotExpressible, class_name, short_name
    from ..readers.differences import describe_layer, pointwise
    from ..readers.leaves import conv_norm_act, norm_kind

    if class_name(module) != SELECTIVE_KERNEL:
        found = short_name(module) if module is not None else "nothing"
        raise NotExpressible(name, f"{found} where a selective kernel belongs")
    paths = list(module.paths)
    if len(paths) != 2:
        raise NotExpressible(f"{name}.paths", "a selective kernel of other than two paths")
    first, second = (
        conv_norm_act(reader, path, f"{name}.paths.{index}", 3, act=True)
        for index, path in enumerate(paths)
    )
    reader.setting(SPLIT_INPUT).see(bool(module.split_input), name)
    takes = first.in_channels * (2 if module.split_input else 1)
    twice = nn.Conv2d(
        first.in_channels,
        first.out_channels,
        3,
        first.stride,
        2 * first.padding[0],
        2 * first.dilation[0],
        first.groups,
        first.bias is not None,
        device="meta",
    )
    if describe_layer(second) != describe_layer(twice):
        message = "a second path other than the first dilated twice as far"
        raise NotExpressible(f"{name}.paths.1", message)
    attention, where = module.attn, f"{name}.attn"
    channels = first.out_channels
    hidden = getattr(getattr(attention, "fc_reduce", None), "out_channels", 0)
    plain = (
        class_name(attention) == ATTENTION
        and attention.num_paths == 2
        and type(attention.act) is nn.ReLU
        and describe_layer(attention.fc_reduce) == pointwise(channels, hidden, 1, bias=False)
        and describe_layer(attention.fc_select) == pointwise(hidden, 2 * channels, 1, bias=False)
    )
    if not plain:
        raise NotExpressible(where, "a selective-kernel attention other than SKNet's")
    # timm's attention norm is a batch norm whatever the network's, frozen with it.
    frozen = reader.norm.value == ("frozen_batch",)
    if norm_kind(attention.bn, f"{where}.bn") != ("frozen_batch" if frozen else "batch",):
        message = "a norm other than the batch norm (frozen with the network's) timm has"
        raise NotExpressible(f"{where}.bn", message)
    reader.seen(WIDTHS).append((channels, hidden, where))
    return first, takes


SELECTIVE_KERNEL_BLOCKS = SelectiveKernelBlocks()
