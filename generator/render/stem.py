"""The stem's and the classifier's lines of a generated network's constructor."""

from __future__ import annotations

from ..layers import AntiAlias, Conv, MaxPool, Norm
from ..plan import Plan
from .modules import ACTIVATIONS, ANTI_ALIAS_POOLS, conv_class, norm_layer
from .text import LINE_LENGTH, call, call_text

ZERO_PADDED_COMMENT = "The pool takes zero-padded input (BiT's fixed padding): a maximum may be 0."


def stem_pool(plan: Plan) -> list[str]:
    """`self.maxpool = ...`, with a comment where the pool is not a plain max pool."""
    pool = plan.stem.pool
    layers = [layer for name, layer in plan.stem.layers if name.startswith(plan.layout.stem_pool)]
    if pool is None or not layers or plan.layout.pool_in_stem:
        return []
    modules = [_pool_module(plan, layer) for layer in layers]
    if len(layers) == 1 and isinstance(layers[0], MaxPool) and layers[0].zero_padded:
        modules = list(_zero_padded_pool(layers[0]))  # one Sequential, split where long
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


def bare_stem(plan: Plan) -> str | None:
    """The stem's conv, where the stem is that conv alone under the stem's name (a
    pre-activation RegNet's); None where it is not."""
    stem = plan.layout.stem
    own = [(n, layer) for n, layer in plan.stem.layers if n == stem or n.startswith(f"{stem}.")]
    if len(own) != 1 or own[0][0] != stem:
        return None
    return _stem_conv(plan, own[0][1], 0)


def _stem_conv(plan: Plan, layer: Conv, index: int) -> str:
    source = "in_channels" if index == 0 else layer.in_channels
    if layer.kernel_size == 3:
        stride = [f"stride={layer.stride}"] if layer.stride > 1 else []
        return call_text("conv3x3", source, layer.out_channels, *stride)
    return call_text(
        conv_class(plan),
        source,
        layer.out_channels,
        layer.kernel_size,
        f"stride={layer.stride}",
        f"padding={layer.padding}",
        f"bias={plan.conv_bias!r}",
    )


def stem_entries(plan: Plan) -> list[str]:
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
            entries.append(f"{key}={_stem_conv(plan, layer, index)}")
        elif isinstance(layer, Norm):
            entries.append(f"{key}={norm_layer(plan, layer.channels)}")
            if plan.separate_activation:
                number = key.removeprefix(plan.layout.norm)
                entries.append(f"act{number}={ACTIVATIONS[plan.activation]}")
        elif isinstance(layer, MaxPool) and layer.zero_padded:
            pad, pool = _zero_padded_pool(layer)
            entries += [f"pad={pad}", f"{key}={pool}"]
        else:
            entries.append(f"{key}={_pool_module(plan, layer)}")
    return entries


def _max_pool(layer: MaxPool, padding: int) -> str:
    args = [str(layer.kernel_size), f"stride={layer.stride}", f"padding={padding}"]
    return f"nn.MaxPool2d({', '.join(args + (['ceil_mode=True'] if layer.ceil_mode else []))})"


def _zero_padded_pool(layer: MaxPool) -> tuple[str, str]:
    """BiT's fixed padding: the input padded with zeros, the max pool unpadded."""
    return f"nn.ZeroPad2d({layer.padding})", _max_pool(layer, 0)


def _pool_module(plan: Plan, layer: object) -> str:
    if isinstance(layer, MaxPool):
        if layer.zero_padded:
            return f"nn.Sequential({', '.join(_zero_padded_pool(layer))})"
        return _max_pool(layer, layer.padding)
    if isinstance(layer, Conv):
        return (
            f"{conv_class(plan)}({layer.in_channels}, {layer.out_channels}, {layer.kernel_size}, "
            f"stride={layer.stride}, padding={layer.padding}, bias={layer.bias!r})"
        )
    if isinstance(layer, AntiAlias):
        return ANTI_ALIAS_POOLS[layer.kind].format(channels=layer.channels, stride=layer.stride)
    if isinstance(layer, Norm):
        return norm_layer(plan, layer.channels)
    raise TypeError(f"no stem pool module for {layer!r}")


def classifier(plan: Plan) -> str:
    """The classifier's line, or as ruff parenthesises it where it does not fit; a conv
    classifier in the Sequential the layout names."""
    if "." in plan.layout.classifier:  # in the Sequential the layout names (head.fc)
        container, name = plan.layout.classifier_parts
        lines = []
        if plan.layout.conv_classifier:
            module = f"nn.Conv2d({plan.head.in_features}, num_classes, 1)"
            comment = f"A 1x1 conv classifier on the pooled features, as {plan.layout.classifier}."
            lines.append(f"        # {comment}")
        else:
            module = f"nn.Linear({plan.head.in_features}, num_classes)"
        lines += [
            f"        {name} = {module} if num_classes else nn.Identity()",
            f"        self.{container} = nn.Sequential(OrderedDict({name}={name}))",
        ]
        return "\n".join(lines)
    head = f"        self.{plan.layout.classifier} = "
    value = f"nn.Linear({plan.head.in_features}, num_classes) if num_classes else nn.Identity()"
    if len(head + value) <= LINE_LENGTH:
        return head + value
    return f"{head}(\n            {value}\n        )"
