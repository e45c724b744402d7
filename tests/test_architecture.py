"""The generator's shape: one home per block family and per layout, modules small enough
to hold in one's head.

A module names a block family where its code (not its prose) holds one of the family's
kinds: as a string, or inside a name (`res2net`, `SELECTIVE_KERNEL_BLOCKS`); the basic
block and the bottleneck, whose words are everyone's, by their kinds as strings alone.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from resnetgen.blocks import FAMILIES, family_of
from resnetgen.blocks.plain import PLAIN
from resnetgen.layouts import LAYOUTS
from resnetgen.spec import BlockKind

from .conftest import ROOT

GENERATOR = ROOT / "generator"
MODULES = sorted(GENERATOR.rglob("*.py"))
REGISTRY, LANGUAGE = GENERATOR / "blocks" / "__init__.py", GENERATOR / "spec.py"
LAYOUT_REGISTRY = GENERATOR / "layouts" / "__init__.py"
MAX_MODULE, MAX_CLASS, MAX_FUNCTION = 600, 300, 80


def _code_words(path: Path) -> tuple[set[str], set[str]]:
    """The strings and the names a module's code holds, its docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                strings.add(node.value)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.update(part for part in (node.name, node.asname) if part)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(node.module.split("."))
    return strings, names


def _names_family(path: Path, kinds: tuple[str, ...], whole_words: bool) -> bool:
    strings, names = _code_words(path)
    if whole_words:
        return bool(set(kinds) & strings)
    words = {word.lower() for word in strings | names}
    return any(kind in word for kind in kinds for word in words)


@pytest.mark.parametrize("family", FAMILIES, ids=[family.name for family in FAMILIES])
def test_a_block_family_is_named_in_its_module_the_language_and_the_registry(family) -> None:
    home = Path(inspect.getfile(type(family))).resolve()
    naming = [
        path.relative_to(ROOT).as_posix()
        for path in MODULES
        if _names_family(path, family.kinds, whole_words=family is PLAIN)
    ]
    # A layout made for the family's blocks alone names them, as its registry does.
    own_layouts = [
        GENERATOR / "layouts" / f"{layout.name}.py"
        for layout in LAYOUTS.values()
        if layout.blocks <= set(family.kinds)
    ]
    layout_homes = [*own_layouts, LAYOUT_REGISTRY] if own_layouts else []
    allowed = {
        path.relative_to(ROOT).as_posix() for path in (home, LANGUAGE, REGISTRY, *layout_homes)
    }
    assert set(naming) <= allowed, naming


def test_every_block_kind_has_one_family() -> None:
    kinds = [kind for family in FAMILIES for kind in family.kinds]
    assert sorted(kinds) == sorted(BlockKind.__args__)
    assert all(family_of(kind).kinds.count(kind) == 1 for kind in kinds)


def test_a_layout_is_one_module_with_its_row_and_view() -> None:
    homes = sorted(path.stem for path in (GENERATOR / "layouts").glob("*.py"))
    assert homes == sorted(["__init__", "layout", *LAYOUTS])


def test_templates_outside_blocks_name_no_block_kind() -> None:
    kinds = [kind for family in FAMILIES for kind in family.kinds]
    for path in (ROOT / "templates").glob("*.jinja"):
        text = path.read_text()
        named = [kind for kind in kinds if f'"{kind}"' in text or f"'{kind}'" in text]
        assert not named, (path.name, named)


@pytest.mark.parametrize(
    "path", MODULES, ids=[p.relative_to(GENERATOR).as_posix() for p in MODULES]
)
def test_modules_classes_and_functions_stay_small(path: Path) -> None:
    text = path.read_text()
    assert text.count("\n") <= MAX_MODULE
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            limit = MAX_CLASS
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            limit = MAX_FUNCTION
        else:
            continue
        length = node.end_lineno - node.lineno + 1
        assert length <= limit, f"{node.name} is {length} lines"
