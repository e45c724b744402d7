"""Small timing helpers shared by the benchmarks: medians of repeated, interleaved runs."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    runs: list[float]  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.runs), max(self.runs)

    def text(self, unit: str = "ms") -> str:
        scale = 1000 if unit == "ms" else 1
        low, high = self.spread
        return f"{self.median * scale:.1f} {unit} ({low * scale:.1f}–{high * scale:.1f})"


def time_call(function: Callable[[], object], repeats: int) -> Timing:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        runs.append(time.perf_counter() - start)
    return Timing(runs)


def time_command(command: Sequence[str], repeats: int, cwd: str | None = None) -> Timing:
    """Wall time of a command in a fresh process, `repeats` times."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    return Timing(runs)


def interleaved(
    first: Callable[[], object], second: Callable[[], object], rounds: int, warmup: int = 2
) -> tuple[Timing, Timing, list[float]]:
    """Time two functions in alternation, so drift in the machine hits both alike.

    Returns both timings and the per-round ratio second/first.
    """
    for _ in range(warmup):
        first()
        second()
    a_runs, b_runs = [], []
    for index in range(rounds):
        order = (first, second) if index % 2 == 0 else (second, first)
        times = {}
        for function in order:
            start = time.perf_counter()
            function()
            times[function] = time.perf_counter() - start
        a_runs.append(times[first])
        b_runs.append(times[second])
    ratios = [b / a for a, b in zip(a_runs, b_runs, strict=True)]
    return Timing(a_runs), Timing(b_runs), ratios
