"""The wheel installs the package `resnetgen` alone, with its templates and the zoo:
`python -m resnetgen build resnet50d` works from a folder holding nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import resnetgen

from .conftest import ROOT

IGNORED = (".venv", ".git", "build", "dist", "*.egg-info", "*_cache", "__pycache__", ".hypothesis")


def test_wheel_builds_a_zoo_model(tmp_path: Path) -> None:
    # A copy of the project's files, so that building leaves nothing in the checkout.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*IGNORED))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("resnetgen-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (site / "resnetgen" / "templates" / "model.py.jinja").is_file()
    assert (site / "resnetgen" / "specs" / "resnet50d.yaml").is_file()
    assert not (site / "generator").exists()  # a name any user's generator.py would shadow

    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").mkdir()  # a user's repository
    env = {**os.environ, "PYTHONPATH": str(site)}
    version = subprocess.run(
        [sys.executable, "-m", "resnetgen", "--version"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == f"resnetgen, version {resnetgen.__version__}"
    where = subprocess.run(
        [sys.executable, "-c", "import resnetgen; print(resnetgen.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))
    result = subprocess.run(
        [sys.executable, "-m", "resnetgen", "build", "resnet50d"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    built = (work / "generated" / "resnet50d.py").read_text()
    assert built == (ROOT / "generated" / "resnet50d.py").read_text()
