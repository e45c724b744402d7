"""A learning check: generated models learn a small synthetic task in a few dozen steps.

Proof that the init, the zero-initialised residuals and the shortcuts let gradients
through. The task, made here with no download: which quadrant of a noisy 32x32 image
holds a bright square.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from .conftest import build_into, import_file

STEPS = 60
VARIANTS = {
    "cifar_resnet20": "extends: cifar_resnet20",
    "preact": "extends: cifar_preact_resnet110\nstages:\n  depths: [2, 2, 2]",
    "mixed_stages": "extends: test_resnet",
    "stochastic_depth_silu": (
        "extends: resnet18\nactivation: silu\ninit:\n  zero_init_residual: true\n"
        "stages:\n  depths: [1, 1, 1, 1]\n  drop_path: 0.1\n  shortcut: avg_down"
    ),
    "bottleneck_se_group_norm": (
        "extends: seresnet50\nnorm:\n  type: group\n  groups: 8\n"
        "stages:\n  depths: [1, 1, 1, 1]\n  widths: [16, 32, 64, 128]"
    ),
    "dilated_leaky_relu": (
        "extends: resnet18_os8\nactivation: leaky_relu\nstages:\n  depths: [1, 1, 1, 1]"
    ),
    "anti_aliased": (
        "extends: resnetblur18\nstages:\n  depths: [1, 1, 1, 1]\n  widths: [8, 16, 32, 64]"
    ),
    "res2net": ("extends: res2net50d\nstages:\n  depths: [1, 1, 1, 1]\n  widths: [8, 16, 32, 64]"),
    "resnest": ("extends: resnest50d\nstages:\n  depths: [1, 1, 1, 1]\n  widths: [8, 16, 32, 64]"),
    "selective_kernel": (
        "extends: skresnext50_32x4d\nstages:\n  depths: [1, 1, 1, 1]\n  widths: [8, 16, 32, 64]\n"
        "  groups: 4\n  width_per_group: 16"
    ),
    "senet154_shortcuts": (
        "extends: senet154\nstages:\n  depths: [1, 1, 1, 1]\n  widths: [16, 32, 64, 128]\n"
        "  groups: 2\n  width_per_group: 16"
    ),
}


def quadrant_images(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    labels = torch.randint(0, 4, (count,), generator=generator)
    images = torch.randn(count, 3, 32, 32, generator=generator) * 0.5
    for index, label in enumerate(labels.tolist()):
        top, left = 16 * (label // 2) + 4, 16 * (label % 2) + 4
        images[index, :, top : top + 8, left : left + 8] += 2.0
    return images, labels


# The default tier learns with the smallest; the slow tier with every other variant.
DEFAULT_TIER = "mixed_stages"


@pytest.mark.parametrize(
    "variant",
    [pytest.param(v, marks=[] if v == DEFAULT_TIER else pytest.mark.slow) for v in VARIANTS],
)
def test_training_loss_falls(tmp_path: Path, variant: str) -> None:
    spec = tmp_path / f"{variant}.yaml"
    spec.write_text(f"name: {variant}\n{VARIANTS[variant]}\nhead:\n  num_classes: 4\n")
    path, _card = build_into(tmp_path, str(spec))
    torch.manual_seed(0)
    model = getattr(import_file(path), variant)().train()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(STEPS):
        images, labels = quadrant_images(32, generator)
        loss = F.cross_entropy(model(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, f"loss went from {first:.3f} to {last:.3f}"
