"""The plan: every layer named as the generated module names it."""

from __future__ import annotations

import re

from resnetgen.layers import (
    AvgPool,
    Conv,
    EfficientChannelAttention,
    Norm,
    PadChannels,
    SqueezeExcite,
)
from resnetgen.load import load


def _layers(name: str) -> dict[str, object]:
    return dict(load(name).plan.named_layers())


def test_deep_stem_follows_timm_indices() -> None:
    layers = _layers("resnet50c")
    assert layers["conv1.0"] == Conv(3, 32, 3, stride=2, padding=1)
    assert layers["conv1.1"] == Norm(32)
    assert layers["conv1.3"] == Conv(32, 32, 3, padding=1)
    assert layers["conv1.6"] == Conv(32, 64, 3, padding=1)
    assert layers["bn1"] == Norm(64)


def test_a_layout_renames_the_same_network() -> None:
    resnet, legacy = load("senet154").plan, load("senet154", ("layout=legacy_senet",)).plan
    renames = {
        "conv1.0": "layer0.conv1",
        "conv1.1": "layer0.bn1",
        "conv1.3": "layer0.conv2",
        "conv1.4": "layer0.bn2",
        "conv1.6": "layer0.conv3",
        "bn1": "layer0.bn3",
        "maxpool": "pool0",
        "fc": "last_linear",
    }
    expected = [
        (re.sub(r"\.se\b", ".se_module", renames.get(name, name)), layer)
        for name, layer in resnet.named_layers()
    ]
    assert legacy.named_layers() == expected
    assert load("legacy_seresnet50").plan.stem.layers[-1][0] == "pool0"


def test_avg_down_shortcut_keeps_an_empty_pool_slot_at_stride_one() -> None:
    layers = _layers("resnet50d")
    assert "layer1.0.downsample.0" not in layers
    assert layers["layer1.0.downsample.1"] == Conv(64, 256, 1)
    assert layers["layer1.0.downsample.2"] == Norm(256)
    assert layers["layer2.0.downsample.0"] == AvgPool(2)
    assert layers["layer2.0.downsample.1"] == Conv(256, 512, 1)
    assert "layer2.1.downsample.1" not in layers


def test_stride_placement() -> None:
    b = _layers("resnet50")
    assert b["layer2.0.conv1"] == Conv(256, 128, 1)
    assert b["layer2.0.conv2"] == Conv(128, 128, 3, stride=2, padding=1)
    v1 = _layers("resnet50_v1")
    assert v1["layer2.0.conv1"] == Conv(256, 128, 1, stride=2)
    assert v1["layer2.0.conv2"] == Conv(128, 128, 3, padding=1)


def test_basic_blocks_stride_only_their_first_conv() -> None:
    layers = _layers("resnet18")
    assert layers["layer2.0.conv1"] == Conv(64, 128, 3, stride=2, padding=1)
    assert layers["layer2.0.conv2"] == Conv(128, 128, 3, padding=1)
    assert "layer1.0.downsample.0" not in layers
    assert layers["layer2.0.downsample.0"] == Conv(64, 128, 1, stride=2)


def test_option_a_shortcut_has_no_parameters() -> None:
    plan = load("cifar_resnet20").plan
    assert [stage.first_shortcut for stage in plan.stages] == ["identity", "zero_pad", "zero_pad"]
    assert dict(plan.named_layers())["layer2.0.downsample"] == PadChannels(2, 16)


def test_cifar10_article_network() -> None:
    plan = load("resnet50_cifar10").plan
    layers = dict(plan.named_layers())
    assert layers["conv1"] == Conv(3, 64, 7, stride=2, padding=3, bias=True)
    assert layers["layer1.0.downsample.0"] == Conv(64, 256, 1, bias=True)
    assert "layer1.0.downsample.1" not in layers
    assert plan.resize is not None and plan.resize.size == (224, 224)
    assert plan.stem.pool is not None and (plan.stem.pool.kernel_size, plan.stem.pool.padding) == (
        2,
        0,
    )


def test_projection_on_every_block(write_spec) -> None:
    spec = write_spec(
        "name: c\nstages:\n  block: basic\n  depths: [2]\n  shortcut: projection_all\n"
    )
    layers = dict(load(str(spec)).plan.named_layers())
    assert layers["layer1.0.downsample.0"] == Conv(64, 64, 1)
    assert layers["layer1.1.downsample.0"] == Conv(64, 64, 1)


def test_squeeze_excite_hidden_channels_follow_timm_rounding() -> None:
    plan = load("seresnet50").plan
    assert [stage.attention for stage in plan.stages] == [16, 32, 64, 128]
    layers = dict(plan.named_layers())
    assert layers["layer1.0.se"] == SqueezeExcite(256, 16)
    rs = load("resnetrs50").plan
    assert [stage.attention for stage in rs.stages] == [64, 128, 256, 512]
    assert [stage.attention for stage in load("seresnet18").plan.stages] == [8, 8, 16, 32]


def test_eca_kernel_grows_with_channels() -> None:
    plan = load("ecaresnet50d").plan
    assert [stage.attention for stage in plan.stages] == [5, 5, 5, 7]
    assert dict(plan.named_layers())["layer4.2.se"] == EfficientChannelAttention(2048, 7)


def test_conv_stem_pool_sits_under_the_maxpool_name() -> None:
    layers = _layers("resnetrs50")
    assert layers["maxpool.0"] == Conv(64, 64, 3, stride=2, padding=1)
    assert layers["maxpool.1"] == Norm(64)


def test_resnext_inner_width() -> None:
    layers = _layers("resnext50_32x4d")
    assert layers["layer1.0.conv2"] == Conv(128, 128, 3, padding=1, groups=32)
    assert _layers("wide_resnet50_2")["layer4.0.conv2"] == Conv(1024, 1024, 3, stride=2, padding=1)


def test_selective_kernels_split_only_what_they_take() -> None:
    # The last stage's one block takes 256 channels; nothing takes its odd output.
    plan = load(
        "skresnet18", ("stages.widths=[64, 128, 256, 63]", "stages.depths=[2, 2, 2, 1]")
    ).plan
    kernel = dict(plan.named_layers())["layer4.0.conv1"]
    assert [path.in_channels for path in kernel.paths] == [128, 128]
    assert kernel.channels == 63
