"""The `resnetgen` command line. None of its commands imports torch.

Every command prints text for people, or with --json one JSON document for scripts.
Problems go to stderr as `file:line:col: field: message` lines (with --json, as a JSON
document on stdout), with exit status 1.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .build import DEFAULT_OUT_DIR, OverridesNeedOneSpec, load_all, outputs
from .compare import compare
from .errors import Location, Problem, SpecError
from .files import WriteRefused, write_all
from .load import LoadedSpec
from .report import (
    ACTIVATIONS_NOTE,
    aligned,
    describe_network,
    figures_table,
    format_macs,
    groups_table,
)
from .resources import zoo_names

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON document instead of text."
)


def override_options(command: F) -> F:
    """--set FIELD=VALUE (repeatable) and --name, for deriving a variant on the spot."""
    command = click.option(
        "--name", default=None, help="A new name for the network (with a single SPEC)."
    )(command)
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="FIELD=VALUE",
        help="Override a field, e.g. --set 'stages.depths=[3, 4, 23, 3]' (repeatable).",
    )(command)


def _reports_errors(command: F) -> F:
    """Bad specs and refused writes become one line per problem and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        context = click.get_current_context()
        debug = context.find_root().params.get("debug", False)
        as_json = context.params.get("as_json", False)
        try:
            return command(*args, **kwargs)
        except SpecError as error:
            if as_json:
                _emit_json({"errors": [_problem_json(p) for p in error.problems]})
            for problem in error.problems if not as_json else ():
                click.echo(str(problem), err=True)
        except WriteRefused as error:
            messages = [refusal.message for refusal in error.refusals]
            if as_json:
                _emit_json({"errors": [{"message": m} for m in messages], "written": []})
            else:
                for message in [*messages, "nothing was written"]:
                    click.echo(message, err=True)
        except OverridesNeedOneSpec as error:
            raise click.UsageError(str(error)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`resnetgen list | head`); say nothing more.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except Exception as error:  # a bug in resnetgen, not in the user's spec
            if debug:
                traceback.print_exc()
            click.echo(f"resnetgen: internal error: {type(error).__name__}: {error}", err=True)
            if not debug:
                click.echo("run with --debug for the traceback", err=True)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _problem_json(problem: Problem) -> dict[str, object]:
    location = problem.location
    return {
        "file": location.file,
        "line": location.line or None,
        "column": location.column or None,
        "field": problem.field or None,
        "message": problem.message,
    }


def _emit_json(document: object) -> None:
    click.echo(json.dumps(document, indent=2))


@contextmanager
def _progress(items: list[str], label: str, shown: bool) -> Iterator[Iterable[str]]:
    """A progress bar on stderr when it is a terminal and the work is long; else nothing."""
    if not shown or len(items) < 2 or not _on_terminal():
        yield items
        return
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield bar


def _on_terminal() -> bool:
    return sys.stderr.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="resnetgen")
@click.option("--debug", is_flag=True, help="Show a traceback on internal errors.")
def main(debug: bool) -> None:
    """Generate readable, standalone PyTorch ResNet files from YAML specs.

    A SPEC is a path to a YAML file or the name of a zoo spec (see `resnetgen list`).
    """


@main.command()
@click.argument("specs", nargs=-1, required=True)
@click.option(
    "-o",
    "--out-dir",
    default=DEFAULT_OUT_DIR,
    show_default=True,
    help="Directory the generated files go to.",
)
@click.option("--check", is_flag=True, help="Write nothing; show a diff and fail if stale.")
@click.option("--force", is_flag=True, help="Replace files edited by hand or not ours.")
@click.option("-q", "--quiet", is_flag=True, help="Print problems only.")
@override_options
@json_option
@_reports_errors
def build(
    specs: tuple[str, ...],
    out_dir: str,
    check: bool,
    force: bool,
    quiet: bool,
    overrides: tuple[str, ...],
    name: str | None,
    as_json: bool,
) -> None:
    """Generate OUT_DIR/NAME.py and its model card NAME.md for each SPEC.

    All of them, or nothing if any SPEC is invalid.
    """
    with _progress(list(specs), "building", shown=not (quiet or as_json)) as items:
        loaded = load_all(list(items), overrides, name)
        targets = outputs(loaded, out_dir)
    if check:
        stale = [(target, target.diff()) for target in targets]
        stale = [(target, diff) for target, diff in stale if diff]
        if as_json:
            stale_paths = {str(target.path) for target, _ in stale}
            files = [
                {"path": str(t.path), "status": "stale" if str(t.path) in stale_paths else "fresh"}
                for t in targets
            ]
            _emit_json({"files": files})
        else:
            settings = loaded[0].command_line_settings  # the same for every spec
            output = ["-o", out_dir] if Path(out_dir) != Path(DEFAULT_OUT_DIR) else []
            again = shlex.join(["resnetgen", "build", *specs, *settings, *output])
            for target, diff in stale:
                if not quiet:
                    click.echo(diff, nl=False)
                click.echo(f"{target.path}: stale; run: {again}", err=True)
            if not stale and not quiet:
                click.echo(f"{len(targets)} file(s) up to date")
        if stale:
            sys.exit(1)
        return
    written = write_all(targets, force=force)
    if as_json:
        files = [
            {"path": str(t.path), "status": "wrote" if changed else "unchanged"}
            for t, changed in written
        ]
        _emit_json({"files": files})
    elif not quiet:
        for target, changed in written:
            click.echo(f"{'wrote' if changed else 'unchanged'} {target.path}")


