"""The committed generated/ files are exactly what specs/ produce."""

from __future__ import annotations

from click.testing import CliRunner

from resnetgen.cli import main

from .conftest import ROOT, ZOO


def test_generated_matches_specs() -> None:
    specs = sorted(str(path) for path in (ROOT / "specs").glob("*.yaml"))
    result = CliRunner().invoke(main, ["build", "--check", *specs, "-o", str(ROOT / "generated")])
    assert result.exit_code == 0, result.stdout + result.stderr


def test_generated_holds_the_zoo_and_nothing_else() -> None:
    assert sorted(p.stem for p in (ROOT / "generated").glob("*.py")) == sorted(ZOO)
    assert sorted(p.stem for p in (ROOT / "generated").glob("*.md")) == sorted(ZOO)


def test_committed_schema_is_current() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert (ROOT / "resnetgen.schema.json").read_text() == result.stdout


def test_zoo_specs_point_editors_at_the_schema() -> None:
    for path in (ROOT / "specs").glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../resnetgen.schema.json", path
