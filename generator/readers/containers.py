"""Finding a network's weights in what a checkpoint holds: the entry of a training
checkpoint they are under, and the prefix a wrapper put before their names.

timm's train.py keeps them under `state_dict` (and `state_dict_ema`), torchvision's
reference scripts under `model` (and `model_ema`), mmengine and Lightning under
`state_dict`; a bare state_dict is the weights itself. DataParallel prefixes every name
with `module.`, torch.compile with `_orig_mod.`, a detector or classifier wrapper with
`backbone.`, `model.` or `encoder.`; a prefix is taken off only where every name has it
whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# The entries the weights may be under, the model's own first and their EMA after.
ENTRIES = ("state_dict", "model", "state_dict_ema", "model_ema", "module")
# The prefixes wrappers put before every name, each taken off where all names have it.
WRAPPERS = ("module.", "_orig_mod.", "model.", "backbone.", "encoder.")


@dataclass(frozen=True)
class Found:
    """A network's weights, and where in the checkpoint they were."""

    tensors: dict[str, Any]  # name -> tensor (or a file's Stored)
    entry: str | None  # the container's key they were under; None: the file is the weights
    others: tuple[str, ...]  # other entries of the container that hold weights too
    prefix: str  # taken off every name ("" for none)
    left: tuple[str, ...]  # the names' first parts beside the prefix, not taken

    def described(self) -> str:
        where = f"took {self.entry!r}" if self.entry else "a bare state_dict"
        if self.others:
            where += f" (also there: {', '.join(map(repr, self.others))})"
        if self.prefix:
            where += f", names prefixed {self.prefix!r}"
        if self.left:
            where += f"; left the rest ({', '.join(part + '.' for part in self.left)})"
        return where


def weights_in(
    content: Any, is_tensor: Callable[[Any], bool]
) -> tuple[dict[str, Any], str | None, tuple[str, ...]]:
    """The state_dict in `content`, the entry it was under, and the other entries that
    hold weights too; ValueError where there is none."""
    if _is_state(content, is_tensor):
        return dict(content), None, ()
    if not isinstance(content, Mapping):
        raise ValueError(
            f"holds a {type(content).__name__}, not a state_dict or a checkpoint of one"
        )
    held = [key for key in ENTRIES if _is_state(content.get(key), is_tensor)]
    if not held:
        keys = ", ".join(repr(key) for key in list(content)[:6] if isinstance(key, str))
        raise ValueError(f"holds no state_dict (its entries: {keys or 'none by name'})")
    entry = held[0]
    return dict(content[entry]), entry, tuple(held[1:])


def _is_state(value: Any, is_tensor: Callable[[Any], bool]) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(key, str) and is_tensor(item) for key, item in value.items())
    )


def without_wrappers(tensors: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The names without every wrapper prefix all of them have, and the prefix taken."""
    taken = ""
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPERS:
            if all(name.startswith(prefix) for name in tensors):
                tensors = {name.removeprefix(prefix): value for name, value in tensors.items()}
                taken, changed = taken + prefix, True
    return tensors, taken


def groups(tensors: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each leading part of the names with the tensors under it, its prefix taken off: the
    candidates where only part of a checkpoint is the network (a detector's backbone)."""
    parts = dict.fromkeys(name.split(".", 1)[0] for name in tensors if "." in name)
    for part in parts:
        prefix = f"{part}."
        yield part, {n.removeprefix(prefix): v for n, v in tensors.items() if n.startswith(prefix)}
