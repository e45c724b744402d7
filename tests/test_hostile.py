"""Hostile and broken specs: each is refused with one located line, and nothing is written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from resnetgen.cli import main

BASE = "stages:\n  block: basic\n  depths: [1, 1]\n"
NAMED = "name: net\n" + BASE

# (label, spec text). Each must fail validation; none may crash or write.
CASES = [
    # YAML that is not plain data
    ("python object tag", "name: !!python/object/apply:os.system ['echo hi']\n" + BASE),
    ("python name tag", "name: !!python/name:os.system\n" + BASE),
    ("custom tag", "name: !include other.yaml\n" + BASE),
    ("binary tag", "name: !!binary aGVsbG8=\n" + BASE),
    ("set tag", "name: net\n" + BASE + "head: !!set {a, b}\n"),
    ("alias bomb", "a: &a [1, 1]\nb: &b [*a, *a]\nc: [*b, *b]\n" + NAMED),
    ("merge key", "base: &base {block: basic}\nname: net\nstages:\n  <<: *base\n  depths: [1]\n"),
    ("duplicate key", NAMED + "name: other\n"),
    ("duplicate nested key", NAMED + "  depths: [2, 2]\n"),
    ("two documents", NAMED + "---\n" + NAMED),
    ("tab indentation", "name: net\nstages:\n\tblock: basic\n"),
    ("unclosed bracket", "name: net\nstages:\n  block: basic\n  depths: [1, 1\n"),
    ("control character", "name: net\x1b[31m\n" + BASE),
    ("a list at the top", "- name: net\n"),
    ("a scalar at the top", "resnet50\n"),
    ("empty", ""),
    ("comments only", "# nothing here\n"),
    ("non-string key", "name: net\n3: three\n" + BASE),
    ("deep nesting", "name: net\nhead: " + "[" * 40 + "]" * 40 + "\n" + BASE),
    # YAML 1.1 surprises
    ("yes for a bool", NAMED + "conv_bias: yes\n"),
    ("off for a bool", NAMED + "init:\n  zero_init_residual: off\n"),
    ("no for a pool", NAMED + "stem:\n  pool: no\n"),
    (
        "octal-looking depth",
        "name: net\nstages:\n  block: basic\n  depths: [010, 1]\n  strides: [1, 08]\n",
    ),
    ("string number", "name: net\nstages:\n  block: basic\n  depths: ['1', 1]\n"),
    ("float depth", "name: net\nstages:\n  block: basic\n  depths: [1.5, 1]\n"),
    ("bool depth", "name: net\nstages:\n  block: basic\n  depths: [true, 1]\n"),
    ("infinite dropout", NAMED + "head:\n  dropout: .inf\n"),
    ("nan dropout", NAMED + "head:\n  dropout: .nan\n"),
    # Injection through every string field
    ("name with code", 'name: "x\\"\\"\\"\\nimport os\\nos.system(1)\\n"\n' + BASE),
    ("name with a path", "name: ../../etc/passwd\n" + BASE),
    ("name with a separator", "name: a/b\n" + BASE),
    ("name with a dot", "name: os.system\n" + BASE),
    ("name with unicode", "name: résnet\n" + BASE),
    ("name that is a keyword", "name: import\n" + BASE),
    ("name that is a builtin", "name: exec\n" + BASE),
    ("name shadowing the model", "name: ResNet\n" + BASE),
    ("name shadowing torch", "name: torch\n" + BASE),
    ("name too long", "name: " + "a" * 65 + "\n" + BASE),
    ("reference with code", NAMED + 'reference: "timm/x\\nimport os"\n'),
    ("reference elsewhere", NAMED + "reference: evil/resnet50\n"),
    ("extends an absolute path", NAMED + "extends: /etc/passwd.yaml\n"),
    ("extends with code", NAMED + 'extends: "x\\nimport os"\n'),
    ("extends a missing spec", NAMED + "extends: ../nowhere/none.yaml\n"),
    ("extends itself", NAMED + "extends: spec.yaml\n"),
    (
        "resize mode with code",
        NAMED + "input:\n  resize: [8, 8]\n  resize_mode: \"bilinear'); import os; ('\"\n",
    ),
    ("stem type with code", NAMED + "stem:\n  type: __import__('os')\n"),
    ("description not a string", NAMED + "description: [1, 2]\n"),
    ("description too long", NAMED + "description: " + "a" * 4001 + "\n"),
    # Absurd architectures
    ("zero depth", "name: net\nstages:\n  block: basic\n  depths: [0]\n"),
    ("huge depth", "name: net\nstages:\n  block: basic\n  depths: [100000]\n"),
    (
        "too many stages",
        "name: net\nstages:\n  block: basic\n  depths: [1, 1, 1, 1, 1, 1, 1, 1, 1]\n",
    ),
    ("negative width", NAMED + "  widths: [-64, 64]\n"),
    ("huge width", NAMED + "  widths: [1000000, 64]\n"),
    ("stride zero", NAMED + "  strides: [0, 2]\n"),
    ("stride five", NAMED + "  strides: [5, 2]\n"),
    ("groups on basic blocks", NAMED + "  groups: 32\n"),
    (
        "billions of parameters",
        "name: net\nstages:\n  block: bottleneck\n  depths: [256, 256]\n  widths: [8192, 8192]\n",
    ),
    ("a hundred thousand classes and more", NAMED + "head:\n  num_classes: 100001\n"),
    ("sixty-five input channels", NAMED + "input:\n  channels: 65\n"),
    (
        "input that vanishes",
        NAMED + "stem:\n  pool:\n    kernel_size: 2\n    padding: 0\ninput:\n  size: [1, 1]\n",
    ),
    ("mismatched stage lists", NAMED + "  widths: [64, 128, 256]\n"),
    ("group norm that does not divide", NAMED + "norm:\n  type: group\n  groups: 7\n"),
    # Typos and unknown fields
    ("typo in a field", "name: net\nstages:\n  blocks: basic\n  depths: [1]\n"),
    ("unknown section", NAMED + "optimizer: sgd\n"),
    ("missing stages", "name: net\n"),
    ("missing name", BASE),
]


@pytest.mark.parametrize(("label", "text"), CASES, ids=[label for label, _ in CASES])
def test_refused_cleanly(tmp_path: Path, label: str, text: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("untouched")
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(out)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines, "no message"
    assert all(re.match(rf"{re.escape(str(spec))}:\d+:\d+: ", line) for line in lines), lines
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "untouched"


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("target", ["missing.yaml", "a_directory"])
def test_missing_files_and_directories_name_the_path(tmp_path: Path, target: str) -> None:
    (tmp_path / "a_directory").mkdir()
    path = tmp_path / target
    result = CliRunner().invoke(main, ["build", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}: ")
    assert not (tmp_path / "out").exists()


def test_non_utf8_bytes(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"name: net\xff\n" + BASE.encode())
    result = CliRunner().invoke(main, ["build", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.stderr == f"{spec}:1:10: not UTF-8 text (byte 0xff at offset 9)\n"
