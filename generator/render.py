"""Render a plan into the source of a standalone PyTorch model file.

Templates place what the plan says; the names, literals, docstrings and line breaks
they need are made here, so the output is already in `ruff format` style.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

import jinja2

from .analysis import Analysis
from .plan import AntiAlias, AvgPool, Conv, MaxPool, Norm, Plan, StagePlan
from .provenance import Provenance, with_header
from .report import (
    ACTIVATIONS_NOTE,
    COLUMNS,
    describe_network,
    figures_rows,
    figures_table,
    format_macs,
)
from .resources import templates_dir
from .spec import BASIC_KINDS, SELECTIVE_KERNEL_KINDS

LINE_LENGTH = 88


def render_model(plan: Plan, analysis: Analysis, provenance: Provenance) -> str:
    body = _environment().get_template("model.py.jinja").render(_context(plan, analysis))
    return with_header(provenance, body, "python")


def render_card(plan: Plan, analysis: Analysis, provenance: Provenance) -> str:
    """The model card: what the variant is, its per-stage figures and a diagram."""
    body = _environment().get_template("card.md.jinja").render(_card_context(plan, analysis))
    return with_header(provenance, body, "markdown")


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.globals["call"] = call
    environment.filters["attribute"] = _attribute
    return environment


def norm_layer(plan: Plan, channels: object) -> str:
    """The constructor call of the network's norm over `channels`."""
    if plan.norm == "group":
        return f"nn.GroupNorm({plan.norm_groups}, {channels})"
    if plan.norm == "frozen_batch":
        return f"FrozenBatchNorm2d({channels})"
    if plan.norm == "evonorm_s0":
        return f"EvoNormS0({plan.norm_groups}, {channels})"
    if plan.norm == "filter_response":
        return f"FilterResponseNorm({channels})"
    return f"nn.BatchNorm2d({channels})"


# Pre-activation prefixes "PreAct" to the first two; the others are post-activation only.
BLOCK_CLASSES = {
    "basic": "BasicBlock",
    "bottleneck": "Bottleneck",
    "res2net": "Res2NetBottleneck",
    "resnest": "ResNeStBottleneck",
    "sk_basic": "SelectiveKernelBasicBlock",
    "sk_bottleneck": "SelectiveKernelBottleneck",
}
ATTENTION_PARAMETER = {"se": "se_channels", "eca": "eca_kernel_size"}


ACTIVATIONS = {
    "relu": "nn.ReLU(inplace=True)",
    "silu": "nn.SiLU(inplace=True)",
    "gelu": "nn.GELU()",
    "leaky_relu": "nn.LeakyReLU(0.01, inplace=True)",
}
KAIMING_GAIN = {  # the nonlinearity argument of kaiming_normal_; SiLU and GELU take ReLU's
    "relu": 'nonlinearity="relu"',
    "silu": 'nonlinearity="relu"',
    "gelu": 'nonlinearity="relu"',
    "leaky_relu": 'a=0.01, nonlinearity="leaky_relu"',
}


def _context(plan: Plan, analysis: Analysis) -> dict[str, object]:
    shortcuts = {stage.first_shortcut for stage in plan.stages}
    uses_downsample = shortcuts != {"identity"}
    return {
        "plan": plan,
        "bias": repr(plan.conv_bias),
        "conv_class": _conv_class(plan),
        "norm": lambda channels: norm_layer(plan, channels),
        "norm_name": plan.layout.norm,
        "shortcut_return": lambda parts: _shortcut_return(plan, parts),
        "act": lambda: ACTIVATIONS[plan.activation],
        "kaiming_gain": KAIMING_GAIN[plan.activation],
        "docstring": docstring_text(_module_docstring(plan, analysis)),
        "factory_summary": _factory_summary(plan, analysis),
        "resize_size": repr(plan.resize.size) if plan.resize else None,
        "signature": [
            f"num_classes: int = {plan.head.num_classes}",
            f"in_channels: int = {plan.in_channels}",
        ],
        "stem_pool": _stem_pool(plan),
        "stem_entries": _stem_entries(plan),
        "zero_padded_comment": ZERO_PADDED_COMMENT,
        "classifier": _classifier(plan),
        "stage_channels": [stage.out_channels for stage in plan.stages],
        "stage_strides": list(plan.stage_strides),
        "shortcut_template": "projection" if plan.shortcut == "projection_all" else plan.shortcut,
        **_block_interface(plan),
        **_inference_context(plan),
        "uses": {
            "downsample": uses_downsample,
            "identity_first": uses_downsample and "identity" in shortcuts,
            "conv1x1": plan.block_kinds != ("basic",)
            or (uses_downsample and plan.shortcut == "avg_down")
            or 1 in _projection_kernels(plan),
        },
        **_avg_down_pool(plan),
    }


