"""RegNet's width rule (generator/regnet_widths.py) gives each published network's stages:
every torchvision builder's and every timm entry's widths, depths and group widths, as
those libraries compute them."""

from __future__ import annotations

import pytest
import timm.models.regnet as timm_regnet
from torchvision.models.regnet import BlockParams

from resnetgen.regnet_widths import stage_designs

# torchvision's builders: depth, w_0, w_a, w_m, group width (REFERENCE: RegNet).
TORCHVISION = {
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168),
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264),
}


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvisions_builders_widths(name: str) -> None:
    depth, w_0, w_a, w_m, group_width = TORCHVISION[name]
    expected = BlockParams.from_init_params(depth, w_0, w_a, w_m, group_width)
    designs = stage_designs(depth, w_0, w_a, w_m, group_width, rounding="torchvision")
    assert [d.width for d in designs] == expected.widths
    assert [d.depth for d in designs] == expected.depths
    assert [d.group_width for d in designs] == expected.group_widths


@pytest.mark.parametrize("name", sorted(timm_regnet.model_cfgs))
def test_timms_entries_widths(name: str) -> None:
    cfg = timm_regnet.model_cfgs[name]
    widths, stages, groups = timm_regnet.generate_regnet(
        cfg.wa, cfg.w0, cfg.wm, cfg.depth, cfg.group_size
    )
    stage_widths = sorted(set(widths))
    depths = [widths.count(width) for width in stage_widths]
    ratios = [cfg.bottle_ratio] * stages
    stage_widths, groups = timm_regnet.adjust_widths_groups_comp(
        stage_widths, ratios, groups, min_ratio=cfg.group_min_ratio
    )
    rounding = "torchvision" if cfg.group_min_ratio else "pycls"
    designs = stage_designs(
        cfg.depth, cfg.w0, cfg.wa, cfg.wm, cfg.group_size, cfg.bottle_ratio, rounding
    )
    assert [(d.width, d.depth, d.group_width) for d in designs] == list(
        zip(stage_widths, depths, groups, strict=True)
    )


def test_bad_design_values_are_refused() -> None:
    for values in ((22, 24, 24.48, 1.0, 16), (22, 20, 24.48, 2.5, 16), (22, 24, -1.0, 2.5, 16)):
        with pytest.raises(ValueError, match="w_m > 1"):
            stage_designs(*values)
