"""The analysis against published figures (no torch involved)."""

from __future__ import annotations

import pytest

from resnetgen.analysis import analyse
from resnetgen.load import load

# Trainable parameters (torchvision's and timm's models; the ResNet paper's CIFAR nets).
PUBLISHED_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet50c": 25_576_264,
    "resnet50d": 25_576_264,
    "resnext50_32x4d": 25_028_904,
    "resnext101_32x8d": 88_791_336,
    "wide_resnet50_2": 68_883_240,
    "wide_resnet101_2": 126_886_696,
    "resnet18d": 11_708_744,
    "resnet26d": 16_014_408,
    "resnet101d": 44_568_392,
    "seresnet50": 28_088_024,
    "cifar_resnet20": 269_722,
    "cifar_resnet32": 464_154,
    "cifar_resnet44": 658_586,
    "cifar_resnet56": 853_018,
    "cifar_resnet110": 1_727_962,
}

# Multiply-adds at 224x224, in units of 10^6 (rounded as published).
PUBLISHED_MEGA_MACS = {
    "resnet18": 1814,
    "resnet34": 3664,
    "resnet50": 4089,
    "resnet101": 7801,
    "resnet152": 11514,
    "resnet50_v1": 3858,
    "resnet50c": 4329,
    "resnet50d": 4329,
    "resnext50_32x4d": 4230,
    "wide_resnet50_2": 11398,
}


@pytest.mark.parametrize(("name", "params"), PUBLISHED_PARAMS.items())
def test_published_parameter_counts(name: str, params: int) -> None:
    assert load(name).analysis.params == params


@pytest.mark.parametrize(("name", "mega"), PUBLISHED_MEGA_MACS.items())
def test_published_multiply_adds(name: str, mega: int) -> None:
    assert round(analyse(load(name).plan, (224, 224)).macs / 1e6) == mega


def test_stage_outputs_of_resnet50() -> None:
    parts = {part.name: part for part in load("resnet50").analysis.parts}
    assert parts["stem"].output == (64, 56, 56)
    assert parts["layer1"].output == (256, 56, 56)
    assert parts["layer4"].output == (2048, 7, 7)
    assert parts["head"].output == (1000, 1, 1)
    assert load("resnet50").analysis.output_stride == 32


def test_cifar_net_keeps_resolution_in_its_stem() -> None:
    parts = {part.name: part for part in load("cifar_resnet20").analysis.parts}
    assert parts["stem"].output == (16, 32, 32)
    assert parts["layer3"].output == (64, 8, 8)


def test_resize_sets_the_size_the_stem_sees() -> None:
    analysis = load("resnet50_cifar10").analysis
    assert analysis.input == (3, 32, 32)
    parts = {part.name: part for part in analysis.parts}
    assert parts["stem"].output == (64, 56, 56)


def test_ceil_mode_pool_at_an_odd_size(write_spec) -> None:
    spec = write_spec(
        "name: n\nstem:\n  pool:\n    ceil_mode: true\n    padding: 0\n"
        "stages:\n  block: basic\n  depths: [1]\n"
    )
    # 7x7/2 conv: 161 -> 81; 3x3/2 pool, ceil, no padding: ceil(78 / 2) + 1 = 40.
    assert analyse(load(str(spec)).plan, (161, 161)).parts[0].output == (64, 40, 40)


def test_strides_are_the_layers_own_not_a_ratio_of_sizes(write_spec) -> None:
    spec = write_spec(
        "name: n\ninput:\n  size: [16, 16]\nstem:\n  pool:\n    stride: 4\n"
        "stages:\n  block: basic\n  depths: [1, 1, 1, 1]\n  strides: [1, 4, 4, 4]\n"
    )
    loaded = load(str(spec))
    # 16 -> 8 -> 2 -> 1 -> 1 -> 1: the sizes bottom out, the strides do not.
    assert [part.stride for part in loaded.analysis.parts[:-1]] == [8, 1, 4, 4, 4]
    assert loaded.analysis.output_stride == loaded.plan.stage_strides[-1] == 512
