"""Validation: each bad value is named, located, shown, and the valid choices given."""

from __future__ import annotations

import pytest

from resnetgen.errors import SpecError
from resnetgen.load import load
from resnetgen.spec import Spec

GOOD = """\
name: net
stages:
  block: bottleneck
  depths: [1, 1]
"""


def _problems(write_spec, text: str) -> list[str]:
    path = write_spec(text)
    with pytest.raises(SpecError) as caught:
        load(str(path))
    prefix = f"{path}:"
    assert all(str(p).startswith(prefix) for p in caught.value.problems)
    return [str(p).removeprefix(prefix) for p in caught.value.problems]


def test_a_good_spec_loads(write_spec) -> None:
    loaded = load(str(write_spec(GOOD)))
    assert loaded.spec.name == "net"
    assert loaded.plan.stages[1].stride == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD + "stem:\n  typ: deep\n", "6:3: stem.typ: unknown field; did you mean 'type'?"),
        (
            GOOD.replace("depths", "dephts"),
            "4:3: stages.dephts: unknown field; did you mean 'depths'?",
        ),
        (GOOD + "color: red\n", "5:1: color: unknown field"),
        (
            GOOD.replace("bottleneck", "bottlenek"),
            "3:10: stages.block: should be 'basic', 'bottleneck', 'res2net', 'resnest', "
            "'sk_basic', 'sk_bottleneck' or 'regnet'; did you mean 'bottleneck'? (given 'bottlenek')",
        ),
        (
            GOOD.replace("[1, 1]", "[1, 0]"),
            "4:15: stages.depths.1: should be greater than or equal to 1 (given 0)",
        ),
        (
            GOOD.replace("[1, 1]", "[1, '2']"),
            "4:15: stages.depths.1: should be a valid integer (given '2')",
        ),
        (
            GOOD.replace("[1, 1]", "[1, 2.0]"),
            "4:15: stages.depths.1: should be a valid integer (given 2.0)",
        ),
        (
            GOOD.replace("[1, 1]", "[1, true]"),
            "4:15: stages.depths.1: should be a valid integer (given True)",
        ),
        (
            GOOD.replace("[1, 1]", "[]"),
            "4:11: stages.depths: list should have at least 1 item after validation, not 0 (given [])",
        ),
        (GOOD + "conv_bias: yes\n", "5:12: conv_bias: should be a valid boolean (given 'yes')"),
        (
            GOOD + "head:\n  dropout: 1e-5x\n",
            "6:12: head.dropout: should be a valid number (given '1e-5x')",
        ),
        (GOOD + "head:\n  dropout: 1.5\n", "6:12: head.dropout: should be less than 1 (given 1.5)"),
        (GOOD + "head:\n  dropout: .nan\n", "head.dropout: "),
        (GOOD.replace("name: net", "name: Net"), "1:7: name: should be a lowercase identifier"),
        (
            GOOD.replace("name: net", "name: ../../etc/x"),
            "1:7: name: should be a lowercase identifier",
        ),
        (
            GOOD.replace("name: net", "name: class"),
            "1:7: name: 'class' is a Python keyword (given 'class')",
        ),
        (
            GOOD.replace("name: net", "name: list"),
            "1:7: name: 'list' would shadow a Python builtin (given 'list')",
        ),
        (GOOD.replace("name: net", "name: make_stage"), "would shadow a name"),
        (GOOD.replace("name: net\n", ""), "1:1: name: required field is missing"),
        ("name: x\n", "1:1: stages: required field is missing"),
        (
            GOOD + "reference: pytorch/resnet50\n",
            "5:12: reference: should be torchvision/NAME, timm/NAME, mmpretrain/NAME or "
            "transformers/ORG/NAME",
        ),
        (
            GOOD + "stem:\n  type: deep\n  channels: [64]\n",
            "7:13: stem.channels: a deep stem has 3 conv(s); give 3 channel count(s) (given [64])",
        ),
        (
            GOOD + "stem:\n  pool:\n    type: none\n    stride: 2\n",
            "8:13: stem.pool.stride: has no effect without a pool (given 2)",
        ),
        (
            GOOD + "stem:\n  pool:\n    kernel_size: 2\n    padding: 2\n",
            "8:14: stem.pool.padding: at most half the kernel size (1) (given 2)",
        ),
        (
            GOOD + "  widths: [64]\n",
            "5:11: stages.widths: has 1 entry but depths has 2; give one per stage (given [64])",
        ),
        (GOOD + "  strides: [1, 2, 2]\n", "5:12: stages.strides: has 3 entries but depths has 2"),
        (
            GOOD + "  attention: se\n",
            "5:14: stages.attention: should be a mapping with the fields type, reduction, "
            "divisor, activation; for its type alone write {type: se} (given 'se')",
        ),
        (
            GOOD.replace("bottleneck", "basic") + "  groups: 32\n",
            "5:11: stages.groups: applies to bottleneck blocks only",
        ),
        (
            GOOD.replace("bottleneck", "basic") + "  stride_on: 1x1\n",
            "5:14: stages.stride_on: applies to bottleneck blocks only",
        ),
        (
            GOOD + "  shortcut: zero_pad\n  shortcut_norm: true\n",
            "6:18: stages.shortcut_norm: a zero_pad shortcut has no conv",
        ),
        (
            GOOD + "  shortcut: zero_pad\n  widths: [64, 8]\n",
            "6:16: stages.widths.1: a zero_pad shortcut cannot reduce channels, but stage 2 goes from 256 to 32 (given 8)",
        ),
        (
            GOOD + "  width_per_group: 1\n  widths: [32, 64]\n",
            "5:20: stages.width_per_group: gives stage 1 a bottleneck width of 0",
        ),
        (
            GOOD + "stem:\n  pool:\n    kernel_size: 2\n    padding: 0\ninput:\n  size: [1, 1]\n",
            "10:9: input.size: the input is too small for this network (given [1, 1])",
        ),
        (GOOD + "input:\n  size: [224]\n", "6:9: input.size: list should have at least 2 items"),
        (
            GOOD + "input:\n  channels: 0\n",
            "6:13: input.channels: should be greater than or equal to 1 (given 0)",
        ),
        (
            GOOD + "stem: deep\n",
            "5:7: stem: should be a mapping with the fields type, channels, pool, norm; "
            "for its type alone write {type: deep} (given 'deep')",
        ),
        (
            GOOD + "  attention:\n    type: eca\n    reduction: 4\n",
            "7:16: stages.attention.reduction: applies to se attention only (given 4)",
        ),
        (
            GOOD + "  attention:\n    type: cbam\n",
            "6:11: stages.attention.type: should be 'none', 'se' or 'eca' (given 'cbam')",
        ),
        (
            GOOD + "norm:\n  groups: 8\n",
            "6:11: norm.groups: applies to group norm and evonorm_s0 only (given 8)",
        ),
        (
            GOOD + "norm:\n  type: group\n  groups: 48\n",
            "7:11: norm.groups: 48 groups do not divide the 64 channels of bn1 (given 48)",
        ),
        (
            GOOD + "norm:\n  group_size: 16\n",
            "6:15: norm.group_size: applies to group norm only (given 16)",
        ),
        (
            GOOD + "norm:\n  type: group\n  groups: 8\n  group_size: 16\n",
            "8:15: norm.group_size: give norm.groups or norm.group_size, not both (given 16)",
        ),
        (
            GOOD + "norm:\n  type: group\n  group_size: 48\n",
            "7:15: norm.group_size: does not divide the 64 channels of bn1 (given 48)",
        ),
        (
            GOOD + "norm: group\n",
            "5:7: norm: should be a mapping with the fields type, groups, group_size; "
            "for its type alone write {type: group} (given 'group')",
        ),
        (
            GOOD + "stem:\n  pool:\n    type: conv\n    ceil_mode: true\n",
            "8:16: stem.pool.ceil_mode: applies to a max pool only (given True)",
        ),
        (
            GOOD + "  stride_on: 1x1\nanti_alias: blur\n",
            "6:13: anti_alias: follows the stride of a 3x3 conv; with stride_on 1x1 no 3x3 strides",
        ),
        (
            GOOD + "  preactivation: true\nanti_alias: avg\n",
            "6:13: anti_alias: applies to post-activation blocks only (given 'avg')",
        ),
        (
            GOOD + "  shortcut: avg_down\n  shortcut_kernel: 3\n",
            "6:20: stages.shortcut_kernel: applies to a projection shortcut; a avg_down shortcut "
            "has a 1x1 (given 3)",
        ),
        (
            GOOD + "  groups: 32\n  width_per_group: 4\n  reduce_first: 3\n",
            "7:17: stages.reduce_first: leaves stage 1 a first conv of 42 channels, which 32 "
            "groups cannot take (given 3)",
        ),
        (
            GOOD + "  scale: 3\n",
            "5:10: stages.scale: applies to res2net blocks only, and this network has none "
            "(given 3)",
        ),
        (
            GOOD.replace("bottleneck", "res2net") + "  preactivation: true\n",
            "5:18: stages.preactivation: res2net blocks are post-activation only (given True)",
        ),
        (
            GOOD.replace("bottleneck", "[res2net, bottleneck]") + "  stride_on: 1x1\n",
            "5:14: stages.stride_on: res2net blocks stride on their 3x3 convs only (given '1x1')",
        ),
        (
            GOOD + "  pruned_channels: [8, 8]\n",
            "5:20: stages.pruned_channels: comes with the other of pruned_channels and "
            "pruned_widths (given [8, 8])",
        ),
        (
            GOOD + "  pruned_channels: [8, 8]\n  pruned_widths: [[[4, 4]], [[4, 4], [4, 4]]]\n",
            "6:29: stages.pruned_widths.1: has 2 entries but stage 2 has 1 block",
        ),
        (
            GOOD.replace("bottleneck", "basic")
            + "  pruned_channels: [8, 8]\n  pruned_widths: [[[4, 4]], [[4, 4]]]\n",
            "6:18: stages.pruned_widths: applies to post-activation bottleneck blocks only",
        ),
        (
            GOOD + "  pruned_channels: [8, 8]\n  pruned_widths: [[[4]], [[4, 4]]]\n",
            "6:20: stages.pruned_widths.0.0: list should have at least 2 items",
        ),
        (
            GOOD + "  radix: 4\n",
            "5:10: stages.radix: applies to resnest blocks only, and this network has none "
            "(given 4)",
        ),
        (
            GOOD.replace("bottleneck", "resnest") + "  attention:\n    type: se\n",
            "6:11: stages.attention.type: resnest blocks take no channel attention (given 'se')",
        ),
        (
            GOOD.replace("bottleneck", "resnest") + "anti_alias: blur\n",
            "5:13: anti_alias: resnest blocks take no anti-aliasing (given 'blur')",
        ),
        (
            GOOD.replace("bottleneck", "resnest") + "  avd: middle\n",
            "5:8: stages.avd: should be 'none', 'before' or 'after' (given 'middle')",
        ),
        (
            GOOD + "  selective_kernel:\n    divisor: 16\n",
            "6:14: stages.selective_kernel.divisor: applies to sk_basic and sk_bottleneck "
            "blocks only, and this network has none (given 16)",
        ),
        (
            GOOD.replace("bottleneck", "sk_bottleneck") + "anti_alias: avg\n",
            "5:13: anti_alias: sk blocks take no anti-aliasing (given 'avg')",
        ),
        (
            GOOD.replace("bottleneck", "sk_basic") + "  groups: 2\n",
            "5:11: stages.groups: applies to bottleneck blocks only, and this network has basic "
            "blocks (given 2)",
        ),
        (
            GOOD.replace("bottleneck", "sk_bottleneck") + "  preactivation: true\n",
            "5:18: stages.preactivation: sk blocks are post-activation only (given True)",
        ),
        (
            GOOD.replace("bottleneck", "sk_basic") + "stem:\n  channels: [63]\n",
            "3:3: stages.selective_kernel.split_input: gives stage 1 a selective kernel over 63 "
            "channels, which two paths of 1 group(s) cannot split",
        ),
        (
            GOOD.replace("bottleneck", "res2net") + "layout: legacy_senet\n",
            "3:10: stages.block: the legacy_senet layout has basic and bottleneck blocks only "
            "(given 'res2net')",
        ),
        (
            GOOD + "  groups: 32\n  width_per_group: 4\nlayout: transformers\n",
            "5:11: stages.groups: the transformers layout has no grouped convs (given 32)",
        ),
        (
            GOOD + "layout: transformers\nactivation: silu\n",
            "6:13: activation: the transformers layout post-activated has ReLU only (given 'silu')",
        ),
        (
            GOOD + "layout: mmpretrain\n",
            "4:11: stages.depths: the mmpretrain layout builds ResNet-18, 34, 50, 101 and 152 only "
            "(given [1, 1])",
        ),
        (
            GOOD + "  preactivation: true\nlayout: transformers\n",
            "1:1: norm.type: the transformers layout pre-activated is BiT: group norm and "
            "standardised convs",
        ),
        (
            GOOD + "  branch_activation: true\n",
            "5:22: stages.branch_activation: applies to post-activation basic blocks only, and "
            "this network has none (given True)",
        ),
        (
            GOOD + "  attention:\n    divisor: 1\n",
            "6:14: stages.attention.divisor: applies to se attention only (given 1)",
        ),
        (
            GOOD + "anti_alias: gaussian\n",
            "5:13: anti_alias: should be 'none', 'blur' or 'avg' (given 'gaussian')",
        ),
        (
            GOOD + "anti_alias: avg\ninput:\n  size: [161, 173]\n",
            "7:9: input.size: at this input size the residual branch of layer2.0 gives 20x21 and "
            "its shortcut 20x22; the network does not take it (given [161, 173])",
        ),
        (
            GOOD + "reference: timm/Resnet50\n",
            "5:12: reference: should be torchvision/NAME, timm/NAME, mmpretrain/NAME or "
            "transformers/ORG/NAME (given 'timm/Resnet50')",
        ),
        (
            GOOD + "reference: [timm/resnet50, x]\n",
            "5:28: reference.1: should be torchvision/NAME, timm/NAME, mmpretrain/NAME or transformers/ORG/NAME (given 'x')",
        ),
    ],
)
def test_bad_values(write_spec, text: str, expected: str) -> None:
    problems = _problems(write_spec, text)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once(write_spec) -> None:
    text = GOOD.replace("[1, 1]", "[0, 0]") + "conv_bias: 1\nhead:\n  num_clases: 10\n"
    problems = _problems(write_spec, text)
    assert [p.split(": ")[0] for p in problems] == ["4:12", "4:15", "5:12", "7:3"]