def _shortcut_return(plan: Plan, parts: list[tuple[str, str]]) -> str:
    """downsample()'s return: its parts in a Sequential, by position or, where the layout
    names them, by name; on one line, else one part a line."""
    if not plan.layout.named_shortcut:
        items = [module for _, module in parts]
        one_line = f"    return nn.Sequential({', '.join(items)})"
        if len(one_line) <= LINE_LENGTH:
            return one_line
        return "    return nn.Sequential(\n" + "".join(f"        {i},\n" for i in items) + "    )"
    items = [f"{name}={module}" for name, module in parts]
    one_line = f"    return nn.Sequential(OrderedDict({', '.join(items)}))"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    inner = "".join(f"            {item},\n" for item in items)
    return f"    return nn.Sequential(\n        OrderedDict(\n{inner}        )\n    )"


# The pool slot of a ResNet-D shortcut, by the kind of stage it opens: a comment and the module.
AVG_DOWN_POOLS = {
    "empty": (
        ("An empty slot keeps the conv at index 1 and the norm at 2, as in timm.",),
        "nn.Identity()",
    ),
    "same": (
        (
            "A dilated stage keeps timm's 2x2 window: at stride 1, over the input padded",
            "by one pixel right and below.",
        ),
        "nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.AvgPool2d(2, stride=1))",
    ),
    "strided": ((), "nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False)"),
}


def _avg_down_pool(plan: Plan) -> dict[str, object]:
    """The ResNet-D shortcut's pool slot: a branch per kind of pool the stages use, no more."""
    used = {_pool_kind(stage) for stage in plan.stages if stage.first_shortcut == "avg_down"}
    conditions = {
        "empty": " and ".join(
            [
                *(["stride == 1"] if "strided" in used else []),
                *(["dilation == 1"] if "same" in used else []),
            ]
        ),
        "same": "stride == 1",
    }
    kinds = [kind for kind in AVG_DOWN_POOLS if kind in used]
    lines = []
    for index, kind in enumerate(kinds):
        comment, module = AVG_DOWN_POOLS[kind]
        if kind == "empty" and plan.layout.named_shortcut:
            comment = ("An empty pool where nothing strides, as in timm.",)
        indent = " " * (4 if len(kinds) == 1 else 8)
        if len(kinds) > 1:
            last = index == len(kinds) - 1
            lines.append(
                "    else:" if last else f"    {'elif' if index else 'if'} {conditions[kind]}:"
            )
        lines += [f"{indent}# {line}" for line in comment]
        annotation = ": nn.Module" if index == 0 and len(kinds) > 1 else ""
        lines.append(f"{indent}pool{annotation} = {module}")
    return {"avg_down_pool": lines, **_downsample_interface(plan, same_pool="same" in used)}


def _downsample_interface(plan: Plan, same_pool: bool) -> dict[str, object]:
    """downsample()'s parameters and make_stage's calls: the dilations where a same-padded
    pool or a dilated 3x3 projection needs them."""
    kernels = _projection_kernels(plan)
    extra = ["dilation"] if same_pool else []
    if 3 in kernels and plan.dilated:
        extra = ["dilation", "first_dilation"]
    arguments = ["in_channels", "out_channels", "stride", *extra]
    later = ["out_channels", "out_channels", "1", *(["dilation"] * len(extra))]
    lines = []
    if kernels == {1, 3}:
        condition = "stride == 1 and dilation == 1" if plan.dilated else "stride == 1"
        lines = [
            f"    if {condition}:",
            "        conv = conv1x1(in_channels, out_channels)",
            "    else:",
        ]
    if 3 in kernels:
        dilation = ", dilation=first_dilation" if plan.dilated else ""
        indent = "        " if lines else "    "
        lines.append(f"{indent}conv = conv3x3(in_channels, out_channels, stride{dilation})")
    return {
        "downsample_parameters": [f"{name}: int" for name in arguments],
        "downsample_call": f"downsample({', '.join(arguments)})",
        "later_downsample_call": f"downsample({', '.join(later)})",
        "projection_conv": lines,
    }


def _projection_kernels(plan: Plan) -> set[int]:
    """The kernel sizes of the projection shortcuts' convs: 1, and 3 for SENet-154's."""
    if plan.shortcut not in ("projection", "projection_all"):
        return set()
    return {
        layer.kernel_size
        for stage in plan.stages
        for block in stage.blocks
        for _, layer in block.shortcut
        if isinstance(layer, Conv)
    }


def _pool_kind(stage: StagePlan) -> str:
    pool = stage.blocks[0].shortcut[0][1]
    if not isinstance(pool, AvgPool):
        return "empty"
    return "same" if pool.same else "strided"


