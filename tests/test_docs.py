"""The README's tables and examples say what the code does."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

from resnetgen.build import load_all
from resnetgen.resources import zoo_names

from .conftest import ROOT, build_into, randomise_norms

README = (ROOT / "README.md").read_text()
_tables = importlib.util.spec_from_file_location(
    "readme_tables", ROOT / "scripts" / "readme_tables.py"
)
assert _tables is not None and _tables.loader is not None
readme_tables = importlib.util.module_from_spec(_tables)
_tables.loader.exec_module(readme_tables)


def _section(name: str) -> str:
    return README.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


def _code(name: str) -> str:
    return re.search(r"```python\n(.*?)```", _section(name), re.S).group(1)


def test_zoo_table_is_current() -> None:
    assert _section("zoo").strip() == readme_tables.zoo_table()


def test_parity_table_covers_every_reference_and_all_pass() -> None:
    rows = [line.split(" | ") for line in _section("parity").strip().splitlines()[2:]]
    cases = {(row[0].strip("| "), row[1]) for row in rows}
    expected = {
        (spec.plan.name, reference)
        for spec in load_all(zoo_names())
        for reference in spec.plan.references
    }
    assert cases == expected
    assert all(row[2] == "yes" for row in rows)


FAMILY = ("resnet", "res2net", "resnest", "sknet", "senet", "resnetv2")


def test_every_timm_entry_of_the_family_is_in_the_zoo() -> None:
    section = README.split("### timm's ResNet family", 1)[1].split("\n## ", 1)[0]
    in_zoo = {
        reference.removeprefix("timm/")
        for spec in load_all(zoo_names())
        for reference in spec.plan.references
        if reference.startswith("timm/")
    }
    family = {name for module in FAMILY for name in timm.list_models(module=module)}
    assert family - in_zoo == set()
    assert set(re.findall(r"`(\w+)\.py`", section)) == set(FAMILY)
    assert f"{len(family)} entries" in section


def test_checkpoint_examples_load_timm_weights(tmp_path: Path, monkeypatch) -> None:
    build_into(tmp_path, "resnet50d")
    reference = timm.create_model("resnet50d", pretrained=False).eval()
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    torch.save(reference.state_dict(), tmp_path / "resnet50d.pth")
    save_file(reference.state_dict(), str(tmp_path / "model.safetensors"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    sys.modules.pop("resnet50d", None)
    x = torch.randn(1, 3, 96, 96)
    namespace: dict[str, object] = {}
    exec(_code("checkpoint"), namespace)
    with torch.no_grad():
        torch.testing.assert_close(namespace["model"](x), reference(x))
    namespace["model"] = namespace["resnet50d"]().eval()
    exec(_code("safetensors"), namespace)
    with torch.no_grad():
        torch.testing.assert_close(namespace["model"](x), reference(x))


def test_the_usage_example_runs(tmp_path: Path, monkeypatch) -> None:
    build_into(tmp_path, "resnet50d")
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    sys.modules.pop("resnet50d", None)
    namespace: dict[str, object] = {}
    # Without autograd's graph, which would hold every activation of eight images until
    # the end of the test (GiBs that the worker would keep).
    with torch.no_grad():
        exec(_code("usage"), namespace)
    assert namespace["features"].shape == (8, 2048, 7, 7)
    assert namespace["embedding"].shape == (8, 2048)
    assert [s.shape[1] for s in namespace["stages"]] == [256, 512, 1024, 2048]
    assert namespace["pooled"].shape == (8, 2048)
    assert namespace["logits"].shape == (8, 10)


def test_the_hf_and_mmpretrain_example_loads_their_weights(tmp_path: Path, monkeypatch) -> None:
    import transformers

    from resnetgen.references import build_reference

    for name in ("hf_resnet50", "mmpretrain_resnetv1d50"):
        build_into(tmp_path, name)
        sys.modules.pop(name, None)
    hub = build_reference("transformers/microsoft/resnet-50").eval()
    randomise_norms(hub, torch.Generator().manual_seed(0))
    monkeypatch.setattr(
        transformers.ResNetForImageClassification, "from_pretrained", lambda name: hub
    )
    mm = build_reference("mmpretrain/resnetv1d50_8xb32_in1k").eval()
    randomise_norms(mm, torch.Generator().manual_seed(1))
    torch.save({"meta": {"epoch": 100}, "state_dict": mm.state_dict()}, tmp_path / "epoch_100.pth")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(os.fspath(tmp_path))
    namespace: dict[str, object] = {}
    exec(_code("foreign"), namespace)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(namespace["model"].eval()(x), hub(x))
        torch.testing.assert_close(namespace["classifier"].eval()(x), mm(x))
