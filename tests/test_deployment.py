"""The paths PyTorch users take a model down, for every distinct generated file in the zoo.

torch.compile, TorchScript, torch.fx, torch.export, ONNX under onnxruntime,
channels_last, bfloat16 autocast, deepcopy, pickle, state_dict round trips, per-stage
features, SyncBatchNorm and a two-process DistributedDataParallel step. Each must give
eager's outputs. REPRESENTATIVES holds one zoo model per distinct code body (see
tests/sample.py); the others differ from theirs only in numbers. The slow tier takes
every one down every path; the default tier those of DEPLOYED, which together hold
every method a built model runs. Each runs at its smallest (`smallest_file`: two blocks
a stage, where its code stays the zoo file's), built once per worker and copied for
every test; bfloat16 autocast, held to the reference's own precision, runs the zoo
model itself.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import os
import pickle
import socket
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import onnxruntime
import pytest
import torch

from resnetgen.analysis import analyse
from resnetgen.references import ReferenceUnavailable, build_reference

from .conftest import (
    DEPLOYED,
    REPRESENTATIVES,
    ROOT,
    ZOO,
    grouped,
    import_file,
    randomise_norms,
    zoo_spec,
)

SIDE = 64


def _model(module: ModuleType, name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """An eval-mode model with random norms, and an input for it."""
    generator = torch.Generator().manual_seed(0)
    model = getattr(module, name)().eval()
    randomise_norms(model, generator)
    x = torch.randn(2, zoo_spec(name).plan.in_channels, SIDE, SIDE, generator=generator)
    return model, x


@dataclass
class Deployed:
    """A representative at its smallest, built once: each test takes a copy."""

    name: str
    module: ModuleType  # the generated file's, whose classes built the model
    model: torch.nn.Module
    x: torch.Tensor
    logits: torch.Tensor  # eager's, in eval mode
    shared: dict[str, object] = field(default_factory=dict)  # work two tests share

    def copy(self) -> torch.nn.Module:
        return copy.deepcopy(self.model)

    def exported(self) -> torch.export.ExportedProgram:
        """torch.export's program of the model, for the export and ONNX tests both."""
        if "exported" not in self.shared:
            self.shared["exported"] = torch.export.export(self.copy(), (self.x,))
        return self.shared["exported"]  # type: ignore[return-value]


@pytest.fixture(scope="module", params=grouped(REPRESENTATIVES, default=DEPLOYED))
def deployed(request, smallest_file) -> Deployed:
    name = request.param
    module = import_file(smallest_file(name))
    model, x = _model(module, name)
    with torch.no_grad():
        logits = model(x)
    return Deployed(name, module, model, x, logits)


def _same(actual: torch.Tensor, expected: torch.Tensor, relative: float = 1e-5) -> None:
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=relative, atol=relative * scale)


def test_torch_compile_full_graph(deployed: Deployed) -> None:
    torch._dynamo.reset()
    compiled = torch.compile(deployed.copy(), fullgraph=True, backend="eager")
    with torch.no_grad():
        _same(compiled(deployed.x), deployed.logits, 1e-4)


def test_torchscript_with_a_save_and_load(deployed: Deployed) -> None:
    model, x = deployed.copy(), deployed.x
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(model), buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        _same(loaded(x), deployed.logits)
        _same(loaded.forward_stages(x)[-1], model.forward_stages(x)[-1])


def test_fx_symbolic_trace(deployed: Deployed) -> None:
    traced = torch.fx.symbolic_trace(deployed.copy())
    with torch.no_grad():
        _same(traced(deployed.x), deployed.logits)


def test_torch_export(deployed: Deployed) -> None:
    with torch.no_grad():
        _same(deployed.exported().module()(deployed.x), deployed.logits)


