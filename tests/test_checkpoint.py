"""`resnetgen import PATH`: a checkpoint file, with no code beside it, becomes a spec whose
generated model loads it.

The reading of names and shapes is held on every zoo network's state (which the parity
tests hold to each reference's); real files, written here from randomly initialised
reference models, hold the rest: every container and prefix people's files have, the
safetensors and torch formats, and every kind of bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import struct
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from resnetgen.cli import main
from resnetgen.layouts import VIEWS
from resnetgen.load import load
from resnetgen.readers.common import NotExpressible
from resnetgen.readers.files import read_safetensors
from resnetgen.readers.state import read_state
from resnetgen.references import build_reference, logits_only
from resnetgen.shortest import network
from resnetgen.state import state_shapes
from resnetgen.zoo_index import INDEX, computed

from .conftest import ROOT, ZOO, build_into, import_file, randomise_norms, zoo_spec


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_network_read_from_its_state_is_a_network_of_that_state(name: str) -> None:
    shapes = state_shapes(zoo_spec(name).plan)
    data, assumed = read_state(shapes)
    plan = network({"name": "read", **data})
    assert plan is not None, data
    assert state_shapes(plan) == shapes
    # The activation is assumed, unless the norms are it or the layout's library has one.
    implied = next(view for view in VIEWS.values() if view.layout == plan.layout.name).implied
    assert (
        "activation relu" in assumed
        or plan.norm in ("evonorm_s0", "filter_response")
        or (implied is not None and implied(data).get("activation") == "relu")
    )


def test_the_readme_example_prints_and_writes_what_it_shows(tmp_path, monkeypatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- checkpoint-import:start -->", 1)[1]
    section = section.split("<!-- checkpoint-import:end -->")[0]
    command, printed, spec = re.findall(r"```\w*\n(.*?)```", section, re.S)
    state = build_reference("timm/resnet50d").state_dict()
    (tmp_path / "runs" / "resnet50d").mkdir(parents=True)
    checkpoint = {
        "epoch": 3,
        "state_dict": {f"module.{key}": value for key, value in state.items()},
        "state_dict_ema": state,
        "args": argparse.Namespace(model="resnet50d"),
    }
    torch.save(checkpoint, tmp_path / "runs" / "resnet50d" / "checkpoint.pth.tar")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert result.output == printed
    assert (tmp_path / "specs" / "resnet50d_ft.yaml").read_text() == spec


def test_the_zoo_index_is_current() -> None:
    written = json.loads(INDEX.read_text(encoding="utf-8"))
    assert written == computed(), "stale: python -m resnetgen.zoo_index writes it again"


def _reference(reference: str, **arguments) -> torch.nn.Module:
    model = build_reference(reference, arguments or None)
    randomise_norms(model, torch.Generator().manual_seed(0))
    return model.eval()


def _import(path: Path, folder: Path, *options: str):
    result = CliRunner().invoke(main, ["import", str(path), "-d", str(folder), *options])
    return result


def _logits_after_import(model: torch.nn.Module, file: Path, folder: Path, *options: str):
    """Import `file`, build the spec, load the file as the import says, and run both."""
    result = _import(file, folder / "specs", *options)
    assert result.exit_code == 0, result.output
    (spec,) = (folder / "specs").glob("*.yaml")
    path, _card = build_into(folder / "generated", str(spec))
    namespace: dict[str, object] = {
        "torch": torch,
        "model": getattr(import_file(path), path.stem)(),
    }
    lines = result.output.split("load the file into the generated model:\n", 1)[1]
    code = "\n".join(line[4:] for line in lines.splitlines() if line.startswith("    "))
    exec(code, namespace)
    generated = namespace["model"].eval()  # type: ignore[attr-defined]
    x = torch.randn(1, next(model.parameters()).shape[1], 64, 64)
    with torch.no_grad():
        return generated(x), model(x), result.output


# A small network of every block family and layout: zoo entries, and timm's constructors
# with fewer blocks (no zoo network: the defaults stand for what weights cannot show).
SAMPLES = [
    ("timm/resnet10t", {}),
    ("torchvision/resnet18", {}),
    ("timm/legacy_seresnet18", {}),
    ("timm/resnetv2_18", {}),
    ("timm/resnest14d", {}),
    ("timm/skresnet18", {}),
    ("timm/res2net50_14w_8s", {"layers": [1, 1, 1, 1]}),
    ("timm/seresnext26d_32x4d", {"layers": [1, 1, 1, 1]}),
    ("timm/ecaresnet50d_pruned", {}),
    ("timm/regnetx_002", {}),
    ("torchvision/regnet_y_400mf", {}),
    ("timm/regnety_002", {"preact": True, "downsample": "avg"}),
    ("timm/regnetz_005", {}),
]


# Each sample in one format, the formats taken in turn.
FILES = [(*sample, (".pth", ".safetensors")[i % 2]) for i, sample in enumerate(SAMPLES)]


@pytest.mark.parametrize(("reference", "arguments", "suffix"), FILES, ids=[r for r, _, _ in FILES])
def test_a_real_file_gives_the_reference_logits(tmp_path, reference, arguments, suffix) -> None:
    model = _reference(reference, **arguments)
    file = tmp_path / f"net{suffix}"
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(state, file) if suffix == ".pth" else save_file(state, str(file))
    got, want, output = _logits_after_import(model, file, tmp_path)
    torch.testing.assert_close(got, want)
    if not arguments:  # a zoo network's keys and shapes: that network, with its reference
        assert f"its network: {reference.split('/')[1]}, whose keys and shapes" in output


def _tiny() -> torch.nn.Module:
    return _reference("timm/test_resnet")


CONTAINERS = {
    "bare": lambda state: state,
    "timm train.py": lambda state: {
        "epoch": 3,
        "arch": "test_resnet",
        "state_dict": state,
        "state_dict_ema": state,
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]},
        "version": 2,
        "args": argparse.Namespace(model="test_resnet", lr=0.1),
        "metric": 0.5,
    },
    "torchvision references": lambda state: {
        "model": state,
        "optimizer": {"state": {}, "param_groups": []},
        "lr_scheduler": {"last_epoch": 4},
        "epoch": 4,
        "args": argparse.Namespace(model="resnet18"),
    },
    "pytorch imagenet example": lambda state: {
        "epoch": 90,
        "arch": "test_resnet",
        "state_dict": {f"module.{k}": v for k, v in state.items()},
        "best_acc1": torch.tensor(76.1),
    },
    "mmengine": lambda state: {
        "meta": {"epoch": 12, "mmengine_version": "0.10.7"},
        "state_dict": {
            **{f"backbone.{k}": v for k, v in state.items() if not k.startswith("fc.")},
            "neck.lateral.weight": torch.zeros(8, 4, 1, 1),
            "rpn_head.conv.weight": torch.zeros(8, 8, 3, 3),
        },
    },
    "lightning": lambda state: {
        "epoch": 3,
        "global_step": 100,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": {f"model.{k}": v for k, v in state.items()},
        "hyper_parameters": {"lr": 0.1},
    },
}


@pytest.mark.parametrize("container", CONTAINERS)
def test_each_container_imports_and_loads(tmp_path, container: str) -> None:
    model = _tiny()
    torch.save(CONTAINERS[container](model.state_dict()), tmp_path / "checkpoint.pth.tar")
    headless = container == "mmengine"
    if headless:  # the backbone alone: the reference without its classifier
        model.reset_classifier(0)
    got, want, output = _logits_after_import(model, tmp_path / "checkpoint.pth.tar", tmp_path)
    torch.testing.assert_close(got, want)
    if container == "mmengine":
        assert "names prefixed 'backbone.'; left the rest (neck., rpn_head.)" in output


@pytest.mark.parametrize(
    "prefix", ["module.", "_orig_mod.", "backbone.", "model.", "encoder.", "module._orig_mod."]
)
def test_each_wrapper_prefix_comes_off_whole(tmp_path, prefix: str) -> None:
    model = _tiny()
    torch.save({f"{prefix}{k}": v for k, v in model.state_dict().items()}, tmp_path / "w.pth")
    got, want, output = _logits_after_import(model, tmp_path / "w.pth", tmp_path)
    torch.testing.assert_close(got, want)
    assert f"names prefixed {prefix!r}" in output


def test_a_headless_backbone_a_grayscale_ten_class_net_and_a_folder(tmp_path) -> None:
    headless = _reference("timm/resnet18", num_classes=0)
    torch.save(headless.state_dict(), tmp_path / "backbone.pth")
    got, want, output = _logits_after_import(headless, tmp_path / "backbone.pth", tmp_path / "a")
    torch.testing.assert_close(got, want)
    assert "its network: resnet18, whose keys and shapes these are, but for its classes" in output

    gray = _reference("timm/resnet18", in_chans=1, num_classes=10)
    folder = tmp_path / "hub"
    folder.mkdir()
    save_file(gray.state_dict(), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"architecture": "resnet18", "num_classes": 10}))
    got, want, _ = _logits_after_import(gray, folder, tmp_path / "b")
    torch.testing.assert_close(got, want)
    spec = next((tmp_path / "b" / "specs").glob("*.yaml")).read_text()
    assert "extends: resnet18" in spec and "channels: 1" in spec and "num_classes: 10" in spec


@pytest.mark.parametrize("kind", ["safetensors", "bin"])
def test_a_folder_of_shards_imports_and_loads(tmp_path, kind: str) -> None:
    model = _tiny()
    folder = tmp_path / "hub"
    folder.mkdir()
    state = model.state_dict()
    names = list(state)
    weight_map = {}
    for number, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :]), start=1):
        shard = f"model-0000{number}-of-00002.{kind}"
        tensors = {name: state[name].contiguous() for name in part}
        save_file(tensors, str(folder / shard)) if kind == "safetensors" else torch.save(
            tensors, folder / shard
        )
        weight_map |= dict.fromkeys(part, shard)
    index = (
        "model.safetensors.index.json" if kind == "safetensors" else "pytorch_model.bin.index.json"
    )
    (folder / index).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    got, want, _ = _logits_after_import(model, folder, tmp_path)
    torch.testing.assert_close(got, want)


def test_what_weights_cannot_show_is_assumed_and_set_changes_it(tmp_path) -> None:
    model = _reference("timm/resnet50", layers=[1, 1, 1, 1])
    torch.save(model.state_dict(), tmp_path / "w.pth")
    got, want, output = _logits_after_import(model, tmp_path / "w.pth", tmp_path / "a")
    torch.testing.assert_close(got, want)
    assert "assumed (the weights cannot show them): " in output
    assert "stages.strides 1, 2, 2, ...; stages.stride_on 3x3; activation relu" in output
    result = _import(tmp_path / "w.pth", tmp_path / "b", "--set", "stages.stride_on=1x1")
    assert result.exit_code == 0, result.output
    assert load(str(next((tmp_path / "b").glob("*.yaml")))).plan.stride_on == "1x1"


# Bad input: one line naming the path, exit status 1, nothing written -----------------------


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _refused(path: Path, folder: Path) -> str:
    result = _import(path, folder)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: "), result.output
    assert "Traceback" not in result.output
    assert not folder.exists() or not any(folder.iterdir())
    return lines[0]


def test_a_pickle_that_would_run_code_is_refused_and_never_run(tmp_path) -> None:
    marker = tmp_path / "created"
    torch.save({"state_dict": _tiny().state_dict(), "x": _Payload(marker)}, tmp_path / "evil.pth")
    line = _refused(tmp_path / "evil.pth", tmp_path / "specs")
    assert "would call posix.system" in line or "would call os.system" in line
    assert not marker.exists()


def test_a_pickled_module_is_refused_with_how_to_save_its_state_dict(tmp_path) -> None:
    torch.save(_tiny(), tmp_path / "model.pt")
    assert "save model.state_dict()" in _refused(tmp_path / "model.pt", tmp_path / "specs")


def test_truncated_corrupt_and_empty_files_are_refused(tmp_path) -> None:
    torch.save(_tiny().state_dict(), tmp_path / "whole.pth")
    data = (tmp_path / "whole.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.pth").write_bytes(os.urandom(4096))
    (tmp_path / "empty.safetensors").write_bytes(b"")
    assert "truncated or corrupt" in _refused(tmp_path / "cut.pth", tmp_path / "specs")
    assert "not a checkpoint" in _refused(tmp_path / "noise.pth", tmp_path / "specs")
    assert "an empty file" in _refused(tmp_path / "empty.safetensors", tmp_path / "specs")


def _safetensors(path: Path, header: object, data: bytes = b"\0" * 16) -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def test_a_safetensors_header_that_lies_is_refused(tmp_path) -> None:
    tensor = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    lies = {
        "length": tmp_path / "length.safetensors",
        "json": tmp_path / "json.safetensors",
        "offsets": _safetensors(
            tmp_path / "offsets.safetensors", {"w": {**tensor, "data_offsets": [0, 64]}}
        ),
        "shape": _safetensors(tmp_path / "shape.safetensors", {"w": {**tensor, "shape": [3, 3]}}),
        "overlap": _safetensors(tmp_path / "overlap.safetensors", {"a": tensor, "b": tensor}),
        "dtype": _safetensors(tmp_path / "dtype.safetensors", {"w": {**tensor, "dtype": "X9"}}),
    }
    lies["length"].write_bytes(struct.pack("<Q", 10**9) + b"{}")
    lies["json"].write_bytes(struct.pack("<Q", 4) + b"{{{{")
    for lie, path in lies.items():
        line = _refused(path, tmp_path / "specs")
        assert "header" in line or "tensor" in line, (lie, line)


def test_a_network_the_language_has_not_is_refused_naming_the_first_key(tmp_path) -> None:
    state = {"features.0.weight": torch.zeros(8, 3, 3, 3), "classifier.weight": torch.zeros(10, 8)}
    torch.save(state, tmp_path / "vgg.pth")
    assert "features" in _refused(tmp_path / "vgg.pth", tmp_path / "specs")
    with pytest.raises(NotExpressible):
        read_state({key: tuple(value.shape) for key, value in state.items()})


def test_an_empty_folder_and_links_to_nothing_or_to_other_files_are_refused(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    assert "no weights" in _refused(tmp_path / "empty", tmp_path / "specs")
    (tmp_path / "notes.txt").write_text("not weights\n")
    (tmp_path / "link.pth").symlink_to(tmp_path / "notes.txt")
    assert "not a checkpoint" in _refused(tmp_path / "link.pth", tmp_path / "specs")
    (tmp_path / "dangling.pth").symlink_to(tmp_path / "missing.pth")
    assert "a link to nothing" in _refused(tmp_path / "dangling.pth", tmp_path / "specs")


def test_a_safetensors_header_is_read_without_its_tensors(tmp_path) -> None:
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4, dtype=torch.float16)}
    save_file(state, str(tmp_path / "w.safetensors"))
    stored = read_safetensors(tmp_path / "w.safetensors")
    assert {k: (v.shape, v.dtype) for k, v in stored.items()} == {
        "w": ((2, 3), "float32"),
        "b": ((4,), "float16"),
    }
    torch.testing.assert_close(stored["w"].read(), state["w"])
    torch.testing.assert_close(stored["b"].read(), state["b"])


# HF transformers' and mmpretrain's files: a folder saved by save_pretrained, whose
# config.json settles what the weights cannot show, and mmengine's checkpoints.
SETTLED = "assumed: nothing (the layout and its config settle what weights cannot show)"
V1_STRIDES = {"downsample_in_bottleneck": True, "downsample_in_first_stage": True}
BASIC = {"layer_type": "basic", "hidden_sizes": [64, 128, 256, 512], "depths": [2, 2, 2, 2]}
SMALL_REGNET = {"hidden_sizes": [16, 32, 48, 64], "depths": [1, 2, 1, 1], "groups_width": 8}
HF_FOLDERS = {
    "ResNet, v1 strides": ("ResNet", {"depths": [1, 2, 1, 1], **V1_STRIDES}, SETTLED),
    "ResNet-18 of 3 classes": (
        "ResNet",
        {**BASIC, "num_labels": 3},
        "its network: hf_resnet18, whose keys and shapes these are, but for its classes",
    ),
    "BiT of 8 norm groups, SiLU": (
        "Bit",
        {"depths": [1, 1, 1, 1], "num_groups": 8, "num_labels": 5, "hidden_act": "silu"},
        SETTLED,
    ),
    "headless BiT": ("Bit", {"depths": [1, 1, 2, 1], "num_labels": 0}, SETTLED),
    "RegNet-X of 4 classes, SiLU": (
        "RegNet",
        {**SMALL_REGNET, "layer_type": "x", "num_labels": 4, "hidden_act": "silu"},
        SETTLED,
    ),
    "headless RegNet-X": ("RegNet", {**SMALL_REGNET, "layer_type": "x", "num_labels": 0}, SETTLED),
    "RegNet-Y, its first stage unstrided": (
        "RegNet",
        {**SMALL_REGNET, "downsample_in_first_stage": False},
        SETTLED,
    ),
    "facebook/regnet-x-002": (
        "RegNet",
        {
            "layer_type": "x",
            "hidden_sizes": [24, 56, 152, 368],
            "depths": [1, 1, 4, 7],
            "groups_width": 8,
        },
        "its network: hf_regnet_x_002",
    ),
}


@pytest.mark.parametrize("case", HF_FOLDERS)
def test_a_hf_folder_imports_and_loads_as_its_config_says(tmp_path, case: str) -> None:
    import transformers

    kind, settings, said = HF_FOLDERS[case]
    config = getattr(transformers, f"{kind}Config")(**settings)
    headed = config.num_labels > 0
    model = getattr(transformers, f"{kind}{'ForImageClassification' if headed else 'Model'}")(
        config
    )
    randomise_norms(model, torch.Generator().manual_seed(0))
    model.save_pretrained(tmp_path / "hub")
    reference = logits_only(model) if headed else _pooled(model)
    got, want, output = _logits_after_import(reference.eval(), tmp_path / "hub", tmp_path)
    torch.testing.assert_close(got, want)
    assert said in output


def test_a_hf_config_the_language_cannot_follow_is_refused_in_one_line(tmp_path) -> None:
    import transformers

    config = transformers.ResNetConfig(depths=[1, 1, 1, 1], hidden_act="silu")
    transformers.ResNetForImageClassification(config).save_pretrained(tmp_path / "hub")
    result = _import(tmp_path / "hub", tmp_path / "specs")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{tmp_path / 'hub'}: not a network the spec language has: config.json hidden_act: "
        "'silu' beside the blocks' ReLUs"
    ]
    assert not (tmp_path / "specs").exists()


class _Answering(torch.nn.Module):
    """A reference answering as the generated headless model does (pooled features)."""

    def __init__(self, model: torch.nn.Module, answer) -> None:
        super().__init__()
        self.model, self.answer = model, answer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.answer(self.model, x)


def _pooled(model: torch.nn.Module) -> torch.nn.Module:
    """A HF backbone's pooled features."""
    return _Answering(model, lambda model, x: model(x).pooler_output.flatten(1))


