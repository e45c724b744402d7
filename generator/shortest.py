"""The shortest spec for a network, as `resnetgen import` writes it.

Given spec data with every field spelled out, leave out each value a default or a base
spec already gives, keeping only those without which the network would change; then
take the shortest text among the spec alone and the spec extending the zoo specs
nearest to it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .analysis import analyse
from .errors import PlanError
from .inherit import OWN_FIELDS, deep_merge, leaf_paths, resolve
from .plan import Plan, StagePlan, build_plan
from .render.text import LINE_LENGTH
from .resources import is_zoo_file, zoo_names, zoo_path
from .rules import check_consistency
from .source import reads_as_string
from .spec import Spec

Data = dict[str, Any]
BASES_TRIED = 4  # the zoo specs nearest the network, each shortened in full


@dataclass(frozen=True)
class Shortest:
    text: str
    extends: str | None  # the zoo spec it extends, if any


def shortest_spec(
    data: Data,
    own: Data,
    directory: Path,
    schema_comment: str | None = None,
) -> Shortest:
    """The shortest text of a spec with `own` fields (name, description, reference) whose
    network is that of `data`, written to be read from `directory`."""
    target = network({**own, **data})
    if target is None:
        raise ValueError("the data does not describe a valid network")
    candidates = [_Candidate(None, -1, _shorten(data, partial(_merged, {}, own=own), target))]
    whole, starts = {**own, **data}, []
    for base in zoo_names():
        child = _difference(data, base_data(base))
        merged = _merged(base_data(base), child, own)
        # Where the base adds nothing the data lacks, the merged spec is the data itself.
        if reachable(base, own["name"], directory) and (
            merged == whole or network(merged) == target
        ):
            starts.append(_Candidate(base, distance(_base_network(base), target), child))
    for start in sorted(starts, key=lambda c: (c.distance, c.base))[:BASES_TRIED]:
        complete = partial(_merged, base_data(start.base), own=own)
        candidates.append(replace(start, child=_shorten(start.child, complete, target)))

    def text(candidate: _Candidate) -> str:
        extends = {"extends": candidate.base} if candidate.base else {}
        return spec_yaml({**own, **extends, **candidate.child}, schema_comment)

    # Fewest lines; among those the nearest base, the spec alone first; then fewest characters.
    best = min(candidates, key=lambda c: (text(c).count("\n"), c.distance, len(text(c))))
    return Shortest(text(best), best.base)


@dataclass(frozen=True)
class _Candidate:
    base: str | None  # the zoo spec extended, if any
    distance: int  # how far the base's network is from the target's; -1 without a base
    child: Data  # the fields given over the base's


def network(data: Data) -> Plan | None:
    """What a spec's data builds, with what only names and figures it left out; None when
    the data is not a valid spec."""
    return _network(json.dumps(data, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _network(text: str) -> Plan | None:
    """`network` of the data `text` holds: the search meets the same data many times
    (every zoo spec extended by the same fields, each shortening tried again)."""
    try:
        spec = Spec.model_validate(json.loads(text))
    except ValidationError:
        return None
    if check_consistency(spec):
        return None
    try:
        plan = build_plan(spec)
        analyse(plan)
    except PlanError:
        return None
    return anonymous(plan)


def anonymous(plan: Plan) -> Plan:
    """The network alone: without its name, description, references and nominal size."""
    return replace(plan, name="", description="", references=(), input_size=(1, 1))


def same_network(one: Plan, other: Plan) -> bool:
    """Whether two plans build the same network, but for their names, figures and init."""
    return replace(anonymous(one), zero_init_residual=False) == replace(
        anonymous(other), zero_init_residual=False
    )


def _shorten(data: Data, complete: Callable[[Data], Data], target: Plan) -> Data:
    """`data` without every value whose absence leaves the network `target`."""
    changed = True
    while changed:
        changed = False
        for path in list(leaf_paths(data)):
            candidate = _without(data, path)
            if network(complete(candidate)) == target:
                data, changed = candidate, True
    return data


@functools.cache
def _base_network(base: str) -> Plan:
    plan = network({"name": base, **base_data(base)})
    assert plan is not None, base
    return plan


def distance(first: Plan, second: Plan) -> int:
    """How many settings two networks differ in: network-wide ones and each stage's."""
    differences = 0
    for name in _field_names(Plan):
        a, b = getattr(first, name), getattr(second, name)
        if name == "stages":
            differences += abs(len(a) - len(b)) * len(_field_names(StagePlan))
            differences += sum(_distance_of(x, y) for x, y in zip(a, b, strict=False))
        elif name == "block_settings":  # one setting each, as any other field
            differences += sum(x != y for x, y in zip(a, b, strict=True))
        elif is_dataclass(a):
            differences += _distance_of(a, b)
        else:
            differences += a != b
    return differences


