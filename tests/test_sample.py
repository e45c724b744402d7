"""The default tier's sample follows the zoo: every code body, every value of every axis,
every method a built model runs; a spec that brings a new one joins it by itself."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from resnetgen.resources import zoo_dir

from .conftest import DEPLOYED, MEMBERS, REPRESENTATIVES, SAMPLE, ZOO
from .sample import (
    Member,
    body,
    deployment_sample,
    members,
    missing,
    representatives,
    running_parts,
    sample,
)


def _zoo(folder: Path) -> list[Member]:
    return members(sorted(folder.glob("*.yaml")))


def _run_by(zoo: list[Member], names: list[str]) -> set[str]:
    return set().union(*(running_parts(member) for member in zoo if member.name in names))


def test_the_sample_holds_every_code_body_and_axis_value_of_the_specs() -> None:
    # The zoo read from specs/ afresh, not from the committed files the sample was taken from.
    zoo = _zoo(zoo_dir())
    assert sorted(member.name for member in zoo) == sorted(ZOO)
    assert missing(SAMPLE, zoo) == []
    assert set(REPRESENTATIVES) <= set(SAMPLE)


def test_the_deployed_networks_run_every_method_of_every_code_body() -> None:
    assert set(DEPLOYED) <= set(REPRESENTATIVES)
    assert _run_by(MEMBERS, DEPLOYED) == _run_by(MEMBERS, ZOO)


def test_a_spec_with_a_new_value_is_missing_from_the_old_sample_and_joins_the_new(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "specs"
    shutil.copytree(zoo_dir(), folder)
    # No zoo network projects on every block's shortcut.
    (folder / "resnet18_projected.yaml").write_text(
        "name: resnet18_projected\nextends: resnet18\nstages:\n  shortcut: projection_all\n"
    )
    zoo = _zoo(folder)
    assert missing(SAMPLE, zoo) == [
        "the code body of resnet18_projected",
        "shortcut projection_all (held by resnet18_projected)",
    ]
    grown = sample(zoo)
    assert set(grown) == {*SAMPLE, "resnet18_projected"}
    assert missing(grown, zoo) == []
    deployed = deployment_sample(zoo, representatives(zoo))
    assert _run_by(zoo, deployed) == _run_by(zoo, [member.name for member in zoo])


def test_a_value_of_a_larger_network_of_a_sampled_body_brings_the_smallest_holding_it() -> None:
    by_name = {member.name: member for member in MEMBERS}
    small, large = by_name["resnet18"], by_name["resnet34"]
    assert body(small.code, small.name) == body(large.code, large.name)
    unreferenced = dataclasses.replace(small, plan=dataclasses.replace(small.plan, references=()))
    zoo = [unreferenced, large]
    assert representatives(zoo) == ["resnet18"]
    assert missing(["resnet18"], zoo) == [
        "reference library timm (held by resnet34)",
        "reference library torchvision (held by resnet34)",
    ]
    assert sample(zoo) == ["resnet18", "resnet34"]
