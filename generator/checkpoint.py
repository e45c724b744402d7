"""`resnetgen import PATH`: a checkpoint file, with no code beside it, as a spec whose
generated model loads it.

The file is opened safely (`readers.files`), its weights found in whatever holds them
(`readers.containers`), and their names and shapes read into spec data
(`readers.state`). What the weights cannot show comes from the zoo network whose keys
and shapes they are, else from the defaults, and is said as assumed. Before the spec is
written it is built in memory, the weights are loaded into it with strict=True and it
runs one forward with finite outputs.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import Location, PlanError, Problem, SpecError
from .inherit import deep_merge, nested, parse_setting
from .load import LoadedSpec, load
from .readers.common import ConfigNotFollowed, NotExpressible
from .readers.containers import Found, groups, weights_in, without_wrappers
from .readers.files import CheckpointError, Opened, Stored, open_checkpoint
from .scaffold import cannot_write, check_name, schema_comment, spec_name, write_checked
from .shortest import (
    anonymous,
    base_data,
    distance,
    network,
    reachable,
    same_network,
    shortest_spec,
    spec_yaml,
)
from .source import parse_value
from .state import Shapes, state_shapes
from .zoo_index import candidates

# The initialisers a model's constructor calls: idle while a checkpoint fills it instead.
INITIALISERS = ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "zeros_", "ones_")


@dataclass(frozen=True)
class CheckpointImport:
    path: Path  # the spec written
    text: str
    found: Found  # where the weights were
    base: str | None  # the zoo network whose settings stand for what the weights cannot show
    exact: bool  # the weights are that network's exactly (else but for classes and inputs)
    matches: tuple[str, ...]  # the zoo networks of these keys and shapes, the base first
    assumed: tuple[str, ...]  # without a base: the defaults that stand for what they cannot show
    load_line: str  # how the generated model loads the file


def import_checkpoint(
    path: Path,
    name: str | None = None,
    directory: Path = Path("specs"),
    force: bool = False,
    overrides: tuple[str, ...] = (),
) -> CheckpointImport:
    """Write DIRECTORY/NAME.yaml: the spec of the network whose weights `path` holds."""
    where = Location(str(path))

    def refuse(message: str) -> SpecError:
        return SpecError([Problem(where, "", message)])

    try:
        opened = open_checkpoint(path)
        found, data, assumed, settled = _read(opened)
    except CheckpointError as error:
        raise refuse(str(error)) from None
    except (NotExpressible, ValueError) as error:
        raise refuse(_not_read(error)) from None
    name = name or spec_name(path)
    check_name(name, where)
    target = directory / f"{name}.yaml"
    if target.exists() and not force:
        raise refuse(f"{target} exists; --force replaces it, --name writes another")
    own = {"name": name, "description": _description(path)}
    architecture = _config_architecture(opened)
    spec = _spec(data, own, directory, architecture, _overrides(overrides), settled)
    try:
        write_checked(
            directory, target, spec.text, check=lambda loaded: prove(loaded, found.tensors)
        )
    except OSError as error:
        raise cannot_write(target, error, where) from None
    return CheckpointImport(
        path=target,
        text=spec.text,
        found=found,
        base=spec.base,
        exact=spec.exact,
        matches=spec.matches,
        assumed=() if spec.base else tuple(assumed),
        load_line=load_line(opened, found),
    )


def _not_read(error: Exception) -> str:
    if isinstance(error, NotExpressible):
        return f"not a network the spec language has: {error.module}: {error.reason}"
    return str(error)


def _read(opened: Opened) -> tuple[Found, dict[str, Any], list[str], bool]:
    """The weights, the spec data their names and shapes read as, what it assumed and
    whether a config settled some of it: all the names, or the one part of them (a
    backbone's) that reads as a network."""
    from .readers.state import read_settled, read_state

    tensors, entry, others = weights_in(opened.content, _is_tensor)
    tensors, prefix = without_wrappers(tensors)
    try:
        data, assumed, settled = read_settled(_shapes(tensors), opened.config)
        return Found(tensors, entry, others, prefix, ()), data, assumed, bool(settled)
    except ConfigNotFollowed:
        raise
    except NotExpressible as whole:
        parts = list(groups(tensors))
        for part, below in parts:
            try:
                data, assumed = read_state(_shapes(below))
            except NotExpressible:
                continue
            left = tuple(p for p, _ in parts if p != part)
            return Found(below, entry, others, f"{prefix}{part}.", left), data, assumed, False
        raise whole from None


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor | Stored)


