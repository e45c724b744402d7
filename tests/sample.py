"""The default tier's sample of the zoo, derived from the zoo itself.

The slow tier runs the per-network tests (parity with the reference, forward and
backward, the analysis against the built model, the deployment paths) over the whole
zoo. The default tier runs them over a sample that still takes every code path:

- `sample`: the `representatives`, the smallest network of every distinct generated code
  body (the file with its docstrings, factory name and numbers blanked: networks whose
  files differ only in numbers run the same Python), then the smallest network of every
  value of the axes below that those leave out;
- `deployment_sample`: among the representatives, a few that together hold every
  distinct method and function a built model runs (all but the factory, the
  constructors and what they call), each taking the deployment paths (compile,
  TorchScript, export, ONNX, ...).

Both follow `specs/`: a spec that brings a new body or value joins the sample by itself,
and `missing` names what a sample lacks.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from resnetgen.build import outputs
from resnetgen.load import load
from resnetgen.plan import Plan
from resnetgen.resources import natural_key


@dataclass(frozen=True)
class Member:
    """A zoo network, as the sample sees it."""

    name: str
    plan: Plan
    params: int
    code: str  # its generated file


def members(paths: Iterable[Path]) -> list[Member]:
    """The networks of the specs at `paths`, each with the file it generates."""
    specs = [load(str(path)) for path in paths]
    files = [output for output in outputs(specs, "generated") if output.path.suffix == ".py"]
    return [
        Member(spec.plan.name, spec.plan, spec.analysis.params, file.text)
        for spec, file in zip(specs, files, strict=True)
    ]


# What every network is made of, by axis: a value the zoo holds is a value the sample holds.
AXES: dict[str, Callable[[Plan], Iterable[str]]] = {
    "layout": lambda plan: [plan.layout.name],
    "block": lambda plan: [stage.block for stage in plan.stages],
    "stem": lambda plan: [plan.stem.type],
    "shortcut": lambda plan: [plan.shortcut],
    "norm": lambda plan: [plan.norm],
    "attention": lambda plan: [plan.attention],
    "anti_alias": lambda plan: [plan.anti_alias],
    "reference library": lambda plan: [ref.partition("/")[0] for ref in plan.references],
}
# The methods that run only while a model is built, not on a built one.
CONSTRUCTORS = (".__init__", ".reset_parameters")


def values(plan: Plan) -> set[tuple[str, str]]:
    """(axis, value) for every axis value the network holds."""
    return {(axis, value) for axis, read in AXES.items() for value in read(plan)}


def _blanked(code: str, name: str) -> str:
    """Code with its docstrings, factory name and numbers blanked."""
    code = re.sub(r'""".*?"""', "", code, flags=re.S)
    code = re.sub(rf"\b{name}\b", "factory", code)
    code = re.sub(r"\d+", "0", code)
    # A list of numbers, however long and however ruff lays it out, is numbers too.
    return re.sub(r"\[[\s(),0]+\]", "[0]", code)


def body(code: str, name: str) -> str:
    """A generated file's code but for its numbers, its header and docstring aside."""
    return _blanked(code.split('"""', 2)[2], name)


def running_parts(member: Member) -> set[str]:
    """Every method and function of the file that a built model runs, numbers blanked:
    all but the factory, the constructors and the functions only they call."""
    tree = ast.parse(member.code)
    functions: dict[str, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    functions[f"{node.name}.{item.name}"] = item
        elif isinstance(node, ast.FunctionDef):
            functions[node.name] = node
    building = {member.name} | {name for name in functions if name.endswith(CONSTRUCTORS)}
    pending = list(building)
    while pending:  # what the builders call, and what that calls in turn
        for node in ast.walk(functions[pending.pop()]):
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if called and node.func.id in functions and node.func.id not in building:
                building.add(node.func.id)
                pending.append(node.func.id)
    lines = member.code.splitlines()
    return {
        name + ": " + _blanked("\n".join(lines[node.lineno - 1 : node.end_lineno]), member.name)
        for name, node in functions.items()
        if name not in building
    }


def representatives(zoo: list[Member]) -> list[str]:
    """The smallest network of each code body."""
    smallest: dict[str, Member] = {}
    for member in _smallest_first(zoo):
        smallest.setdefault(body(member.code, member.name), member)
    return _in_order(zoo, {member.name for member in smallest.values()})


def sample(zoo: list[Member]) -> list[str]:
    """The smallest network of each code body, then of each axis value still missing."""
    names = set(representatives(zoo))
    held = set().union(*(values(member.plan) for member in zoo if member.name in names))
    for member in _smallest_first(zoo):
        if values(member.plan) - held:
            names.add(member.name)
            held |= values(member.plan)
    return _in_order(zoo, names)


def _smallest_first(zoo: list[Member]) -> list[Member]:
    """By parameters, then by name as the zoo lists them (resnet50_os8 before
    resnet50_os16): the sample is the same in whatever order the zoo is read."""
    return sorted(zoo, key=lambda member: (member.params, natural_key(member.name)))


def _in_order(zoo: list[Member], names: set[str]) -> list[str]:
    return [member.name for member in zoo if member.name in names]


def deployment_sample(zoo: list[Member], among: list[str]) -> list[str]:
    """Few of `among` that together hold every running part any of them holds, chosen
    greedily: each time the one holding the most parts not yet held (the smallest of those)."""
    members = [member for member in _smallest_first(zoo) if member.name in among]
    parts = {member.name: running_parts(member) for member in members}
    held: set[str] = set()
    chosen: set[str] = set()
    wanted = set().union(*parts.values())
    while held != wanted:
        best = max(members, key=lambda member: len(parts[member.name] - held))
        chosen.add(best.name)
        held |= parts[best.name]
    return _in_order(zoo, chosen)


def missing(names: Iterable[str], zoo: list[Member]) -> list[str]:
    """What the networks `names` leave out of the zoo: each code body and axis value none
    of them holds, with the zoo network that holds it."""
    inside = [member for member in zoo if member.name in set(names)]
    bodies = {body(member.code, member.name) for member in inside}
    held = set().union(*(values(member.plan) for member in inside))
    lacking = []
    for member in zoo:
        if body(member.code, member.name) not in bodies:
            lacking.append(f"the code body of {member.name}")
            bodies.add(body(member.code, member.name))
        for axis, value in sorted(values(member.plan) - held):
            lacking.append(f"{axis} {value} (held by {member.name})")
            held.add((axis, value))
    return lacking