def test_rules_across_fields_report_alongside_bad_values(write_spec) -> None:
    text = (
        "name: net\nconv_bias: yes\nnorm:\n  type: grop\n  groups: 16\n"
        "stem:\n  pool:\n    type: none\n    stride: 2\n"
        "stages:\n  block: basic\n  depths: [1, 1]\n  groups: 32\n"
    )
    assert _problems(write_spec, text) == [
        "2:12: conv_bias: should be a valid boolean (given 'yes')",
        "4:9: norm.type: should be 'batch', 'group', 'frozen_batch', 'evonorm_s0' or "
        "'filter_response'; did you mean 'group'? "
        "(given 'grop')",
        "9:13: stem.pool.stride: has no effect without a pool (given 2)",
        "13:11: stages.groups: applies to bottleneck blocks only, and this network has basic "
        "blocks (given 32)",
    ]  # and no guess about norm.groups: the norm's type is unknown


def test_schema_documents_every_field() -> None:
    schema = Spec.model_json_schema()
    stages = schema["$defs"]["Stages"]["properties"]
    assert set(stages["shortcut"]["enum"]) == {
        "projection",
        "avg_down",
        "zero_pad",
        "projection_all",
        "none",
    }
    assert stages["depths"]["anyOf"][0]["items"]["maximum"] == 256
    for section in schema["$defs"].values():
        for field, body in section["properties"].items():
            assert "description" in body or field in {
                "kernel_size",
                "stride",
                "padding",
                "num_classes",
            }, field


