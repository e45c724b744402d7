"""Rules across fields: what a spec may not combine, though every value is fine alone.

Each rule is a function of the validated spec yielding (path of the field to change,
what is wrong); a block family's own rules live with it (`generator.blocks`). The rules
run on a spec whose broken values were left out, so that all of a spec's problems are
reported at once; a rule that reads a field left out is not trusted and its findings
are dropped, since the default that stood in for the field is not what the user wrote.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any, get_args

from pydantic import BaseModel

from .blocks import FAMILIES
from .blocks.family import Rule, stage_count
from .errors import FieldPath, Finding, entries
from .layouts import LAYOUTS
from .spec import (
    ACTIVATING_NORMS,
    BASIC_KINDS,
    GROUPED_NORMS,
    PLAIN_KINDS,
    STRIDE_ON_KINDS,
    BlockKind,
    Spec,
)


def check_consistency(spec: Spec, unsure: Collection[FieldPath] = ()) -> list[Finding]:
    """Every rule's findings, but those of rules that read a field in `unsure`."""
    findings: list[Finding] = []
    for rule in RULES:
        reads: set[FieldPath] = set()
        found = list(rule(_Reading(spec, (), reads)))
        if not any(_related(read, bad) for read in reads for bad in unsure):
            findings += found
    return findings


class _Reading:
    """A view of a spec section that records the path of every value read through it."""

    def __init__(self, section: BaseModel, path: FieldPath, reads: set[FieldPath]) -> None:
        self._section, self._path, self._reads = section, path, reads

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._section, name)
        if name == "model_fields_set":
            return value
        path = (*self._path, name)
        if isinstance(value, BaseModel):
            return _Reading(value, path, self._reads)
        self._reads.add(path)
        return value


def _related(first: FieldPath, second: FieldPath) -> bool:
    """One path is the other or lies inside it."""
    shorter = min(len(first), len(second))
    return first[:shorter] == second[:shorter]


