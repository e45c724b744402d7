"""`resnetgen diff`: every field of the spec language shows up when it changes."""

from __future__ import annotations

import pydantic
import pytest

from resnetgen.compare import compare
from resnetgen.load import load
from resnetgen.spec import Spec

# field -> (settings shared by both sides, the change); both sides start from resnet50.
# ResNet-50 of RegNet blocks, 8 channels a group; and its stages from the design space.
REGNET = (
    "layout=regnet",
    "stem.type=strided_3x3",
    "stages.block=regnet",
    "stages.group_width=8",
)
DESIGNED = (
    *REGNET,
    "stages.depths=null",
    "stages.design={depth: 13, w_0: 24, w_a: 36.44, w_m: 2.49}",
)
X_400MF = "{depth: 22, w_0: 24, w_a: 24.48, w_m: 2.54}"  # rounded otherwise by torchvision
CHANGES = {
    "input.channels": ((), ("input.channels=1",)),
    "input.size": ((), ("input.size=[160, 160]",)),
    "input.resize": ((), ("input.resize=[256, 256]",)),
    "input.resize_mode": (("input.resize=[256, 256]",), ("input.resize_mode=nearest",)),
    "stem.type": ((), ("stem.type=deep",)),
    "stem.channels": ((), ("stem.channels=[32]",)),
    "stem.pool.type": ((), ("stem.pool.type=conv",)),
    "stem.pool.kernel_size": (("stem.pool.padding=0",), ("stem.pool.kernel_size=2",)),
    "stem.pool.stride": ((), ("stem.pool.stride=1",)),
    "stem.pool.padding": ((), ("stem.pool.padding=0",)),
    "stem.pool.ceil_mode": ((), ("stem.pool.ceil_mode=true",)),
    "stem.norm": (
        ("stages.preactivation=true", "stages.shortcut_norm=false"),
        ("stem.norm=false",),
    ),
    "stages.block": ((), ("stages.block=basic",)),
    "stages.depths": ((), ("stages.depths=[3, 4, 23, 3]",)),
    "stages.widths": ((), ("stages.widths=[32, 64, 128, 256]",)),
    "stages.strides": ((), ("stages.strides=[1, 2, 2, 1]",)),
    "stages.dilations": (("stages.strides=[1, 2, 2, 1]",), ("stages.dilations=[1, 1, 1, 2]",)),
    "stages.preactivation": (("stages.shortcut_norm=false",), ("stages.preactivation=true",)),
    "stages.drop_path": ((), ("stages.drop_path=0.1",)),
    "stages.stride_on": ((), ("stages.stride_on=1x1",)),
    "stages.shortcut": ((), ("stages.shortcut=projection_all",)),
    "stages.shortcut_norm": ((), ("stages.shortcut_norm=false",)),
    "stages.shortcut_kernel": ((), ("stages.shortcut_kernel=3",)),
    "stages.reduce_first": ((), ("stages.reduce_first=2",)),
    "stages.scale": (("stages.block=res2net",), ("stages.scale=6",)),
    "stages.pruned_channels": (
        (
            "stages.depths=[1, 1, 1, 1]",
            "stages.pruned_widths=[[[8, 8]], [[8, 8]], [[8, 8]], [[8, 8]]]",
            "stages.pruned_channels=[16, 16, 16, 16]",
        ),
        ("stages.pruned_channels=[16, 16, 16, 32]",),
    ),
    "stages.pruned_widths": (
        (
            "stages.depths=[1, 1, 1, 1]",
            "stages.pruned_widths=[[[8, 8]], [[8, 8]], [[8, 8]], [[8, 8]]]",
            "stages.pruned_channels=[16, 16, 16, 16]",
        ),
        ("stages.pruned_widths=[[[8, 8]], [[8, 8]], [[8, 8]], [[8, 16]]]",),
    ),
    "stages.radix": (("stages.block=resnest",), ("stages.radix=4",)),
    "stages.avd": (("stages.block=resnest",), ("stages.avd=after",)),
    "stages.selective_kernel.reduction": (
        ("stages.block=sk_bottleneck",),
        ("stages.selective_kernel.reduction=8",),
    ),
    "stages.selective_kernel.divisor": (
        ("stages.block=sk_bottleneck",),
        ("stages.selective_kernel.divisor=32",),
    ),
    "stages.selective_kernel.split_input": (
        ("stages.block=sk_bottleneck",),
        ("stages.selective_kernel.split_input=false",),
    ),
    "stages.groups": (("stages.width_per_group=4",), ("stages.groups=32",)),
    "stages.group_width": (REGNET, ("stages.group_width=16",)),
    "stages.bottleneck_ratio": (REGNET, ("stages.bottleneck_ratio=0.5",)),
    "stages.linear_output": (REGNET, ("stages.linear_output=true",)),
    "stages.design.depth": (DESIGNED, ("stages.design.depth=16",)),
    "stages.design.w_0": (DESIGNED, ("stages.design.w_0=32",)),
    "stages.design.w_a": (DESIGNED, ("stages.design.w_a=60.0",)),
    "stages.design.w_m": (DESIGNED, ("stages.design.w_m=2.2",)),
    "stages.design.rounding": (
        (*REGNET, "stages.depths=null", "stages.group_width=16", f"stages.design={X_400MF}"),
        ("stages.design.rounding=torchvision",),
    ),
    "stages.width_per_group": ((), ("stages.width_per_group=128",)),
    "stages.attention.type": ((), ("stages.attention.type=eca",)),
    "stages.attention.reduction": (
        ("stages.attention.type=se",),
        ("stages.attention.reduction=4",),
    ),
    "stages.attention.divisor": (
        ("stages.attention.type=se",),
        ("stages.attention.divisor=32",),
    ),
    "stages.branch_activation": (("stages.block=basic",), ("stages.branch_activation=true",)),
    "stages.drop_path_float32": (
        ("stages.drop_path=0.1",),
        ("stages.drop_path_float32=true",),
    ),
    "layout": ((), ("layout=legacy_senet",)),
    "head.num_classes": ((), ("head.num_classes=10",)),
    "head.dropout": ((), ("head.dropout=0.2",)),
    "head.final_conv": (REGNET, ("head.final_conv=1024",)),
    "conv_bias": ((), ("conv_bias=true",)),
    "weight_standardization.eps": ((), ("weight_standardization.eps=1e-8",)),
    "stem.pool.zero_padded": ((), ("stem.pool.zero_padded=true",)),
    "norm.type": ((), ("norm.type=frozen_batch",)),
    "norm.groups": (("norm.type=group",), ("norm.groups=16",)),
    "norm.group_size": (("norm.type=group",), ("norm.group_size=16",)),
    "stages.attention.activation": (
        ("stages.attention.type=se",),
        ("stages.attention.activation=silu",),
    ),
    "activation": ((), ("activation=silu",)),
    "anti_alias": ((), ("anti_alias=blur",)),
    "init.zero_init_residual": ((), ("init.zero_init_residual=true",)),
}
DESCRIPTIVE = {"name", "extends", "description", "reference"}


