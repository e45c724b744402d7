"""Specs in, generated files out: the work behind `resnetgen build`."""

from __future__ import annotations

import shlex
from pathlib import Path

from .errors import Problem, SpecError
from .files import Output
from .load import LoadedSpec, load
from .provenance import Provenance
from .render.card import render_card
from .render.model import render_model
from .resources import is_zoo_file, project_root
from .verify import verify_source

DEFAULT_OUT_DIR = "generated"


class OverridesNeedOneSpec(ValueError):
    """--set or --name given with several specs: a mistake in the command, not a spec."""


def load_all(
    arguments: list[str], overrides: tuple[str, ...] = (), name: str | None = None
) -> list[LoadedSpec]:
    """Load every spec, reporting the problems of all of them together.

    Overrides and a new name apply to a single spec only.
    """
    if (overrides or name is not None) and len(set(arguments)) != 1:
        raise OverridesNeedOneSpec("--set and --name apply to a single SPEC")
    loaded: list[LoadedSpec] = []
    problems: list[Problem] = []
    for argument in dict.fromkeys(arguments):
        try:
            loaded.append(load(argument, overrides, name))
        except SpecError as error:
            problems.extend(error.problems)
    by_name: dict[str, LoadedSpec] = {}
    for spec in loaded:
        other = by_name.setdefault(spec.plan.name, spec)
        if (
            other is not spec
            and other.source.file.path.resolve() != spec.source.file.path.resolve()
        ):
            where = spec.source.locate(("name",))
            message = f"{other.source.file.display} has the same name; each spec needs its own"
            problems.append(Problem(where, "name", message))
    if problems:
        raise SpecError(problems)
    return list(by_name.values())


def spec_origin(spec: LoadedSpec, root: Path | None) -> str:
    """How generated files name their spec: a zoo name, else its path from `root`."""
    return spec.path.stem if is_zoo_file(spec.path) else _from_root(spec.path.resolve(), root)


def regenerate_command(origin: str, settings: list[str], out_dir: str) -> str:
    """`resnetgen build` of the spec `origin`, with its overrides, into `out_dir`."""
    words = ["resnetgen", "build", origin, *settings]
    if out_dir != DEFAULT_OUT_DIR:
        words += ["-o", out_dir]
    return shlex.join(words)


def _from_root(path: Path, root: Path | None) -> str:
    inside = root is not None and path.is_relative_to(root)
    return path.relative_to(root).as_posix() if inside else path.as_posix()


def outputs(specs: list[LoadedSpec], out_dir: str) -> list[Output]:
    """For each spec, its model file and its model card."""
    result = []
    # Paths in a generated file are written from the project root of the output, where
    # its regenerate command runs, so they do not depend on where resnetgen was run;
    # outside any project they are absolute.
    root = project_root(Path(out_dir))
    shown_out_dir = _from_root(Path(out_dir).resolve(), root)
    for spec in specs:
        origin = spec_origin(spec, root)
        command = regenerate_command(origin, spec.command_line_settings, shown_out_dir)
        provenance = Provenance(origin, spec.sha256, command)
        code = render_model(spec.plan, spec.analysis, provenance)
        verify_source(code, spec.plan.name)
        card = render_card(spec.plan, spec.analysis, provenance)
        result.append(Output(Path(out_dir) / f"{spec.plan.name}.py", code))
        result.append(Output(Path(out_dir) / f"{spec.plan.name}.md", card))
    return result
