"""Reading one YAML file: plain data only, positions kept, every refusal explained."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from resnetgen.errors import Location, SpecError
from resnetgen.source import MAX_BYTES, MAX_DEPTH, read_source


def _problem(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        read_source(path)
    assert len(caught.value.problems) >= 1
    return str(caught.value.problems[0])


def test_core_schema_scalars(write_spec) -> None:
    path = write_spec("a: yes\nb: no\nc: on\nd: 1e-5\ne: 0x10\nf: ~\ng: true\nh: .inf\ni: '3'\n")
    data = read_source(path).data
    assert data == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": 1e-5,
        "e": 16,
        "f": None,
        "g": True,
        "h": math.inf,
        "i": "3",
    }


def test_positions_of_values_and_keys(write_spec) -> None:
    path = write_spec("name: x\nstages:\n  depths: [2, 3]\n")
    source = read_source(path, "spec.yaml")
    assert source.values[("stages", "depths", 1)] == Location("spec.yaml", 3, 15)
    assert source.keys[("stages", "depths")] == Location("spec.yaml", 3, 3)
    assert source.values[("name",)] == Location("spec.yaml", 1, 7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", "2:1: a: duplicate key (first set at line 1)"),
        ("a: &x 1\nb: *x\n", "1:4: YAML: anchors and aliases are not supported"),
        ("a: !!python/object:os.system 1\n", "1:4: a: YAML tag"),
        ("a: !custom 1\n", "YAML tag '!custom' is not allowed"),
        ("a: 1\n---\nb: 2\n", "several YAML documents in one file"),
        ("", "empty spec"),
        ("# only a comment\n", "empty spec"),
        ("- 1\n- 2\n", "a spec is a mapping of fields (name:, stages:, ...), got a list"),
        ("just words\n", "got the value 'just words'"),
        ("a: [1, 2\n", "YAML: "),
        ("a:\n\tb: 1\n", "YAML: "),
        ("? [1, 2]\n: 3\n", "keys must be field names"),
        ("1: 2\n", "keys must be field names"),
        ("a: 1\x07\n", "character '\\x07' is not allowed"),
    ],
)
def test_refusals(write_spec, text: str, expected: str) -> None:
    path = write_spec(text)
    message = _problem(path)
    assert expected in message
    assert message.startswith(f"{path}")


def test_non_utf8_points_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"name: x\ndescription: caf\xe9\n")
    assert _problem(path) == f"{path}:2:17: not UTF-8 text (byte 0xe9 at offset 24)"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert _problem(tmp_path / "nope.yaml") == f"{tmp_path / 'nope.yaml'}: no such file"
    assert _problem(tmp_path) == f"{tmp_path}: is a directory, not a spec file"


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: 1\n" + "#" * MAX_BYTES + "\n")
    assert "larger than 64 KiB" in _problem(path)


def test_nesting_limit(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n")
    assert f"nested more than {MAX_DEPTH} levels deep" in _problem(path)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert read_source(path).data == {"name": "x"}
