"""The last check before a generated file is written: its source holds only what we emit.

Templates and escaping already keep user text in docstrings; this walks the compiled
result against an allow-list anyway, so that a bug there can never ship code.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .spec import RESERVED_NAMES

ALLOWED_IMPORTS = {("torch", None), ("torch", "nn"), ("collections", "OrderedDict")}
TABLE_NAMES = {"CHECKPOINT_PARTS", "CHECKPOINT_STAGES", "CHECKPOINT_BLOCK"}


class UnsafeOutput(Exception):
    """The rendered source is not what resnetgen emits: a bug, never the user's doing."""


def verify_source(source: str, factory: str) -> None:
    try:
        tree = ast.parse(source)
        compile(tree, f"<{factory}>", "exec")
    except SyntaxError as error:
        raise UnsafeOutput(f"generated source does not compile: {error}") from None
    body = tree.body
    if not body or not _is_docstring(body[0]):
        raise UnsafeOutput("generated source does not start with its docstring")
    defined: list[str] = []
    for node in body[1:]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.append(node.name)
            continue
        if _is_name_table(node):
            continue
        raise UnsafeOutput(f"unexpected top-level {type(node).__name__} at line {node.lineno}")
    unexpected = set(defined) - RESERVED_NAMES - {factory}
    if unexpected or len(defined) != len(set(defined)) or factory not in defined:
        raise UnsafeOutput(f"unexpected top-level definitions: {sorted(unexpected) or defined}")
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            found = {(alias.name, None) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            found = {(node.module or "", alias.name) for alias in node.names}
        else:
            continue
        if not found <= ALLOWED_IMPORTS or any(a.asname for a in node.names):
            raise UnsafeOutput(f"unexpected import at line {node.lineno}")


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones included: imports are statements, so expressions,
    the bulk of the tree, need no visit."""
    for node in body:
        yield node
        for field in ("body", "orelse", "finalbody"):
            yield from _statements(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):
            yield from _statements(handler.body)
        for case in getattr(node, "cases", []):
            yield from _statements(case.body)


def _is_name_table(node: ast.stmt) -> bool:
    """A layout's table of checkpoint names: a reserved name bound to a dict of strings."""
    return (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in TABLE_NAMES
        and isinstance(node.value, ast.Dict)
        and all(
            isinstance(item, ast.Constant) and isinstance(item.value, str)
            for item in [*node.value.keys, *node.value.values]
        )
    )


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )
