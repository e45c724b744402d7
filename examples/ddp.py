"""One data-parallel training step of generated models, on GPUs or on CPU processes.

    torchrun --nproc-per-node 2 examples/ddp.py generated/resnet50d.py [more files]

Each process builds the same model, wraps it in DistributedDataParallel (NCCL and
SyncBatchNorm on GPUs, gloo on the CPU), takes one SGD step on its own batch and then
compares its parameters with rank 0's. Rank 0 prints one JSON line per model.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel


def load_factory(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, path.stem)


def one_step(path: Path, device: torch.device, rank: int, world: int) -> dict[str, object]:
    factory = load_factory(path)
    defaults = inspect.signature(factory).parameters
    channels = defaults["in_channels"].default
    classes = defaults["num_classes"].default
    torch.manual_seed(0)  # the same initial weights on every rank
    model = factory().to(device)
    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    # Fingerprints, not copies: a copy of a large model's weights per rank costs more
    # memory than the step itself.
    before = [p.detach().double().sum() for p in model.parameters()]
    parallel = DistributedDataParallel(
        model, device_ids=[device.index] if device.index is not None else None
    )
    optimiser = torch.optim.SGD(parallel.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1 + rank)  # a different batch on every rank
    x = torch.randn(4, channels, 32, 32, generator=generator).to(device)
    target = torch.randint(0, classes, (4,), generator=generator).to(device)
    F.cross_entropy(parallel(x), target).backward()
    optimiser.step()
    mine = torch.cat([parameter.detach().flatten() for parameter in model.parameters()])
    theirs = mine.clone()
    dist.broadcast(theirs, src=0)  # rank 0's weights, all in one tensor
    everyone = [None] * world
    dist.all_gather_object(everyone, torch.equal(theirs, mine))
    after = [p.detach().double().sum() for p in model.parameters()]
    return {
        "model": path.stem,
        "ranks": world,
        "identical": all(everyone),
        "changed": any(not torch.equal(b, a) for b, a in zip(before, after, strict=True)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="One DistributedDataParallel step per model.")
    parser.add_argument("files", nargs="+", type=Path, help="generated model files")
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    for path in args.files:
        result = one_step(path, device, rank, world)
        if rank == 0:
            print(json.dumps(result), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
