"""An installed wheel carries its templates and the zoo: `resnetgen build resnet50d` works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def test_wheel_builds_a_zoo_model(tmp_path: Path) -> None:
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
            str(ROOT),
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
    assert (site / "generator" / "templates" / "model.py.jinja").is_file()
    assert (site / "generator" / "specs" / "resnet50d.yaml").is_file()

    work = tmp_path / "work"
    work.mkdir()
    (work / ".git").mkdir()  # a user's repository
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import generator; print(generator.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(site))
    result = subprocess.run(
        [sys.executable, "-m", "generator", "build", "resnet50d"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    built = (work / "generated" / "resnet50d.py").read_text()
    assert built == (ROOT / "generated" / "resnet50d.py").read_text()