@main.command()
@click.argument("specs", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="Print problems only.")
@override_options
@json_option
@_reports_errors
def validate(
    specs: tuple[str, ...],
    quiet: bool,
    overrides: tuple[str, ...],
    name: str | None,
    as_json: bool,
) -> None:
    """Check each SPEC and report every problem found."""
    loaded = load_all(list(specs), overrides, name)
    if as_json:
        _emit_json({"specs": [_summary_json(spec) for spec in loaded]})
    elif not quiet:
        for spec in loaded:
            summary = describe_network(spec.plan, spec.analysis)
            click.echo(f"ok {spec.source.file.display}: {summary}")


def _summary_json(spec: LoadedSpec) -> dict[str, object]:
    return {
        "spec": spec.source.file.display,
        "name": spec.plan.name,
        "description": spec.plan.description,
        "params": spec.analysis.params,
        "multiply_adds": spec.analysis.macs,
        "input": list(spec.analysis.input),
        "references": list(spec.plan.references),
    }


@main.command()
@click.argument("spec")
@click.option(
    "--size",
    type=(click.IntRange(1, 4096), click.IntRange(1, 4096)),
    default=None,
    help="Input height and width (default: the spec's input.size).",
)
@override_options
@json_option
@_reports_errors
def show(
    spec: str,
    size: tuple[int, int] | None,
    overrides: tuple[str, ...],
    name: str | None,
    as_json: bool,
) -> None:
    """Per-stage table of SPEC: blocks, channels, stride, output size, parameters,
    multiply-adds and activation memory (float32, batch 1)."""
    from .analysis import analyse
    from .errors import PlanError

    (loaded,) = load_all([spec], overrides, name)
    try:
        analysis = analyse(loaded.plan, size) if size else loaded.analysis
    except PlanError as error:
        where = Location(f"--size {size[0]} {size[1]}")  # type: ignore[index]
        raise SpecError([Problem(where, "", message) for _, message in error.problems]) from None
    if as_json:
        parts = [
            {
                "part": part.name,
                "blocks": part.blocks,
                "output": list(part.output),
                "stride": part.stride,
                "params": part.params,
                "multiply_adds": part.macs,
                "activations": part.activations,
            }
            for part in analysis.parts
        ]
        document = {**_summary_json(loaded), "input": list(analysis.input), "parts": parts}
        document["multiply_adds"] = analysis.macs
        _emit_json(document)
        return
    click.echo(describe_network(loaded.plan, analysis))
    if loaded.plan.description:
        click.echo(loaded.plan.description)
    channels, height, width = analysis.input
    click.echo(f"input {channels}x{height}x{width}")
    click.echo("")
    for line in figures_table(analysis):
        click.echo(line)
    click.echo(f"\n{ACTIVATIONS_NOTE}, at batch 1.")
    groups = groups_table(loaded.plan)
    if groups:
        click.echo("")
    for line in groups:
        click.echo(line)


@main.command(name="list")
@json_option
@_reports_errors
def list_zoo(as_json: bool) -> None:
    """The zoo: every bundled spec with its parameters and multiply-adds."""
    specs = load_all(zoo_names())
    if as_json:
        _emit_json({"specs": [_summary_json(spec) for spec in specs]})
        return
    rows = [("name", "params", "multiply-adds", "input", "reference")]
    for spec in specs:
        channels, height, width = spec.analysis.input
        rows.append(
            (
                spec.plan.name,
                f"{spec.analysis.params:,}",
                format_macs(spec.analysis.macs),
                f"{channels}x{height}x{width}",
                ", ".join(spec.plan.references) or "-",
            )
        )
    for line in aligned(rows, right={1, 2}):
        click.echo(line)


@main.command()
@click.argument("first")
@click.argument("second")
@json_option
@_reports_errors
def diff(first: str, second: str, as_json: bool) -> None:
    """What the networks of FIRST and SECOND differ in, field by field and stage by stage."""
    a, b = load_all([first, second]) if first != second else load_all([first]) * 2
    result = compare(a.plan, a.analysis, b.plan, b.analysis)
    if as_json:
        fields = [{"field": f, "first": x, "second": y} for f, x, y in result.fields]
        parts = [
            {
                "part": name,
                "params": [p1, p2],
                "multiply_adds": [m1, m2],
            }
            for name, p1, p2, m1, m2 in result.parts
        ]
        _emit_json(
            {"first": result.first, "second": result.second, "fields": fields, "parts": parts}
        )
        return
    count = len(result.fields)
    click.echo(f"{result.first} -> {result.second}: {count} difference{'s' * (count != 1)}")
    if result.fields:
        click.echo("")
        rows = [("field", result.first, result.second), *result.fields]
        for line in aligned(rows, right=set()):
            click.echo(line)
    click.echo("")
    rows = [
        ("", "params", "", "", "multiply-adds", "", ""),
        ("part", result.first, result.second, "change", result.first, result.second, "change"),
    ]
    scale = max(result.parts[-1][3:])  # the larger total sets the unit of the whole column
    for name, p1, p2, m1, m2 in result.parts:
        rows.append(
            (
                name,
                f"{p1:,}",
                f"{p2:,}",
                f"{p2 - p1:+,}" if p1 != p2 else "=",
                format_macs(m1, scale),
                format_macs(m2, scale),
                _macs_change(m1, m2, scale),
            )
        )
    for line in aligned(rows, right={1, 2, 3, 4, 5, 6}):
        click.echo(line)


