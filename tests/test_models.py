"""Every zoo model: it builds, runs forward and backward, and matches its own analysis."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from resnetgen.analysis import analyse
from resnetgen.errors import PlanError
from resnetgen.load import load

from .conftest import ZOO, build_into, import_file

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
SMALL_SIDE = 64
# The largest models (BiT's widest) train at a smaller side still, to keep CI short.
HUGE, HUGE_SIDE = 300_000_000, 32


def _model(zoo_files, name: str) -> torch.nn.Module:
    module = import_file(zoo_files[name])
    return getattr(module, name)()


@pytest.mark.parametrize("name", ZOO)
def test_forward_and_backward(zoo_files, name: str) -> None:
    torch.manual_seed(0)
    plan = load(name).plan
    model = _model(zoo_files, name).to(DEVICE).train()
    side = HUGE_SIDE if load(name).analysis.params > HUGE else SMALL_SIDE
    x = torch.randn(2, plan.in_channels, side, side, device=DEVICE)
    logits = model(x)
    assert logits.shape == (2, plan.head.num_classes)
    assert torch.isfinite(logits).all()
    logits.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", ZOO)
def test_parameters_match_the_plan_layer_by_layer(meta_model, name: str) -> None:
    analysis = load(name).analysis
    model = meta_model(name)
    by_module: dict[str, int] = {}
    for parameter_name, parameter in model.named_parameters():
        module_name = parameter_name.rsplit(".", 1)[0]
        by_module[module_name] = by_module.get(module_name, 0) + parameter.numel()
    assert by_module == analysis.layer_params
    assert sum(p.numel() for p in model.parameters()) == analysis.params


@pytest.mark.parametrize("name", ZOO)
def test_multiply_adds_match_the_flop_counter(meta_model, name: str) -> None:
    loaded = load(name)
    side = 224 if loaded.plan.resize is None else loaded.plan.input_size[0]
    x = torch.randn(1, loaded.plan.in_channels, side, side, device="meta")
    with FlopCounterMode(display=False) as counter:
        meta_model(name)(x)
    assert counter.get_total_flops() == 2 * analyse(loaded.plan, (side, side)).macs


@pytest.mark.parametrize("name", ZOO)
def test_output_sizes_match_the_analysis(meta_model, name: str) -> None:
    loaded = load(name)
    height, width = 161, 173
    x = torch.randn(1, loaded.plan.in_channels, height, width, device="meta")
    try:
        analysis = analyse(loaded.plan, (height, width))
    except PlanError:  # average anti-aliasing takes even stage inputs only, as timm's does
        with pytest.raises(RuntimeError):
            meta_model(name).forward_features(x)
        return
    features = meta_model(name).forward_features(x)
    assert tuple(features.shape[1:]) == analysis.parts[-2].output


def test_head_dropout_acts_in_training_only(tmp_path, write_spec) -> None:
    spec = write_spec(
        "name: dropped\nstages:\n  block: basic\n  depths: [1, 1]\nhead:\n  dropout: 0.5\n"
    )
    path, _card = build_into(tmp_path, str(spec))
    assert "self.dropout = nn.Dropout(0.5)" in path.read_text()
    model = import_file(path).dropped()
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    first = model.forward_head(model.forward_features(x))
    torch.manual_seed(2)
    assert not torch.equal(first, model.forward_head(model.forward_features(x)))


@pytest.mark.parametrize("name", ZOO)
def test_activation_counts_match_the_layers_outputs(meta_model, name: str) -> None:
    loaded = load(name)
    custom = (
        "PadShortcut",
        "SqueezeExcite",
        "EfficientChannelAttention",
        "FrozenBatchNorm2d",
        "BlurPool",
        "EvoNormS0",
        "FilterResponseNorm",
    )
    counted = (
        torch.nn.Conv2d,
        torch.nn.Conv1d,
        torch.nn.BatchNorm2d,
        torch.nn.GroupNorm,
        torch.nn.MaxPool2d,
        torch.nn.AvgPool2d,
        torch.nn.AdaptiveAvgPool2d,
        torch.nn.Linear,
    )
    total = 0

    def count(_module, _inputs, output) -> None:
        nonlocal total
        total += output.numel()

    model = meta_model(name)
    hooks = [
        child.register_forward_hook(count)
        for child in model.modules()
        if isinstance(child, counted) or type(child).__name__ in custom
    ]
    try:
        model(torch.randn(1, loaded.plan.in_channels, *loaded.plan.input_size, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    assert total == loaded.analysis.activations
