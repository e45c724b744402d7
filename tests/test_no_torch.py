"""The generator's commands never import torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT

PROBE = """
import sys
from resnetgen.cli import main
try:
    main(sys.argv[1:], prog_name="resnetgen")
except SystemExit as stop:
    assert stop.code in (0, None), stop.code
assert "torch" not in sys.modules, "torch was imported"
"""


@pytest.mark.parametrize(
    "args",
    [
        ["build", "resnet50d", "cifar_resnet20", "-o", "{out}"],
        ["build", "--check", "resnet50d", "-o", "{out}"],
        ["validate", "resnet50d"],
        ["show", "resnet50d"],
        ["list"],
        ["schema"],
        ["diff", "resnet50", "resnet50d"],
    ],
)
def test_command_does_not_import_torch(args: list[str], tmp_path) -> None:
    if "--check" in args:
        subprocess.run(
            [sys.executable, "-m", "resnetgen", "build", "resnet50d", "-o", str(tmp_path)],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
    argv = [arg.format(out=tmp_path) for arg in args]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
