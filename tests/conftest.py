"""Shared fixtures: the zoo built once per session, generated modules imported from disk."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from generator.build import load_all, outputs
from generator.files import write_all
from generator.resources import zoo_names

ROOT = Path(__file__).resolve().parent.parent
ZOO = zoo_names()


def import_file(path: Path) -> ModuleType:
    """Import a generated file as a fresh module named after it."""
    name = f"generated_{path.stem}_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_into(directory: Path, *specs: str) -> list[Path]:
    written = write_all(outputs(load_all(list(specs)), str(directory)))
    return [output.path for output, _ in written]


@pytest.fixture(scope="session")
def zoo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every zoo spec built into a temporary directory: name -> generated file."""
    directory = tmp_path_factory.mktemp("zoo")
    return {path.stem: path for path in build_into(directory, *ZOO)}


@pytest.fixture
def write_spec(tmp_path: Path):
    """Write a YAML spec into the test's directory and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
