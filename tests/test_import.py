"""`resnetgen import`: a timm, torchvision, HF transformers or mmpretrain model, with its
arguments, as the shortest spec.

The oracle (test_oracle.py) holds the reading to the references over their whole shared
space, and the parity tests round-trip every zoo reference; these tests hold the
command: what it writes, where, and what it refuses.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import timm
import torch
from click.testing import CliRunner

from resnetgen.cli import main
from resnetgen.load import load
from resnetgen.references import build_reference

from .conftest import ROOT, build_model

README = (ROOT / "README.md").read_text()


def _section(name: str) -> str:
    return README.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


@pytest.fixture
def run_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `resnetgen import ARGS` in a fresh project, as a user in their repository would;
    returns the result and the project's folder."""

    def run(*args: str):
        project = Path(tempfile.mkdtemp(dir=tmp_path))
        (project / "pyproject.toml").touch()
        monkeypatch.chdir(project)
        return CliRunner().invoke(main, ["import", *args]), project

    return run


def test_the_readme_example_writes_the_spec_shown_and_it_is_timms_network(run_import) -> None:
    command = re.search(r"```sh\n(.*?)\n```", _section("import"), re.S).group(1)
    shown = re.search(r"```yaml\n(.*?)```", _section("import"), re.S).group(1)
    words = shlex.split(command)
    assert words[:2] == ["resnetgen", "import"]
    result, here = run_import(*words[2:])
    assert result.exit_code == 0, result.output
    written = here / "specs" / "resnet50d_os16.yaml"
    assert result.output.splitlines()[0].startswith(f"wrote {Path('specs/resnet50d_os16.yaml')}")
    assert written.read_text() == shown
    # timm's checkpoints load; test_variants.py holds this network's logits to timm's.
    model = build_model(written, here / "generated")
    model.load_state_dict(timm.create_model("resnet50d").state_dict(), strict=True)


@pytest.mark.parametrize(
    "command",
    [line[2:] for line in _section("import-refusals").splitlines() if line.startswith("$ ")],
)
def test_the_readme_refusals_are_what_import_says(run_import, command: str) -> None:
    lines = _section("import-refusals").splitlines()
    expected = lines[lines.index(f"$ {command}") + 1]
    result, here = run_import(*shlex.split(command)[2:])
    assert result.exit_code == 1
    assert result.output.splitlines() == [expected]
    assert not (here / "specs").exists()  # nothing written, no folder left behind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["timm/vit_tiny_patch16_224"],
            "patch_embed: PatchEmbed is not a part of the ResNet layout",
        ),
        (
            ["timm/regnety_002", "--arg", "preact=true", "--arg", 'downsample=""'],
            "s1.b1.downsample: None on a pre-activated block that changes shape; it needs a "
            "shortcut",
        ),
        (
            ["timm/resnetv2_50", "--arg", "preact=false", "--arg", "channels=[64, 128, 256, 512]"],
            "stages.0.blocks.0.downsample: a projection on a block that keeps its shape",
        ),
        (
            ["timm/resnetv2_50", "--arg", "stem_type=same"],
            "stem.pool: MaxPool2dSame as the stem pool",
        ),
        (
            ["timm/legacy_seresnet18", "--arg", "global_pool=max"],
            "global_pool: SelectAdaptivePool2d with pool type 'max'",
        ),
        (
            ["timm/resnest14d", "--arg", "block_args={radix: 0}"],
            "layer1.0.conv2: Conv2d where split",
        ),
        (
            ["timm/skresnet18", "--arg", "block_args={sk_kwargs: {keep_3x3: false}}"],
            "layer1.0.conv1.paths.1.conv: a 5x5 conv where the language has a 3x3",
        ),
        (
            ["timm/resnet18", "--arg", "global_pool=max"],
            "global_pool: SelectAdaptivePool2d with pool type 'max'",
        ),
        (
            ["timm/resnet18", "--arg", "drop_block_rate=0.1"],
            "layer3.0.drop_block: DropBlock is not in",
        ),
        (
            ["timm/resnet18", "--arg", "norm_layer=layernorm2d"],
            "bn1: LayerNorm2d where a norm belongs",
        ),
        (
            ["timm/resnet18", "--arg", "foo=1"],
            "timm refused the arguments: ResNet.__init__() got an unexpected keyword argument 'foo'",
        ),
        (["timm/resnet5O"], "timm has no model 'resnet5O'; did you mean timm/resnet50?"),
        (
            ["torchvision/resnet18", "--arg", "replace_stride_with_dilation=[false, true, true]"],
            "torchvision refused the arguments: Dilation > 1 not supported in BasicBlock",
        ),
        (
            ["torchvision/resnet18", "--arg", "norm_layer=instancenorm"],
            "norm_layer 'instancenorm' is not one of",
        ),
        (
            ["keras/resnet50"],
            "expected timm/NAME, torchvision/NAME, mmpretrain/NAME or transformers/ORG/NAME (given 'keras/resnet50')",
        ),
        (["timm/resnet18", "--name", "print"], "name: 'print' would shadow a Python builtin"),
    ],
)
def test_what_import_refuses_it_names_in_one_line(
    run_import, args: list[str], message: str
) -> None:
    result, here = run_import(*args)
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert line.startswith(f"resnetgen import {args[0]}") and message in line, line
    assert not (here / "specs").exists()


