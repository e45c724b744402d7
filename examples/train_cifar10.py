"""Train a generated model on CIFAR-10 with the recipe of the ResNet-50 CIFAR-10 article.

    python examples/train_cifar10.py generated/resnet50_cifar10.py [--epochs 40]
        [--device cuda|cpu] [--out runs/NAME] [--data data/] [--fake]

The recipe: CIFAR-10's 50,000 training images split 45,000 / 5,000 into training and
validation, random horizontal flips, no mean subtraction, batches of 128, SGD (lr 0.01,
momentum 0.9, weight decay 1e-4), the learning rate cut tenfold when the validation
loss has not improved for 10 epochs. The best epoch's weights (lowest validation loss)
are saved as a state_dict; at the end the test set's per-class precision, recall and F1
and its confusion matrix are printed and written to report.txt, and the training and
validation loss and error-rate curves to curves.png.

CIFAR-10 is downloaded by torchvision into --data the first time. --fake trains on a
small synthetic set of CIFAR-10's shape instead (random images, for trying the script
out; its figures mean nothing). Needs torch, torchvision and matplotlib
(`pip install 'resnetgen[examples]'`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, random_split

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN, VALIDATION = 45_000, 5_000
FAKE_TRAIN, FAKE_VALIDATION, FAKE_TEST = 45, 5, 10  # a thousandth of CIFAR-10
BATCH = 128


def load_factory(path: Path):
    """The factory function of a generated model file (named after the file)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, path.stem)


def datasets(data: Path, fake: bool) -> tuple[Dataset, Dataset, Dataset]:
    """Training, validation and test sets: tensors in [0, 1], flips on the training set."""
    import torchvision
    from torchvision import transforms

    flip = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.ToTensor()])
    plain = transforms.ToTensor()
    if fake:
        shape, sizes = (3, 32, 32), (FAKE_TRAIN + FAKE_VALIDATION, FAKE_TEST)
        make = torchvision.datasets.FakeData
        train_full = make(sizes[0], shape, len(CLASSES), transform=flip, random_offset=0)
        held_full = make(sizes[0], shape, len(CLASSES), transform=plain, random_offset=0)
        test = make(sizes[1], shape, len(CLASSES), transform=plain, random_offset=sizes[0])
        split = [FAKE_TRAIN, FAKE_VALIDATION]
    else:
        make = torchvision.datasets.CIFAR10
        train_full = make(data, train=True, transform=flip, download=True)
        held_full = make(data, train=True, transform=plain, download=True)
        test = make(data, train=False, transform=plain, download=True)
        split = [TRAIN, VALIDATION]
    # One split of the indices, seen through two transforms: flipped for training only.
    generator = torch.Generator().manual_seed(0)
    train_part, validation_part = random_split(range(sum(split)), split, generator=generator)
    train = torch.utils.data.Subset(train_full, list(train_part))
    validation = torch.utils.data.Subset(held_full, list(validation_part))
    return train, validation, test


def progress(epoch: int, epochs: int, done: int, total: int, loss: float, start: float) -> None:
    """One line per epoch, redrawn as its batches go by."""
    width = 30
    filled = width * done // total
    bar = "#" * filled + "." * (width - filled)
    elapsed = time.monotonic() - start
    line = f"\repoch {epoch}/{epochs} [{bar}] {done}/{total} loss {loss:.4f} {elapsed:.0f}s"
    print(line, end="" if done < total else "\n", file=sys.stderr, flush=True)


def run_epoch(model, loader, device, optimizer=None, label=None):
    """Mean loss and error rate over `loader`; trains when given an optimizer."""
    training = optimizer is not None
    model.train(training)
    total_loss, errors, seen = 0.0, 0, 0
    start = time.monotonic()
    with torch.set_grad_enabled(training):
        for index, (images, labels) in enumerate(loader, start=1):
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(labels)
            errors += (logits.argmax(1) != labels).sum().item()
            seen += len(labels)
            if label is not None:
                progress(*label, index, len(loader), total_loss / seen, start)
    return total_loss / seen, errors / seen