def _block_interface(plan: Plan) -> dict[str, object]:
    """The block classes' and make_stage's parameters, and the arguments each call passes.

    Every parameter appears only when the network uses it: `width` for bottlenecks (and
    for basic blocks sharing make_stage with them), the attention size, the dilation, the
    stochastic depth rates, the block class itself when stages mix kinds.
    """
    mixed = len(plan.block_kinds) > 1
    prefix = "PreAct" if plan.preactivation else ""
    classes = {kind: f"{prefix}{name}" for kind, name in BLOCK_CLASSES.items()}
    has_width = mixed or plan.block_kinds[0] not in BASIC_KINDS
    attention = ATTENTION_PARAMETER.get(plan.attention)
    # A basic block's two 3x3 convs differ in dilation where a dilated stage starts (the
    # first keeps the previous stage's); a bottleneck's one 3x3 takes its block's first.
    # So does the anti-aliasing pool's condition, where a blur runs at a dilated stage's start.
    two_dilations = plan.dilated and (
        bool(set(BASIC_KINDS) & set(plan.block_kinds)) or plan.anti_alias == "blur"
    )
    dilations = ["dilation", "first_dilation"] if two_dilations else ["dilation"]
    optional = [*([attention] if attention else []), *(dilations if plan.dilated else [])]
    # A pruned network's blocks each have their own first and 3x3 widths.
    width = ["first_width", "width"] if plan.pruned else ["width"] if has_width else []
    mid_channels = "width" if has_width else "out_channels"
    identity = "None" if plan.preactivation else "nn.Identity()"
    downsample_type = "nn.Module | None" if plan.preactivation else "nn.Module"
    block_signature = [
        "in_channels: int",
        *(f"{name}: int" for name in width),
        "out_channels: int",
        "stride: int",
        f"downsample: {downsample_type}",
        *(f"{name}: int" for name in optional),
        *(["drop_path: float"] if plan.drop_path else []),
    ]
    block_type = " | ".join(f"type[{classes[kind]}]" for kind in plan.block_kinds)
    stage_signature = [
        *([f"block_class: {block_type}"] if mixed else []),
        "in_channels: int",
        *(["widths: list[tuple[int, int]]"] if plan.pruned else (f"{n}: int" for n in width)),
        "out_channels: int",
        *([] if plan.pruned else ["depth: int"]),
        "stride: int",
        *([f"{attention}: int"] if attention else []),
        *(["dilation: int", "first_dilation: int"] if plan.dilated else []),
        *(["drop_path: list[float]"] if plan.drop_path else []),
    ]
    first_optional = [*([attention] if attention else [])]
    later_optional = list(first_optional)
    if plan.dilated:
        first_optional += ["dilation", "first_dilation"] if two_dilations else ["first_dilation"]
        later_optional += ["dilation"] * len(dilations)
    later_shortcut = "shortcut" if plan.shortcut == "projection_all" else identity
    stage_args = {}
    first_block = 0
    for stage in plan.stages:
        args: list[object] = [classes[stage.block]] if mixed else []
        widths = [_pruned_widths(stage)] if plan.pruned else [stage.width] if has_width else []
        args += [stage.in_channels, *widths, stage.out_channels]
        args += [] if plan.pruned else [f"depth={stage.depth}"]
        args += [f"stride={stage.stride}"]
        if attention:
            args.append(f"{attention}={stage.attention}")
        if plan.dilated:
            args += [f"dilation={stage.dilation}", f"first_dilation={stage.first_dilation}"]
        if plan.drop_path:
            args.append(f"drop_path=rates[{first_block}:{first_block + stage.depth}]")
        first_block += stage.depth
        stage_args[stage.name] = args
    dilation = ["dilation=dilation"] if plan.dilated else []
    first_dilation = ["dilation=first_dilation"] if plan.dilated else []
    groups = [f"groups={plan.groups}"] if plan.groups > 1 else []
    stride = ["stride"] if plan.stride_on == "3x3" and plan.anti_alias == "none" else []
    # A bottleneck's (or its kin's) 3x3: its input, and its dilation.
    bottleneck_first = "first_width" if plan.pruned else _reduced(plan, "width")
    conv2_dilation = first_dilation if two_dilations else dilation
    return {
        "mixed": mixed,
        "conv3x3": _conv3x3(plan),
        "bottleneck_conv2": [bottleneck_first, "width", *stride, *groups, *conv2_dilation],
        "basic_conv1": [
            *(["stride"] if plan.anti_alias == "none" else []),
            *first_dilation,
        ],
        "basic_dilation": dilation,
        "anti_alias": {
            "basic": _anti_alias_line(plan, _reduced(plan, mid_channels)),
            "bottleneck": _anti_alias_line(plan, "width"),
        }
        if plan.anti_alias != "none"
        else None,
        "downsample_type": downsample_type,
        "zero_init": {
            "basic": "conv2" if plan.preactivation else f"{plan.layout.norm}2",
            "bottleneck": "conv3" if plan.preactivation else f"{plan.layout.norm}3",
            "res2net": "bn3",
            "resnest": "bn3",
            "sk_basic": "conv2.bn",
            "sk_bottleneck": "conv3.bn",
        },
        **_family_contexts(plan, groups, first_dilation, dilation, conv2_dilation),
        "block_classes": classes,
        "block_class": "block_class" if mixed else classes[plan.block_kinds[0]],
        "mid_channels": mid_channels,
        # The first conv's output: the inner width, or a part of it (SENet-154's half).
        "reduced": {"basic": _reduced(plan, mid_channels), "bottleneck": bottleneck_first},
        "identity": identity,
        "block_signature": block_signature,
        "stage_signature": stage_signature,
        "block_args": {
            "first": [*width, "out_channels", "stride", "shortcut", *first_optional]
            + (["drop_path[0]"] if plan.drop_path else []),
            "later": [*width, "out_channels", 1, later_shortcut, *later_optional]
            + (["drop_path[index]"] if plan.drop_path else []),
        },
        "stage_args": stage_args,
        "blocks": first_block,
    }