def _depths_or_design(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    if stages.depths is None and stages.design is None:
        yield ("stages", "depths"), "required field is missing (or give stages.design)"
    elif stages.design is not None and (stages.depths is not None or stages.widths is not None):
        given = "depths" if stages.depths is not None else "widths"
        yield ("stages", "design"), f"gives the depths and widths: give it or {given}, not both"


def _one_per_stage(field: str) -> Rule:
    def rule(spec: Any) -> Iterator[Finding]:
        values, count = getattr(spec.stages, field), stage_count(spec.stages)
        if values is not None and len(values) != count:
            message = f"has {entries(len(values))} but depths has {count}; give one per stage"
            yield ("stages", field), message

    return rule


def _block_count(spec: Any) -> Iterator[Finding]:
    given, count = len(spec.stages.block), stage_count(spec.stages)
    if given not in (1, count):
        message = f"has {entries(given)} but depths has {count}; give one, or one per stage"
        yield ("stages", "block"), message


def _bottleneck_only(field: str, default: int) -> Rule:
    def rule(spec: Any) -> Iterator[Finding]:
        basic = set(BASIC_KINDS) & set(spec.stages.block)
        if basic and getattr(spec.stages, field) != default:
            message = "applies to bottleneck blocks only, and this network has basic blocks"
            yield ("stages", field), message

    return rule


def _frozen_zero_init(spec: Any) -> Iterator[Finding]:
    frozen = spec.norm.type == "frozen_batch"
    if frozen and spec.init.zero_init_residual and not spec.stages.preactivation:
        message = "a frozen norm started at zero would silence its branch for good"
        yield ("init", "zero_init_residual"), message


def _zero_pad_norm(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    explicit = "shortcut_norm" in stages.model_fields_set
    if stages.shortcut == "zero_pad" and explicit and stages.shortcut_norm:
        message = "a zero_pad shortcut has no conv and so no norm; set false or leave it out"
        yield ("stages", "shortcut_norm"), message


def _se_settings(spec: Any) -> Iterator[Finding]:
    attention = spec.stages.attention
    for field in ("reduction", "divisor"):
        if attention.type != "se" and field in attention.model_fields_set:
            yield ("stages", "attention", field), "applies to se attention only"


def _stem_norm(spec: Any) -> Iterator[Finding]:
    if not spec.stem.norm and not spec.stages.preactivation:
        message = "only a pre-activation network may leave the stem without a norm"
        yield ("stem", "norm"), message


def _weight_standardization(spec: Any) -> Iterator[Finding]:
    if spec.weight_standardization is not None and not set(spec.stages.block) <= set(PLAIN_KINDS):
        yield ("weight_standardization",), "applies to basic and bottleneck blocks only"


def _drop_path_float32(spec: Any) -> Iterator[Finding]:
    if spec.stages.drop_path_float32 and not spec.stages.drop_path:
        yield ("stages", "drop_path_float32"), "has no effect without drop_path"


def _norm_groups(spec: Any) -> Iterator[Finding]:
    norm = spec.norm
    if norm.type not in GROUPED_NORMS and "groups" in norm.model_fields_set:
        yield ("norm", "groups"), "applies to group norm and evonorm_s0 only"
    if norm.group_size is not None:
        if norm.type != "group":
            yield ("norm", "group_size"), "applies to group norm only"
        elif "groups" in norm.model_fields_set:
            yield ("norm", "group_size"), "give norm.groups or norm.group_size, not both"


def _activating_norm(spec: Any) -> Iterator[Finding]:
    """EvoNorm-S0 and FRN are their own activation: every norm must activate, as a
    pre-activation network's do, but for its shortcut's (which has none here)."""
    if spec.norm.type not in ACTIVATING_NORMS:
        return
    stages, kind = spec.stages, spec.norm.type
    if not stages.preactivation:
        yield ("stages", "preactivation"), f"must be true with {kind}, a norm that activates"
    elif stages.shortcut_norm and stages.shortcut != "zero_pad":
        yield ("stages", "shortcut_norm"), f"must be false with {kind}, a norm that activates"
    if not set(stages.block) <= set(PLAIN_KINDS):
        yield ("stages", "block"), f"{kind} norms basic and bottleneck blocks only"
    if "activation" in spec.model_fields_set:
        yield ("activation",), f"has no effect with {kind}, which is the only activation"
    if spec.stem.pool is not None and spec.stem.pool.type == "conv":
        yield ("stem", "pool", "type"), f"a conv pool's norm would not activate with {kind}"
    if spec.stem.type == "deep" and LAYOUTS[spec.layout].stem is None:
        message = (
            f"deep in the {spec.layout} layout numbers an activation after each norm, which "
            f"{kind} has not; the resnetv2 layout names a deep stem's parts"
        )
        yield ("stem", "type"), message


def _stem_channels(spec: Any) -> Iterator[Finding]:
    stem = spec.stem
    if stem.channels is not None:
        expected = 3 if stem.type == "deep" else 1
        if len(stem.channels) != expected:
            message = f"a {stem.type} stem has {expected} conv(s); give {expected} channel count(s)"
            yield ("stem", "channels"), message


def _pool_fields(spec: Any) -> Iterator[Finding]:
    pool = spec.stem.pool
    if pool is not None and pool.type == "none":
        for field in sorted(pool.model_fields_set - {"type"}):
            yield ("stem", "pool", field), "has no effect without a pool"


def _pool_ceil_mode(spec: Any) -> Iterator[Finding]:
    pool = spec.stem.pool
    if pool is not None and pool.type == "conv":
        for field in sorted(pool.model_fields_set & {"ceil_mode", "zero_padded"}):
            yield ("stem", "pool", field), "applies to a max pool only"


def _pool_zero_padded(spec: Any) -> Iterator[Finding]:
    pool = spec.stem.pool
    if pool is None or not pool.zero_padded or pool.type != "max":
        return
    if pool.padding == 0:
        yield ("stem", "pool", "zero_padded"), "has no effect without padding"
    elif spec.anti_alias == "avg" and pool.stride > 1:
        message = "has no effect where avg anti-aliasing replaces the max pool"
        yield ("stem", "pool", "zero_padded"), message


def _pool_padding(spec: Any) -> Iterator[Finding]:
    pool = spec.stem.pool
    if pool is not None and pool.type != "none" and pool.padding > pool.kernel_size // 2:
        message = f"at most half the kernel size ({pool.kernel_size // 2})"
        yield ("stem", "pool", "padding"), message


def _shortcut_kernel(spec: Any) -> Iterator[Finding]:
    stages = spec.stages
    if stages.shortcut_kernel != 1 and stages.shortcut not in ("projection", "projection_all"):
        message = f"applies to a projection shortcut; a {stages.shortcut} shortcut has a 1x1"
        yield ("stages", "shortcut_kernel"), message


def _anti_alias(spec: Any) -> Iterator[Finding]:
    if spec.anti_alias == "none":
        return
    if spec.stages.preactivation:
        yield ("anti_alias",), "applies to post-activation blocks only"
    elif set(STRIDE_ON_KINDS) & set(spec.stages.block) and spec.stages.stride_on != "3x3":
        message = "follows the stride of a 3x3 conv; with stride_on 1x1 no 3x3 strides"
        yield ("anti_alias",), message


def _layout(spec: Any) -> Iterator[Finding]:
    """A layout names the parts its row lists; it has no names for the rest."""
    layout, stages = LAYOUTS[spec.layout], spec.stages
    if not set(stages.block) <= layout.blocks:
        kinds = " and ".join(kind for kind in get_args(BlockKind) if kind in layout.blocks)
        yield ("stages", "block"), f"the {layout.name} layout has {kinds} blocks only"
    if stages.preactivation and not layout.preactivation:
        yield ("stages", "preactivation"), f"the {layout.name} layout is post-activation only"
    if spec.stem.pool is not None and spec.stem.pool.type == "conv" and not layout.pool_conv:
        yield ("stem", "pool", "type"), f"the {layout.name} layout's stem pool is a max pool"
    if spec.anti_alias != "none" and not layout.anti_alias:
        yield ("anti_alias",), f"the {layout.name} layout has no anti-aliasing pools"
    if spec.head.final_conv is not None and layout.final_conv is None:
        yield ("head", "final_conv"), f"the {layout.name} layout has no final conv"
    if layout.lacks is not None:
        for path, what in layout.lacks(spec):
            yield path, f"the {layout.name} layout {what}"


RULES: tuple[Rule, ...] = (
    _depths_or_design,
    _one_per_stage("widths"),
    _one_per_stage("strides"),
    _one_per_stage("dilations"),
    _one_per_stage("pruned_channels"),
    _one_per_stage("pruned_widths"),
    _block_count,
    _bottleneck_only("groups", 1),
    _bottleneck_only("width_per_group", 64),
    _frozen_zero_init,
    _zero_pad_norm,
    _se_settings,
    _stem_norm,
    _norm_groups,
    _drop_path_float32,
    _weight_standardization,
    _activating_norm,
    _stem_channels,
    _pool_fields,
    _pool_ceil_mode,
    _pool_padding,
    _pool_zero_padded,
    _anti_alias,
    _shortcut_kernel,
    _layout,
    *(rule for family in FAMILIES for rule in family.rules),
)
