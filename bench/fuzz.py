"""The long fuzz runs, with fresh random draws each time:

- the property tests (tests/test_properties.py), 10,000 examples each instead of 200;
- the differential oracle (tests/test_oracle.py), 1,000 constructor configurations each
  of timm's and torchvision's ResNet instead of the fixed 40 and 15 of CI.

    python bench/fuzz.py [--examples N] [--oracle-examples N] [--only properties|oracle]

Prints hypothesis's statistics for each property (examples drawn, passing, failing,
what they covered) and exits non-zero if any example failed.
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
    parser.add_argument("--oracle-examples", type=int, default=1_000)
    parser.add_argument("--only", choices=["properties", "oracle"], default=None)
    args = parser.parse_args()
    # The properties are in the default tier; the oracle's full count in the slow one.
    selections = {
        "properties": ["tests/test_properties.py"],
        "oracle": ["tests/test_oracle.py", "-m", "slow"],
    }
    chosen = [args.only] if args.only else list(selections)
    env = {
        **os.environ,
        "RESNETGEN_FUZZ_EXAMPLES": str(args.examples),
        "RESNETGEN_ORACLE_EXAMPLES": str(args.oracle_examples),
    }
    common = ["-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics"]
    codes = [
        subprocess.run(
            [sys.executable, "-m", "pytest", *selections[name], *common], cwd=ROOT, env=env
        )
        for name in chosen
    ]
    return max(code.returncode for code in codes)


if __name__ == "__main__":
    raise SystemExit(main())
