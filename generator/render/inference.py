"""The `for_inference` part of a generated file's context: which conv feeds which batch
norm, for it to fold them."""

from __future__ import annotations

import itertools

from ..blocks import families_in, family_of
from ..layers import Conv, Norm
from ..plan import Plan
from .modules import batch_norm_class
from .text import attribute, call


def inference_context(plan: Plan) -> dict[str, object]:
    if not plan.foldable:
        return {"foldable": False}
    pool_name = plan.layout.stem_pool
    convs = [(n, layer) for n, layer in plan.stem.layers if not n.startswith(pool_name)]
    stem_folds = [
        (attribute(name), attribute(after))
        for (name, layer), (after, _) in itertools.pairwise(convs)
        if isinstance(layer, Conv)
    ]
    if plan.stem.pool is not None and plan.stem.pool.type == "conv":
        # An anti-aliasing pool may stand between them: it is linear, per channel, and
        # keeps a constant, so the norm folds across it.
        pool = [layer for name, layer in plan.stem.layers if name.startswith(pool_name)]
        norm = next(index for index, layer in enumerate(pool) if isinstance(layer, Norm))
        stem_folds.append((f"{pool_name}[0]", f"{pool_name}[{norm}]"))
    shortcut_fold = None
    if plan.shortcut_norm:
        first = 1 if plan.shortcut == "avg_down" else 0
        shortcut_fold = tuple(
            attribute(plan.layout.shortcut_name(part, position))
            for part, position in (("conv", first), ("norm", first + 1))
        )
    return {
        "foldable": True,
        "folded_norm": batch_norm_class(plan),
        "fold_conv_bias": any(f.folds_conv_bias for f in families_in(plan.block_kinds)),
        "stem_folds": stem_folds,
        "stage_loop": _loop_over_stages(plan),
        "stage_blocks": "stage" if plan.layout.stages is None else "stage.blocks",
        **_block_folds(plan),
        "shortcut_fold": shortcut_fold,
        # A conv and norm after the stages (a final conv), by their module names.
        "head_folds": [
            (attribute(conv), attribute(norm))
            for (conv, first), (norm, second) in itertools.pairwise(plan.head.layers)
            if isinstance(first, Conv) and isinstance(second, Norm)
        ],
    }


def _block_folds(plan: Plan) -> dict[str, object]:
    """The convN/bnN pairs every block has, then each kind's own (under an isinstance
    where kinds mix), and the template of each family that folds layers of its own."""
    kinds = plan.block_kinds
    norms = {kind: family_of(kind).fold_norms(kind) for kind in kinds}
    common = [i for i in norms[kinds[0]] if all(i in norms[kind] for kind in kinds)]
    own = [(kind, [i for i in norms[kind] if i not in common]) for kind in kinds]
    folds = []
    for kind, indices in own:
        family = family_of(kind)
        template = family.fold_template(kind)
        if indices or template:
            folds.append((family.class_name(kind), indices, kind, template))
    return {"common_folds": common, "own_folds": folds}


def _loop_over_stages(plan: Plan) -> str:
    if plan.layout.stages is not None:
        return f"    for stage in model.{plan.layout.stages}:"
    stages = [f"model.{stage.name}" for stage in plan.stages]
    if len(stages) == 1:
        return f"    for stage in ({stages[0]},):"
    return call("for stage in ", *stages, indent=4, tail=":")
