"""The `resnetgen` command line. None of its commands imports torch."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from generator import __version__
from generator.build import DEFAULT_OUT_DIR, load_all, outputs
from generator.errors import SpecError
from generator.files import WriteRefused, write_all
from generator.report import describe_network, figures_table, format_macs
from generator.resources import zoo_names

F = TypeVar("F", bound=Callable[..., Any])


def _reports_errors(command: F) -> F:
    """Bad specs and refused writes become one line per problem on stderr and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except SpecError as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
        except WriteRefused as error:
            for refusal in error.refusals:
                click.echo(refusal.message, err=True)
            click.echo("nothing was written", err=True)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:  # a bug in resnetgen, not in the user's spec
            if debug:
                traceback.print_exc()
            click.echo(f"resnetgen: internal error: {type(error).__name__}: {error}", err=True)
            if not debug:
                click.echo("run with --debug for the traceback", err=True)
        sys.exit(1)

    return wrapper  # type: ignore[return-value]


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
@click.option(
    "--check", is_flag=True, help="Write nothing; show a diff and fail if a file is stale."
)
@click.option(
    "--force", is_flag=True, help="Replace files edited by hand or not made by resnetgen."
)
@_reports_errors
def build(specs: tuple[str, ...], out_dir: str, check: bool, force: bool) -> None:
    """Generate OUT_DIR/NAME.py for each SPEC (all of them, or none if any is invalid)."""
    targets = outputs(load_all(list(specs)), out_dir)
    if check:
        stale = [(target, target.diff()) for target in targets]
        stale = [(target, diff) for target, diff in stale if diff]
        for target, diff in stale:
            click.echo(diff, nl=False)
            click.echo(f"{target.path}: stale; run: resnetgen build {' '.join(specs)}", err=True)
        if stale:
            sys.exit(1)
        click.echo(f"{len(targets)} file(s) up to date")
        return
    for target, changed in write_all(targets, force=force):
        click.echo(f"{'wrote' if changed else 'unchanged'} {target.path}")


@main.command()
@click.argument("specs", nargs=-1, required=True)
@_reports_errors
def validate(specs: tuple[str, ...]) -> None:
    """Check each SPEC and report every problem found."""
    for spec in load_all(list(specs)):
        click.echo(f"ok {spec.source.file.display}: {describe_network(spec.plan, spec.analysis)}")


@main.command()
@click.argument("spec")
@click.option(
    "--size",
    type=(click.IntRange(1, 4096), click.IntRange(1, 4096)),
    default=None,
    help="Input height and width (default: the spec's input.size).",
)
@_reports_errors
def show(spec: str, size: tuple[int, int] | None) -> None:
    """Per-stage table of SPEC: blocks, stride, output size, parameters, multiply-adds."""
    from generator.analysis import analyse

    (loaded,) = load_all([spec])
    analysis = analyse(loaded.plan, size) if size else loaded.analysis
    click.echo(describe_network(loaded.plan, analysis))
    if loaded.plan.description:
        click.echo(loaded.plan.description)
    channels, height, width = analysis.input
    click.echo(f"input {channels}x{height}x{width}")
    click.echo("")
    for line in figures_table(analysis):
        click.echo(line)


@main.command(name="list")
@_reports_errors
def list_zoo() -> None:
    """The zoo: every bundled spec with its parameters and multiply-adds."""
    specs = load_all(zoo_names())
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
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(width) if i in (1, 2) else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(cells).rstrip())


@main.command()
@_reports_errors
def schema() -> None:
    """The JSON Schema of a spec, for editor completion and validation."""
    from generator.spec import Spec

    document = {"$schema": "https://json-schema.org/draft/2020-12/schema"}
    document.update(Spec.model_json_schema())
    click.echo(json.dumps(document, indent=2, sort_keys=False))