# The block kinds whose 3x3 convs are conv3x3's; the others build their own.
CONV3X3_KINDS = {"basic": False, "bottleneck": True, "res2net": True}  # kind -> grouped


def _conv3x3(plan: Plan) -> dict[str, object]:
    """conv3x3's parameters and the arguments of its conv: groups and dilation only where
    a block or shortcut that uses it needs them; whether anything uses it at all."""
    kinds = [kind for kind in plan.block_kinds if kind in CONV3X3_KINDS]
    dilated_projection = 3 in _projection_kernels(plan) and plan.dilated
    groups = plan.groups > 1 and any(CONV3X3_KINDS[kind] for kind in kinds)
    dilation = plan.dilated and bool(kinds) or dilated_projection
    return {
        "used": bool(kinds) or plan.stem.type != "classic" or 3 in _projection_kernels(plan),
        "parameters": [
            "in_channels: int",
            "out_channels: int",
            "stride: int = 1",
            *(["groups: int = 1"] if groups else []),
            *(["dilation: int = 1"] if dilation else []),
        ],
        "arguments": [
            "in_channels",
            "out_channels",
            3,
            "stride=stride",
            "padding=dilation" if dilation else "padding=1",
            *(["groups=groups"] if groups else []),
            *(["dilation=dilation"] if dilation else []),
            f"bias={plan.conv_bias!r}",
        ],
    }


def _family_contexts(
    plan: Plan,
    groups: list[str],
    first_dilation: list[str],
    dilation: list[str],
    conv2_dilation: list[str],
) -> dict[str, object]:
    """What the templates of the block families the network uses need, one key each."""
    kinds = plan.block_kinds
    contexts: dict[str, object] = {}
    if "res2net" in kinds:
        contexts["res2net"] = _res2net(plan, groups, conv2_dilation)
    if "resnest" in kinds:
        contexts["resnest"] = _resnest(plan, conv2_dilation)
        contexts["split_attention"] = _split_attention(plan)
    if set(SELECTIVE_KERNEL_KINDS) & set(kinds):
        contexts["selective_kernel"] = _selective_kernel(
            plan, first_dilation, dilation, conv2_dilation
        )
    return contexts


def _res2net(plan: Plan, groups: list[str], conv2_dilation: list[str]) -> dict[str, object]:
    """The split convs and their norms, as ModuleLists."""
    convs = max(1, plan.scale - 1)
    conv = _call_text("conv3x3", "width", "width", "stride", *groups, *conv2_dilation)
    return {
        "convs": convs,
        "lists": [
            _repeated("convs", conv, f"for _ in range({convs})"),
            _repeated("bns", norm_layer(plan, "width"), f"for _ in range({convs})"),
        ],
    }


def _resnest(plan: Plan, conv2_dilation: list[str]) -> dict[str, object]:
    """The average pool that may take the stride, and the arguments of the block's split
    attention."""
    return {
        # ruff's layout of the pool's conditional expression, too long for one line
        "pool": "(\n"
        "            nn.AvgPool2d(3, stride, padding=1) if stride > 1 else nn.Identity()\n"
        "        )",
        "conv2": [*(["stride"] if plan.avd == "none" else []), *conv2_dilation],
    }


