"""Shared fixtures: the zoo built once per session, generated modules imported from disk."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from resnetgen.build import load_all, outputs
from resnetgen.errors import SpecError
from resnetgen.files import write_all
from resnetgen.load import LoadedSpec, load
from resnetgen.resources import zoo_names

from .sample import Member, body, deployment_sample, representatives, sample

ROOT = Path(__file__).resolve().parent.parent
ZOO = zoo_names()


@functools.cache
def zoo_spec(name: str) -> LoadedSpec:
    """A zoo spec, loaded once in this process for every test that asks for it."""
    return load(name)


if "PYTEST_XDIST_WORKER" in os.environ:
    # Parallel workers share the machine's cores: one thread each, no oversubscription.
    torch.set_num_threads(1)


def _member(name: str) -> Member:
    """A zoo network with its committed generated file (held to its spec by test_committed)."""
    spec = zoo_spec(name)
    code = (ROOT / "generated" / f"{name}.py").read_text(encoding="utf-8")
    return Member(name, spec.plan, spec.analysis.params, code)


MEMBERS = [_member(name) for name in ZOO]
# One zoo name per distinct generated code body, the one with the fewest parameters: zoo
# files whose code differs only in numbers (depths, widths) run the same Python.
REPRESENTATIVES = representatives(MEMBERS)
# The default tier's networks (tests/sample.py): every code body and every axis value.
SAMPLE = sample(MEMBERS)
# The default tier's deployment paths run these: every method a built model runs.
DEPLOYED = deployment_sample(MEMBERS, REPRESENTATIVES)
# The zoo, largest first: the parallel workers start the longest tests first, not last.
BY_SIZE = sorted(ZOO, key=lambda name: -zoo_spec(name).analysis.params)


# Models over this many parameters hold several GiB each: their tests share one xdist
# group, so that they run one at a time (two at once outgrow a 24 GiB machine).
HUGE = 300_000_000


def zoo_param(
    name: str,
    *values: object,
    id: str | None = None,
    default: list[str] = SAMPLE,
    group: str | None = None,
) -> object:
    """A test's parameters for the zoo model `name`: in the default tier where `name` is
    in `default`, else in the slow tier; in the xdist `group` if one is given (the tests
    of one model in one worker, which builds what they share once), else in the huge
    models' group where it is one of them."""
    marks = [] if name in default else [pytest.mark.slow]
    if group is None and zoo_spec(name).analysis.params > HUGE:
        group = "huge"
    if group is not None:
        marks.append(pytest.mark.xdist_group(group))
    return pytest.param(name, *values, marks=marks, id=id or name)


def grouped(names: list[str], default: list[str] = SAMPLE) -> list[object]:
    """Parameters by zoo name, each in its own xdist group, tiered as `zoo_param` says."""
    return [zoo_param(name, group=name, default=default) for name in names]


def import_file(path: Path) -> ModuleType:
    """Import a generated file as a fresh module named after it (`module_of` imports each
    file once, for the tests that only build from it)."""
    name = f"generated_{path.stem}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@functools.cache
def module_of(path: Path) -> ModuleType:
    """A generated file's module, imported once in this process."""
    return import_file(path)


def build_into(directory: Path, *specs: str) -> list[Path]:
    written = write_all(outputs(load_all(list(specs)), str(directory)))
    return [output.path for output, _ in written]


def build_model(spec: Path, directory: Path) -> torch.nn.Module:
    """The model of the spec at `spec`, generated into `directory` and imported."""
    (path,) = [p for p in build_into(directory, str(spec)) if p.suffix == ".py"]
    return getattr(import_file(path), path.stem)()


def assert_same_tensor(actual: torch.Tensor, expected: torch.Tensor, msg: str = "") -> None:
    """torch.testing.assert_close, at the cost of one comparison where the two are equal
    (as the weights and running statistics of two models that agree are)."""
    alike = (actual.dtype, actual.device, actual.shape) == (
        expected.dtype,
        expected.device,
        expected.shape,
    )
    if not (alike and torch.equal(actual, expected)):
        torch.testing.assert_close(actual, expected, msg=msg or None)


# The norms that are their own activation (timm's and the generated files' classes), and
# the parameter of their activation.
ACTIVATING_NORMS = {
    "EvoNorm2dS0": "v",
    "EvoNormS0": "v",
    "FilterResponseNormTlu2d": "tau",
    "FilterResponseNorm": "tau",
}


@torch.no_grad()
def randomise_norms(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Give every norm random affine parameters and running statistics.

    Left at their init, zero-initialised residual norms would hide every branch.
    """
    for module in model.modules():
        kind = type(module).__name__
        frozen = kind == "FrozenBatchNorm2d"  # a generated file's own class
        activating = kind in ACTIVATING_NORMS
        if isinstance(module, torch.nn.BatchNorm2d | torch.nn.GroupNorm) or frozen or activating:
            shape = module.weight.shape
            module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
            module.bias.copy_(torch.randn(shape, generator=generator) * 0.1)
        if isinstance(module, torch.nn.BatchNorm2d) or frozen:
            shape = module.running_mean.shape
            module.running_mean.copy_(torch.randn(shape, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
        if activating:  # EvoNorm's v, FRN's tau: its activation's own parameter
            own = getattr(module, ACTIVATING_NORMS[kind])
            own.copy_(torch.randn(own.shape, generator=generator) * 0.5)


@pytest.fixture(scope="session")
def zoo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every zoo spec built into a temporary project's generated/: name -> generated file."""
    project = tmp_path_factory.mktemp("zoo")
    (project / "pyproject.toml").touch()  # headers then read as in a user's repository
    written = write_all(outputs([zoo_spec(name) for name in ZOO], str(project / "generated")))
    return {out.path.stem: out.path for out, _ in written if out.path.suffix == ".py"}


@pytest.fixture(scope="session")
def smallest_file(zoo_files, tmp_path_factory: pytest.TempPathFactory):
    """name -> a representative's code body at its smallest, built once: the zoo spec with
    one block a stage, two in the first stage of each kind of block (its first and a later
    one, so that both run), where its generated code is then the zoo file's but for the
    numbers; else the zoo file itself."""
    project = tmp_path_factory.mktemp("smallest")
    (project / "pyproject.toml").touch()

    @functools.cache
    def get(name: str) -> Path:
        stages = zoo_spec(name).plan.stages
        kinds = [stage.block for stage in stages]
        depths = [
            min(stage.depth, 2 if kinds.index(stage.block) == index else 1)
            for index, stage in enumerate(stages)
        ]
        try:
            loaded = load(name, (f"stages.depths={depths}",))
        except SpecError:  # a spec whose fields follow its depths (a pruned one's widths)
            return zoo_files[name]
        (code, _), _card = write_all(outputs([loaded], str(project / "generated")))
        same = body(code.text, name) == body(zoo_files[name].read_text(), name)
        return code.path if same else zoo_files[name]

    return get


@pytest.fixture(scope="session")
def meta_model(zoo_files):
    """name -> the zoo model built once on the meta device: shapes without memory or time."""
    built: dict[str, torch.nn.Module] = {}

    def get(name: str) -> torch.nn.Module:
        if name not in built:
            with torch.device("meta"):
                built[name] = getattr(module_of(zoo_files[name]), name)().eval()
        return built[name]

    return get


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a YAML spec into the test's directory and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
