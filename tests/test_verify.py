"""The allow-list every generated source passes before it is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from resnetgen.cli import main
from resnetgen.verify import UnsafeOutput, verify_source

from .conftest import ROOT

GOOD = (ROOT / "generated" / "resnet18.py").read_text()


def test_a_generated_file_passes() -> None:
    verify_source(GOOD, "resnet18")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.replace("import torch\n", "import torch\nimport os\n"), "unexpected import"),
        (
            lambda s: s.replace("from torch import nn\n", "from torch import nn as n\n"),
            "unexpected import",
        ),
        (lambda s: s + "\nprint('hello')\n", "unexpected top-level Expr"),
        (lambda s: s + "\nx = 1\n", "unexpected top-level Assign"),
        (lambda s: s + "\ndef helper():\n    pass\n", "unexpected top-level definitions"),
        (lambda s: s + "\ndef resnet18():\n    pass\n", "unexpected top-level definitions"),
        (
            lambda s: s.replace(
                "    def forward(self", "    import subprocess\n\n    def forward(self", 1
            ),
            "unexpected import",
        ),
        (
            lambda s: s.replace('"""resnet18:', 'x = 1\n"""resnet18:', 1),
            "does not start with its docstring",
        ),
        (lambda s: s + "\ndef (:\n", "does not compile"),
    ],
)
def test_anything_else_is_refused(change, message: str) -> None:
    with pytest.raises(UnsafeOutput, match=message):
        verify_source(change(GOOD), "resnet18")


def test_the_factory_must_be_there() -> None:
    with pytest.raises(UnsafeOutput):
        verify_source(GOOD, "resnet34")


def test_build_writes_nothing_when_the_check_fails(tmp_path: Path, monkeypatch) -> None:
    import resnetgen.build

    real = resnetgen.build.render_model
    monkeypatch.setattr(resnetgen.build, "render_model", lambda *a: real(*a) + "import os\n")
    result = CliRunner().invoke(main, ["build", "resnet18", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert "internal error: UnsafeOutput: unexpected import" in result.stderr
    assert list(tmp_path.iterdir()) == []
