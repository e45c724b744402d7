"""From what the user typed (a path or a zoo name) to a validated spec, its plan and figures.

Every problem found on the way is reported at once, each at the file, line and column
that set the offending value.
"""

from __future__ import annotations

import difflib
import hashlib
import typing
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .analysis import Analysis, analyse
from .errors import FieldPath, Location, PlanError, Problem, SpecError, describe, dotted
from .inherit import ResolvedSource, apply_overrides, override_options, resolve
from .plan import Plan, build_plan
from .resources import names_a_file, zoo_names, zoo_path
from .rules import check_consistency
from .spec import Spec

MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32 weights; the largest zoo model has 0.47 G

# Pattern errors explained in words instead of the regular expression.
PATTERN_HELP = {
    ("name",): "should be a lowercase identifier: a-z, 0-9 and _, starting with a letter",
    ("reference",): "should be torchvision/NAME, timm/NAME, mmpretrain/NAME or "
    "transformers/ORG/NAME",
}


@dataclass(frozen=True)
class LoadedSpec:
    path: Path  # the spec file: in the zoo, or a user's
    source: ResolvedSource
    spec: Spec
    plan: Plan
    analysis: Analysis
    overrides: tuple[str, ...] = ()  # --set FIELD=VALUE, in order
    renamed: str | None = None  # --name

    @property
    def sha256(self) -> str:
        """Hash of the spec's bytes, those of every spec it extends, and the overrides."""
        digest = hashlib.sha256()
        for file in self.source.chain:
            digest.update(file.raw)
        for setting in self.command_line_settings:
            digest.update(b"\n" + setting.encode("utf-8"))
        return digest.hexdigest()

    @property
    def command_line_settings(self) -> list[str]:
        """The override options as they are given on the command line."""
        return [word for pair in override_options(self.overrides, self.renamed) for word in pair]


