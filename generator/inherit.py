"""`extends:` — a spec starts from another spec and overrides a few fields.

Mappings merge key by key, all the way down; a list or a scalar in the child replaces
the parent's. `name`, `description` and `reference` describe one file's network and
are never inherited. Every merged value keeps the location of the file that set it, so
an error points at the line to change.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Location, Problem, SpecError, describe
from .resources import SPEC_SUFFIXES, names_a_file, project_root, zoo_names, zoo_path
from .source import Path_, SourceFile, parse_value, read_source

MAX_CHAIN = 16  # the zoo's deepest chain is 8: a user's specs have as many again above it
OWN_FIELDS = ("name", "description", "reference", "extends")
VARIANT_FIELDS = ("description", "reference")  # a variant's name may stay its base's
NOT_SET = {"name": "is set with --name", "extends": "is not set on the command line"}


@dataclass(frozen=True)
class ResolvedSource:
    """A spec with its `extends:` chain merged in; `chain` starts with the file itself."""

    data: dict[str, Any]
    values: dict[Path_, Location]
    keys: dict[Path_, Location]
    chain: tuple[SourceFile, ...]

    @property
    def file(self) -> SourceFile:
        return self.chain[0]

    def locate(self, path: Path_, *, key: bool = False) -> Location:
        """The closest known position for `path`: itself, else its nearest ancestor."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.values.get(path[:end])
            if found is not None:
                return found
        return Location(self.file.display, 1, 1)


def resolve(path: Path, display: str | None = None) -> ResolvedSource:
    return _resolve(read_source(path, display), seen=())


_parents: dict[tuple[Path, str, int, int], SourceFile] = {}


def _read_parent(path: Path, display: str) -> SourceFile:
    """A parent spec, read once per process however many children extend it."""
    status = path.stat()
    key = (path.resolve(), display, status.st_mtime_ns, status.st_size)
    if key not in _parents:
        _parents[key] = read_source(path, display)
    return _parents[key]


def _resolve(source: SourceFile, seen: tuple[Path, ...]) -> ResolvedSource:
    own = ResolvedSource(source.data, source.values, source.keys, (source,))
    parent_name = source.data.get("extends")
    if parent_name is None:
        return own
    at = source.values.get(("extends",), Location(source.display, 1, 1))
    parent_path, parent_display = _find_parent(parent_name, source, at)
    real = parent_path.resolve()
    if real in seen or real == source.path.resolve():
        raise SpecError([Problem(at, "extends", f"a spec cannot extend itself ({parent_name!r})")])
    if len(seen) >= MAX_CHAIN:
        raise SpecError([Problem(at, "extends", f"more than {MAX_CHAIN} levels of extends")])
    parent = _resolve(_read_parent(parent_path, parent_display), (*seen, source.path.resolve()))
    return _merge(parent, own)


def _find_parent(parent_name: Any, source: SourceFile, at: Location) -> tuple[Path, str]:
    if not isinstance(parent_name, str) or not parent_name:
        message = f"should be a spec name or a relative path (given {describe(parent_name)})"
        raise SpecError([Problem(at, "extends", message)])
    try:
        return _parent_file(parent_name, source, at)
    except (OSError, ValueError, RuntimeError) as error:  # NUL bytes, long names, loops
        reason = getattr(error, "strerror", None) or str(error).split(" from ")[0]
        message = f"cannot be used as a spec path: {reason.lower()} (given {describe(parent_name)})"
        raise SpecError([Problem(at, "extends", message)]) from None


