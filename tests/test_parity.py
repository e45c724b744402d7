"""Every zoo model that names a reference is that reference: same keys, same logits.

The reference is built by torchvision or timm with random weights (no downloads); its
state_dict is loaded into the generated model with strict=True and both run on the
same input, in eval mode (running statistics) and in train mode (batch statistics), at
224x224 and at an odd size that exercises ceil modes and padding (128x128 and 97x103 for
models over 60 M parameters, 64x64 and 49x53 over 300 M).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest
import torch

from resnetgen.importer import instantiate
from resnetgen.load import LoadedSpec, load
from resnetgen.readers.state import read_state
from resnetgen.readers.tree import read_model
from resnetgen.references import build_reference
from resnetgen.shortest import network, same_network, shortest_spec
from resnetgen.state import state_shapes

from .conftest import (
    BY_SIZE,
    HUGE,
    ROOT,
    assert_same_tensor,
    module_of,
    randomise_norms,
    zoo_param,
    zoo_spec,
)

SIZES = [(224, 224), (161, 173)]
# The largest models' logits at smaller sizes (an odd one still), to keep CI short on two
# cores; their keys and shapes are compared in full all the same.
LARGE, LARGE_SIZES = 60_000_000, [(128, 128), (97, 103)]
HUGE_SIZES = [(64, 64), (49, 53)]
RESULTS = Path(os.environ.get("RESNETGEN_PARITY_RESULTS", ROOT / "build" / "parity.json"))
CASES = [(name, reference) for name in BY_SIZE for reference in zoo_spec(name).plan.references]


@pytest.fixture(scope="module")
def results():
    found: dict[str, dict[str, object]] = {}
    yield found
    if found:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        # Parallel workers each add their share: the lock keeps every worker's rows.
        with open(RESULTS.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
            previous.update(found)
            RESULTS.write_text(json.dumps(dict(sorted(previous.items())), indent=1) + "\n")


@pytest.mark.parametrize(("name", "reference"), [zoo_param(n, r, id=f"{n}-{r}") for n, r in CASES])
def test_same_network_as_the_reference(
    zoo_files, results, tmp_path, name: str, reference: str
) -> None:
    generator = torch.Generator().manual_seed(0)
    expected = build_reference(reference)
    imported = _imported(expected, name, reference, tmp_path)  # reads the init too: first
    randomise_norms(expected, generator)
    with torch.device("meta"):  # no init: every tensor comes from the reference
        actual = getattr(module_of(zoo_files[name]), name)()

    want, got = expected.state_dict(), actual.state_dict()
    assert list(got) == list(want)
    # `resnetgen import` of a checkpoint reads the reference's names and shapes back into
    # a network of exactly those.
    shapes = {key: tuple(value.shape) for key, value in want.items()}
    read = network({"name": "read", **read_state(shapes)[0]})
    assert read is not None and state_shapes(read) == shapes
    assert {k: (v.shape, v.dtype) for k, v in got.items()} == {
        k: (v.shape, v.dtype) for k, v in want.items()
    }
    # The two models share the weights, which no forward changes, and each has its own
    # buffers, which train mode updates; those are kept as they start, for the import's
    # model below.
    buffers = {key: want[key].clone() for key, _ in expected.named_buffers() if key in want}
    actual.load_state_dict({**want, **buffers}, strict=True, assign=True)
    initial = {**want, **{key: value.clone() for key, value in buffers.items()}}
    assert sum(p.numel() for p in actual.parameters()) == sum(
        p.numel() for p in expected.parameters()
    )
    assert sum(p.numel() for p in actual.parameters()) == zoo_spec(name).analysis.params

    worst = 0.0
    first: tuple[torch.Tensor, torch.Tensor] | None = None  # an input and its eval logits
    for mode in ("eval", "train"):
        expected.train(mode == "train")
        actual.train(mode == "train")
        # Two images in training: split attention normalises pooled features, one
        # value per channel and image, by the batch's statistics.
        batch = 2 if mode == "train" else 1
        sizes = _sizes(zoo_spec(name).analysis.params)
        for height, width in sizes:
            x = torch.randn(batch, 3, height, width, generator=generator)
            with torch.inference_mode():
                try:
                    torch.manual_seed(1)  # the same draws for dropout in training
                    want_logits = expected(x)
                except RuntimeError:  # timm's average anti-aliasing takes even sizes only
                    with pytest.raises(RuntimeError, match="must match the size"):
                        actual(x)
                    continue
                torch.manual_seed(1)
                got_logits = actual(x)
            torch.testing.assert_close(got_logits, want_logits)
            worst = max(worst, (got_logits - want_logits).abs().max().item())
            first = first or (x, want_logits)
    updated = actual.state_dict()  # running statistics after the train-mode passes
    for key, value in expected.state_dict().items():
        assert_same_tensor(updated[key], value, msg=key)
    results[f"{name} {reference}"] = {"keys_equal": True, "max_abs_diff": worst}

    # `resnetgen import` reads the reference back into the zoo spec's network (the same
    # but, perhaps, for the init), whose generated model gives the reference's logits.
    assert same_network(imported.plan, zoo_spec(name).plan)
    again = instantiate(imported, meta=True)
    again.load_state_dict(initial, strict=True, assign=True)  # the reference's, as it started
    again.eval()
    assert first is not None
    x, want_logits = first
    with torch.no_grad():
        torch.testing.assert_close(again(x), want_logits)


def _sizes(params: int) -> list[tuple[int, int]]:
    return HUGE_SIZES if params > HUGE else LARGE_SIZES if params > LARGE else SIZES


def _imported(model: torch.nn.Module, name: str, reference: str, folder: Path) -> LoadedSpec:
    """The spec `resnetgen import` writes for `model`, loaded from `folder`."""
    own = {"name": f"{name}_imported", "description": "", "reference": reference}
    path = folder / f"{name}_imported.yaml"
    path.write_text(shortest_spec(read_model(model), own, folder).text)
    return load(str(path))
