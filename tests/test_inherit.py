"""`extends:`: deep merge, own fields, positions from the file that set each value."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnetgen.errors import SpecError
from resnetgen.inherit import MAX_CHAIN, resolve
from resnetgen.load import load
from resnetgen.resources import zoo_path

from .conftest import ZOO

BASE = """\
name: base
description: the base network
reference: timm/resnet50
stem:
  type: deep
  pool:
    type: max
    ceil_mode: true
stages:
  block: bottleneck
  depths: [3, 4, 6, 3]
"""


def test_child_overrides_one_nested_field_and_keeps_the_rest(write_spec) -> None:
    write_spec(BASE, "base.yaml")
    child = write_spec(
        "name: child\nextends: base\nstem:\n  pool:\n    ceil_mode: false\n", "child.yaml"
    )
    resolved = resolve(child)
    assert resolved.data["stem"] == {"type": "deep", "pool": {"type": "max", "ceil_mode": False}}
    assert resolved.data["stages"]["depths"] == [3, 4, 6, 3]


def test_own_fields_are_not_inherited(write_spec) -> None:
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base\n", "child.yaml")
    data = resolve(child).data
    assert data["name"] == "child"
    assert "description" not in data and "reference" not in data


def test_lists_are_replaced_not_merged(write_spec) -> None:
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base\nstages:\n  depths: [2, 2]\n", "child.yaml")
    assert resolve(child).data["stages"]["depths"] == [2, 2]


def test_positions_name_the_file_that_set_the_value(write_spec, tmp_path: Path) -> None:
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base.yaml\nstages:\n  depths: [2, 2]\n", "child.yaml")
    resolved = resolve(child, "child.yaml")
    assert str(resolved.locate(("stem", "pool", "ceil_mode"))) == "base.yaml:8:16"
    assert str(resolved.locate(("stages", "depths", 1))) == "child.yaml:4:15"
    assert str(resolved.locate(("stages", "block"))) == "base.yaml:10:10"


def test_error_in_inherited_value_points_at_the_parent(write_spec) -> None:
    write_spec(BASE.replace("depths: [3, 4, 6, 3]", "depths: [3, 0, 6, 3]"), "base.yaml")
    child = write_spec("name: child\nextends: base\n", "child.yaml")
    with pytest.raises(SpecError) as caught:
        load(str(child))
    (problem,) = caught.value.problems
    assert str(problem).startswith(f"{child.parent / 'base.yaml'}:11:15: stages.depths.1: ")


def test_zoo_parent_by_name(write_spec) -> None:
    child = write_spec("name: mine\nextends: resnet50d\nhead:\n  num_classes: 10\n")
    loaded = load(str(child))
    assert loaded.plan.stem.type == "deep" and loaded.plan.shortcut == "avg_down"
    assert loaded.plan.head.num_classes == 10
    assert len(loaded.source.chain) == 4  # mine, resnet50d, resnet50c, resnet50


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"spec.yaml": "name: a\nextends: resnet5O\n"},
            "no spec 'resnet5O' next to this file or in the zoo; did you mean 'resnet50'?",
        ),
        ({"spec.yaml": "name: a\nextends: spec.yaml\n"}, "a spec cannot extend itself"),
        (
            {"spec.yaml": "name: a\nextends: b\n", "b.yaml": "name: b\nextends: spec\n"},
            "a spec cannot extend itself",
        ),
        (
            {"spec.yaml": "name: a\nextends: /etc/hosts.yaml\n"},
            "should be a path inside this spec's project (given '/etc/hosts.yaml')",
        ),
        (
            {"spec.yaml": "name: a\nextends: ../../../../etc/hostname\n"},
            "should be a path inside this spec's project",
        ),
        (
            {"spec.yaml": "name: a\nextends: sub/notes.txt\n"},
            "should name a .yaml or .yml spec file (given 'sub/notes.txt')",
        ),
        ({"spec.yaml": "name: a\nextends: sub/none.yaml\n"}, "no spec file at 'sub/none.yaml'"),
        (
            {"spec.yaml": "name: a\nextends: 3\n"},
            "should be a spec name or a relative path (given 3)",
        ),
    ],
)
def test_bad_extends(write_spec, files: dict[str, str], expected: str) -> None:
    for name, text in files.items():
        path = write_spec(text, name)
    with pytest.raises(SpecError) as caught:
        resolve(path.parent / "spec.yaml")
    assert expected in str(caught.value)
    assert ":2:10: extends: " in str(caught.value)


def test_chain_length_is_bounded(write_spec) -> None:
    last = MAX_CHAIN + 4
    for index in range(last):
        write_spec(f"name: s{index}\nextends: s{index + 1}\n", f"s{index}.yaml")
    write_spec(f"name: s{last}\nstages:\n  block: basic\n  depths: [1]\n", f"s{last}.yaml")
    with pytest.raises(SpecError, match=f"more than {MAX_CHAIN} levels of extends"):
        resolve(write_spec("name: s0\nextends: s1\n", "s0.yaml"))


def test_every_zoo_spec_leaves_room_for_a_users_chain_above_it(write_spec) -> None:
    # The zoo's deepest chain (resnetv2_101x3_bit's: 8 specs down to resnet18) with a
    # user's specs extending one another above it, as many levels again.
    deepest = max(ZOO, key=lambda name: len(resolve(zoo_path(name)).chain))
    depth = len(resolve(zoo_path(deepest)).chain)
    for index in range(MAX_CHAIN - depth - 1):
        write_spec(f"name: u{index}\nextends: u{index + 1}\n", f"u{index}.yaml")
    write_spec(
        f"name: u{MAX_CHAIN - depth - 1}\nextends: {deepest}\n", f"u{MAX_CHAIN - depth - 1}.yaml"
    )
    assert depth <= MAX_CHAIN // 2
    assert resolve(write_spec("name: u0\nextends: u1\n", "u0.yaml")).data["name"] == "u0"


def test_a_spec_named_after_a_zoo_spec_extends_the_zoos(write_spec) -> None:
    mine = write_spec(
        "name: resnet50\nextends: resnet50\nhead:\n  num_classes: 10\n", "resnet50.yaml"
    )
    loaded = load(str(mine))
    assert loaded.plan.head.num_classes == 10
    assert loaded.source.chain[1].path.parent.name == "specs"


def test_extends_never_reads_a_file_outside_the_specs_directory(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("name: outside\nstem:\n  type: deep\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "linked.yaml").symlink_to(tmp_path / "outside.yaml")
    for parent in ("../outside.yaml", "linked.yaml"):
        (inner / "spec.yaml").write_text(f"name: a\nextends: {parent}\n")
        with pytest.raises(SpecError, match="should be a path inside this spec's project"):
            resolve(inner / "spec.yaml")


def test_extends_reaches_across_its_own_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "base.yaml").write_text("name: base\nextends: resnet18\n")
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "spec.yaml").write_text("name: a\nextends: ../common/base.yaml\n")
    assert load(str(tmp_path / "team" / "spec.yaml")).analysis.params == 11_689_512


@pytest.mark.parametrize(
    ("parent", "link", "expected"),
    [
        ("loop.yaml", "loop.yaml", "cannot be used as a spec path: symlink loop"),
        ("a" * 300 + ".yaml", None, "cannot be used as a spec path: file name too long"),
        ("probe", "/etc/hostname", "should be a path inside this spec's project"),
    ],
)
def test_unusable_parent_paths(tmp_path: Path, parent: str, link: str | None, expected) -> None:
    if link is not None:
        (tmp_path / (parent if parent.endswith(".yaml") else parent + ".yaml")).symlink_to(link)
    (tmp_path / "spec.yaml").write_text(f"name: a\nextends: {parent}\n")
    with pytest.raises(SpecError, match=expected):
        resolve(tmp_path / "spec.yaml")


def test_an_error_in_a_parent_reached_through_a_link_names_the_file_read(tmp_path: Path) -> None:
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "real" / "x.yaml").write_text("name: x\nstages:\n  depths: [0]\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "x.yaml").write_text("name: decoy\n")
    (tmp_path / "specs" / "link").symlink_to(tmp_path / "real" / "deep")
    (tmp_path / "specs" / "spec.yaml").write_text("name: a\nextends: link/../x.yaml\n")
    (tmp_path / ".git").mkdir()
    with pytest.raises(SpecError) as caught:
        load(str(tmp_path / "specs" / "spec.yaml"))
    assert str(caught.value).startswith(f"{tmp_path / 'real' / 'x.yaml'}:3:")