def _distance_of(first: Any, second: Any) -> int:
    return sum(
        getattr(first, name) != getattr(second, name)
        for name in _field_names(type(first))
        if name not in ("blocks", "layers")
    )


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(kind))


def _merged(inherited: Data, child: Data, own: Data) -> Data:
    return {**own, **deep_merge(inherited, child)}


@functools.cache
def base_data(base: str) -> Data:
    """What a zoo spec gives a spec extending it (never changed by the callers)."""
    data = resolve(zoo_path(base)).data  # type: ignore[arg-type]
    return {key: value for key, value in data.items() if key not in OWN_FIELDS}


def reachable(base: str, name: str, directory: Path) -> bool:
    """Whether `extends: base` in DIRECTORY/NAME.yaml reaches the zoo's `base`: not where
    the spec would be the zoo's file itself, or a file beside it would stand in for it."""
    if base == name:  # a spec named after a zoo spec extends the zoo's, if it is not it
        return not is_zoo_file(directory / f"{name}.yaml")
    return not any(
        (directory / f"{base}{suffix}").exists() and not is_zoo_file(directory / f"{base}{suffix}")
        for suffix in (".yaml", ".yml")
    )


def _difference(data: Data, inherited: Data) -> Data:
    """The values of `data` that `inherited` does not already hold."""
    child = {}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(inherited.get(key), dict):
            below = _difference(value, inherited[key])
            if below:
                child[key] = below
        elif inherited.get(key, _MISSING) != value:
            child[key] = value
    return child


_MISSING = object()


def _without(data: Data, path: tuple[str, ...]) -> Data:
    """`data` without the value at `path`, and without a section that leaves empty."""
    head, *rest = path
    result = dict(data)
    if rest:
        below = _without(data[head], tuple(rest))
        if below:
            result[head] = below
        else:
            del result[head]
    else:
        del result[head]
    return result


# Writing the spec -------------------------------------------------------------------------


def spec_yaml(data: Data, schema_comment: str | None = None) -> str:
    """A spec as the zoo writes one: fields in the schema's order, lists on one line, the
    description folded."""
    lines = [schema_comment] if schema_comment else []
    lines += _mapping(_ordered(data, Spec), 0)
    return "\n".join(lines) + "\n"


def _ordered(data: Data, model: type[BaseModel] | None) -> Data:
    if model is None:
        return data
    order = list(model.model_fields)
    result = {}
    for key in sorted(data, key=lambda k: order.index(k) if k in order else len(order)):
        value = data[key]
        section = _section(model, key)
        result[key] = _ordered(value, section) if isinstance(value, dict) else value
    return result


def _section(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    field = model.model_fields.get(key)
    if field is None:
        return None
    candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _mapping(data: Data, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{key}:")
            lines += _mapping(value, indent + 2)
        elif key == "description" and indent == 0:
            lines.append(f"{pad}description: >-")
            lines += _folded(str(value), indent + 2)
        else:
            lines.append(f"{pad}{key}: {_value(value)}")
    return lines


def _folded(text: str, indent: int) -> list[str]:
    pad = " " * indent
    lines, line = [], ""
    for word in text.split():
        if line and len(pad) + len(line) + 1 + len(word) > LINE_LENGTH:
            lines.append(pad + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, pad + line]


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_./]*", text) and reads_as_string(text):
        return text
    return json.dumps(text, ensure_ascii=False)
