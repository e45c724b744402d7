"""Text from a spec lands in the generated file as text, never as code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from resnetgen.build import load_all, outputs
from resnetgen.files import write_all

HOSTILE = [
    '"""; import os; os.system("echo pwned"); """',
    "'''; import os; '''",
    '\\"""\nimport os\n"""',
    'ends with a quote "',
    '"',
    '""',
    "\\",
    "back\\slash at the end\\",
    "\\N{BULLET} \\x41 \\u0041 \\n not escapes",
    "nul \x00 bell \x07 escape \x1b[31m delete \x7f",
    "carriage\rreturn\r\nimport os",
    "line\u2028separator\u2029paragraph\x85next line",
    "form\x0cfeed vertical\x0btab",
    "right-to-left \u202eoverride\u202c and zero\u200bwidth and bom\ufeff",
    "{{ plan }} {% raw %} {# jinja #}",
    "# not a comment\nimport os",
    "\ttabbed\tand\ttabbed",
    "emoji 🙂, accents é, CJK 残差",
    "x" * 300,
    "a\n\n\nparagraphs\n\nsplit",
]


def _fold(text: str) -> str:
    return re.sub(r"[ \n]+", " ", text).strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_description_reads_back_and_the_ast_holds_nothing_else(tmp_path: Path, text: str) -> None:
    spec = tmp_path / "spec.yaml"
    document = {
        "name": "net",
        "description": text,
        "stages": {"block": "basic", "depths": [1]},
    }
    spec.write_text(yaml.safe_dump(document, allow_unicode=False), encoding="utf-8")
    target, _card = outputs(load_all([str(spec)]), str(tmp_path))
    tree = ast.parse(target.text)
    docstring = ast.get_docstring(tree, clean=False)
    assert docstring is not None and _fold(text) in _fold(docstring)
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds[0] == "Expr" and set(kinds[1:]) <= {
        "Import",
        "ImportFrom",
        "FunctionDef",
        "ClassDef",
    }
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert [ast.unparse(node) for node in imports] == ["import torch", "from torch import nn"]


@pytest.mark.parametrize(
    "file_name", ["evil\nimport os.yaml", "evil\rimport os.yaml", "evil\u2028x.yaml", "sp ace.yaml"]
)
def test_hostile_spec_and_output_paths_stay_in_the_header_comments(
    tmp_path: Path, file_name: str
) -> None:
    spec = tmp_path / file_name
    spec.write_text("name: net\nstages:\n  block: basic\n  depths: [1]\n", encoding="utf-8")
    out = "out\nimport os"
    target, _card = outputs(load_all([str(spec)]), out)
    header = target.text.split('"""', 1)[0].splitlines()
    assert len(header) == 4 and all(line.startswith("# ") for line in header)
    assert all(line.isascii() and line.isprintable() for line in header)
    tree = ast.parse(target.text)
    assert [type(node).__name__ for node in tree.body][:3] == ["Expr", "Import", "ImportFrom"]


def test_an_injected_file_still_builds_and_imports(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    document = {
        "name": "net",
        "description": HOSTILE[0] + HOSTILE[9],
        "stages": {"block": "basic", "depths": [1]},
    }
    spec.write_text(yaml.safe_dump(document), encoding="utf-8")
    (written, _), _card = write_all(outputs(load_all([str(spec)]), str(tmp_path)))
    namespace: dict[str, object] = {}
    exec(compile(written.path.read_text(), str(written.path), "exec"), namespace)
    assert HOSTILE[0] in str(namespace["__doc__"])
    assert "os" not in namespace


def test_hostile_descriptions_keep_the_file_ruff_clean(tmp_path: Path) -> None:
    for index, text in enumerate(HOSTILE):
        spec = tmp_path / f"spec{index}.yaml"
        document = {
            "name": f"net{index}",
            "description": text,
            "stages": {"block": "basic", "depths": [1]},
        }
        spec.write_text(yaml.safe_dump(document), encoding="utf-8")
    specs = [str(tmp_path / f"spec{index}.yaml") for index in range(len(HOSTILE))]
    write_all(outputs(load_all(specs), str(tmp_path / "out")))
    files = sorted(str(path) for path in (tmp_path / "out").glob("*.py"))
    assert len(files) == len(HOSTILE)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "--diff", *files],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout
