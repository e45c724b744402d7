"""Reproduce every figure in BENCHMARKS.md, and write it.

    python bench/run.py            # everything (about ten minutes on two cores)
    python bench/run.py --quick    # fewer repeats, for trying the script out

Timings are medians of repeated runs with their range; model timings interleave the
generated and the reference model round by round, so drift in the machine hits both
alike, and report the ratio per round.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from timing import interleaved, time_call, time_command  # noqa: E402

from resnetgen.inherit import resolve  # noqa: E402
from resnetgen.resources import zoo_names  # noqa: E402

RESNETGEN = str(Path(sys.executable).with_name("resnetgen"))
MODELS = [  # generated spec, reference library, reference name
    ("resnet18", "torchvision", "resnet18"),
    ("resnet50", "torchvision", "resnet50"),
    ("resnet50d", "timm", "resnet50d"),
    ("resnext50_32x4d", "torchvision", "resnext50_32x4d"),
]


def machine() -> str:
    import timm
    import torch
    import torchvision

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), torchvision {torchvision.__version__}, "
        f"timm {timm.__version__}; no GPU used"
    )


# --- the generator -----------------------------------------------------------------


def flat_specs(directory: Path, count: int) -> list[str]:
    """`count` standalone specs (zoo specs with extends resolved and new names)."""
    import yaml

    names = zoo_names()
    paths = []
    for index in range(count):
        base = names[index % len(names)]
        data = dict(resolve(ROOT / "specs" / f"{base}.yaml").data)
        data.pop("extends", None)
        data["name"] = f"{base}_{index}"
        path = directory / f"{data['name']}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(str(path))
    return paths


def generator_section(repeats: int) -> str:
    lines = ["## The generator", ""]
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "out")
        startup = time_command([RESNETGEN, "--version"], repeats)
        one = time_command(
            [RESNETGEN, "build", "specs/resnet50d.yaml", "-o", out], repeats, str(ROOT)
        )
        validate = time_command([RESNETGEN, "validate", "specs/resnet50d.yaml"], repeats, str(ROOT))
        zoo = [str(p) for p in sorted((ROOT / "specs").glob("*.yaml"))]
        whole = time_command([RESNETGEN, "build", *zoo, "-o", out], repeats, str(ROOT))
        timm_create = time_command(
            [sys.executable, "-c", "import timm; timm.create_model('resnet50d')"], repeats
        )
        torch_import = time_command([sys.executable, "-c", "import torch"], repeats)
        lines += [
            "Wall time of a fresh process, median of "
            f"{repeats} runs (range in brackets). None of these commands imports torch "
            "(`tests/test_no_torch.py`).",
            "",
            "| what | time |",
            "|---|---:|",
            f"| `resnetgen --version` (Python, click, start-up) | {startup.text()} |",
            f"| `resnetgen validate specs/resnet50d.yaml` | {validate.text()} |",
            f"| `resnetgen build specs/resnet50d.yaml` (target: under 400 ms) | {one.text()} |",
            f"| `resnetgen build specs/*.yaml`, the whole zoo of {len(zoo)} specs in one process "
            f"(target: under 1 s) | {whole.text()} |",
            f'| `python -c "import torch"` | {torch_import.text()} |',
            f"| `timm.create_model('resnet50d')` in a fresh process | {timm_create.text()} |",
            "",
            f"A cold build of resnet50d takes {one.median / timm_create.median:.2f} of the time "
            "a user waits for timm to build the same network.",
            "",
            "### Cost per spec as a build grows",
            "",
            "Standalone copies of the zoo's specs under new names, built in one process; the "
            "per-spec cost is (time - start-up) / specs, with start-up the `--version` run.",
            "",
            "| specs | time | per spec |",
            "|---:|---:|---:|",
        ]
        for count in (1, 10, 100, 1000):
            directory = Path(scratch) / f"specs{count}"
            directory.mkdir()
            paths = flat_specs(directory, count)
            timing = time_command(
                [RESNETGEN, "build", "-q", *paths, "-o", str(directory / "out")],
                max(3, repeats // 2),
            )
            per_spec = (timing.median - startup.median) / count
            lines.append(f"| {count} | {timing.text('s')} | {per_spec * 1000:.1f} ms |")
    return "\n".join(lines) + "\n"


# --- the generated models -------------------------------------------------------------


def load_generated(name: str):
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", ROOT / "generated" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pair(name: str, library: str, reference: str):
    import timm
    import torch
    import torchvision

    torch.manual_seed(0)
    if library == "torchvision":
        expected = torchvision.models.get_model(reference, weights=None)
    else:
        expected = timm.create_model(reference, pretrained=False)
    module = load_generated(name)
    actual = getattr(module, name)()
    actual.load_state_dict(expected.state_dict())
    return module, expected, actual


def ratio_text(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f})"


def forward_of(model, batch):
    import torch

    def run():
        with torch.inference_mode():
            model(batch)

    return run


def training_step_of(model, batch, target):
    import torch

    optimiser = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def run():
        optimiser.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(batch), target).backward()
        optimiser.step()

    return run


def compare_model(name: str, library: str, reference: str, rounds: int) -> tuple[str, str, str]:
    """Rows of the eval, training and inference-form tables for one model."""
    import torch

    batch = torch.randn(8, 3, 224, 224)
    target = torch.randint(0, 1000, (8,))
    module, expected, actual = pair(name, library, reference)
    label = f"| {name} | {library} "

    expected.eval()
    actual.eval()
    ref, gen, ratios = interleaved(forward_of(expected, batch), forward_of(actual, batch), rounds)
    eval_row = f"{label}| {ref.text()} | {gen.text()} | {ratio_text(ratios)} |"

    expected.train()
    actual.train()
    steps = max(3, rounds // 2)
    ref, gen, ratios = interleaved(
        training_step_of(expected, batch, target), training_step_of(actual, batch, target), steps
    )
    train_row = f"{label}| {ref.text()} | {gen.text()} | {ratio_text(ratios)} |"

    expected.eval()
    channels_last = batch.contiguous(memory_format=torch.channels_last)
    fused_row = label
    for bfloat16 in (False, True):
        fast = module.for_inference(_copy_weights(getattr(module, name)(), expected), bfloat16)
        given = channels_last.to(torch.bfloat16) if bfloat16 else channels_last
        with torch.inference_mode():
            want = expected(batch)
            error = ((fast(given).float() - want).abs().max() / want.abs().max()).item()
        ref, gen, ratios = interleaved(forward_of(expected, batch), forward_of(fast, given), rounds)
        speedups = [1 / ratio for ratio in ratios]
        if not bfloat16:
            fused_row += f"| {ref.text()} "
        fused_row += f"| {gen.text()} | {ratio_text(speedups)} | {error:.1e} "
    return eval_row, train_row, fused_row + "|"


def models_section(rounds: int) -> str:
    rows = [compare_model(name, library, reference, rounds) for name, library, reference in MODELS]
    header = [
        "| model | reference | reference | generated | generated / reference |",
        "|---|---|---:|---:|---:|",
    ]
    steps = max(3, rounds // 2)
    return "\n".join(
        [
            "## Generated models against the references",
            "",
            "Same weights, same input (batch 8, 3x224x224, float32), CPU. A ratio under 1 "
            "means the generated model is faster; the range is over the rounds.",
            "",
            f"### Eval forward (under `torch.inference_mode`, {rounds} rounds)",
            "",
            *header,
            *(row[0] for row in rows),
            "",
            f"### A training step: forward, cross-entropy, backward, SGD ({steps} rounds)",
            "",
            *header,
            *(row[1] for row in rows),
            "",
            "### The inference form",
            "",
            "`for_inference(model)` in each generated batch-norm file folds every batch norm "
            "into the conv before it and switches to channels_last; "
            "`for_inference(model, bfloat16=True)` also casts the weights to bfloat16. Each "
            "is timed on an input of its own format against the reference's plain eval "
            "forward; the difference is the largest absolute logit difference over the "
            "largest logit.",
            "",
            "| model | reference | reference eval | float32 | speed-up | difference "
            "| bfloat16 | speed-up | difference |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
            *(row[2] for row in rows),
            "",
        ]
    )


def _copy_weights(model, reference):
    model.load_state_dict(reference.state_dict())
    return model


def training_peak(model) -> int:
    """Peak bytes of tensors alive during a training step, from the profiler's allocation
    record: deterministic, unlike the process's resident size."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    batch = torch.randn(8, 3, 224, 224)
    target = torch.randint(0, 1000, (8,))
    step = training_step_of(model.train(), batch, target)
    step()  # gradients and momentum exist from here on
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        step()
    live = peak = 0
    for event in sorted(profiler.events(), key=lambda event: event.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def memory_section() -> str:
    rows = []
    for name, library, reference in MODELS:
        _, expected, actual = pair(name, library, reference)
        want, got = training_peak(expected), training_peak(actual)
        rows.append(
            f"| {name} | {library} | {want / 2**20:.0f} MiB | {got / 2**20:.0f} MiB "
            f"| {got / want:.3f} |"
        )
    return "\n".join(
        [
            "### Peak memory of a training step",
            "",
            "The most memory the tensors of one training step hold at once (batch 8, "
            "3x224x224; gradients and momentum already allocated), replayed from "
            "`torch.profiler`'s allocation record: deterministic, unlike the resident size.",
            "",
            "| model | reference | reference | generated | generated / reference |",
            "|---|---|---:|---:|---:|",
            *rows,
            "",
        ]
    )


# --- the analysis ------------------------------------------------------------------------


def analysis_section() -> str:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from resnetgen.analysis import analyse
    from resnetgen.build import load_all

    specs = load_all(zoo_names())
    exact, worst = 0, 0.0
    for spec in specs:
        module = load_generated(spec.plan.name)
        with torch.device("meta"):
            model = getattr(module, spec.plan.name)().eval()
            exact += sum(p.numel() for p in model.parameters()) == spec.analysis.params
            side = spec.plan.input_size
            x = torch.randn(1, spec.plan.in_channels, *side)
            with FlopCounterMode(display=False) as counter:
                model(x)
        counted = counter.get_total_flops() / 2
        worst = max(worst, abs(spec.analysis.macs - counted) / counted)

    with tempfile.TemporaryDirectory() as scratch:
        table_one = []
        for depth, published in ((18, 1.8), (34, 3.6), (50, 3.8), (101, 7.6), (152, 11.3)):
            base = f"resnet{depth}"
            if depth >= 50:
                path = Path(scratch) / f"{base}_v1.yaml"
                path.write_text(f"name: {base}_v1\nextends: {base}\nstages:\n  stride_on: 1x1\n")
                (spec,) = load_all([str(path)])
            else:
                (spec,) = load_all([base])
            macs = analyse(spec.plan, (224, 224)).macs
            table_one.append(f"| ResNet-{depth} | {published} | {macs / 1e9:.3f} |")
    tricks = []
    for label, name, published in (
        ("ResNet-50", "resnet50_v1", 3.8),
        ("ResNet-50-B", "resnet50", 4.1),
        ("ResNet-50-C", "resnet50c", 4.3),
        ("ResNet-50-D", "resnet50d", 4.3),
    ):
        (spec,) = load_all([name])
        tricks.append(f"| {label} | `{name}` | {published} | {spec.analysis.macs / 1e9:.3f} |")
    return "\n".join(
        [
            "## The analysis",
            "",
            f"Parameters: exact for {exact} of {len(specs)} zoo models (instantiated on the meta "
            f"device). Multiply-adds against `torch.utils.flop_counter` (half its FLOPs) at each "
            f"spec's input size: largest relative difference {worst:.1e} over the zoo.",
            "",
            "The ResNet paper's Table 1 (×10⁹ FLOPs, stride on the first 1x1):",
            "",
            "| model | published | resnetgen |",
            "|---|---:|---:|",
            *table_one,
            "",
            "Bag of Tricks, Table 5 (×10⁹ FLOPs):",
            "",
            "| model | spec | published | resnetgen |",
            "|---|---|---:|---:|",
            *tricks,
            "",
        ]
    )


# --- importing a checkpoint file ----------------------------------------------------------

CHECKPOINTS = [
    "resnet18",
    "resnet50",
    "resnetv2_101x3_bit",
    "resnext101_32x32d",
    "resnetv2_152x4_bit",
]


def checkpoint_section(repeats: int) -> str:
    """`resnetgen import` of safetensors and torch files against their size, beside the
    time to read the file's header (or torch.load's mapping) alone."""
    import shutil

    import timm
    import torch
    from safetensors.torch import save_file

    from resnetgen.checkpoint import import_checkpoint
    from resnetgen.readers.files import read_safetensors, read_torch_file

    lines = [
        "## Importing a checkpoint file",
        "",
        "`resnetgen import PATH` of a randomly initialised timm model's state_dict, saved as "
        f"safetensors and as a torch file; median of {repeats} runs in one process (torch "
        "imported), and of 3 fresh `resnetgen import` processes. The import reads the "
        "header, the names and shapes, matches the zoo, builds the spec's model on the meta "
        "device, maps the weights into it and runs one forward at the smallest size it "
        "takes (the proof); the rest of the file is never read. Measured on "
        f"{datetime.date.today().isoformat()}: {machine()}.",
        "",
        "| network | format | file | header alone | import, in process | `resnetgen import` |",
        "|---|---|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for name in CHECKPOINTS:
            state = timm.create_model(name).state_dict()
            files = {"safetensors": folder / f"{name}.safetensors", "torch": folder / f"{name}.pth"}
            save_file(state, str(files["safetensors"]))
            torch.save(state, files["torch"])
            del state
            for kind, path in files.items():
                reader = read_safetensors if kind == "safetensors" else read_torch_file

                def run(path: Path = path) -> None:
                    shutil.rmtree(folder / "specs", ignore_errors=True)
                    import_checkpoint(path, directory=folder / "specs")

                header = time_call(lambda path=path, reader=reader: reader(path), repeats)
                imported = time_call(run, repeats)
                shutil.rmtree(folder / "specs", ignore_errors=True)
                command = [RESNETGEN, "import", str(path), "-d", str(folder / "cli"), "--force"]
                cold = time_command(command, 3)
                size = path.stat().st_size / 2**20
                lines.append(
                    f"| {name} | {kind} | {size:,.0f} MiB | {header.text()} | "
                    f"{imported.text('s')} | {cold.text('s')} |"
                )
                path.unlink()
    lines += [
        "",
        "Most of an import of a BiT network is the proof's forward: each standardised conv "
        "standardises its weights (all of them, whatever the input's size) on every forward.",
    ]
    return "\n".join(lines) + "\n"


def _replace_section(text: str, section: str) -> str:
    """`text` with the section of the same heading as `section` replaced by it (or added)."""
    heading = section.split("\n", 1)[0]
    parts = text.split("\n## ")
    for index, part in enumerate(parts):
        if f"## {part}".startswith(heading):
            parts[index] = section.removeprefix("## ").rstrip("\n") + "\n"
            return "\n## ".join(parts)
    return text.rstrip("\n") + "\n\n" + section


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--output", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--only", choices=["checkpoint"], help="measure one section, keeping the others"
    )
    args = parser.parse_args()
    repeats, rounds = (3, 3) if args.quick else (9, 7)
    if args.only == "checkpoint":
        text = _replace_section(args.output.read_text(), checkpoint_section(max(3, repeats // 2)))
        args.output.write_text(text)
        print(f"wrote {args.output}")
        return 0
    sections = [
        "# Benchmarks",
        "",
        f"Measured by `python bench/run.py` on {datetime.date.today().isoformat()}: {machine()}.",
        "",
        generator_section(repeats),
        models_section(rounds),
        memory_section(),
        analysis_section(),
        checkpoint_section(max(3, repeats // 2)),
    ]
    args.output.write_text("\n".join(sections))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
