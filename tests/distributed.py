"""A two-process data-parallel training step, run by the deployment tests.

Each rank builds the same generated model, wraps it in DistributedDataParallel on the
gloo backend, takes one SGD step on its own data, and compares its parameters with the
other rank's. (SyncBatchNorm needs GPUs under DistributedDataParallel; its conversion is
tested on its own.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from .conftest import import_file


def train_one_step(
    rank: int, world: int, port: int, models: list[tuple[str, str, int]], out: str
) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    results = {}
    for name, path, channels in models:
        torch.manual_seed(0)
        model = getattr(import_file(Path(path)), name)()
        before = torch.cat([p.detach().flatten() for p in model.parameters()])
        parallel = DistributedDataParallel(model)
        optimiser = torch.optim.SGD(parallel.parameters(), lr=0.1)
        generator = torch.Generator().manual_seed(rank + 1)  # each rank its own batch
        x = torch.randn(4, channels, 32, 32, generator=generator)
        target = torch.randint(0, model.fc.out_features, (4,), generator=generator)
        F.cross_entropy(parallel(x), target).backward()
        optimiser.step()
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.empty_like(after) for _ in range(world)]
        dist.all_gather(gathered, after)
        results[name] = {
            "identical": all(torch.equal(gathered[0], other) for other in gathered[1:]),
            "changed": not torch.equal(before, after),
        }
    if rank == 0:
        Path(out).write_text(json.dumps(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit("run through tests/test_deployment.py")