def _shapes(tensors: dict[str, Any]) -> Shapes:
    return {name: tuple(value.shape) for name, value in tensors.items()}


@dataclass(frozen=True)
class _Spec:
    text: str
    base: str | None
    exact: bool
    matches: tuple[str, ...]


def _spec(
    data: dict[str, Any],
    own: dict[str, Any],
    directory: Path,
    architecture: str | None,
    changes: dict[str, Any],
    settled: bool = False,
) -> _Spec:
    """The spec text: the zoo network the weights are (extended, with its reference), or
    the one they are but for the classes and input channels, or else the data read. Where
    a config settled what weights cannot show, the zoo network must agree with it."""
    comment = schema_comment(directory)
    read = network({**own, **data})
    if read is None:
        message = "the weights read as a network the spec language refuses"
        raise SpecError([Problem(Location(own["name"]), "", message)])
    state = state_shapes(read)
    exact, near = candidates(read)
    exact = [zoo for zoo in exact if _zoo_state(zoo) == state]
    matches = exact or [zoo for zoo in near if _near(data, state, zoo)]
    if matches:
        base = _preferred(matches, read, architecture)
        child = deep_merge({} if exact else _changes(data, base), changes)
        based = network({**own, **deep_merge(base_data(base), child)})
        agrees = based is not None and (not settled or same_network(based, read))
        if reachable(base, own["name"], directory) and agrees:
            if exact and not changes and load(base).plan.references:
                own = {**own, "reference": list(load(base).plan.references)}
            text = spec_yaml({**own, "extends": base, **child}, comment)
            ordered = (base, *(zoo for zoo in matches if zoo != base))
            return _Spec(text, base, bool(exact), ordered)
    shortest = shortest_spec(deep_merge(data, changes), own, directory, comment)
    return _Spec(shortest.text, None, False, ())


@functools.cache
def _zoo_state(name: str) -> Shapes:
    return state_shapes(load(name).plan)


def _near(data: dict[str, Any], state: Shapes, zoo: str) -> bool:
    """Whether the zoo network's state is this one but for the classes and input channels."""
    plan = network({"name": "x", **deep_merge(base_data(zoo), _changes(data, zoo))})
    return plan is not None and state_shapes(plan) == state


def _changes(data: dict[str, Any], base: str) -> dict[str, Any]:
    """What the weights show of the classes and input channels, where they differ from
    the zoo network's."""
    plan = load(base).plan
    changes: dict[str, Any] = {}
    if data["head"]["num_classes"] != plan.head.num_classes:
        changes["head"] = {"num_classes": data["head"]["num_classes"]}
    if data["input"]["channels"] != plan.in_channels:
        changes["input"] = {"channels": data["input"]["channels"]}
    return changes


def _preferred(candidates: list[str], read: Any, architecture: str | None) -> str:
    """The config's architecture where it is one, else the network nearest the data read
    with the defaults for what the weights cannot show (resnet50 before resnetaa50)."""
    if architecture in candidates:
        return architecture  # type: ignore[return-value]
    target = anonymous(read)
    return min(candidates, key=lambda zoo: distance(anonymous(load(zoo).plan), target))


