"""RegNet's design space (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020,
arXiv:2003.13678): the stages' widths, depths and group widths from depth, w_0, w_a, w_m
and a group width, without torch.

Block j's width is u_j = w_0 + w_a·j, moved to the nearest power of w_m over w_0 and
quantised to a multiple of 8; consecutive equal widths form a stage. Each stage's inner
width (its width times the bottleneck ratio) is then made a multiple of its group width
(capped at the inner width): by pycls's rule (nearest multiple, timm's default) or by
torchvision's `_make_divisible` (never more than 10 % down; timm's `*_tv` entries).
pycls, torchvision and timm compute the block widths in float32, and so does this, one
rounding per operation, so that every published network's widths come out alike.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from typing import Literal

QUANTUM = 8
Rounding = Literal["pycls", "torchvision"]


@dataclass(frozen=True)
class StageDesign:
    width: int  # the stage's output channels
    depth: int  # its blocks
    group_width: int  # channels a group of its grouped 3x3 conv


def _f32(value: float) -> float:
    """`value` rounded to the nearest float32, as a float32 tensor holds it."""
    return struct.unpack("f", struct.pack("f", value))[0]


def block_widths(depth: int, w_0: int, w_a: float, w_m: float) -> list[int]:
    """Each block's quantised width (the first step of the design, per block)."""
    slope, start, log_m = _f32(w_a), _f32(w_0), _f32(math.log(w_m))
    widths = []
    for index in range(depth):
        continuous = _f32(_f32(index * slope) + start)
        exponent = round(_f32(_f32(math.log(_f32(continuous / start))) / log_m))
        width = _f32(start * _f32(_f32(w_m) ** exponent))
        widths.append(int(round(_f32(width / QUANTUM))) * QUANTUM)
    return widths


@functools.lru_cache(maxsize=1024)
def stage_designs(
    depth: int,
    w_0: int,
    w_a: float,
    w_m: float,
    group_width: int,
    bottleneck_ratio: float = 1.0,
    rounding: Rounding = "pycls",
) -> tuple[StageDesign, ...]:
    """The stages' widths, depths and group widths of a RegNet of these parameters
    (asked again for every check of a spec: computed once)."""
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % QUANTUM:
        raise ValueError("w_a >= 0, w_0 > 0 and a multiple of 8, and w_m > 1")
    stages: list[list[int]] = []
    for width in block_widths(depth, w_0, w_a, w_m):
        if stages and stages[-1][0] == width:
            stages[-1][1] += 1
        else:
            stages.append([width, 1])
    designs = []
    for width, count in stages:
        inner = int(width * bottleneck_ratio)
        groups_of = min(group_width, inner)
        inner = (
            _divisible(inner, groups_of)
            if rounding == "torchvision"
            else _nearest(inner, groups_of)
        )
        designs.append(StageDesign(int(inner / bottleneck_ratio), count, groups_of))
    return tuple(designs)


def _nearest(value: int, divisor: int) -> int:
    """pycls's rule: the nearest multiple of `divisor`."""
    return int(round(value / divisor) * divisor)


def _divisible(value: int, divisor: int) -> int:
    """torchvision's `_make_divisible`: the nearest multiple, at least `divisor`, and
    raised by one more where that goes more than 10 % down."""
    result = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return result + divisor if result < 0.9 * value else result
