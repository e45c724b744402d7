"""Channel arithmetic as torchvision and timm do it, shared by the plan and the readers."""

from __future__ import annotations


def bottleneck_width(width: int, width_per_group: int, groups: int) -> int:
    """The inner width of a bottleneck of base `width`, as torchvision and timm compute it."""
    return width * width_per_group // 64 * groups


def make_divisible(
    value: float, divisor: int, minimum: int | None = None, round_limit: float = 0.9
) -> int:
    """`value` rounded to a multiple of `divisor`, at least `minimum` (the divisor by
    default), and up by one divisor where rounding lost more than 1 - round_limit of it:
    timm's arithmetic for the hidden widths of its attention modules."""
    rounded = max(minimum or divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def se_hidden(channels: int, reduction: int, divisor: int = 8) -> int:
    """Squeeze-and-excitation's hidden width, as timm sizes it from rd_ratio = 1 / reduction
    and rd_divisor."""
    return make_divisible(channels * (1 / reduction), divisor, round_limit=0)
