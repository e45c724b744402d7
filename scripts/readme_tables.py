"""Write the README's generated tables: the zoo, and parity with torchvision and timm.

The zoo table comes from the specs' own analysis. The parity table comes from the
parity tests' results: run them in both tiers first (`python -m pytest -m ""
tests/test_parity.py`); they record, for each zoo spec and reference, whether the
state_dict keys matched and the largest absolute logit difference, in build/parity.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from resnetgen.build import load_all  # noqa: E402
from resnetgen.report import format_macs  # noqa: E402
from resnetgen.resources import zoo_names  # noqa: E402

RESULTS = ROOT / "build" / "parity.json"
README = ROOT / "README.md"


def zoo_table() -> str:
    lines = [
        "| spec | params | multiply-adds | input | reference |",
        "|---|---:|---:|---|---|",
    ]
    for spec in load_all(zoo_names()):
        channels, height, width = spec.analysis.input
        references = ", ".join(spec.plan.references) or "-"
        lines.append(
            f"| [{spec.plan.name}](generated/{spec.plan.name}.md) | {spec.analysis.params:,} "
            f"| {format_macs(spec.analysis.macs)} "
            f"| {channels}x{height}x{width} | {references} |"
        )
    return "\n".join(lines)


def parity_table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| model | reference | keys equal | max abs logit difference |",
        "|---|---|---|---:|",
    ]
    for case, result in results.items():
        name, reference = case.split(" ")
        keys = "yes" if result["keys_equal"] else "no"
        lines.append(f"| {name} | {reference} | {keys} | {result['max_abs_diff']:.1e} |")
    return "\n".join(lines)


def replace_section(text: str, section: str, body: str) -> str:
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{body}\n{end}{after}"


def main() -> int:
    text = replace_section(README.read_text(), "zoo", zoo_table())
    if RESULTS.exists():
        text = replace_section(text, "parity", parity_table(json.loads(RESULTS.read_text())))
    else:
        print(f"{RESULTS} is missing: run python -m pytest tests/test_parity.py", file=sys.stderr)
    README.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