def _leaves(model: type[pydantic.BaseModel], prefix: str = "") -> set[str]:
    leaves = set()
    for name, field in model.model_fields.items():
        section = next(
            (
                t
                for t in (field.annotation, *getattr(field.annotation, "__args__", ()))
                if isinstance(t, type) and issubclass(t, pydantic.BaseModel)
            ),
            None,
        )
        leaves |= _leaves(section, f"{prefix}{name}.") if section else {prefix + name}
    return leaves


def test_every_network_field_has_a_change() -> None:
    assert set(CHANGES) == _leaves(Spec) - DESCRIPTIVE


# Where diff shows each change: under the field's own path unless named here. The stage
# lists and what sizes a stage's blocks show in the stages' own lines.
LAYERS = {"layer1", "layer2", "layer3", "layer4"}
REGNET_STAGES = {"s1", "s2", "s3", "s4"}
SHOWN_AS = {
    "input.resize_mode": {"input.resize"},
    "stem.type": {"stem.type", "stem.channels"},
    "stem.pool.type": {"stem.pool"},
    "stem.pool.kernel_size": {"stem.pool"},
    "stem.pool.stride": {"stem.pool"},
    "stem.pool.padding": {"stem.pool"},
    "stem.pool.ceil_mode": {"stem.pool"},
    "stem.pool.zero_padded": {"stem.pool"},
    "stages.block": LAYERS,
    "stages.depths": {"layer3"},
    "stages.widths": LAYERS,
    "stages.strides": {"layer4"},
    "stages.dilations": {"layer4"},
    "stages.drop_path": LAYERS,
    "stages.scale": {"stages.scale", *LAYERS},
    "stages.radix": {"stages.radix", *LAYERS},
    "stages.pruned_channels": {"layer4"},
    "stages.pruned_widths": {"layer4"},
    "stages.groups": {"stages.groups", *LAYERS},
    "stages.group_width": {"stages.group_width", *REGNET_STAGES},
    "stages.bottleneck_ratio": REGNET_STAGES,
    "stages.design.depth": {"s4"},
    "stages.design.w_0": REGNET_STAGES,
    "stages.design.w_a": {"s3", "s4", "s5", "stages"},  # a fifth stage
    "stages.design.w_m": {"s3", "s4", "s5", "stages"},  # a fifth stage
    "stages.design.rounding": {"s4"},
    "stages.width_per_group": LAYERS,
    "stages.attention.type": {"stages.attention", *LAYERS},
    "stages.attention.reduction": LAYERS,
    "stages.attention.divisor": {"layer1"},
    "norm.type": {"norm"},
    "norm.groups": {"norm"},
    "norm.group_size": {"norm"},
}


@pytest.mark.parametrize("field", CHANGES)
def test_diff_shows_a_change_of_every_field(field: str) -> None:
    shared, change = CHANGES[field]
    first = load("resnet50", shared)
    second = load("resnet50", (*shared, *change))
    comparison = compare(first.plan, first.analysis, second.plan, second.analysis)
    assert {key for key, _, _ in comparison.fields} == SHOWN_AS.get(field, {field})
