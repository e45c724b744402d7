"""The zoo's networks by the keys and shapes of their state, so that `import` finds the
network a checkpoint is without planning the whole zoo.

Each zoo network has two fingerprints: of its whole state, and of its state but for the
classifier and the input channels (a fine-tuned or grayscale copy's). `zoo_index.json`
holds them; `python -m resnetgen.zoo_index` writes it again, and a test holds it to the
zoo.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .state import Shapes, state_shapes

if TYPE_CHECKING:
    from .plan import Plan

INDEX = Path(__file__).resolve().parent / "zoo_index.json"


def fingerprints(plan: Plan) -> tuple[str, str]:
    """The fingerprint of a network's state, and of it but for classes and input channels
    (under the file's own names and its layout's, so that a headless copy, whose layout
    may name it differently, is found too)."""
    own = state_shapes(plan, own_names=True)
    body = {f"{plan.layout.name}:{key}": shape for key, shape in own.items()}
    return _digest(state_shapes(plan)), _digest(_without_head_and_input(body, plan))


def _without_head_and_input(shapes: Shapes, plan: Plan) -> Shapes:
    layout = plan.layout.name
    classifier = f"{layout}:{plan.layout.classifier}."
    first_conv = f"{layout}:{plan.stem.layers[0][0]}.weight"
    kept = {key: shape for key, shape in shapes.items() if not key.startswith(classifier)}
    out, _, *kernel = kept[first_conv]
    return {**kept, first_conv: (out, 0, *kernel)}


def _digest(shapes: Shapes) -> str:
    text = "\n".join(f"{key} {list(shape)}" for key, shape in sorted(shapes.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def computed() -> dict[str, dict[str, list[str]]]:
    """The index of the zoo as it is: each fingerprint with the zoo networks that have it."""
    from .load import load
    from .resources import zoo_names

    exact: dict[str, list[str]] = {}
    near: dict[str, list[str]] = {}
    for name in zoo_names():
        whole, body = fingerprints(load(name).plan)
        exact.setdefault(whole, []).append(name)
        near.setdefault(body, []).append(name)
    return {"exact": exact, "near": near}


def candidates(plan: Plan) -> tuple[list[str], list[str]]:
    """The zoo networks whose state is this network's, and those whose state is it but for
    the classes and input channels."""
    index = json.loads(INDEX.read_text(encoding="utf-8"))
    whole, body = fingerprints(plan)
    return index["exact"].get(whole, []), index["near"].get(body, [])


if __name__ == "__main__":
    INDEX.write_text(json.dumps(computed(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
