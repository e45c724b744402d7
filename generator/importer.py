"""`resnetgen import`: a timm or torchvision model, built with the user's arguments, as a spec.

The model's module tree is read into spec data (`generator.readers.tree`), written as
the shortest spec that reproduces it (`generator.shortest`), and that spec is built in
memory and held to the model, module by module, before it is written. Only this
command imports torch and the reference libraries.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .errors import Location, Problem, SpecError
from .load import LoadedSpec
from .references import ReferenceUnavailable, build_reference, split_reference
from .scaffold import cannot_write, check_name, schema_comment, spec_name, write_checked
from .shortest import Shortest, shortest_spec
from .source import parse_value


@dataclass(frozen=True)
class Imported:
    path: Path
    text: str
    extends: str | None  # the zoo spec it extends
    loadable: bool  # whether the reference's own checkpoints load into it


def import_reference(
    reference: str,
    arguments: tuple[str, ...] = (),
    name: str | None = None,
    directory: Path = Path("specs"),
    force: bool = False,
) -> Imported:
    """Write DIRECTORY/NAME.yaml: the spec of `reference` built with `arguments`."""
    where = Location(_command(reference, arguments))

    def refuse(message: str) -> SpecError:
        return SpecError([Problem(where, "", message)])

    keywords = _keywords(arguments)
    try:
        model_name = split_reference(reference)[1]
        model = build_reference(reference, keywords)
    except ReferenceUnavailable as error:
        raise refuse(str(error)) from None
    name = name or spec_name(Path(model_name))  # microsoft/resnet-50: resnet_50
    check_name(name, where)
    target = directory / f"{name}.yaml"
    if target.exists() and not force:
        raise refuse(f"{target} exists; --force replaces it, --name writes another")
    loadable = not keywords or _loads_checkpoints(model, reference)
    spec = spec_for(model, reference, loadable, arguments, name, directory)
    try:
        write_checked(directory, target, spec.text, check=partial(check_same_model, model=model))
    except OSError as error:
        raise cannot_write(target, error, where) from None
    return Imported(target, spec.text, spec.extends, loadable)


def spec_for(
    model: Any,
    reference: str,
    loadable: bool,
    arguments: tuple[str, ...],
    name: str,
    directory: Path,
) -> Shortest:
    """The shortest spec of `model`: `reference` built with `arguments`, its checkpoints
    `loadable` or not."""
    from .readers.common import NotExpressible
    from .readers.tree import read_model

    command = _command(reference, arguments)
    where = Location(command)
    try:
        data = read_model(model)
    except NotExpressible as error:
        raise SpecError([Problem(where, "", str(error))]) from None
    own: dict[str, Any] = {"name": name, "description": f"Read from {reference} by `{command}`."}
    if loadable:
        own["reference"] = reference
    try:
        return shortest_spec(data, own, directory, schema_comment(directory))
    except ValueError:
        message = "the model reads as spec data the language refuses; its bounds may be too tight"
        raise SpecError([Problem(where, "", message)]) from None


def check_same_model(loaded: LoadedSpec, model: Any) -> None:
    """Hold the spec's generated model to `model`: keys, shapes, dtypes, every layer."""
    from .readers.differences import layer_differences

    generated = instantiate(loaded, meta=True)
    where = Location(str(loaded.path))
    want, got = model.state_dict(), generated.state_dict()
    if list(want) != list(got):
        missing = [key for key in want if key not in got] or ["(order)"]
        extra = [key for key in got if key not in want]
        message = f"the spec's model differs in its keys: missing {missing[:3]}, extra {extra[:3]}"
        raise SpecError([Problem(where, "", message)])
    for key, value in want.items():
        if (value.shape, value.dtype) != (got[key].shape, got[key].dtype):
            message = f"{key}: {tuple(value.shape)} in the reference, {tuple(got[key].shape)} here"
            raise SpecError([Problem(where, "", message)])
    names = loaded.plan.checkpoint_names
    difference = next(layer_differences(model, generated, names), None)
    if difference is not None:
        raise SpecError([Problem(where, "", f"cannot be expressed: {difference}")])


def instantiate(loaded: LoadedSpec, meta: bool = False) -> Any:
    """The model a loaded spec generates, built from its rendered source."""
    import torch

    from .build import outputs

    code = outputs([loaded], str(loaded.path.parent))[0].text
    namespace: dict[str, Any] = {}
    exec(compile(code, f"{loaded.plan.name}.py", "exec"), namespace)
    if not meta:
        return namespace[loaded.plan.name]()
    with torch.device("meta"):
        return namespace[loaded.plan.name]()


def _loads_checkpoints(model: Any, reference: str) -> bool:
    """Whether the checkpoints of `reference` built without arguments load into `model`."""
    import copy

    import torch

    with torch.device("meta"):
        default = build_reference(reference)
    try:
        copy.deepcopy(model).to("meta").load_state_dict(default.state_dict(), assign=True)
    except RuntimeError:  # missing or unexpected keys, other shapes
        return False
    return True


def _keywords(arguments: tuple[str, ...]) -> dict[str, Any]:
    keywords = {}
    for argument in arguments:
        key, equals, text = argument.partition("=")
        shown = f"--arg {argument}"
        if not equals or not key.isidentifier():
            message = f"expected KEY=VALUE with KEY a constructor argument (given {argument!r})"
            raise SpecError([Problem(Location(shown), "", message)])
        keywords[key] = parse_value(text, shown)
    return keywords


def _command(reference: str, arguments: tuple[str, ...]) -> str:
    words = [word for argument in arguments for word in ("--arg", argument)]
    return shlex.join(["resnetgen", "import", reference, *words])