def test_onnx_under_onnxruntime(deployed: Deployed) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(deployed.exported(), (deployed.x,), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(
        program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (logits,) = session.run(None, {session.get_inputs()[0].name: deployed.x.numpy()})
    _same(torch.from_numpy(logits), deployed.logits, 1e-4)


def test_channels_last(deployed: Deployed) -> None:
    model = deployed.copy().to(memory_format=torch.channels_last)
    with torch.no_grad():
        _same(model(deployed.x.to(memory_format=torch.channels_last)), deployed.logits, 1e-4)


@pytest.mark.parametrize("name", grouped(REPRESENTATIVES, default=DEPLOYED))
def test_bfloat16_autocast(zoo_files, name: str) -> None:
    model, x = _model(import_file(zoo_files[name]), name)
    low, expected = _bfloat16_and_float32(model, x)
    assert low.dtype == torch.bfloat16
    # bfloat16 keeps about three significant digits; where a reference's own model loses
    # more on the same weights (BiT's standardised weights, at random init), no more
    # than it does.
    allowed = 0.05
    references = zoo_spec(name).plan.references
    if references:
        reference = _reference_holding(references[0], model.state_dict())
        reference_low, reference_expected = _bfloat16_and_float32(reference, x)
        allowed = max(allowed, 1.25 * _departure(reference_low, reference_expected))
    _same(low.float(), expected, allowed)


def _reference_holding(reference: str, state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The reference model with `state` for its weights, built without an init of its own
    (no more than the copy's), unless a buffer of its own (timm's blur filter) is not in it
    or the library cannot build on the meta device (mmpretrain's drop path rates)."""
    try:
        with torch.device("meta"):
            model = build_reference(reference)
        model.load_state_dict(state, assign=True)
    except ReferenceUnavailable as error:
        assert "meta tensor" in str(error), error
        model = build_reference(reference)
    if any(tensor.is_meta for tensor in itertools.chain(model.parameters(), model.buffers())):
        model = build_reference(reference)
        model.load_state_dict(state)
    return model.eval()


def _bfloat16_and_float32(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        expected = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x), expected


def _departure(low: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest difference, relative to the largest logit."""
    return ((low.float() - expected).abs().max() / expected.abs().max()).item()


def test_copies_pickles_and_state_dicts(deployed: Deployed, tmp_path) -> None:
    model, x, expected = deployed.model, deployed.x, deployed.logits
    with torch.no_grad():
        _same(copy.deepcopy(model)(x), expected, 0)
        _same(pickle.loads(pickle.dumps(model))(x), expected, 0)
        torch.save(model.state_dict(), tmp_path / "weights.pt")
        fresh = getattr(deployed.module, deployed.name)().eval()
        fresh.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))
        _same(fresh(x), expected, 0)


@pytest.mark.parametrize("name", grouped(ZOO))
def test_stage_features_have_the_channels_and_strides_the_spec_promises(
    meta_model, name: str
) -> None:
    plan = zoo_spec(name).plan
    side = 256 if plan.resize is None else plan.input_size[0]
    model = meta_model(name)
    features = model.forward_stages(torch.randn(1, plan.in_channels, side, side, device="meta"))
    analysis = analyse(plan, (side, side))
    names = {stage.name for stage in plan.stages}
    stages = [part for part in analysis.parts if part.name in names]
    assert [tuple(f.shape[1:]) for f in features] == [part.output for part in stages]
    assert model.stage_channels == [stage.out_channels for stage in plan.stages]
    resized = plan.resize.size[0] if plan.resize else side
    assert model.stage_strides == [resized // f.shape[-1] for f in features]


def _data_parallel(files: list[Path]) -> dict[str, dict[str, object]]:
    """The README's command: examples/ddp.py under torchrun, two CPU processes on gloo,
    for every file in one run."""
    # Gloo on the loopback interface: a sandbox's hostname may resolve to one it cannot use.
    environment = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-port", str(_free_port()), str(ROOT / "examples" / "ddp.py")]
    command += map(str, files)
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    failures = [line for line in run.stderr.splitlines() if "rror" in line or "terminate" in line]
    assert run.returncode == 0, "\n".join(failures[:20]) + run.stderr[-2000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return {result.pop("model"): result for result in results}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(DEPLOYED, id="deployed"),
        pytest.param(
            [name for name in REPRESENTATIVES if name not in DEPLOYED],
            id="others",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_distributed_data_parallel_step(smallest_file, names: list[str]) -> None:
    # One torchrun for all the models of a tier, in one worker.
    expected = {"ranks": 2, "identical": True, "changed": True}
    assert _data_parallel([smallest_file(name) for name in names]) == dict.fromkeys(names, expected)


def test_sync_batch_norm_conversion(deployed: Deployed) -> None:
    model = deployed.model
    batch_norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(deployed.copy())
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules()) == batch_norms
    with torch.no_grad():
        _same(synced(deployed.x), deployed.logits, 0)


FOLDABLE = [
    n
    for n in REPRESENTATIVES
    if zoo_spec(n).plan.norm != "group" and not zoo_spec(n).plan.preactivation
]


@pytest.mark.parametrize("deployed", grouped(FOLDABLE, default=DEPLOYED), indirect=True)
def test_the_inference_form_matches_eval(deployed: Deployed) -> None:
    model, x, expected, module = deployed.model, deployed.x, deployed.logits, deployed.module
    fast = module.for_inference(copy.deepcopy(model))
    norms = (torch.nn.BatchNorm2d, getattr(module, "FrozenBatchNorm2d", torch.nn.BatchNorm2d))
    assert not any(isinstance(m, norms) for m in fast.modules())
    channels_last = x.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        _same(fast(channels_last), expected, 1e-4)
    low = module.for_inference(copy.deepcopy(model), bfloat16=True)
    with torch.inference_mode():
        result = low(channels_last.to(torch.bfloat16))
    assert result.dtype == torch.bfloat16
    _same(result.float(), expected, 0.05)  # bfloat16 keeps about three significant digits
