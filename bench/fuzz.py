"""The long fuzz run: the property tests with 10,000 examples each instead of 200.

    python bench/fuzz.py [--examples N]

Prints hypothesis's statistics for each property and exits non-zero if any example
failed. The properties live in tests/test_properties.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/test_properties.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--hypothesis-show-statistics",
    ]
    env = {**os.environ, "RESNETGEN_FUZZ_EXAMPLES": str(args.examples)}
    return subprocess.run(command, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
