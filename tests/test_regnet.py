"""RegNet's blocks from a spec of its design space: timm's regnet.py networks, key for key
and logit for logit, and the design space's bad values refused where they stand.

These specs are written here, as a user writes them; the zoo's are held to their
references by the parity tests, and torchvision's to the figures of its weights here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
import torchvision

from resnetgen.errors import SpecError
from resnetgen.load import load

from .conftest import ZOO, build_model, randomise_norms

BASE = """\
name: {name}
layout: regnet
stem: {{type: strided_3x3}}
stages:
  block: regnet
  group_width: {group_width}
  design: {{depth: {depth}, w_0: {w_0}, w_a: {w_a}, w_m: {w_m}, rounding: {rounding}}}
"""
SE = "  attention: {type: se, reduction: 4}\n"
# timm's entries: (depth, w_0, w_a, w_m, group width), squeeze-and-excitation, rounding.
ENTRIES = {
    "regnetx_002": ((13, 24, 36.44, 2.49, 8), False, "pycls"),
    "regnety_002": ((13, 24, 36.44, 2.49, 8), True, "pycls"),
    "regnetx_004_tv": ((22, 24, 24.48, 2.54, 16), False, "torchvision"),
    "regnety_008_tv": ((14, 56, 38.84, 2.4, 16), True, "torchvision"),
    "regnety_006": ((15, 48, 32.54, 2.32, 16), True, "pycls"),
}


def _spec(name: str) -> str:
    (depth, w_0, w_a, w_m, group_width), se, rounding = ENTRIES[name]
    text = BASE.format(
        name=name,
        depth=depth,
        w_0=w_0,
        w_a=w_a,
        w_m=w_m,
        group_width=group_width,
        rounding=rounding,
    )
    return text + (SE if se else "")


@pytest.mark.parametrize("name", ENTRIES)
def test_timm_regnets_load_strictly_and_give_their_logits(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_text(_spec(name))
    expected = timm.create_model(name)
    randomise_norms(expected, torch.Generator().manual_seed(0))
    actual = build_model(path, tmp_path / "out")
    want = expected.state_dict()
    assert list(actual.state_dict()) == list(want)
    actual.load_state_dict(want, strict=True)
    params = sum(p.numel() for p in expected.parameters())
    assert sum(p.numel() for p in actual.parameters()) == params == load(str(path)).analysis.params
    generator = torch.Generator().manual_seed(1)
    for mode in ("eval", "train"):
        expected.train(mode == "train")
        actual.train(mode == "train")
        for size in ((224, 224), (161, 173)):
            x = torch.randn(2, 3, *size, generator=generator)
            with torch.no_grad():
                torch.testing.assert_close(actual(x), expected(x))
    for key, value in expected.state_dict().items():  # running statistics, trained alike
        torch.testing.assert_close(actual.state_dict()[key], value, msg=key)


def test_for_inference_folds_every_norm_and_keeps_the_logits(tmp_path: Path) -> None:
    path = tmp_path / "regnety_002.yaml"
    path.write_text(_spec("regnety_002"))
    model = build_model(path, tmp_path / "out").eval()
    randomise_norms(model, torch.Generator().manual_seed(0))
    module = __import__("sys").modules[type(model).__module__]
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        expected = model(x)
        folded = module.for_inference(model)
        norms = [m for m in folded.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert not norms
        torch.testing.assert_close(folded(x.to(memory_format=torch.channels_last)), expected)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("w_m: 2.49", "w_m: 1.0"), "stages.design.w_m: should be greater than 1"),
        (("w_0: 24", "w_0: 20"), "stages.design.w_0: should be a multiple of 8"),
        (("w_a: 36.44", "w_a: -1.0"), "stages.design.w_a: should be greater than or equal to 0"),
        (("w_m: 2.49", "w_m: 1.01"), "stages.design: gives 1"),
        (("  block: regnet\n", "  block: regnet\n  depths: [1, 2]\n"), "stages.design: gives"),
        (("  group_width: 8\n", ""), "stages.group_width: regnet blocks need a group width"),
    ],
)
def test_bad_design_values_are_located(tmp_path: Path, change, expected: str) -> None:
    old, new = change
    path = tmp_path / "net.yaml"
    path.write_text(_spec("regnetx_002").replace(old, new))
    with pytest.raises(SpecError) as error:
        load(str(path))
    lines = str(error.value).splitlines()
    assert any(f"{path}:" in line and expected in line for line in lines), lines


RESNET = "name: net\nstages:\n  block: bottleneck\n  depths: [1, 1]\n"


def _in_layout(name: str, layout: str) -> str:
    return _spec(name).replace("layout: regnet", f"layout: {layout}")


RESNET = "name: net\nstages:\n  block: bottleneck\n  depths: [1, 1]\n"


def _in_layout(name: str, layout: str) -> str:
    return _spec(name).replace("layout: regnet", f"layout: {layout}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RESNET + "  shortcut: none\n",
            "stages.shortcut: none applies to networks of regnet blocks only (given 'none')",
        ),
        (
            RESNET + "  linear_output: true\n",
            "stages.linear_output: applies to regnet blocks only, and this network has none",
        ),
        (
            RESNET + "head: {final_conv: 1024}\n",
            "head.final_conv: the resnet layout has no final conv (given 1024)",
        ),
        (
            _in_layout("regnetx_002", "torchvision_regnet") + "  shortcut: none\n",
            "stages.shortcut: the torchvision_regnet layout has projection shortcuts only",
        ),
        (
            _in_layout("regnetx_002", "transformers_regnet") + "  linear_output: true\n",
            "stages.linear_output: the transformers_regnet layout activates every block's output",
        ),
        (
            _in_layout("regnety_002", "torchvision_regnet") + "activation: silu\n",
            "stages.attention.activation: the torchvision_regnet layout activates its attention "
            "as its blocks",
        ),
        (
            _in_layout("regnetx_002", "transformers_regnet") + "  drop_path: 0.1\n",
            "stages.drop_path: the transformers_regnet layout has no stochastic depth",
        ),
        (
            _in_layout("regnetx_002", "torchvision_regnet") + "head: {final_conv: 1024}\n",
            "head.final_conv: the torchvision_regnet layout has no final conv",
        ),
        (
            _in_layout("regnetx_002", "transformers_regnet") + "  preactivation: true\n",
            "stages.preactivation: the transformers_regnet layout is post-activation only",
        ),
        (
            _in_layout("regnetx_002", "torchvision_regnet") + "  shortcut: avg_down\n",
            "stages.shortcut: the torchvision_regnet layout has projection shortcuts only",
        ),
        (
            _spec("regnetx_002") + "  preactivation: true\n  shortcut: none\n",
            "stages.shortcut: none applies to post-activation regnet blocks only",
        ),
        (
            _spec("regnetx_002") + "  preactivation: true\n  linear_output: true\n",
            "stages.linear_output: pre-activated blocks' outputs are linear already",
        ),
    ],
)
def test_what_only_timm_s_regnets_have_is_refused_elsewhere(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load(str(path))
    lines = str(error.value).splitlines()
    assert any(f"{path}:" in line and expected in line for line in lines), lines


@pytest.mark.parametrize(
    "extra",
    [
        "  bottleneck_ratio: 4.0\n  shortcut: none\n  linear_output: true\n"
        "head: {final_conv: 64}\nactivation: silu\n",
        "  shortcut: avg_down\n",
        "  shortcut: avg_down\n  strides: [2, 2, 1, 1]\n  dilations: [1, 1, 2, 4]\n",
    ],
    ids=["regnet-z, final conv", "avg-pool shortcuts", "avg-pool shortcuts, dilated"],
)
def test_every_norm_folds_for_inference_and_the_logits_stay(tmp_path: Path, extra: str) -> None:
    """RegNet-Z (no shortcut where the shape changes, linear outputs, a final conv) and
    avg-pool shortcuts (their conv and norm one unit at downsample.1, the pool empty,
    strided or same-padded as the stage's first block is): every norm folds."""
    path = tmp_path / "net.yaml"
    path.write_text(_spec("regnety_002") + extra)
    model = build_model(path, tmp_path / "out").eval()
    randomise_norms(model, torch.Generator().manual_seed(0))
    module = __import__("sys").modules[type(model).__module__]
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        expected = model(x)
        folded = module.for_inference(model)
        assert not [m for m in folded.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        torch.testing.assert_close(folded(x.to(memory_format=torch.channels_last)), expected)


@pytest.mark.parametrize("widths", ["[24, 48]", "[25, 50]"])
def test_widths_that_no_group_width_divides_are_refused(tmp_path: Path, widths: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "name: net\nlayout: regnet\nstem: {type: strided_3x3}\nstages:\n  block: regnet\n"
        f"  group_width: 10\n  depths: [1, 1]\n  widths: {widths}\n"
    )
    with pytest.raises(SpecError, match="stages.group_width: does not divide stage 1's inner"):
        load(str(path))


TORCHVISION_ZOO = [name for name in ZOO if name.startswith("regnet_")]


def test_the_zoo_holds_every_torchvision_regnet() -> None:
    builders = [name for name in torchvision.models.list_models() if name.startswith("regnet_")]
    assert len(builders) == 15
    assert sorted(TORCHVISION_ZOO) == sorted(builders)


@pytest.mark.parametrize("name", TORCHVISION_ZOO)
def test_parameters_and_multiply_adds_are_torchvision_s_figures(name: str) -> None:
    """Each weight set's num_params, and its _ops (GFLOPS as torchvision counts them,
    multiply-adds) at the size it was trained at, to the three decimals it gives."""
    for weights in torchvision.models.get_model_weights(name):
        (side,) = weights.transforms().crop_size
        analysis = load(name, (f"input.size=[{side}, {side}]",)).analysis
        assert analysis.params == weights.meta["num_params"]
        assert round(analysis.macs / 1e9, 3) == weights.meta["_ops"], weights
