"""Property tests: random valid specs always give a working model; broken ones a clean error.

Each property runs 200 examples; bench/fuzz.py sets RESNETGEN_FUZZ_EXAMPLES for the
long run.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import torch
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from resnetgen.build import outputs
from resnetgen.errors import SpecError
from resnetgen.load import load

EXAMPLES = settings(
    max_examples=int(os.environ.get("RESNETGEN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    """Specs inside every bound, over every field, kept small enough to run in milliseconds."""
    count = draw(st.integers(1, 4))
    shortcut = draw(st.sampled_from(["projection", "avg_down", "zero_pad", "projection_all"]))
    preactivation = draw(st.booleans())
    block_kinds = ["basic", "bottleneck"]
    if not preactivation:
        block_kinds += ["res2net", "resnest", "sk_basic", "sk_bottleneck"]
    if shortcut == "zero_pad":  # channels may only grow, so one kind for every stage
        blocks: str | list[str] = draw(st.sampled_from(block_kinds))
    else:
        blocks = draw(
            st.sampled_from(block_kinds)
            | st.lists(st.sampled_from(block_kinds), min_size=count, max_size=count)
        )
    kinds = set([blocks] if isinstance(blocks, str) else blocks)
    norm = draw(st.sampled_from(["batch", "frozen_batch", "group1", "group2"]))
    selective = bool(kinds & {"sk_basic", "sk_bottleneck"})
    # Selective kernels that split their input in two take even channel counts only.
    split = selective and draw(st.booleans())
    # BiT's convs: timm standardises the weights of these blocks only, each filter of
    # two weights at least (even widths give every 1x1 conv two inputs).
    plain = kinds <= {"basic", "bottleneck"}
    standardised = plain and draw(st.booleans())
    even = 2 if norm == "group2" or split or standardised else 1
    # Split attention's convs group the inner width by groups x radix: whole widths only.
    radix = draw(st.integers(1, 3)) if "resnest" in kinds else 1
    widths = [even * radix * draw(st.integers(1, 12)) for _ in range(count)]
    stem_type = draw(st.sampled_from(["classic", "deep", "cifar"]))
    stem_channels = [
        even * draw(st.integers(1, 12)) for _ in range(3 if stem_type == "deep" else 1)
    ]
    if shortcut == "zero_pad":
        widths.sort()
        stem_channels[-1] = min(stem_channels[-1], widths[0])
    stages: dict[str, Any] = {
        "block": blocks,
        "depths": draw(st.lists(st.integers(1, 2), min_size=count, max_size=count)),
        "widths": widths,
        "strides": draw(st.lists(st.integers(1, 3), min_size=count, max_size=count)),
        "dilations": draw(st.lists(st.integers(1, 3), min_size=count, max_size=count)),
        "shortcut": shortcut,
        "preactivation": preactivation,
        "drop_path": draw(st.sampled_from([0.0, 0.2])),
    }
    if shortcut != "zero_pad":
        stages["shortcut_norm"] = draw(st.booleans())
    if shortcut in ("projection", "projection_all"):
        stages["shortcut_kernel"] = draw(st.sampled_from([1, 3]))
    split_attention = "resnest" in kinds  # which takes no attention, aa or reduction
    if "bottleneck" in kinds and not kinds & {"res2net", "resnest", "sk_bottleneck"}:
        stages["stride_on"] = draw(st.sampled_from(["1x1", "3x3"]))
    if "res2net" in kinds:
        stages["scale"] = draw(st.integers(1, 4))
    if split_attention:
        stages["radix"] = radix
        stages["avd"] = draw(st.sampled_from(["none", "before", "after"]))
    if selective:
        stages["selective_kernel"] = {
            "reduction": draw(st.integers(1, 16)),
            "divisor": draw(st.sampled_from([1, 4, 8, 16])),
            "split_input": split,
        }
    basic = bool(kinds & {"basic", "sk_basic"})
    if not basic and split_attention:  # and its 1x1s the hidden width, 8k wide
        stages["groups"] = 2 if even == 2 else draw(st.sampled_from([1, 2, 4]))
        stages["width_per_group"] = draw(st.sampled_from([64, 128]))
    elif not basic and split:  # inner widths of an even count per group
        stages["groups"] = draw(st.integers(1, 3))
        stages["width_per_group"] = draw(st.sampled_from([64, 128]))
    elif not basic:
        stages["groups"] = 2 if even == 2 else draw(st.integers(1, 3))
        stages["width_per_group"] = draw(st.integers(64, 128))
    prunable = kinds == {"bottleneck"} and not preactivation and shortcut != "zero_pad"
    if prunable and draw(st.booleans()):  # pruned: channels and widths of its own
        groups = stages.get("groups", 1)
        pair = st.tuples(st.integers(1, 12), st.integers(1, 6))
        stages["pruned_channels"] = [even * draw(st.integers(1, 24)) for _ in range(count)]
        stages["pruned_widths"] = [
            [
                [even * groups * a, even * groups * b]
                for a, b in draw(st.lists(pair, min_size=d, max_size=d))
            ]
            for d in stages["depths"]
        ]
    whole = stages.get("groups", 1) == 1 and min(widths) >= 2 and norm != "group2"
    whole = whole and "pruned_widths" not in stages and not split
    if whole and not split_attention:  # widths stay whole
        stages["reduce_first"] = draw(st.sampled_from([1, 2]))
    attention = "none" if split_attention else draw(st.sampled_from(["none", "se", "eca"]))
    stages["attention"] = {"type": attention}
    if attention == "se":
        stages["attention"]["reduction"] = draw(st.integers(1, 16))
        stages["attention"]["divisor"] = draw(st.sampled_from([1, 4, 8]))
    if "basic" in kinds and not preactivation:
        stages["branch_activation"] = draw(st.booleans())
    pool_type = draw(st.sampled_from(["max", "conv", "none"]))
    pool: dict[str, Any] = {"type": pool_type}
    if pool_type != "none":
        kernel = draw(st.integers(1, 3))
        pool.update(
            kernel_size=kernel,
            stride=draw(st.integers(1, 2)),
            padding=draw(st.integers(0, kernel // 2)),
        )
        if pool_type == "max":
            pool["ceil_mode"] = draw(st.booleans())
            if pool["padding"]:  # zeros to pad with
                pool["zero_padded"] = draw(st.booleans())
    side = st.integers(8, 40)
    frozen = norm == "frozen_batch"
    spec: dict[str, Any] = {
        "name": "net",
        "description": draw(st.text(max_size=60)),
        "input": {
            "channels": draw(st.integers(1, 4)),
            "size": [draw(side), draw(side)],
            "resize": draw(st.none() | st.lists(side, min_size=2, max_size=2)),
        },
        "stem": {
            "type": stem_type,
            "channels": stem_channels,
            "pool": pool,
            "norm": draw(st.booleans()) if preactivation else True,
        },
        "stages": stages,
        "head": {"num_classes": draw(st.integers(1, 20)), "dropout": draw(st.floats(0, 0.9))},
        "conv_bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(["relu", "silu", "gelu", "leaky_relu"])),
        "anti_alias": draw(st.sampled_from(["none", "blur", "avg"]))
        if not preactivation
        and stages.get("stride_on", "3x3") == "3x3"
        and not split_attention
        and not selective
        else "none",
        "init": {
            "zero_init_residual": draw(st.booleans()) if preactivation or not frozen else False
        },
    }
    if spec["anti_alias"] == "avg" and pool.get("stride", 1) > 1:
        pool.pop("zero_padded", None)  # an average pool replaces the max pool outright
    if stages["drop_path"]:
        stages["drop_path_float32"] = draw(st.booleans())
    if standardised:
        spec["weight_standardization"] = {"eps": draw(st.sampled_from([1e-8, 1e-6, 1e-3]))}
    if plain and pool_type != "conv" and spec["anti_alias"] == "none":
        # The layouts it may have, named their way; legacy_senet's is post-activation.
        layouts = ["resnet", "resnetv2"] + ([] if preactivation else ["legacy_senet"])
        spec["layout"] = draw(st.sampled_from(layouts))
    if norm.startswith("group"):
        spec["norm"] = {"type": "group", "groups": int(norm[-1])}
    else:
        spec["norm"] = {"type": norm}
    # EvoNorm-S0 and FRN are their own activation: where every norm activates, and a
    # deep stem is named without activation slots.
    activating = plain and preactivation and pool_type != "conv"
    activating = activating and not stages.get("shortcut_norm", False)
    activating = activating and (stem_type != "deep" or spec.get("layout") == "resnetv2")
    if activating and norm != "frozen_batch" and draw(st.booleans()):
        groups = 2 if norm == "group2" else 1
        kind = draw(st.sampled_from(["evonorm_s0", "filter_response"]))
        spec["norm"] = {"type": kind, **({"groups": groups} if kind == "evonorm_s0" else {})}
        del spec["activation"]  # the norm is the only activation
    return spec


class _QuotingDumper(yaml.SafeDumper):
    """Writes every string double-quoted: PyYAML's plain style follows YAML 1.1, so it
    would leave `0E0` bare, which a YAML 1.2 reader takes for a number."""


_QuotingDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
)


def _write(path: Path, spec: Any) -> Path:
    path.write_text(yaml.dump(spec, Dumper=_QuotingDumper, allow_unicode=True), encoding="utf-8")
    return path


@EXAMPLES
@given(spec=valid_specs())
def test_valid_specs_build_run_and_match_their_analysis(
    tmp_path_factory, spec: dict[str, Any]
) -> None:
    path = _write(tmp_path_factory.mktemp("valid") / "spec.yaml", spec)
    try:
        loaded = load(str(path))
    except SpecError as error:
        # The only refusal a spec inside the bounds may meet: an input too small for its pools.
        assert all(problem.field == "input.size" for problem in error.problems), error
        assume(False)
    target, _card = outputs([loaded], str(path.parent))
    namespace: dict[str, Any] = {}
    exec(compile(target.text, "net.py", "exec"), namespace)
    model = namespace["net"]()
    assert sum(p.numel() for p in model.parameters()) == loaded.analysis.params
    height, width = spec["input"]["size"]
    x = torch.randn(2, spec["input"]["channels"], height, width)
    logits = model(x)
    assert logits.shape == (2, spec["head"]["num_classes"])
    logits.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    if "for_inference" in namespace:
        with torch.no_grad():
            expected = model.eval()(x)
        fast = namespace["for_inference"](copy.deepcopy(model))
        with torch.inference_mode():
            got = fast(x.to(memory_format=torch.channels_last))
        scale = expected.abs().max().item() + 1e-6
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(
        ["basic", "bottleneck", "se", "eca", "group", "max", "conv", "3x3", "resnet50"]
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def mutated_specs(draw: st.DrawFn) -> Any:
    spec = copy.deepcopy(draw(valid_specs()))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(spec)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            spec = draw(JUNK) if action == "replace" else spec
            continue
        parent = spec
        for part in path[:-1]:
            parent = parent[part]
        if action == "replace":
            parent[path[-1]] = draw(JUNK)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(JUNK)
        if not isinstance(spec, dict):
            break
    return spec


@EXAMPLES
@given(spec=mutated_specs())
def test_mutated_specs_build_or_fail_cleanly(tmp_path_factory, spec: Any) -> None:
    path = _write(tmp_path_factory.mktemp("mutated") / "spec.yaml", spec)
    try:
        loaded = load(str(path))
    except SpecError as error:
        assert error.problems and all(str(p).startswith(str(path)) for p in error.problems)
        return
    outputs([loaded], str(path.parent))  # renders and verifies the source


@EXAMPLES
@given(spec=valid_specs(), data=st.data())
def test_corrupted_yaml_text_fails_cleanly(
    tmp_path_factory, spec: dict[str, Any], data: st.DataObject
) -> None:
    text = yaml.dump(spec, Dumper=_QuotingDumper)
    position = data.draw(st.integers(0, len(text)))
    noise = data.draw(st.text(min_size=1, max_size=5))
    path = tmp_path_factory.mktemp("corrupt") / "spec.yaml"
    path.write_text(text[:position] + noise + text[position:], encoding="utf-8")
    try:
        loaded = load(str(path))
    except SpecError as error:
        assert error.problems and all(str(p).startswith(str(path)) for p in error.problems)
        return
    outputs([loaded], str(path.parent))
