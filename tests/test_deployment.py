"""The paths PyTorch users take a model down, for every distinct generated file in the zoo.

torch.compile, TorchScript, torch.fx, torch.export, ONNX under onnxruntime,
channels_last, bfloat16 autocast, deepcopy, pickle, state_dict round trips, per-stage
features, SyncBatchNorm and a two-process DistributedDataParallel step. Each must give
eager's outputs. REPRESENTATIVES holds one zoo model per distinct code body (see
conftest); the others differ from theirs only in numbers.
"""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import socket
import subprocess
import sys
import warnings

import onnxruntime
import pytest
import torch

from resnetgen.analysis import analyse
from resnetgen.load import load
from resnetgen.references import build_reference

from .conftest import REPRESENTATIVES, ROOT, ZOO, import_file, randomise_norms

SIDE = 64


def _model(zoo_files, name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """An eval-mode model with random norms, and an input for it."""
    generator = torch.Generator().manual_seed(0)
    model = getattr(import_file(zoo_files[name]), name)().eval()
    randomise_norms(model, generator)
    x = torch.randn(2, load(name).plan.in_channels, SIDE, SIDE, generator=generator)
    return model, x


def _same(actual: torch.Tensor, expected: torch.Tensor, relative: float = 1e-5) -> None:
    scale = expected.abs().max().item()
    torch.testing.assert_close(actual, expected, rtol=relative, atol=relative * scale)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_torch_compile_full_graph(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    with torch.no_grad():
        _same(compiled(x), model(x), 1e-4)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_torchscript_with_a_save_and_load(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(model), buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        _same(loaded(x), model(x))
        _same(loaded.forward_stages(x)[-1], model.forward_stages(x)[-1])


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_fx_symbolic_trace(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    traced = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        _same(traced(x), model(x))


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_torch_export(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        _same(exported.module()(x), model(x))


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_onnx_under_onnxruntime(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    session = onnxruntime.InferenceSession(
        program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (logits,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        _same(torch.from_numpy(logits), model(x), 1e-4)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_channels_last(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        _same(model(x.to(memory_format=torch.channels_last)), expected, 1e-4)


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_bfloat16_autocast(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    low, expected = _bfloat16_and_float32(model, x)
    assert low.dtype == torch.bfloat16
    # bfloat16 keeps about three significant digits; where a reference's own model loses
    # more on the same weights (BiT's standardised weights, at random init), no more
    # than it does.
    allowed = 0.05
    references = load(name).plan.references
    if references:
        reference = build_reference(references[0]).eval()
        reference.load_state_dict(model.state_dict())
        reference_low, reference_expected = _bfloat16_and_float32(reference, x)
        allowed = max(allowed, 1.25 * _departure(reference_low, reference_expected))
    _same(low.float(), expected, allowed)


def _bfloat16_and_float32(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        expected = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x), expected


def _departure(low: torch.Tensor, expected: torch.Tensor) -> float:
    """The largest difference, relative to the largest logit."""
    return ((low.float() - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_copies_pickles_and_state_dicts(zoo_files, name: str, tmp_path) -> None:
    model, x = _model(zoo_files, name)
    with torch.no_grad():
        expected = model(x)
        _same(copy.deepcopy(model)(x), expected, 0)
        _same(pickle.loads(pickle.dumps(model))(x), expected, 0)
        torch.save(model.state_dict(), tmp_path / "weights.pt")
        fresh = getattr(import_file(zoo_files[name]), name)().eval()
        fresh.load_state_dict(torch.load(tmp_path / "weights.pt", weights_only=True))
        _same(fresh(x), expected, 0)


@pytest.mark.parametrize("name", ZOO)
def test_stage_features_have_the_channels_and_strides_the_spec_promises(
    zoo_files, name: str
) -> None:
    plan = load(name).plan
    side = 256 if plan.resize is None else plan.input_size[0]
    with torch.device("meta"):
        model = getattr(import_file(zoo_files[name]), name)().eval()
        features = model.forward_stages(torch.randn(1, plan.in_channels, side, side))
    analysis = analyse(plan, (side, side))
    names = {stage.name for stage in plan.stages}
    stages = [part for part in analysis.parts if part.name in names]
    assert [tuple(f.shape[1:]) for f in features] == [part.output for part in stages]
    assert model.stage_channels == [stage.out_channels for stage in plan.stages]
    resized = plan.resize.size[0] if plan.resize else side
    assert model.stage_strides == [resized // f.shape[-1] for f in features]


@pytest.fixture(scope="session")
def data_parallel(zoo_files) -> dict[str, dict[str, object]]:
    """The README's command: examples/ddp.py under torchrun, two CPU processes on gloo."""
    files = [str(zoo_files[name]) for name in REPRESENTATIVES]
    # Gloo on the loopback interface: a sandbox's hostname may resolve to one it cannot use.
    environment = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-port", str(_free_port()), str(ROOT / "examples" / "ddp.py"), *files]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=environment)
    failures = [line for line in run.stderr.splitlines() if "rror" in line or "terminate" in line]
    assert run.returncode == 0, "\n".join(failures[:20]) + run.stderr[-2000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return {result.pop("model"): result for result in results}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_distributed_data_parallel_step(data_parallel) -> None:
    # One test, so that one worker runs the one torchrun for every representative.
    expected = {"ranks": 2, "identical": True, "changed": True}
    assert data_parallel == {name: expected for name in REPRESENTATIVES}


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_sync_batch_norm_conversion(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    batch_norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    synced = torch.nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(model))
    assert sum(isinstance(m, torch.nn.SyncBatchNorm) for m in synced.modules()) == batch_norms
    with torch.no_grad():
        _same(synced(x), model(x), 0)


FOLDABLE = [
    n for n in REPRESENTATIVES if load(n).plan.norm != "group" and not load(n).plan.preactivation
]


@pytest.mark.parametrize("name", FOLDABLE)
def test_the_inference_form_matches_eval(zoo_files, name: str) -> None:
    model, x = _model(zoo_files, name)
    module = sys.modules[type(model).__module__]  # the module whose classes built it
    with torch.no_grad():
        expected = model(x)
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