def _selective_kernel(
    plan: Plan, first_dilation: list[str], dilation: list[str], conv2_dilation: list[str]
) -> dict[str, object]:
    """ConvNormAct's and SelectiveKernel's parameters, their paths, the attention's
    hidden width, and the arguments each block passes."""
    settings = plan.selective_kernel
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
        "conv_parameters": [
            "in_channels: int",
            "out_channels: int",
            "kernel_size: int",
            "stride: int = 1",
            "dilation: int = 1",
            *(["groups: int = 1"] if grouped else []),
            "act: bool = True",
        ],
        "conv_arguments": [
            "in_channels",
            "out_channels",
            "kernel_size",
            "stride=stride",
            "padding=dilation * (kernel_size // 2)",
            "dilation=dilation",
            *groups,
            f"bias={plan.conv_bias!r}",
        ],
        "parameters": [
            "in_channels: int",
            "out_channels: int",
            "stride: int",
            *(["dilation: int = 1"] if plan.dilated else []),
            *(["groups: int = 1"] if grouped else []),
        ],
        "paths": _repeated("paths", path, loop),
        "hidden": [
            f"        reduced = out_channels * (1 / {reduction})",
            f"        hidden = max({divisor}, {rounded})",
            f"        hidden += {divisor} if hidden < 0.9 * reduced else 0",
        ],
        "reduction": reduction,
        "divisor": divisor,
        "attention_norm": "FrozenBatchNorm2d(hidden)"
        if plan.norm == "frozen_batch"
        else "nn.BatchNorm2d(hidden)",
        "basic_conv1": first_dilation,
        "basic_conv2": [*dilation, "act=False"],
        "bottleneck_conv2": [*conv2_dilation, *block_groups],
    }


def _pruned_widths(stage: StagePlan) -> str:
    """The stage's list of (first, 3x3) widths; where it cannot stand on a line of its own
    as make_stage's argument, one pair a line, as ruff formats it."""
    assert stage.pruned is not None
    pairs = [f"({first}, {second})" for first, second in stage.pruned]
    if len(f"            [{', '.join(pairs)}],") <= LINE_LENGTH:
        return f"[{', '.join(pairs)}]"
    return "[\n" + "".join(f"                {pair},\n" for pair in pairs) + "            ]"


def _split_attention(plan: Plan) -> dict[str, object]:
    """SplitAttention's parameters and the arguments of its convs."""
    strided, dilated = plan.avd == "none", plan.dilated
    groups = plan.groups * plan.radix
    return {
        "parameters": [
            "channels: int",
            *(["stride: int = 1"] if strided else []),
            *(["dilation: int = 1"] if dilated else []),
        ],
        "conv": [
            "channels",
            f"channels * {plan.radix}",
            3,
            *(["stride=stride"] if strided else []),
            "padding=dilation" if dilated else "padding=1",
            *(["dilation=dilation"] if dilated else []),
            *([f"groups={groups}"] if groups > 1 else []),
            f"bias={plan.conv_bias!r}",
        ],
        "groups": [f"groups={plan.groups}"] if plan.groups > 1 else [],
    }


def _call_text(head: str, *args: object) -> str:
    return f"{head}({', '.join(map(str, args))})"


def _repeated(name: str, item: str | tuple[str, list[object]], loop: str) -> str:
    """`self.name = nn.ModuleList(item loop)` as ruff formats it; an item given as a call's
    head and arguments is split as a call where it does not fit on a line."""
    text = _call_text(item[0], *item[1]) if isinstance(item, tuple) else item
    head = f"        self.{name} = nn.ModuleList("
    if len(f"{head}{text} {loop})") <= LINE_LENGTH:
        return f"{head}{text} {loop})"
    if len(f"            {text} {loop}") <= LINE_LENGTH:
        return f"{head}\n            {text} {loop}\n        )"
    if isinstance(item, tuple) and len(f"            {text}") > LINE_LENGTH:
        text = call(item[0], *item[1], indent=12).lstrip()
    return f"{head}\n            {text}\n            {loop}\n        )"


def _reduced(plan: Plan, channels: str) -> str:
    """A block's first conv's output: its inner width, or a part of it (SENet-154's half)."""
    return f"{channels} // {plan.reduce_first}" if plan.reduce_first > 1 else channels


ANTI_ALIAS_POOLS = {"blur": "BlurPool({channels}, {stride})", "avg": "nn.AvgPool2d({stride})"}


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


def _inference_context(plan: Plan) -> dict[str, object]:
    """Which conv feeds which batch norm, for `for_inference` to fold them."""
    if not plan.foldable:
        return {"foldable": False}
    pool_name = plan.layout.stem_pool
    convs = [(n, layer) for n, layer in plan.stem.layers if not n.startswith(pool_name)]
    stem_folds = [
        (_attribute(name), _attribute(after))
        for (name, layer), (after, _) in itertools.pairwise(convs)
        if isinstance(layer, Conv)
    ]
    if plan.stem.pool is not None and plan.stem.pool.type == "conv":
        # An anti-aliasing pool may stand between them: it is linear, per channel, and
        # keeps a constant, so the norm folds across it.
        pool = [layer for name, layer in plan.stem.layers if name.startswith(pool_name)]
        norm = next(index for index, layer in enumerate(pool) if isinstance(layer, Norm))
        stem_folds.append((f"{pool_name}[0]", f"{pool_name}[{norm}]"))
    shortcut_fold = None
    if plan.shortcut_norm:
        first = 1 if plan.shortcut == "avg_down" else 0
        shortcut_fold = tuple(
            _attribute(plan.layout.shortcut_name(part, position))
            for part, position in (("conv", first), ("norm", first + 1))
        )
    return {
        "foldable": True,
        "folded_norm": "FrozenBatchNorm2d" if plan.norm == "frozen_batch" else "nn.BatchNorm2d",
        "stem_folds": stem_folds,
        "stage_loop": _loop_over_stages(plan),
        "stage_blocks": "stage" if plan.layout.stages is None else "stage.blocks",
        **_block_folds(plan),
        "shortcut_fold": shortcut_fold,
    }


