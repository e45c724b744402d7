"""Read one YAML spec file safely, remembering where every value came from.

Only plain data is accepted: mappings with string keys, lists and the YAML 1.2 core
scalars. `yes`, `no`, `on` and `off` stay strings (YAML 1.1 would turn them into
booleans behind the user's back), `1e-5` is a float, and tags, anchors, aliases,
duplicate keys and several documents in one file are refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import BaseConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .errors import Location, Problem, SpecError, describe, dotted

MAX_BYTES = 64 * 1024
MAX_DEPTH = 16

Path_ = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_CORE_SCALARS = {
    "null": (r"^(?:~|null|Null|NULL|)$", "~nN"),
    "bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    "int": (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    "float": (
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
}


class _CoreSchemaResolver(BaseResolver):
    """Implicit typing of plain scalars by the YAML 1.2 core schema."""


for _name, (_pattern, _first) in _CORE_SCALARS.items():
    _CoreSchemaResolver.add_implicit_resolver(_TAG + _name, re.compile(_pattern), list(_first))


def reads_as_string(text: str) -> bool:
    """Whether `text`, written plain, reads back as a string (not a number, bool or null)."""
    return not any(re.match(pattern, text) for pattern, _ in _CORE_SCALARS.values())


class _PlainComposer(Composer):
    def compose_node(self, parent: Node | None, index: object) -> Node:
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.MarkedYAMLError(
                problem="anchors and aliases are not supported; write each value out",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


class _Loader(Reader, Scanner, Parser, _PlainComposer, BaseConstructor, _CoreSchemaResolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _PlainComposer.__init__(self)
        BaseConstructor.__init__(self)
        _CoreSchemaResolver.__init__(self)


@dataclass(frozen=True)
class SourceFile:
    """One spec file: its bytes, its data, and where each value and key sits."""

    path: Path
    display: str
    data: dict[str, Any]
    values: dict[Path_, Location]
    keys: dict[Path_, Location]
    raw: bytes


def read_source(path: Path, display: str | None = None) -> SourceFile:
    shown = display if display is not None else str(path)
    raw = _read_bytes(path, shown)
    text = _decode(raw, shown)
    root = _compose(text, shown)
    walker = _Walker(shown)
    data = walker.to_python(root, (), 0)
    if walker.problems:
        raise SpecError(walker.problems)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the value {describe(data)}"
        raise SpecError(
            [
                Problem(
                    _mark(root, shown),
                    "",
                    f"a spec is a mapping of fields (name:, stages:, ...), got {kind}",
                )
            ]
        )
    return SourceFile(
        path=path,
        display=shown,
        data=data,
        values=walker.values,
        keys=walker.keys,
        raw=raw,
    )


def parse_value(text: str, shown: str) -> Any:
    """One YAML value from the command line (`--set field=VALUE`), by the same rules."""
    if not text.strip():
        raise SpecError([Problem(Location(shown), "", "give a value after '='")])
    try:
        root = _compose(text, shown)
    except SpecError as error:
        raise SpecError([Problem(Location(shown), "", p.message) for p in error.problems]) from None
    walker = _Walker(shown)
    value = walker.to_python(root, (), 0)
    if walker.problems:
        raise SpecError([Problem(Location(shown), p.field, p.message) for p in walker.problems])
    return value


def _read_bytes(path: Path, shown: str) -> bytes:
    start = Location(shown)
    try:
        if path.is_dir():
            raise SpecError([Problem(start, "", "is a directory, not a spec file")])
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SpecError([Problem(start, "", "no such file")]) from None
    except OSError as error:
        raise SpecError([Problem(start, "", f"cannot read: {error.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        message = f"larger than {MAX_BYTES // 1024} KiB; a spec is a few dozen lines"
        raise SpecError([Problem(start, "", message)])
    return raw


def _decode(raw: bytes, shown: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        byte = raw[error.start]
        message = f"not UTF-8 text (byte 0x{byte:02x} at offset {error.start})"
        raise SpecError([Problem(Location(shown, line, column), "", message)]) from None


def _compose(text: str, shown: str) -> Node:
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        location = (
            Location(shown, mark.line + 1, mark.column + 1) if mark else Location(shown, 1, 1)
        )
        problem = (error.problem or "invalid YAML").strip()
        if "expected a single document" in (error.context or ""):
            problem = "several YAML documents in one file; a spec is one document"
        raise SpecError([Problem(location, "", f"YAML: {problem}")]) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = f"YAML: character {chr(error.character)!r} is not allowed in a spec"
        raise SpecError([Problem(Location(shown, line, column), "", message)]) from None
    except yaml.YAMLError as error:
        raise SpecError([Problem(Location(shown, 1, 1), "", f"YAML: {error}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        message = "empty spec; expected a mapping of fields (name:, stages:, ...)"
        raise SpecError([Problem(Location(shown, 1, 1), "", message)])
    return root


def _mark(node: Node, shown: str) -> Location:
    return Location(shown, node.start_mark.line + 1, node.start_mark.column + 1)


class _Walker:
    """Turns a composed node tree into plain Python data and a map of positions."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.values: dict[Path_, Location] = {}
        self.keys: dict[Path_, Location] = {}
        self.problems: list[Problem] = []

    def to_python(self, node: Node, path: Path_, depth: int) -> Any:
        self.values[path] = _mark(node, self.shown)
        if depth > MAX_DEPTH:
            self._fail(node, path, f"nested more than {MAX_DEPTH} levels deep")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            self._check_tag(node, path, "seq")
            return [
                self.to_python(item, (*path, i), depth + 1) for i, item in enumerate(node.value)
            ]
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: Path_, depth: int) -> dict[str, Any]:
        self._check_tag(node, path, "map")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self._fail(key_node, path, "keys must be field names (plain words)")
                continue
            child = (*path, key)
            if key in result:
                first = self.keys[child]
                self._fail(key_node, child, f"duplicate key (first set at line {first.line})")
                continue
            self.keys[child] = _mark(key_node, self.shown)
            result[key] = self.to_python(value_node, child, depth + 1)
        return result

    def _scalar(self, node: ScalarNode, path: Path_) -> Any:
        tag = node.tag.removeprefix(_TAG)
        value = node.value
        if tag == "str":
            return value
        if tag == "null":
            return None
        if tag == "bool":
            return value.lower() == "true"
        if tag == "int":
            return self._int(node, path)
        if tag == "float":
            lowered = value.lower().lstrip("+")
            if lowered in (".inf", "-.inf", ".nan"):
                return {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[lowered]
            return float(value)
        self._fail(node, path, f"YAML tag {node.tag!r} is not allowed; write plain values")
        return None

    def _int(self, node: ScalarNode, path: Path_) -> int | None:
        text = node.value.replace("_", "")
        try:
            if text.startswith("0x"):
                return int(text[2:], 16)
            if text.startswith("0o"):
                return int(text[2:], 8)
            return int(text, 10)
        except ValueError:
            self._fail(node, path, f"not an integer: {describe(node.value)}")
            return None

    def _check_tag(self, node: Node, path: Path_, expected: str) -> None:
        if node.tag != _TAG + expected:
            self._fail(node, path, f"YAML tag {node.tag!r} is not allowed; write plain values")

    def _fail(self, node: Node, path: Path_, message: str) -> None:
        self.problems.append(Problem(_mark(node, self.shown), dotted(path), message))