def test_a_malformed_argument_points_at_itself(run_import) -> None:
    result, _ = run_import("timm/resnet18", "--arg", "output_stride")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "--arg output_stride: expected KEY=VALUE with KEY a constructor argument (given 'output_stride')"
    ]


def test_an_existing_spec_is_replaced_only_with_force(run_import) -> None:
    result, here = run_import("timm/resnet18", "-d", "ours")
    assert result.exit_code == 0, result.output
    written = here / "ours" / "resnet18.yaml"
    written.write_text("# mine\n" + written.read_text())
    again = CliRunner().invoke(main, ["import", "timm/resnet18", "-d", str(here / "ours")])
    assert again.exit_code == 1
    assert "resnet18.yaml exists; --force replaces it, --name writes another" in again.output
    assert written.read_text().startswith("# mine")
    forced = CliRunner().invoke(
        main, ["import", "timm/resnet18", "-d", str(here / "ours"), "--force"]
    )
    assert forced.exit_code == 0, forced.output
    assert not written.read_text().startswith("# mine")


def test_the_spec_is_the_shortest_and_extends_a_zoo_spec_only_when_shorter(run_import) -> None:
    result, here = run_import("torchvision/resnext50_32x4d")
    assert result.exit_code == 0, result.output
    text = (here / "specs" / "resnext50_32x4d.yaml").read_text()
    assert "extends: resnext50_32x4d" in text  # the zoo's spec of that name: nothing to add
    assert text.splitlines()[-1] == "reference: torchvision/resnext50_32x4d"
    result, here = run_import("torchvision/resnet50", "--arg", "num_classes=10")
    text = (here / "specs" / "resnet50.yaml").read_text()
    assert "reference:" not in text  # its classifier no longer takes the checkpoints'
    assert text.endswith("head:\n  num_classes: 10\n")


def test_a_file_beside_the_spec_that_shadows_a_zoo_name_is_never_extended(tmp_path) -> None:
    project = tmp_path / "project"
    (project / "specs").mkdir(parents=True)
    (project / "pyproject.toml").touch()
    # A spec of the user's, named like the zoo's resnet50d but another network.
    (project / "specs" / "resnet50d.yaml").write_text(
        "name: resnet50d\nstages: {block: basic, depths: [1, 1]}\n"
    )
    result = CliRunner().invoke(
        main,
        ["import", "timm/resnet50d", "--arg", "output_stride=16", "--name", "os16"]
        + ["-d", str(project / "specs")],
    )
    assert result.exit_code == 0, result.output
    text = (project / "specs" / "os16.yaml").read_text()
    assert "extends: resnet50d\n" not in text
    loaded = load(str(project / "specs" / "os16.yaml"))
    assert loaded.plan.stem.type == "deep" and loaded.plan.stage_strides == (4, 8, 16, 16)


PROBE = """
import sys
sys.modules[{blocked!r}] = None  # as if it were not installed
from resnetgen.cli import main
main(["import", "timm/resnet18", "-d", {directory!r}], prog_name="resnetgen")
"""


@pytest.mark.parametrize("blocked", ["torch", "timm"])
def test_without_torch_or_timm_import_says_what_to_install(tmp_path, blocked: str) -> None:
    code = PROBE.format(blocked=blocked, directory=str(tmp_path / "specs"))
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"resnetgen import timm/resnet18: {blocked} is not installed; pip install "
        "'resnetgen[dev]' (or: pip install torch torchvision timm)"
    ]
    assert not (tmp_path / "specs").exists()


# HF's and mmpretrain's constructors: a hub model, with config overrides, a model by name.
LIBRARY_IMPORTS = {
    "microsoft/resnet-50": ("transformers/microsoft/resnet-50", {}, "extends: hf_resnet50"),
    "its v1 of 5 blocks": (
        "transformers/microsoft/resnet-50",
        {"depths": [1, 2, 1, 1], "downsample_in_bottleneck": True},
        "stride_on: 1x1",
    ),
    "bit-50 of 8 groups": ("transformers/google/bit-50", {"num_groups": 8}, "groups: 8"),
    "resnetv1d50": (
        "mmpretrain/resnetv1d50_8xb32_in1k",
        {},
        "extends: mmpretrain_resnetv1d50",
    ),
}


@pytest.mark.parametrize("case", LIBRARY_IMPORTS)
def test_hf_and_mmpretrain_constructors_import_as_their_networks(run_import, case: str) -> None:
    reference, arguments, shown = LIBRARY_IMPORTS[case]
    options = [word for key, value in arguments.items() for word in ("--arg", f"{key}={value}")]
    result, here = run_import(reference, *[o.replace("True", "true") for o in options])
    assert result.exit_code == 0, result.output
    (written,) = (here / "specs").glob("*.yaml")
    assert shown in written.read_text()
    model = build_model(written, here / "generated").eval()
    expected = build_reference(reference, arguments or None).eval()
    model.load_state_dict(expected.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), expected(x))
