"""Beyond the references: pre-activation, dilation, stochastic depth, mixed stages,
activation and norm choices. Each against an independent oracle where one exists."""

from __future__ import annotations

import math

import pytest
import timm
import torch
import torchvision
from torchvision.ops.misc import FrozenBatchNorm2d as TorchvisionFrozenBatchNorm2d

from resnetgen.layers import Conv, Norm
from resnetgen.load import load

from .conftest import build_into, build_model, import_file, randomise_norms


def _build(zoo_files, name: str) -> torch.nn.Module:
    return getattr(import_file(zoo_files[name]), name)()


def test_preactivation_puts_each_norm_before_its_conv() -> None:
    plan = load("preact_resnet50").plan
    body = [name for name, _ in plan.stages[0].blocks[0].body]
    assert body == ["bn1", "conv1", "bn2", "conv2", "bn3", "conv3"]
    layers = dict(plan.named_layers())
    assert layers["layer2.0.bn1"] == Norm(256)  # normalises the block's input
    assert layers["layer2.0.downsample.0"] == Conv(256, 512, 1, stride=2)
    assert "layer2.0.downsample.1" not in layers
    assert layers["norm"] == Norm(2048)  # before the head


def test_preact_cifar_nets_match_the_published_sizes() -> None:
    # "Identity Mappings in Deep Residual Networks", Table 3: 1.7 M parameters each.
    assert round(load("cifar_preact_resnet110").analysis.params / 1e6, 1) == 1.7
    assert round(load("cifar_preact_resnet164").analysis.params / 1e6, 1) == 1.7
    assert "bn1" not in dict(load("cifar_preact_resnet164").plan.named_layers())


def test_preact_block_feeds_the_projection_the_pre_activated_input(zoo_files) -> None:
    model = _build(zoo_files, "preact_resnet18").eval()
    randomise_norms(model, torch.Generator().manual_seed(0))
    block = model.layer2[0]
    x = torch.randn(2, 64, 16, 16)
    with torch.no_grad():
        pre = block.act1(block.bn1(x))
        branch = block.conv2(block.act2(block.bn2(block.conv1(pre))))
        torch.testing.assert_close(block(x), branch + block.downsample(pre))
        identity = model.layer2[1]
        y = torch.randn(2, 128, 8, 8)
        inner = identity.conv2(
            identity.act2(identity.bn2(identity.conv1(identity.act1(identity.bn1(y)))))
        )
        torch.testing.assert_close(identity(y), inner + y)


def test_dilated_resnet50_is_torchvisions_segmentation_backbone(zoo_files) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet50(replace_stride_with_dilation=[False, True, True]).eval()
    randomise_norms(reference, torch.Generator().manual_seed(1))
    model = _build(zoo_files, "resnet50_os8").eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 97, 103)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
        features = model.forward_features(x)
    assert tuple(features.shape[-2:]) == (13, 13)  # output stride 8
    assert model.stage_strides == [4, 8, 8, 8]
    assert load("resnet50_os16").plan.stage_strides == (4, 8, 16, 16)


def test_dilated_basic_blocks_keep_their_resolution(zoo_files) -> None:
    model = _build(zoo_files, "resnet18_os8").eval()
    features = model.forward_stages(torch.randn(1, 3, 224, 224))
    assert [tuple(f.shape[1:]) for f in features] == [
        (64, 56, 56),
        (128, 28, 28),
        (256, 28, 28),
        (512, 28, 28),
    ]
    layers = dict(load("resnet18_os8").plan.named_layers())
    assert layers["layer3.0.conv1"] == Conv(128, 256, 3, 1, 1, 1, False, 1)  # previous dilation
    assert layers["layer3.0.conv2"] == Conv(256, 256, 3, 1, 2, 1, False, 2)  # its own
    assert layers["layer3.1.conv1"] == Conv(256, 256, 3, 1, 2, 1, False, 2)
    assert layers["layer4.0.conv1"] == Conv(256, 512, 3, 1, 2, 1, False, 2)
    assert layers["layer4.0.conv2"] == Conv(512, 512, 3, 1, 4, 1, False, 4)


def test_dilated_basic_blocks_are_timms_output_stride_8(zoo_files) -> None:
    reference = timm.create_model("resnet18", output_stride=8).eval()
    randomise_norms(reference, torch.Generator().manual_seed(1))
    model = _build(zoo_files, "resnet18_os8").eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 97, 103)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


def test_dilated_avg_down_shortcuts_are_timms_output_stride_16(tmp_path) -> None:
    # timm pools a dilated stage's shortcut with a "same"-padded 2x2 window at stride 1.
    spec = tmp_path / "resnet50d_os16.yaml"
    spec.write_text(
        "name: resnet50d_os16\nextends: resnet50d\n"
        "stages: {strides: [1, 2, 2, 1], dilations: [1, 1, 1, 2]}\n"
    )
    model = build_model(spec, tmp_path).eval()
    reference = timm.create_model("resnet50d", output_stride=16).eval()
    randomise_norms(reference, torch.Generator().manual_seed(1))
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 97, 103)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)


