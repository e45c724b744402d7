"""`resnetgen new`: start a spec that extends another, so a new variant is a few lines."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from .errors import Location, Problem, SpecError
from .files import write_atomic
from .inherit import within_project
from .load import PATTERN_HELP, LoadedSpec, load, locate_spec
from .resources import is_zoo_file, nearest_holding
from .spec import Name

SCHEMA_FILE = "resnetgen.schema.json"


def new_spec(name: str, base: str, directory: Path, force: bool = False) -> Path:
    """Write DIRECTORY/NAME.yaml extending BASE, after checking that it loads."""
    where = Location(f"resnetgen new {name}")
    check_name(name, where)
    target = directory / f"{name}.yaml"
    base_path = locate_spec(base)
    try:
        return _write_new(name, base_path, directory, target, force, where)
    except OSError as error:
        raise cannot_write(target, error, where) from None


def check_name(name: str, where: Location) -> None:
    """Refuse a name a spec could not have, as the spec's own `name:` would be refused."""
    try:
        TypeAdapter(Name).validate_python(name)
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "string_pattern_mismatch":
            message = PATTERN_HELP[("name",)]
        raise SpecError([Problem(where, "name", f"{message} (given {name!r})")]) from None


def cannot_write(target: Path, error: OSError, where: Location) -> SpecError:
    message = f"cannot write {target}: {(error.strerror or str(error)).lower()}"
    return SpecError([Problem(where, "", message)])


def _write_new(
    name: str, base_path: Path, directory: Path, target: Path, force: bool, where: Location
) -> Path:
    def refuse(message: str) -> SpecError:
        return SpecError([Problem(where, "", message)])

    if target.exists() and not force:
        raise refuse(f"{target} exists; --force replaces it")
    if target.exists() and target.resolve() == base_path.resolve():
        raise refuse(f"{target} is the base itself; give the new spec another name")
    if is_zoo_file(base_path):
        extends = base_path.stem
        shadow = directory / f"{extends}.yaml"
        if shadow.exists() and not is_zoo_file(shadow):
            raise refuse(f"{shadow} would stand in for the zoo's {extends}; choose another -d")
    elif within_project(base_path, directory):
        extends = os.path.relpath(base_path.resolve(), directory.resolve())
    else:
        raise refuse(
            f"{base_path} is outside the project of {directory} (a folder with .git or "
            "pyproject.toml, else the spec's own folder); write the new spec beside its base"
        )
    text = spec_text(name, extends, schema_comment(directory))
    write_checked(directory, target, text)
    return target


def write_checked(
    directory: Path,
    target: Path,
    text: str,
    check: Callable[[LoadedSpec], None] | None = None,
) -> None:
    """Write a new spec file once it loads, and passes `check`, where it will stand.

    The trial is a hidden file beside the target, so that `extends:` resolves as it will;
    when it fails, the trial and every folder made for it go again.
    """
    made = [folder for folder in (directory, *directory.parents) if not folder.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    descriptor, trial = tempfile.mkstemp(dir=directory, prefix=f".{target.stem}.", suffix=".yaml")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        loaded = load(trial)
        if check is not None:
            check(loaded)
    except BaseException as error:
        Path(trial).unlink(missing_ok=True)
        for folder in made:  # deepest first: the folders made here go again
            folder.rmdir()
        if isinstance(error, SpecError):
            problems = [_at_target(p, trial, target) for p in error.problems]
            raise SpecError(problems) from None
        raise
    finally:
        Path(trial).unlink(missing_ok=True)
    write_atomic(target, text)


def _at_target(problem: Problem, trial: str, target: Path) -> Problem:
    """A problem found in the trial file, told of the file it stands for."""
    if problem.location.file != trial:
        return problem
    return replace(problem, location=replace(problem.location, file=str(target)))


def spec_text(name: str, extends: str, schema_comment: str | None) -> str:
    lines = [schema_comment] if schema_comment else []
    lines += [
        f"name: {name}",
        f"extends: {extends}",
        "description: >-",
        f"  {name}: {extends} with ... (say what changes, and why).",
        f"# Give only what differs from {extends}; `resnetgen schema` lists every field. E.g.:",
        "# stages:",
        "#   depths: [3, 4, 23, 3]",
    ]
    return "\n".join(lines) + "\n"


def schema_comment(directory: Path) -> str | None:
    """The editor's schema line, when the project beside the spec has the schema file."""
    folder = nearest_holding(directory, SCHEMA_FILE)
    if folder is None:
        return None
    relative = os.path.relpath(folder / SCHEMA_FILE, directory.resolve())
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}"


def spec_name(path: Path) -> str:
    """The spec's name from the file's (or folder's): lowercase, a-z0-9_, a letter first."""
    stem = path.name
    for suffix in (".pth.tar", ".safetensors", ".pth", ".pt", ".bin", ".ckpt"):
        stem = stem.removesuffix(suffix)
    text = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")[:60] or "imported"
    return text if text[0].isalpha() else f"net_{text}"