def _overrides(overrides: tuple[str, ...]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for override in overrides:
        shown, parts, text = parse_setting("--set", override)
        changes = deep_merge(changes, nested(parts, parse_value(text, shown)))
    return changes


def _config_architecture(opened: Opened) -> str | None:
    """A timm hub folder's config names the model it holds."""
    architecture = (opened.config or {}).get("architecture")
    return architecture if isinstance(architecture, str) else None


def _description(path: Path) -> str:
    name = path.name if re.fullmatch(r"[\w.+-]{1,80}", path.name) else "a checkpoint"
    return f"Read from {name} by `resnetgen import`."


# The proof --------------------------------------------------------------------------------


def prove(loaded: LoadedSpec, tensors: dict[str, Any]) -> None:
    """The spec's model takes the weights with strict=True and runs on them."""
    import torch

    from .analysis import analyse
    from .importer import instantiate

    where = Location(str(loaded.path))

    def refuse(message: str) -> SpecError:
        return SpecError([Problem(where, "", message)])

    with _no_init():  # every weight comes from the file
        model = instantiate(loaded, meta=True)
    wanted = model.state_dict()
    counts = [k for k in wanted if k.endswith("num_batches_tracked") and k not in tensors]
    missing = [k for k in wanted if k not in tensors and k not in counts]
    if missing:
        raise refuse(f"{missing[0]}: a layer of the spec's model with no tensor in the file")
    extra = next((k for k in tensors if k not in wanted), None)
    if extra is not None:
        raise refuse(f"{extra}: a tensor of the file no layer of the spec's model takes")
    state = {key: _loaded(tensors[key]) for key in wanted if key not in counts}
    state |= {key: torch.zeros((), dtype=torch.long) for key in counts}  # as torch fills them
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        shape = re.search(r"size mismatch for ([\w.]+)", str(error))
        raise refuse(
            f"{shape.group(1) if shape else 'a tensor'}: a shape the spec's layer has not"
        ) from None
    side = next((s for s in range(1, 257) if _takes(analyse, loaded, s)), 224)  # the smallest
    x = torch.randn(
        1, loaded.plan.in_channels, side, side, generator=torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        out = model.eval()(x)
    if not torch.isfinite(out).all():
        raise refuse(f"the model loaded with the file gives non-finite outputs at {side}x{side}")


@contextlib.contextmanager
def _no_init() -> Iterator[None]:
    """torch.nn.init's initialisers idle: a model built on the meta device for a
    checkpoint's weights need not draw any (drawing on meta costs Python all the same)."""
    from torch.nn import init

    saved = {name: getattr(init, name) for name in INITIALISERS}
    try:
        for name in INITIALISERS:
            setattr(init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def _takes(analyse: Any, loaded: LoadedSpec, side: int) -> bool:
    try:
        analyse(loaded.plan, (side, side))
    except PlanError:
        return False
    return True


def _loaded(value: Any) -> Any:
    """A tensor of the file, in float32 where it is floating (as the model computes)."""
    tensor = value.read() if isinstance(value, Stored) else value
    return tensor.float() if tensor.is_floating_point() else tensor


def load_line(opened: Opened, found: Found) -> str:
    """The Python that loads the file into the generated model, prefix and all."""
    files = [str(file) for file in opened.files]
    if files[0].endswith(".safetensors"):
        lines = ["from safetensors.torch import load_file"]
        if len(files) == 1:
            lines.append(f"state = load_file({files[0]!r})")
        else:
            lines.append(f"state = {{k: v for f in {files!r} for k, v in load_file(f).items()}}")
    else:
        load = "torch.load({}, map_location='cpu', weights_only=True)"
        if len(files) == 1:
            lines = [f"state = {load.format(repr(files[0]))}"]
        else:
            lines = [f"state = {{k: v for f in {files!r} for k, v in {load.format('f')}.items()}}"]
        if found.entry:
            lines[-1] += f"[{found.entry!r}]"
        if opened.arguments:  # the training run's arguments: plain data, allowed by name
            lines = [
                "import argparse",
                "with torch.serialization.safe_globals([argparse.Namespace]):",
                f"    {lines[0]}",
            ]
    prefix = repr(found.prefix)
    if found.left:  # the network's part alone
        taken = f"k.removeprefix({prefix}): v for k, v in state.items() if k.startswith({prefix})"
        lines.append(f"state = {{{taken}}}")
    elif found.prefix:
        consume = "torch.nn.modules.utils.consume_prefix_in_state_dict_if_present"
        lines.append(f"{consume}(state, {prefix})")
    lines.append("model.load_state_dict(state)")
    return "\n".join(lines)