def test_a_zero_pad_shortcut_takes_an_inherited_shortcut_norm_of_false(write_spec) -> None:
    spec = write_spec(
        "name: mine\nextends: cifar_preact_resnet110\nstages:\n  shortcut: zero_pad\n"
    )
    assert load(str(spec)).plan.shortcut_norm is False  # the base says false, and it is


def test_a_misspelt_field_hides_only_the_rules_that_read_the_field_it_stands_for(
    write_spec,
) -> None:
    text = (
        "name: a\ndescripton: hi\nnorm:\n  typ: group\n  groups: 16\n"
        "stages:\n  block: basic\n  depths: [1, 1]\n  widths: [64]\n  groups: 4\n"
    )
    assert [p.split(": ")[1] for p in _problems(write_spec, text)] == [
        "descripton",
        "norm.typ",
        "stages.widths",  # read no misspelt field: reported
        "stages.groups",
    ]  # norm.groups is not judged: its rule reads norm.type, which norm.typ may stand for


def test_a_stray_key_in_a_section_hides_the_rules_reading_that_section(write_spec) -> None:
    text = GOOD + "stem:\n  kind: deep\n  channels: [32, 32, 64]\n"
    assert _problems(write_spec, text) == [
        "6:3: stem.kind: unknown field (fields here: type, channels, pool, norm)"
    ]
