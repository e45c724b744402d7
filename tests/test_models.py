"""Every zoo model: it builds, runs forward and backward, and matches its own analysis."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from resnetgen.analysis import analyse
from resnetgen.errors import PlanError

from .conftest import (
    BY_SIZE,
    HUGE,
    ZOO,
    build_into,
    grouped,
    import_file,
    module_of,
    zoo_param,
    zoo_spec,
)

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
SMALL_SIDE = 64
# The largest models (BiT's widest) train at a smaller side still, to keep CI short.
HUGE_SIDE = 32


def _model(zoo_files, name: str) -> torch.nn.Module:
    module = module_of(zoo_files[name])
    return getattr(module, name)()


@pytest.mark.parametrize("name", [zoo_param(name) for name in BY_SIZE])
def test_forward_and_backward(zoo_files, name: str) -> None:
    torch.manual_seed(0)
    plan = zoo_spec(name).plan
    model = _model(zoo_files, name).to(DEVICE).train()
    side = HUGE_SIDE if zoo_spec(name).analysis.params > HUGE else SMALL_SIDE
    x = torch.randn(2, plan.in_channels, side, side, device=DEVICE)
    logits = model(x)
    assert logits.shape == (2, plan.head.num_classes)
    assert torch.isfinite(logits).all()
    logits.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reached {missing[:5]}"
    # Each gradient's largest magnitude: finite where every element is (NaN propagates).
    largest = torch.stack([p.grad.abs().amax() for p in model.parameters()])
    assert torch.isfinite(largest).all()


@pytest.mark.parametrize("name", grouped(ZOO))
def test_parameters_match_the_plan_layer_by_layer(meta_model, name: str) -> None:
    analysis = zoo_spec(name).analysis
    model = meta_model(name)
    by_module: dict[str, int] = {}
    for parameter_name, parameter in model.named_parameters():
        module_name = parameter_name.rsplit(".", 1)[0]
        by_module[module_name] = by_module.get(module_name, 0) + parameter.numel()
    assert by_module == analysis.layer_params
    assert sum(p.numel() for p in model.parameters()) == analysis.params


@pytest.fixture(scope="session")
def meta_counts(meta_model):
    """(name, size) -> the FLOPs and the counted layers' output elements of one forward of
    the meta model at that size: counted once for the tests of both."""
    counted: dict[tuple[str, tuple[int, int]], tuple[int, int]] = {}

    def get(name: str, size: tuple[int, int]) -> tuple[int, int]:
        if (name, size) not in counted:
            counted[name, size] = _count(meta_model(name), zoo_spec(name).plan.in_channels, size)
        return counted[name, size]

    return get


# The layers whose outputs the analysis counts as activations: torch's, and the generated
# files' own classes by name.
COUNTED = (
    torch.nn.Conv2d,
    torch.nn.Conv1d,
    torch.nn.BatchNorm2d,
    torch.nn.GroupNorm,
    torch.nn.MaxPool2d,
    torch.nn.AvgPool2d,
    torch.nn.AdaptiveAvgPool2d,
    torch.nn.Linear,
)
CUSTOM = (
    "PadShortcut",
    "SqueezeExcite",
    "EfficientChannelAttention",
    "FrozenBatchNorm2d",
    "BlurPool",
    "EvoNormS0",
    "FilterResponseNorm",
)


def _count(model: torch.nn.Module, channels: int, size: tuple[int, int]) -> tuple[int, int]:
    total = 0

    def count(_module, _inputs, output) -> None:
        nonlocal total
        total += output.numel()

    hooks = [
        child.register_forward_hook(count)
        for child in model.modules()
        if isinstance(child, COUNTED) or type(child).__name__ in CUSTOM
    ]
    try:
        with FlopCounterMode(display=False) as counter:
            model(torch.randn(1, channels, *size, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return counter.get_total_flops(), total


@pytest.mark.parametrize("name", grouped(ZOO))
def test_multiply_adds_match_the_flop_counter(meta_counts, name: str) -> None:
    loaded = zoo_spec(name)
    side = 224 if loaded.plan.resize is None else loaded.plan.input_size[0]
    flops, _ = meta_counts(name, (side, side))
    assert flops == 2 * analyse(loaded.plan, (side, side)).macs


@pytest.mark.parametrize("name", grouped(ZOO))
def test_output_sizes_match_the_analysis(meta_model, name: str) -> None:
    loaded = zoo_spec(name)
    height, width = 161, 173
    x = torch.randn(1, loaded.plan.in_channels, height, width, device="meta")
    try:
        analysis = analyse(loaded.plan, (height, width))
    except PlanError:  # average anti-aliasing takes even stage inputs only, as timm's does
        with pytest.raises(RuntimeError):
            meta_model(name).forward_features(x)
        return
    features = meta_model(name).forward_features(x)
    assert tuple(features.shape[1:]) == analysis.features
    if not loaded.plan.head.final_conv:
        assert analysis.features == analysis.parts[-2].output  # the last stage's


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


@pytest.mark.parametrize("name", grouped(ZOO))
def test_activation_counts_match_the_layers_outputs(meta_counts, name: str) -> None:
    loaded = zoo_spec(name)
    _, activations = meta_counts(name, tuple(loaded.plan.input_size))
    assert activations == loaded.analysis.activations