def test_a_hf_hub_resnet_is_its_zoo_network_with_its_reference(tmp_path) -> None:
    model = build_reference("transformers/microsoft/resnet-50")
    model.save_pretrained(tmp_path / "resnet-50")
    got, want, output = _logits_after_import(model.eval(), tmp_path / "resnet-50", tmp_path)
    torch.testing.assert_close(got, want)
    assert "its network: hf_resnet50, whose keys and shapes these are\n" in output
    (spec,) = (tmp_path / "specs").glob("*.yaml")
    assert 'reference: ["transformers/microsoft/resnet-50"]' in spec.read_text()


def test_an_mmengine_checkpoint_of_mmpretrain_imports_and_loads(tmp_path) -> None:
    model = _reference("mmpretrain/resnetv1d50_8xb32_in1k")
    checkpoint = {
        "meta": {"epoch": 100, "mmengine_version": "0.10.7"},
        "state_dict": model.state_dict(),
    }
    torch.save(checkpoint, tmp_path / "epoch_100.pth")
    got, want, output = _logits_after_import(model, tmp_path / "epoch_100.pth", tmp_path)
    torch.testing.assert_close(got, want)
    assert "took 'state_dict'" in output
    assert "its network: mmpretrain_resnetv1d50, whose keys and shapes these are\n" in output


def test_an_mmdet_backbone_of_mmpretrain_imports_and_loads(tmp_path) -> None:
    model = _reference("mmpretrain/resnetv1c50_8xb32_in1k")
    state = {f"backbone.{k}": v for k, v in model.backbone.state_dict().items()}
    state |= {"neck.lateral_convs.0.conv.weight": torch.zeros(8, 256, 1, 1)}
    torch.save({"meta": {"epoch": 12}, "state_dict": state}, tmp_path / "detector.pth")
    got, want, output = _logits_after_import(
        _last_stage_pooled(model), tmp_path / "detector.pth", tmp_path
    )
    torch.testing.assert_close(got, want)
    assert "names prefixed 'backbone.'; left the rest (neck.)" in output
    assert (
        "its network: mmpretrain_resnetv1c50, whose keys and shapes these are, but for its classes"
        in output
    )


def _last_stage_pooled(model: torch.nn.Module) -> torch.nn.Module:
    """An mmpretrain classifier's backbone, its last stage pooled."""
    return _Answering(model.backbone, lambda model, x: model(x)[-1].mean((2, 3))).eval()