BLOCK_NORMS = {
    "basic": (1, 2),
    "bottleneck": (1, 2, 3),
    "res2net": (1, 3),
    "resnest": (1, 3),
    "sk_basic": (),
    "sk_bottleneck": (),
}
# A selective-kernel block's ConvNormAct modules, and which holds the selective kernel.
SELECTIVE_KERNEL_FOLDS = {
    "sk_basic": (("conv2",), "conv1"),
    "sk_bottleneck": (("conv1", "conv3"), "conv2"),
}


def _block_folds(plan: Plan) -> dict[str, object]:
    """The convN/bnN pairs every block has, then each kind's own (under an isinstance
    where kinds mix); the template adds Res2Net's split convs, split attention's conv and
    the selective kernels' parts."""
    kinds = plan.block_kinds
    common = [i for i in BLOCK_NORMS[kinds[0]] if all(i in BLOCK_NORMS[k] for k in kinds)]
    own = [(kind, [i for i in BLOCK_NORMS[kind] if i not in common]) for kind in kinds]
    selective = {
        kind: (", ".join([*(f"block.{part}" for part in parts), f"*block.{kernel}.paths"]), kernel)
        for kind, (parts, kernel) in SELECTIVE_KERNEL_FOLDS.items()
    }
    return {
        "common_folds": common,
        "own_folds": [
            (BLOCK_CLASSES[kind], folds, kind)
            for kind, folds in own
            if folds or kind not in ("basic", "bottleneck")
        ],
        "selective_kernel_folds": selective,
    }


def _attribute(name: str) -> str:
    """A module name as the attribute access that reaches it: conv1.0 is conv1[0]."""
    return re.sub(r"\.(\d+)", r"[\1]", name)


def _loop_over_stages(plan: Plan) -> str:
    if plan.layout.stages is not None:
        return f"    for stage in model.{plan.layout.stages}:"
    stages = [f"model.{stage.name}" for stage in plan.stages]
    if len(stages) == 1:
        return f"    for stage in ({stages[0]},):"
    return call("for stage in ", *stages, indent=4, tail=":")


def _card_context(plan: Plan, analysis: Analysis) -> dict[str, object]:
    channels, height, width = analysis.input
    return {
        "plan": plan,
        "description": markdown_text(plan.description or plan.name),
        "references": " and ".join(f"`{reference}`" for reference in plan.references),
        "summary": f"{_size_line(analysis)} at {channels}x{height}x{width}.",
        "input": f"{channels}x{height}x{width}",
        "activations_note": ACTIVATIONS_NOTE,
        "columns": COLUMNS,
        "rows": figures_rows(analysis),
        "nodes": _diagram(plan, analysis),
    }


def _diagram(plan: Plan, analysis: Analysis) -> list[tuple[str, str]]:
    """Mermaid nodes from the input to the head, each labelled with its output."""
    parts = {part.name: part for part in analysis.parts}

    def size(name: str) -> str:
        channels, height, width = parts[name].output
        return f"{channels}x{height}x{width}"

    stem = plan.stem
    convs = {"classic": "7x7 conv", "deep": "three 3x3 convs", "cifar": "3x3 conv"}[stem.type]
    pool = f"{stem.pool.type} pool /{stem.pool.stride}" if stem.pool else "no pool"
    if stem.pool and plan.anti_alias != "none":
        pool = f"{stem.pool.type} pool, {plan.anti_alias} anti-aliased /{stem.pool.stride}"
    channels, height, width = analysis.input
    nodes = [("input", f"input<br/>{channels}x{height}x{width}")]
    if plan.resize:
        nodes.append(("resize", f"resize<br/>{plan.resize.size[0]}x{plan.resize.size[1]}"))
    channel_list = ", ".join(map(str, stem.channels))
    nodes.append(("stem", f"stem<br/>{convs} ({channel_list}), {pool}<br/>{size('stem')}"))
    for stage in plan.stages:
        extras = {"res2net": [f"scale {plan.scale}"], "resnest": [f"radix {plan.radix}"]}.get(
            stage.block, []
        )
        extras += [f"/{stage.stride}"] if stage.stride > 1 else []
        if stage.stride > 1 and plan.anti_alias != "none":
            extras.append(f"{plan.anti_alias} anti-aliased")
        if plan.attention != "none":
            extras.append(plan.attention.upper())
        detail = " ".join([f"{stage.depth} x {stage.block}", *extras])
        nodes.append((stage.name, f"{stage.name}<br/>{detail}<br/>{size(stage.name)}"))
    dropout = f", dropout {plan.head.dropout}" if plan.head.dropout else ""
    classes = plan.head.num_classes
    classifier = f"fc<br/>{classes} classes" if classes else "no classifier<br/>pooled features"
    head = f"head<br/>average pool{dropout}, {classifier}"
    nodes.append(("head", head))
    return nodes