@torch.no_grad()
def confusion_matrix(model, loader, device) -> torch.Tensor:
    """counts[true, predicted] over `loader`."""
    model.eval()
    counts = torch.zeros(len(CLASSES), len(CLASSES), dtype=torch.long)
    for images, labels in loader:
        predicted = model(images.to(device)).argmax(1).cpu()
        counts += torch.bincount(
            labels * len(CLASSES) + predicted, minlength=len(CLASSES) ** 2
        ).view(len(CLASSES), len(CLASSES))
    return counts


def report(counts: torch.Tensor) -> str:
    """Per-class precision, recall and F1, their means, accuracy, and the matrix itself."""
    counts = counts.double()
    hits = counts.diag()
    precision = hits / counts.sum(0).clamp(min=1)
    recall = hits / counts.sum(1).clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    lines = [f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for index, name in enumerate(CLASSES):
        lines.append(
            f"{name:<12}{precision[index]:>10.3f}{recall[index]:>10.3f}{f1[index]:>10.3f}"
            f"{int(counts[index].sum()):>10}"
        )
    lines.append(
        f"{'mean':<12}{precision.mean():>10.3f}{recall.mean():>10.3f}{f1.mean():>10.3f}"
        f"{int(counts.sum()):>10}"
    )
    lines.append(f"accuracy {hits.sum() / counts.sum():.4f}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
    lines.append(" " * 12 + "".join(f"{name[:6]:>7}" for name in CLASSES))
    for index, name in enumerate(CLASSES):
        lines.append(f"{name:<12}" + "".join(f"{int(c):>7}" for c in counts[index]))
    return "\n".join(lines) + "\n"


def plot(history: list[dict[str, float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (losses, rates) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, key, name in ((losses, "loss", "loss"), (rates, "error", "error rate")):
        axes.plot(epochs, [row[f"train_{key}"] for row in history], "o-", label="training")
        axes.plot(epochs, [row[f"validation_{key}"] for row in history], "o-", label="validation")
        axes.set_xlabel("epoch")
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generated", type=Path, help="a generated model file")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--device", choices=["cuda", "cpu"], default=None)
    parser.add_argument("--out", type=Path, default=None, help="default: runs/NAME")
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--fake", action="store_true", help="synthetic data of CIFAR-10's shape")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    out = args.out or Path("runs") / args.generated.stem
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(0)
    model = load_factory(args.generated)(num_classes=len(CLASSES), in_channels=3).to(device)
    train, validation, test = datasets(args.data, args.fake)
    workers = 2 if device.type == "cuda" else 0
    loaders = [
        DataLoader(data, BATCH, shuffle=shuffle, num_workers=workers)
        for data, shuffle in ((train, True), (validation, False), (test, False))
    ]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.1, patience=10)

    history: list[dict[str, float]] = []
    best = float("inf")
    checkpoint = out / "best.pt"
    for epoch in range(1, args.epochs + 1):
        train_loss, train_error = run_epoch(
            model, loaders[0], device, optimizer, label=(epoch, args.epochs)
        )
        validation_loss, validation_error = run_epoch(model, loaders[1], device)
        scheduler.step(validation_loss)
        history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_error": train_error,
                "validation_loss": validation_loss,
                "validation_error": validation_error,
                "lr": optimizer.param_groups[0]["lr"],
            }
        )
        print(
            f"epoch {epoch}: train loss {train_loss:.4f} error {train_error:.3f}, "
            f"validation loss {validation_loss:.4f} error {validation_error:.3f}",
            file=sys.stderr,
        )
        if validation_loss < best:
            best = validation_loss
            torch.save(model.state_dict(), checkpoint)

    model.load_state_dict(torch.load(checkpoint, map_location=device, weights_only=True))
    text = report(confusion_matrix(model, loaders[2], device))
    data = "synthetic data (--fake): the figures mean nothing" if args.fake else "CIFAR-10"
    heading = f"{args.generated.stem} on {data}, best epoch's weights ({checkpoint})\n\n"
    (out / "report.txt").write_text(heading + text)
    (out / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    plot(history, out / "curves.png", f"{args.generated.stem} on {data}")
    print(heading + text)
    print(f"wrote {checkpoint}, {out / 'report.txt'}, {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