def _parent_file(parent_name: str, source: SourceFile, at: Location) -> tuple[Path, str]:
    here = source.path.parent
    if names_a_file(parent_name):
        candidate = here / parent_name  # an absolute name replaces `here`; _confine judges it
        _confine(candidate, here, parent_name, at)
        if not parent_name.endswith(SPEC_SUFFIXES):
            message = f"should name a .yaml or .yml spec file (given {parent_name!r})"
            raise SpecError([Problem(at, "extends", message)])
        if not candidate.is_file():
            raise SpecError([Problem(at, "extends", f"no spec file at {parent_name!r}")])
        shown = os.path.normpath(os.path.join(os.path.dirname(source.display), parent_name))
        # `link/../x.yaml` is not `x.yaml` when `link` is a symbolic link: then the real path.
        if Path(os.path.normpath(here / parent_name)).resolve() != candidate.resolve():
            shown = str(candidate.resolve())
        return candidate, shown
    sibling = here / f"{parent_name}.yaml"
    # A spec named after a zoo spec (specs/resnet50.yaml: extends: resnet50) means the zoo's.
    if sibling.is_symlink() or sibling.exists():
        _confine(sibling, here, parent_name, at)
    if sibling.is_file() and sibling.resolve() != source.path.resolve():
        shown = os.path.join(os.path.dirname(source.display), sibling.name)
        return sibling, os.path.normpath(shown)
    in_zoo = zoo_path(parent_name)
    if in_zoo is not None:
        return in_zoo, str(in_zoo)
    known = sorted({p.stem for p in here.glob("*.yaml") if p.is_file()} | set(zoo_names()))
    close = difflib.get_close_matches(parent_name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"no spec {parent_name!r} next to this file or in the zoo{hint}"
    raise SpecError([Problem(at, "extends", message)])


def _confine(candidate: Path, here: Path, parent_name: str, at: Location) -> None:
    if not within_project(candidate, here):
        message = f"should be a path inside this spec's project (given {parent_name!r})"
        raise SpecError([Problem(at, "extends", message)])


def within_project(candidate: Path, here: Path) -> bool:
    """Whether a spec in directory `here` may extend `candidate`: a file inside its project
    (its repository, else `here` itself), symbolic links resolved. A spec cannot make
    resnetgen read anything else."""
    boundary = project_root(here) or here.resolve()
    return candidate.resolve().is_relative_to(boundary)


def _merge(parent: ResolvedSource, child: ResolvedSource) -> ResolvedSource:
    inherited, values, keys = _leave_out(parent, OWN_FIELDS)
    data = deep_merge(inherited, child.data)
    for path in child.values:
        if not isinstance(_value_at(data, path), dict):
            _drop_below(values, path)
            _drop_below(keys, path)
    values.update(child.values)
    keys.update(child.keys)
    return ResolvedSource(data, values, keys, child.chain + parent.chain)


def _leave_out(
    source: ResolvedSource, fields: tuple[str, ...]
) -> tuple[dict[str, Any], dict[Path_, Location], dict[Path_, Location]]:
    """`source`'s data, value positions and key positions without the top-level `fields`."""

    def kept(path: Path_) -> bool:
        return not path or path[0] not in fields

    data = {k: v for k, v in source.data.items() if k not in fields}
    values = {p: at for p, at in source.values.items() if kept(p)}
    keys = {p: at for p, at in source.keys.items() if kept(p)}
    return data, values, keys


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def leaf_paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every value in nested spec data that is not a section."""
    for key, value in data.items():
        if isinstance(value, dict):
            yield from leaf_paths(value, (*prefix, key))
        else:
            yield (*prefix, key)


def _value_at(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _drop_below(table: dict[Path_, Location], path: Path_) -> None:
    """Forget the parent's positions under a value the child replaced wholesale."""
    for known in [p for p in table if len(p) > len(path) and p[: len(path)] == path]:
        del table[known]


def override_options(overrides: Iterable[str], name: str | None) -> list[tuple[str, str]]:
    """`--set FIELD=VALUE` and `--name NAME` as (option, value) pairs: the --set options in
    the order given, then --name."""
    return [("--set", s) for s in overrides] + ([("--name", name)] if name is not None else [])


def nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`value` at `path` in otherwise empty spec data: ("stages", "depths") -> {"stages":
    {"depths": value}}."""
    data: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        data = {part: data}
    return data


def apply_overrides(
    source: ResolvedSource, overrides: list[str], name: str | None
) -> ResolvedSource:
    """Merge `--set FIELD=VALUE` overrides and `--name` over a resolved spec.

    The result is a new variant, as if a spec extended this one: the description and
    reference stay behind unless an override sets them, and the description then says
    where the variant came from. Each value is YAML, read by the spec's own rules; a
    problem in it is reported at the override that set it.
    """
    data, values, keys = _leave_out(source, VARIANT_FIELDS)
    settings = [parse_setting(option, value) for option, value in override_options(overrides, name)]
    if ("description",) not in {parts for _, parts, _ in settings}:
        base = source.data.get("name") or source.file.display
        data["description"] = f"{base} with {' '.join(shown for shown, _, _ in settings)}."
        values[("description",)] = Location(settings[0][0])
    for shown, parts, text in settings:
        value = parse_value(text, shown)
        data = deep_merge(data, nested(parts, value))
        if not isinstance(value, dict):
            _drop_below(values, parts)
            _drop_below(keys, parts)
        for end in range(1, len(parts) + 1):
            values.setdefault(parts[:end], Location(shown))
        values[parts] = keys[parts] = Location(shown)
        _mark_below(values, parts, value, Location(shown))
    return ResolvedSource(data, values, keys, source.chain)


def parse_setting(option: str, value: str) -> tuple[str, Path_, str]:
    """An override as it is shown, the field path it sets, and the YAML text of its value."""
    shown = f"{option} {value}"
    if option == "--name":
        return shown, ("name",), value
    field, equals, text = value.partition("=")
    parts = tuple(field.strip().split("."))
    if not equals or not all(part.isidentifier() for part in parts):
        message = f"expected FIELD=VALUE with FIELD like stages.depths (given {value!r})"
        raise SpecError([Problem(Location(shown), "", message)])
    if parts[0] in NOT_SET:
        raise SpecError([Problem(Location(shown), parts[0], NOT_SET[parts[0]])])
    return shown, parts, text


def _mark_below(table: dict[Path_, Location], path: Path_, value: Any, where: Location) -> None:
    """Point every value inside an override at the override."""
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in children:
        table[(*path, key)] = where
        _mark_below(table, (*path, key), child, where)