def markdown_text(text: str) -> str:
    """Free text for a Markdown page: no HTML, no line that could start a heading or fence."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(escaped.split()).replace("`", "\\`")


ZERO_PADDED_COMMENT = "The pool takes zero-padded input (BiT's fixed padding): a maximum may be 0."


def _stem_pool(plan: Plan) -> list[str]:
    """`self.maxpool = ...`, with a comment where the pool is not a plain max pool."""
    pool = plan.stem.pool
    layers = [layer for name, layer in plan.stem.layers if name.startswith(plan.layout.stem_pool)]
    if pool is None or not layers or plan.layout.pool_in_stem:
        return []
    modules = [_stem_pool_module(plan, layer) for layer in layers]
    if pool.type == "conv":
        modules.append(ACTIVATIONS[plan.activation])
    comments = []
    if pool.type == "conv":
        comments.append(
            'A strided conv replaces the max pool; "maxpool" stays the checkpoints\' name.'
        )
    if pool.zero_padded:
        comments.append(ZERO_PADDED_COMMENT)
    if any(isinstance(layer, AntiAlias) for layer in layers):
        comments.append(
            "Anti-aliasing: a 2x2 average pool in place of the max pool, as in timm."
            if len(layers) == 1
            else "Anti-aliasing: the pool runs at stride 1 and a blur pool takes its stride."
            if plan.anti_alias == "blur"
            else "Anti-aliasing: the pool runs at stride 1 and an average pool takes its stride."
        )
    lines = [f"        # {comment}" for comment in comments]
    name = plan.layout.stem_pool
    if len(modules) == 1:
        return [*lines, f"        self.{name} = {modules[0]}"]
    return [*lines, call(f"self.{name} = nn.Sequential", *modules)]


def _stem_entries(plan: Plan) -> list[str]:
    """The stem's modules as keyword arguments of an OrderedDict, in a layout that keeps
    them in one Sequential under the plan's names (conv1, bn1, ...), each norm followed by
    its activation (act1, ...), and the pool where the layout keeps it there."""
    if plan.layout.stem is None:
        return []
    prefix = f"{plan.layout.stem}."
    entries = []
    for index, (name, layer) in enumerate(plan.stem.layers):
        key = name.removeprefix(prefix)
        if key == name:
            continue
        if isinstance(layer, Conv):
            source = "in_channels" if index == 0 else layer.in_channels
            if layer.kernel_size == 3:
                stride = [f"stride={layer.stride}"] if layer.stride > 1 else []
                module = _call_text("conv3x3", source, layer.out_channels, *stride)
            else:
                module = _call_text(
                    _conv_class(plan),
                    source,
                    layer.out_channels,
                    layer.kernel_size,
                    f"stride={layer.stride}",
                    f"padding={layer.padding}",
                    f"bias={plan.conv_bias!r}",
                )
            entries.append(f"{key}={module}")
        elif isinstance(layer, Norm):
            entries.append(f"{key}={norm_layer(plan, layer.channels)}")
            if plan.separate_activation:
                number = key.removeprefix(plan.layout.norm)
                entries.append(f"act{number}={ACTIVATIONS[plan.activation]}")
        elif isinstance(layer, MaxPool) and layer.zero_padded:
            pad, pool = _zero_padded_pool(layer)
            entries += [f"pad={pad}", f"{key}={pool}"]
        else:
            entries.append(f"{key}={_stem_pool_module(plan, layer)}")
    return entries


def _conv_class(plan: Plan) -> str:
    return "nn.Conv2d" if plan.weight_standardization is None else "StdConv2d"


def _max_pool(layer: MaxPool, padding: int) -> str:
    args = [str(layer.kernel_size), f"stride={layer.stride}", f"padding={padding}"]
    return f"nn.MaxPool2d({', '.join(args + (['ceil_mode=True'] if layer.ceil_mode else []))})"


def _zero_padded_pool(layer: MaxPool) -> tuple[str, str]:
    """BiT's fixed padding: the input padded with zeros, the max pool unpadded."""
    return f"nn.ZeroPad2d({layer.padding})", _max_pool(layer, 0)


