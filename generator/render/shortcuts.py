"""The shortcuts' part of a generated file's context: downsample() and its pool slot."""

from __future__ import annotations

from ..blocks import families_in
from ..layers import AvgPool, Conv
from ..plan import Plan, StagePlan
from .text import LINE_LENGTH


def shortcut_return(plan: Plan, parts: list[tuple[str, str]]) -> str:
    """downsample()'s return: its parts in a Sequential, by position or, where the layout
    names them, by name; on one line, else one part a line. A layout of conv units holds
    the conv and its norm as one (the bare conv without a norm), after the pool."""
    if not plan.layout.named_shortcut:
        return _sequential("    return ", [module for _, module in parts])
    if not plan.layout.conv_units:
        return _sequential("    return ", [f"{name}={module}" for name, module in parts], True)
    pool = [module for name, module in parts if name == "pool"]
    unit = [(name, module) for name, module in parts if name != "pool"]
    if len(unit) == 1:  # a bare conv: the unit itself
        ((_, conv),) = unit
        return _sequential("    return ", [*pool, conv]) if pool else f"    return {conv}"
    named = [f"{name}={module}" for name, module in unit]
    if not pool:
        return _sequential("    return ", named, True)
    projection = _sequential("    projection = ", named, True)
    return projection + "\n" + _sequential("    return ", [*pool, "projection"])


def _sequential(lead: str, items: list[str], named: bool = False) -> str:
    """`lead` and a Sequential of `items` (keyword arguments of an OrderedDict where
    `named`): on one line, else one item a line."""
    inner = f"OrderedDict({', '.join(items)})" if named else ", ".join(items)
    one_line = f"{lead}nn.Sequential({inner})"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    if not named:
        return f"{lead}nn.Sequential(\n" + "".join(f"        {i},\n" for i in items) + "    )"
    lines = "".join(f"            {item},\n" for item in items)
    return f"{lead}nn.Sequential(\n        OrderedDict(\n{lines}        )\n    )"


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


def avg_down_pool(plan: Plan) -> dict[str, object]:
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
    kernels = projection_kernels(plan)
    extra = ["dilation"] if same_pool else []
    if 3 in kernels and plan.dilated:
        extra = ["dilation", "first_dilation"]
    arguments = ["in_channels", "out_channels", "stride", *extra]
    later = ["out_channels", "out_channels", "1", *(["dilation"] * len(extra))]
    # A pool that follows the block's first dilation is given that one.
    first = any(family.pool_follows_first_dilation for family in families_in(plan.block_kinds))
    given = [
        "first_dilation" if first and same_pool and name == "dilation" else name
        for name in arguments
    ]
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
        "downsample_call": f"downsample({', '.join(given)})",
        "later_downsample_call": f"downsample({', '.join(later)})",
        "projection_conv": lines,
    }


def projection_kernels(plan: Plan) -> set[int]:
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