def test_frozen_batch_norm_loads_torchvision_weights_and_stays_frozen(zoo_files) -> None:
    torch.manual_seed(0)
    reference = torchvision.models.resnet50().eval()
    randomise_norms(reference, torch.Generator().manual_seed(1))
    model = _build(zoo_files, "resnet50_frozen_bn")
    model.load_state_dict(reference.state_dict(), strict=True)  # num_batches_tracked dropped
    detection = torchvision.models.resnet50(norm_layer=TorchvisionFrozenBatchNorm2d).eval()
    detection.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()  # frozen norms ignore the mode
    with torch.no_grad():
        got = model(x)
        torch.testing.assert_close(got, detection(x))  # the same arithmetic as torchvision's
        expected = reference(x)  # a batch norm in eval mode: equal up to rounding
        scale = expected.abs().max().item()
        torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-3 * scale)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    trainable = {n for n, _ in model.named_parameters()}
    assert not any(".bn" in n or n.startswith("bn1") for n in trainable)


def test_stochastic_depth_is_the_identity_in_eval_and_drops_in_training(zoo_files) -> None:
    plain = _build(zoo_files, "resnet50d")
    dropped = _build(zoo_files, "resnet50d_sd")
    dropped.load_state_dict(plain.state_dict(), strict=True)  # same keys as timm's resnet50d
    randomise_norms(plain, torch.Generator().manual_seed(1))
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(8, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(dropped.eval()(x), plain.eval()(x))
        torch.manual_seed(0)
        changed = dropped.train()(x)
        unchanged = plain.train()(x)
    assert not torch.allclose(changed, unchanged)
    stages = (dropped.layer1, dropped.layer2, dropped.layer3, dropped.layer4)
    rates = [block.drop_path.rate for stage in stages for block in stage]
    assert rates == [0.05 * index / 15 for index in range(16)]  # timm's schedule, exactly


def test_mixed_stages_build_the_kind_each_stage_names(zoo_files) -> None:
    model = _build(zoo_files, "test_resnet")
    kinds = [
        type(stage[0]).__name__
        for stage in (model.layer1, model.layer2, model.layer3, model.layer4)
    ]
    assert kinds == ["BasicBlock", "BasicBlock", "Bottleneck", "BasicBlock"]


@pytest.mark.parametrize(
    ("activation", "module", "gain"),
    [
        ("relu", torch.nn.ReLU, math.sqrt(2)),
        ("silu", torch.nn.SiLU, math.sqrt(2)),
        ("gelu", torch.nn.GELU, math.sqrt(2)),
        ("leaky_relu", torch.nn.LeakyReLU, math.sqrt(2 / (1 + 0.01**2))),
    ],
)
def test_activation_and_its_init_gain(tmp_path, write_spec, activation, module, gain) -> None:
    spec = write_spec(
        f"name: act_{activation}\nactivation: {activation}\n"
        "stages:\n  block: basic\n  depths: [1]\n  widths: [256]\n"
    )
    path, _card = build_into(tmp_path, str(spec))
    torch.manual_seed(0)
    model = getattr(import_file(path), f"act_{activation}")()
    activations = [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.ReLU | torch.nn.SiLU | torch.nn.GELU | torch.nn.LeakyReLU)
    ]
    assert activations and all(type(m) is module for m in activations)
    weight = model.layer1[0].conv2.weight  # 256 x 256 x 3 x 3, fan-out 2304
    expected = gain / math.sqrt(256 * 9)
    assert abs(weight.std().item() / expected - 1) < 0.02


def test_headless_spec_is_timms_num_classes_0(tmp_path) -> None:
    spec = tmp_path / "resnet26d_features.yaml"
    spec.write_text("name: resnet26d_features\nextends: resnet26d\nhead: {num_classes: 0}\n")
    model = build_model(spec, tmp_path).eval()
    assert load(str(spec)).analysis.params == sum(p.numel() for p in model.parameters())
    reference = timm.create_model("resnet26d", num_classes=0).eval()
    randomise_norms(reference, torch.Generator().manual_seed(1))
    model.load_state_dict(reference.state_dict(), strict=True)  # no fc keys on either side
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        features = model(x)
        torch.testing.assert_close(features, reference(x), rtol=0, atol=0)
    assert features.shape == (2, 2048)


@pytest.mark.parametrize("name", ["resnet18", "cifar_resnet20", "preact_resnet18"])
def test_factory_num_classes_0_returns_the_pooled_features(zoo_files, name: str) -> None:
    model = getattr(import_file(zoo_files[name]), name)(num_classes=0).eval()
    assert not any(key.startswith("fc.") for key in model.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.forward_head(model.forward_features(x), True))
    assert model(x).shape == (2, model.stage_channels[-1])