def locate_spec(argument: str) -> Path:
    """The file a command-line SPEC argument names: a path, else a zoo name."""
    path = Path(argument)
    if path.exists() or names_a_file(argument):
        return path
    in_zoo = zoo_path(argument)
    if in_zoo is not None:
        return in_zoo
    close = difflib.get_close_matches(argument, zoo_names(), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    message = f"no such spec file, and no zoo spec of that name{hint}"
    raise SpecError([Problem(Location(argument), "", message)])


def load(argument: str, overrides: tuple[str, ...] = (), name: str | None = None) -> LoadedSpec:
    """Load a spec, with `--set FIELD=VALUE` overrides and a `--name` merged over it."""
    path = locate_spec(argument)
    source = resolve(path, argument)
    if overrides or name is not None:
        source = apply_overrides(source, list(overrides), name)
    spec = _validate(source)
    try:
        plan = build_plan(spec)
        analysis = analyse(plan)
    except PlanError as error:
        problems = [_problem(source, field, message) for field, message in error.problems]
        raise SpecError(problems) from None
    if analysis.params > MAX_PARAMETERS:
        message = (
            f"the network would have {analysis.params:,} parameters; resnetgen builds at most "
            f"{MAX_PARAMETERS:,}"
        )
        raise SpecError([Problem(source.locate(("stages",)), "stages", message)])
    return LoadedSpec(path, source, spec, plan, analysis, tuple(overrides), name)


def _validate(source: ResolvedSource) -> Spec:
    try:
        return _consistent(source, Spec.model_validate(source.data))
    except ValidationError as error:
        errors = error.errors()
    problems = [_from_pydantic(source, item) for item in errors]
    # Every problem at once: the rules across fields still judge what the user got right,
    # on the spec without its broken values.
    broken = {_broken_field(tuple(item["loc"])) for item in errors}
    # An unknown field may be a misspelt known one: rules reading that one are not trusted.
    unsure = {meant for field in broken for meant in _meant(field)}
    try:
        _consistent(source, Spec.model_validate(_without(source.data, broken)), unsure)
    except ValidationError:
        pass  # a required field is broken: the rules have nothing to judge
    except SpecError as more:
        problems += more.problems
    raise SpecError(problems)


def _consistent(source: ResolvedSource, spec: Spec, unsure: Collection[FieldPath] = ()) -> Spec:
    problems = check_consistency(spec, unsure)
    if problems:
        raise SpecError([_problem(source, path, message) for path, message in problems])
    return spec


def _broken_field(location: FieldPath) -> FieldPath:
    """The field a pydantic error at `location` is about; a whole list for one of its items."""
    end = next((i for i, part in enumerate(location) if isinstance(part, int)), len(location))
    return location[:end]


def _meant(field: FieldPath) -> list[FieldPath]:
    """The field the user meant: itself if it is known, else the known one it is close to,
    else any in its section (at the top level, none: a stray key there is just stray)."""
    known = _fields_at(field[:-1]) if field else []
    if not field or str(field[-1]) in known:
        return [field]
    close = [(*field[:-1], name) for name in _close(str(field[-1]), known)]
    return close or ([field[:-1]] if len(field) > 1 else [])


def _without(data: Any, paths: set[FieldPath]) -> Any:
    """`data` with the values at `paths` left out."""
    if not isinstance(data, dict):
        return data
    kept = {}
    for key, value in data.items():
        if (key,) in paths:
            continue
        below = {path[1:] for path in paths if len(path) > 1 and path[0] == key}
        kept[key] = _without(value, below) if below else value
    return kept


def _problem(source: ResolvedSource, path: FieldPath, message: str) -> Problem:
    value = _value_at(source.data, path)
    given = f" (given {describe(value)})" if value is not _MISSING else ""
    return Problem(source.locate(path), dotted(path), message + given)


def _from_pydantic(source: ResolvedSource, error: Any) -> Problem:
    path: FieldPath = tuple(error["loc"])
    kind = error["type"]
    # A single value where a list is allowed is checked as a one-item list; point at it.
    if path and isinstance(path[-1], int) and path not in source.values:
        path = path[:-1]
    if kind == "extra_forbidden":
        fields = _fields_at(path[:-1])
        hint = _suggest(path[-1], fields) or f" (fields here: {', '.join(fields)})"
        message = "unknown field" + hint
        return Problem(source.locate(path, key=True), dotted(path), message)
    if kind == "missing":
        return Problem(source.locate(path), dotted(path), "required field is missing")
    if kind == "model_type":
        return _not_a_section(source, path, error["input"])
    message = str(error["msg"])
    named = tuple(part for part in path if isinstance(part, str))
    if kind == "string_pattern_mismatch" and named in PATTERN_HELP:
        message = PATTERN_HELP[named]
    message = message.removeprefix("Value error, ").removeprefix("Input ")
    message = message[0].lower() + message[1:]
    if kind == "literal_error":
        choices = [c.strip(" '") for c in error["ctx"]["expected"].replace(" or ", ",").split(",")]
        if isinstance(error["input"], str):
            message += _suggest(error["input"], choices)
    return Problem(
        source.locate(path), dotted(path), f"{message} (given {describe(error['input'])})"
    )


def _not_a_section(source: ResolvedSource, path: FieldPath, given: Any) -> Problem:
    fields = _fields_at(path)
    message = f"should be a mapping with the fields {', '.join(fields)}"
    types = _close(given, _choices((*path, "type"))) if isinstance(given, str) else []
    if types:
        message += f"; for its type alone write {{type: {types[0]}}}"
    return Problem(source.locate(path), dotted(path), f"{message} (given {describe(given)})")


def _suggest(word: Any, choices: list[str]) -> str:
    close = _close(str(word), choices)
    return f"; did you mean {close[0]!r}?" if close else ""


def _close(word: str, choices: list[str]) -> list[str]:
    return difflib.get_close_matches(word, choices, n=1, cutoff=0.6)


def _choices(path: FieldPath) -> list[str]:
    """The values a closed-vocabulary field allows; none for any other field."""
    section = _model_at(path[:-1])
    field = section.model_fields.get(str(path[-1])) if section else None
    return [str(choice) for choice in typing.get_args(field.annotation)] if field else []


def _fields_at(path: FieldPath) -> list[str]:
    """Field names of the section of the spec at `path`."""
    model = _model_at(path)
    return list(model.model_fields) if model else []


def _model_at(path: FieldPath) -> type[BaseModel] | None:
    """The section of the spec at `path`, if there is one."""
    model: Any = Spec
    for part in path:
        field = model.model_fields.get(str(part))
        model = _section_type(field.annotation) if field else None
        if model is None:
            return None
    return model


def _section_type(annotation: Any) -> Any:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


_MISSING = object()


def _value_at(data: Any, path: FieldPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data
