"""The CIFAR-10 article's training recipe runs on any generated model (examples/train_cifar10.py).

The tests train on the script's synthetic stand-in (--fake) for two short epochs, on the
GPU when there is one, and check what it leaves behind: the best checkpoint, which loads
back into the generated model, the test report and the curves.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch

from .conftest import ROOT, import_file

SCRIPT = ROOT / "examples" / "train_cifar10.py"
_spec = importlib.util.spec_from_file_location("train_cifar10", SCRIPT)
assert _spec is not None and _spec.loader is not None
train_cifar10 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train_cifar10)


@pytest.mark.parametrize(
    "name", ["cifar_resnet20", pytest.param("resnet50_cifar10", marks=pytest.mark.slow)]
)
def test_the_recipe_trains_a_generated_model_on_fake_data(zoo_files, tmp_path, name) -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    command = [sys.executable, str(SCRIPT), str(zoo_files[name]), "--epochs", "2", "--fake"]
    command += ["--device", device, "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "epoch 2/2 [" in result.stderr  # the progress bar

    history = json.loads((tmp_path / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(row["lr"] == 0.01 for row in history)  # no plateau within two epochs
    report = (tmp_path / "report.txt").read_text()
    assert "synthetic data (--fake)" in report.splitlines()[0]
    for label in train_cifar10.CLASSES:
        assert report.count(f"\n{label:<12}") == 2  # a metrics row and a confusion-matrix row
    matrix = [line.split()[1:] for line in report.splitlines()[-10:]]
    assert sum(int(count) for row in matrix for count in row) == train_cifar10.FAKE_TEST
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    model = getattr(import_file(zoo_files[name]), name)(num_classes=10)
    state = torch.load(tmp_path / "best.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)


def test_the_report_computes_precision_recall_and_f1_per_class() -> None:
    counts = torch.zeros(10, 10, dtype=torch.long)
    counts[0, 0], counts[0, 1] = 3, 1  # airplane: 3 right, 1 taken for an automobile
    counts[1, 1], counts[2, 1] = 2, 2  # automobile: 2 right; 2 birds taken for automobiles
    lines = train_cifar10.report(counts).splitlines()
    airplane = lines[1].split()
    automobile = lines[2].split()
    assert airplane == ["airplane", "1.000", "0.750", "0.857", "4"]
    assert automobile == ["automobile", "0.400", "1.000", "0.571", "2"]
    assert lines[12] == "accuracy 0.6250"
