"""The test suite's own cost: each tier's wall time, peak memory and slowest files.

    python bench/suite.py [--runs 3] [--tier default|slow|both] [--clone]
                          [--json PATH] [-- PYTEST ARGS...]

Runs `python -m pytest` (the default tier) and `python -m pytest -m slow` (the slow
tier) in turn, `--runs` times each, and samples once a second the resident memory of
every process the run started (pytest, its xdist workers, their torchrun children),
summed. `--clone` runs them in a fresh `git clone` of this checkout (its committed
state) with this checkout's virtual environment, its package imported from the clone,
as a new contributor would. Prints a
Markdown section for BENCHMARKS.md: the median of the runs (range in brackets), and
the ten test files that take the most worker-seconds in each tier.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = {"default": [], "slow": ["-m", "slow"]}


@dataclass
class Run:
    tier: str
    wall: float  # seconds
    peak: int  # bytes, every process of the run together
    passed: int
    failed: int
    by_file: dict[str, float]  # test file -> worker-seconds


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _resident(root: int) -> int:
    """The resident bytes of `root` and every process under it."""
    tree, total, pending = _children(), 0, [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while pending:
        pid = pending.pop()
        pending.extend(tree.get(pid, []))
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_tier(
    tier: str, folder: Path, python: str, extra: list[str], keep: Path | None, path: str | None
) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "junit.xml"
        command = [python, "-m", "pytest", *TIERS[tier], "-q", f"--junitxml={report}", *extra]
        environment = {**os.environ, "RESNETGEN_PARITY_RESULTS": str(Path(scratch) / "p.json")}
        if path:  # where `import resnetgen` finds the clone's package first
            environment["PYTHONPATH"] = path
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=folder, env=environment)
        peak, done = 0, threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(1.0):
                peak = max(peak, _resident(process.pid))

        sampler = threading.Thread(target=sample)
        sampler.start()
        code = process.wait()
        wall = time.monotonic() - start
        done.set()
        sampler.join()
        by_file, outcomes = _by_file(report)
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            report.replace(keep / f"{tier}-{time.strftime('%H%M%S')}.xml")
    run = Run(tier, wall, peak, outcomes["passed"], outcomes["failed"], by_file)
    if code != 0:
        print(f"{tier}: {wall:.0f} s, {peak / 2**30:.1f} GiB, {outcomes}", file=sys.stderr)
        raise SystemExit(f"{tier} tier failed (exit {code})")
    return run


def _by_file(report: Path) -> tuple[dict[str, float], Counter]:
    files: Counter = Counter()
    outcomes: Counter = Counter(passed=0, failed=0)
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        # tests.test_parity, or tests.test_x.TestClass: the file is up to its test_ part.
        parts = case.get("classname", "").split(".")
        last = next(i for i, part in enumerate(parts) if part.startswith("test_"))
        files["/".join(parts[: last + 1]) + ".py"] += float(case.get("time", 0))
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes["failed" if failed else "skipped" if skipped else "passed"] += 1
    return dict(files), outcomes


def _range(values: list[float], unit: str, scale: float = 1.0) -> str:
    scaled = [v / scale for v in values]
    middle = statistics.median(scaled)
    if len(scaled) == 1:
        return f"{middle:.1f} {unit}"
    return f"{middle:.1f} {unit} ({min(scaled):.1f}–{max(scaled):.1f})"


def report(runs: list[Run]) -> str:
    lines = [
        f"Measured by `python bench/suite.py` on {time.strftime('%Y-%m-%d')}: "
        f"{os.cpu_count()} cores, {_memory_gib():.0f} GiB; Python {platform.python_version()}; "
        "no GPU used. Wall time and the peak of all the run's processes' resident memory "
        "together, sampled each second; median of the runs (range in brackets).",
        "",
        "| tier | command | tests | runs | wall time | peak memory |",
        "|---|---|---:|---:|---:|---:|",
    ]
    tiers = [tier for tier in TIERS if any(run.tier == tier for run in runs)]
    for tier in tiers:
        mine = [run for run in runs if run.tier == tier]
        command = " ".join(["python -m pytest", *TIERS[tier]])
        lines.append(
            f"| {tier} | `{command}` | {mine[0].passed} | {len(mine)} | "
            f"{_range([r.wall / 60 for r in mine], 'min')} | "
            f"{_range([r.peak for r in mine], 'GiB', 2**30)} |"
        )
    for tier in tiers:
        mine = [run for run in runs if run.tier == tier]
        files = {f: statistics.median(r.by_file.get(f, 0.0) for r in mine) for f in mine[0].by_file}
        total = sum(files.values())
        lines += [
            "",
            f"The {tier} tier's ten slowest test files (worker-seconds, median; "
            f"{total:.0f} in all):",
            "",
            "| file | worker-seconds | share |",
            "|---|---:|---:|",
        ]
        for name, seconds in sorted(files.items(), key=lambda item: -item[1])[:10]:
            lines.append(f"| `{name}` | {seconds:.0f} | {seconds / total:.0%} |")
    return "\n".join(lines)


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tier", choices=["default", "slow", "both"], default="both")
    parser.add_argument("--clone", action="store_true", help="run in a fresh clone")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    parser.add_argument("--keep", type=Path, help="keep each run's JUnit report in this folder")
    parser.add_argument("pytest", nargs="*", help="more arguments for pytest")
    args = parser.parse_args()
    tiers = list(TIERS) if args.tier == "both" else [args.tier]
    python = str(Path(sys.executable).absolute())
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        folder, path = ROOT, None
        if args.clone:
            folder = Path(scratch) / "resnetgen"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True)
            # The virtual environment's editable install maps `resnetgen` to this
            # checkout's generator/: a folder named after the package, put first on
            # the path, maps it to the clone's.
            (Path(scratch) / "path").mkdir()
            (Path(scratch) / "path" / "resnetgen").symlink_to(folder / "generator")
            path = str(Path(scratch) / "path")
        for _ in range(args.runs):
            for tier in tiers:
                runs.append(run_tier(tier, folder, python, args.pytest, args.keep, path))
                print(f"{tier}: {runs[-1].wall:.0f} s, {runs[-1].peak / 2**30:.1f} GiB", flush=True)
    if args.json:
        args.json.write_text(json.dumps([run.__dict__ for run in runs], indent=1) + "\n")
    print(report(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