def _stem_pool_module(plan: Plan, layer: object) -> str:
    if isinstance(layer, MaxPool):
        if layer.zero_padded:
            return f"nn.Sequential({', '.join(_zero_padded_pool(layer))})"
        return _max_pool(layer, layer.padding)
    if isinstance(layer, Conv):
        return (
            f"{_conv_class(plan)}({layer.in_channels}, {layer.out_channels}, {layer.kernel_size}, "
            f"stride={layer.stride}, padding={layer.padding}, bias={layer.bias!r})"
        )
    if isinstance(layer, AntiAlias):
        return ANTI_ALIAS_POOLS[layer.kind].format(channels=layer.channels, stride=layer.stride)
    if isinstance(layer, Norm):
        return norm_layer(plan, layer.channels)
    raise TypeError(f"no stem pool module for {layer!r}")


def _classifier(plan: Plan) -> str:
    """The classifier's line, or as ruff parenthesises it where it does not fit; a conv
    classifier in the Sequential the layout names."""
    if plan.layout.conv_classifier:
        container, name = plan.layout.classifier_parts
        conv = f"nn.Conv2d({plan.head.in_features}, num_classes, 1)"
        comment = f"A 1x1 conv classifier on the pooled features, as {plan.layout.classifier}."
        return (
            f"        # {comment}\n"
            f"        {name} = {conv} if num_classes else nn.Identity()\n"
            f"        self.{container} = nn.Sequential(OrderedDict({name}={name}))"
        )
    head = f"        self.{plan.layout.classifier} = "
    value = f"nn.Linear({plan.head.in_features}, num_classes) if num_classes else nn.Identity()"
    if len(head + value) <= LINE_LENGTH:
        return head + value
    return f"{head}(\n            {value}\n        )"


def _factory_summary(plan: Plan, analysis: Analysis) -> str:
    """The factory's docstring: one line, or where that is too long, a summary line and
    the figures below it."""
    line = f"Build {plan.name} ({_size_line(analysis)})."
    if len(f'    """{line}"""') <= LINE_LENGTH:
        return line
    return f"Build {plan.name}.\n\n    {_size_line(analysis)}.\n    "


def _size_line(analysis: Analysis) -> str:
    return f"{analysis.params:,} parameters, {format_macs(analysis.macs)} multiply-adds"


def _module_docstring(plan: Plan, analysis: Analysis) -> str:
    channels, height, width = analysis.input
    paragraphs = [describe_network(plan, analysis), plan.description]
    figures = [
        f"Parameters: {analysis.params:,}",
        f"Multiply-adds: {format_macs(analysis.macs)} at {channels}x{height}x{width}",
    ]
    if plan.references:
        figures.append(f"Weight-compatible with {' and '.join(plan.references)}.")
    lines = _wrap(paragraphs) + [""] + figures + [""] + figures_table(analysis) + [""]
    return "\n".join(lines)


def _wrap(paragraphs: list[str]) -> list[str]:
    """Fill each paragraph to the docstring width, breaking only at spaces and newlines.

    Every other character, tabs and control characters included, is kept for
    `docstring_text` to escape, so the docstring reads back as the text with its runs of
    spaces and newlines folded.
    """
    lines: list[str] = []
    for paragraph in (p for text in paragraphs for p in re.split(r"\n *\n", text)):
        line = ""
        for word in filter(None, re.split(r"[ \n]+", paragraph)):
            if line and len(line) + 1 + len(word) > LINE_LENGTH - 4:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            lines.extend([line, ""])
    return lines[:-1]


def docstring_text(text: str) -> str:
    """Escape `text` so that, between triple double quotes, Python reads back exactly it.

    Backslashes and control characters become escapes, and a quote is escaped wherever
    it could close the string or sit next to the closing quotes.
    """
    out: list[str] = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            nearby = text[index + 1 : index + 2] in ('"', "") or index == 0
            out.append('\\"' if nearby else '"')
        elif char == "\n":
            out.append(char)
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def call(head: str, *args: object, indent: int = 8, tail: str = "", brackets: str = "()") -> str:
    """`head(args)tail` laid out as `ruff format` would: one line, hugged, or one per line."""
    pad = " " * indent
    opening, closing = brackets
    items = [str(a) for a in args]
    one_line = f"{pad}{head}{opening}{', '.join(items)}{closing}{tail}"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    hugged = f"{pad}    {', '.join(items)}"
    if len(hugged) <= LINE_LENGTH:
        return f"{pad}{head}{opening}\n{hugged}\n{pad}{closing}{tail}"
    inner = "".join(f"{pad}    {item},\n" for item in items)
    return f"{pad}{head}{opening}\n{inner}{pad}{closing}{tail}"