def _macs_change(before: int, after: int, scale: int) -> str:
    if before == after:
        return "="
    sign = "+" if after > before else "-"
    return sign + format_macs(abs(after - before), scale)


def spec_folder_options(command: F) -> F:
    """-d/--dir and --force, for the commands that write a spec."""
    command = click.option("--force", is_flag=True, help="Replace an existing spec of that name.")(
        command
    )
    return click.option(
        "-d",
        "--dir",
        "directory",
        default="specs",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Where the spec goes.",
    )(command)


@main.command()
@click.argument("name")
@click.option("--from", "base", required=True, help="The spec to start from: a zoo name or a path.")
@spec_folder_options
@_reports_errors
def new(name: str, base: str, directory: str, force: bool) -> None:
    """Write DIR/NAME.yaml: a spec that extends --from and changes nothing yet."""
    from .scaffold import new_spec

    path = new_spec(name, base, Path(directory), force)
    click.echo(f"wrote {path}")
    click.echo(f"edit it, then: resnetgen build {path}")


@main.command(name="import")
@click.argument("source")
@click.option(
    "--arg",
    "arguments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Of timm/NAME or torchvision/NAME: a constructor argument, its value in YAML: "
    "--arg output_stride=16 (repeatable).",
)
@click.option("--name", default=None, help="The spec's name (default: the model's or file's).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Of a checkpoint: set what its weights cannot show, e.g. --set stages.stride_on=1x1 "
    "(repeatable).",
)
@spec_folder_options
@_reports_errors
def import_model(
    source: str,
    arguments: tuple[str, ...],
    name: str | None,
    overrides: tuple[str, ...],
    directory: str,
    force: bool,
) -> None:
    """Write DIR/NAME.yaml: the shortest spec of SOURCE, a checkpoint (a .pth, .pt,
    .pth.tar, .bin, .ckpt or .safetensors file, or a model folder) or a constructor
    (timm/NAME or torchvision/NAME, built with --arg). Needs torch."""
    from .readers.files import is_checkpoint_path

    if is_checkpoint_path(source):
        if arguments:
            raise click.UsageError("--arg applies to timm/NAME and torchvision/NAME")
        _import_checkpoint(Path(source), name, Path(directory), force, overrides)
        return
    if overrides:
        raise click.UsageError("--set applies to a checkpoint file (build takes --set too)")
    from .importer import import_reference

    imported = import_reference(source, arguments, name, Path(directory), force)
    base = f"extends {imported.extends}" if imported.extends else "standalone"
    weights = f"loads {source}'s checkpoints" if imported.loadable else "new weights"
    click.echo(f"wrote {imported.path} ({base}; {weights})")
    click.echo(f"build it: resnetgen build {imported.path}")


def _import_checkpoint(
    path: Path, name: str | None, directory: Path, force: bool, overrides: tuple[str, ...]
) -> None:
    from .checkpoint import import_checkpoint

    imported = import_checkpoint(path, name, directory, force, overrides)
    click.echo(f"read {path}: {imported.found.described()}")
    if imported.base:
        but = "" if imported.exact else ", but for its classes and input channels"
        click.echo(f"its network: {imported.base}, whose keys and shapes these are{but}")
        if imported.matches[1:]:
            click.echo(f"the same keys and shapes: {', '.join(imported.matches[1:])}")
        what = "stride placement, activation, dilation, anti-aliasing, drop rates"
        click.echo(f"assumed: what weights cannot show ({what}) is as {imported.base} has it")
    elif imported.assumed:
        click.echo(f"assumed (the weights cannot show them): {'; '.join(imported.assumed)}")
    else:
        click.echo("assumed: nothing (the layout and its config settle what weights cannot show)")
    click.echo("--set FIELD=VALUE changes what was assumed")
    click.echo(f"wrote {imported.path}")
    click.echo("load the file into the generated model:")
    for line in imported.load_line.splitlines():
        click.echo(f"    {line}")
    click.echo(f"build it: resnetgen build {imported.path}")


@main.command()
@_reports_errors
def schema() -> None:
    """The JSON Schema of a spec, for editor completion and validation."""
    from .spec import Spec

    document = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    document.update(Spec.model_json_schema())
    click.echo(json.dumps(document, indent=2, sort_keys=False))
