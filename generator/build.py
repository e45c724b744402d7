"""Specs in, generated files out: the work behind `resnetgen build`."""

from __future__ import annotations

import shlex
from pathlib import Path, PurePath

from generator.errors import Problem, SpecError
from generator.files import Output
from generator.load import LoadedSpec, load
from generator.provenance import Provenance
from generator.render import render_card, render_model
from generator.verify import verify_source

DEFAULT_OUT_DIR = "generated"


def load_all(
    arguments: list[str], overrides: tuple[str, ...] = (), name: str | None = None
) -> list[LoadedSpec]:
    """Load every spec, reporting the problems of all of them together.

    Overrides and a new name apply to a single spec only.
    """
    if (overrides or name is not None) and len(set(arguments)) != 1:
        raise ValueError("--set and --name apply to one spec at a time")
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


def regenerate_command(spec: LoadedSpec, out_dir: str) -> str:
    words = ["resnetgen", "build", spec.origin, *spec.command_line_settings]
    shown = PurePath(out_dir)
    if not shown.is_absolute() and shown != PurePath(DEFAULT_OUT_DIR):
        words += ["-o", shown.as_posix()]
    return shlex.join(words)


def outputs(specs: list[LoadedSpec], out_dir: str) -> list[Output]:
    """For each spec, its model file and its model card."""
    result = []
    for spec in specs:
        provenance = Provenance(spec.origin, spec.sha256, regenerate_command(spec, out_dir))
        code = render_model(spec.plan, spec.analysis, provenance)
        verify_source(code, spec.plan.name)
        card = render_card(spec.plan, spec.analysis, provenance)
        result.append(Output(Path(out_dir) / f"{spec.plan.name}.py", code))
        result.append(Output(Path(out_dir) / f"{spec.plan.name}.md", card))
    return result
