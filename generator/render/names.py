"""The checkpoint names' part of a generated file's context: the tables a layout whose
names are not the file's own writes, laid out as `ruff format` lays out a dict."""

from __future__ import annotations

import textwrap

from ..plan import Plan
from .text import LINE_LENGTH


def names_context(plan: Plan) -> dict[str, object]:
    names = plan.checkpoint_names
    if names is None:
        return {"checkpoint_names": None}
    tables = [
        dict_literal("CHECKPOINT_PARTS", names.parts),
        dict_literal("CHECKPOINT_STAGES", names.stages),
        dict_literal("CHECKPOINT_BLOCK", names.block),
    ]
    comment = (
        f"The names of this file's modules in the checkpoints of {names.library}: each part "
        "of the network by its name, each stage's blocks by the stage's (the block's index "
        "follows) and each part of a block by its name in the block; the rest keeps its "
        "name. state_dict() writes them and load_state_dict() reads them (torch 2.5 or later)."
    )
    lines = textwrap.wrap(comment, LINE_LENGTH - 2, break_on_hyphens=False)
    return {
        "checkpoint_names": {
            "comment": [f"# {line}" for line in lines],
            "tables": tables,
            "index_after": names.index_after,
        }
    }


def dict_literal(name: str, mapping: dict[str, str]) -> str:
    items = [f'"{key}": "{value}"' for key, value in mapping.items()]
    one_line = f"{name} = {{{', '.join(items)}}}"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    return f"{name} = {{\n" + "".join(f"    {item},\n" for item in items) + "}"
