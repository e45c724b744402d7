"""The differential oracle: any ResNet that timm's, torchvision's, HF transformers' or
mmpretrain's constructor builds and the spec language can express, read into a spec as
`resnetgen import` reads it, generates the same network: the same state_dict, the same
logits in eval and in train mode (the same random draws for dropout and stochastic
depth), the same stage features, the same zero-initialised parameters.

Each property draws RESNETGEN_ORACLE_EXAMPLES examples (a fixed sample of 10 to 40 by
default in the slow tier, a quarter of that in the default tier, so that CI is
repeatable); bench/fuzz.py runs thousands with fresh draws.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from timm.layers import (
    BlurPool2d,
    EcaModule,
    EvoNorm2dS0,
    FilterResponseNormTlu2d,
    GroupNorm,
    GroupNormAct,
    SEModule,
    StdConv2d,
    create_conv2d,
    freeze_batch_norm_2d,
)
from timm.models import regnet as timm_regnet
from timm.models import res2net as timm_res2net
from timm.models import resnest as timm_resnest
from timm.models import resnet as timm_resnet
from timm.models import resnetv2 as timm_resnetv2
from timm.models import sknet as timm_sknet
from torchvision.models import resnet as torchvision_resnet
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.ops.misc import FrozenBatchNorm2d

from resnetgen.importer import check_same_model, instantiate
from resnetgen.load import load
from resnetgen.readers.common import NotExpressible
from resnetgen.readers.tree import read_model
from resnetgen.shortest import shortest_spec

from .conftest import assert_same_tensor, randomise_norms

LONG_RUN = "RESNETGEN_ORACLE_EXAMPLES" in os.environ


def _examples(count: int) -> settings:
    return settings(
        max_examples=int(os.environ.get("RESNETGEN_ORACLE_EXAMPLES", count)),
        deadline=None,
        derandomize=not LONG_RUN,
        database=None if not LONG_RUN else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def _tiers(full: int) -> list[object]:
    """A property's example counts: a quarter of `full` (three at least) in the default
    tier, `full` in the slow one."""
    sampled = pytest.param(max(3, full // 4), id="sampled")
    return [sampled, pytest.param(full, id="full", marks=pytest.mark.slow)]


# What the draws mean, kept as plain values so that a failing example reads as the
# constructor call that reproduces it.

TIMM_BLOCKS = {
    "basic": timm_resnet.BasicBlock,
    "bottleneck": timm_resnet.Bottleneck,
    "res2net": timm_res2net.Bottle2neck,
    "resnest": timm_resnest.ResNestBottleneck,
    "sk_basic": timm_sknet.SelectiveKernelBasic,
    "sk_bottleneck": timm_sknet.SelectiveKernelBottleneck,
}
SELECTIVE_KERNEL = {"sk_basic", "sk_bottleneck"}
TORCHVISION_BLOCKS = {
    "basic": torchvision_resnet.BasicBlock,
    "bottleneck": torchvision_resnet.Bottleneck,
}


@st.composite
def timm_configurations(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of timm's ResNet, over every one the spec language shares."""
    kinds = draw(
        st.sampled_from(list(TIMM_BLOCKS))
        | st.lists(st.sampled_from(list(TIMM_BLOCKS)), min_size=4, max_size=4)
    )
    used = {kinds} if isinstance(kinds, str) else set(kinds)
    # timm cannot build its frozen norm by name: it freezes a built model's batch norms.
    norm = draw(st.sampled_from(["batchnorm", "frozen", "groupnorm"]))
    groups = draw(st.sampled_from([1, 2, 4, 8])) if norm == "groupnorm" else 1
    config: dict[str, Any] = {
        "block": kinds,
        "layers": draw(st.lists(st.integers(1, 2), min_size=4, max_size=4)),
        "channels": [8 * draw(st.integers(1, 4)) for _ in range(4)],
        "stem_type": draw(st.sampled_from(["", "deep", "deep_tiered"])),
        "stem_width": 8 * draw(st.integers(1, 4)),
        "replace_stem_pool": draw(st.booleans()),
        "avg_down": draw(st.booleans()),
        "output_stride": draw(st.sampled_from([8, 16, 32])),
        "act_layer": draw(st.sampled_from(["relu", "silu", "swish", "gelu", "leaky_relu"])),
        "norm_layer": {"frozen": "batchnorm", "groupnorm": f"groupnorm/{groups}"}.get(norm, norm),
        "freeze_batch_norm_2d": norm == "frozen",
        "in_chans": draw(st.integers(1, 4)),
        "num_classes": draw(st.integers(0, 20)),
        "drop_rate": draw(st.sampled_from([0.0, 0.25])),
        "drop_path_rate": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "zero_init_last": draw(st.booleans()),
        "down_kernel_size": draw(st.sampled_from([1, 3])),
    }
    # timm's ResNeSt block asserts that it gets no anti-aliasing, reduction or attention;
    # the language's selective kernels take no anti-aliasing, which timm's put in each path.
    split_attention = "resnest" in used
    unaliased = split_attention or bool(used & SELECTIVE_KERNEL)
    config["aa_layer"] = None if unaliased else draw(st.sampled_from([None, "blur", "avg"]))
    config["block_reduce_first"] = 1 if split_attention else draw(st.sampled_from([1, 2]))
    if not used & {"basic", "sk_basic"}:  # timm's basic blocks take one group of 64 only
        config["cardinality"] = draw(st.sampled_from([1, 2, 4]))
        config["base_width"] = draw(st.sampled_from([16, 26, 32, 48, 64, 96, 128]))
    block_args: dict[str, Any] = {}
    if used == {"res2net"}:  # the other blocks take no scale
        block_args["scale"] = draw(st.integers(1, 6))
    if used <= SELECTIVE_KERNEL:  # nor the selective kernels' settings
        block_args["sk_kwargs"] = {
            "rd_ratio": 1 / draw(st.integers(1, 32)),
            "rd_divisor": draw(st.sampled_from([1, 4, 8, 16, 32])),
            "split_input": draw(st.booleans()),
        }
    if used == {"resnest"}:  # nor radix and average-pool downsampling
        block_args["radix"] = draw(st.integers(1, 4))
        block_args["avd"] = draw(st.booleans())
        block_args["avd_first"] = draw(st.booleans())
    attention = "none" if split_attention else draw(st.sampled_from(["none", "se", "eca"]))
    if attention == "se":
        block_args["attn_layer"] = f"se/{draw(st.integers(1, 32))}"
    elif attention == "eca":
        block_args["attn_layer"] = "eca"
    if block_args:
        config["block_args"] = block_args
    return config


def timm_model(config: dict[str, Any]) -> torch.nn.Module:
    """timm's ResNet built from a drawn configuration."""
    kwargs = dict(config)
    kinds = kwargs.pop("block")
    kwargs["block"] = (
        TIMM_BLOCKS[kinds] if isinstance(kinds, str) else tuple(TIMM_BLOCKS[k] for k in kinds)
    )
    if kwargs["norm_layer"].startswith("groupnorm/"):
        kwargs["norm_layer"] = partial(GroupNorm, num_groups=int(kwargs["norm_layer"][10:]))
    block_args = dict(kwargs.get("block_args", {}))
    attention = block_args.get("attn_layer")
    if attention is not None and attention.startswith("se/"):
        block_args["attn_layer"] = partial(SEModule, rd_ratio=1 / int(attention[3:]))
    elif attention == "eca":  # the class: timm's Res2Net block does not look names up
        block_args["attn_layer"] = EcaModule
    if block_args:
        kwargs["block_args"] = block_args
    kwargs["aa_layer"] = {None: None, "blur": BlurPool2d, "avg": torch.nn.AvgPool2d}[
        kwargs["aa_layer"]
    ]
    freeze = kwargs.pop("freeze_batch_norm_2d")
    model = timm_resnet.ResNet(**kwargs)
    return freeze_batch_norm_2d(model) if freeze else model


# resnetv2.py's norms by name: those that take the activation, and those that are one
RESNETV2_NORMS = ["batchnorm", "groupnorm", "evonorm_s0", "filter_response"]


@st.composite
def resnetv2_configurations(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of timm's ResNetV2, over every one the spec language shares."""
    preact = draw(st.booleans())
    # EvoNorm-S0 and FRN are their own activation: in the language, and in timm's
    # post-activation bottleneck but for its last norm, pre-activation only.
    norm = draw(st.sampled_from(RESNETV2_NORMS if preact else RESNETV2_NORMS[:2]))
    groups = draw(st.sampled_from([1, 2, 4, 8])) if norm in ("groupnorm", "evonorm_s0") else 1
    return {
        "layers": draw(st.lists(st.integers(1, 2), min_size=4, max_size=4)),
        # Multiples of 32, so that a bottleneck's inner width (timm rounds it to a multiple
        # of 8) is its share of them exactly, as the language's is.
        "channels": [32 * draw(st.integers(1, 4)) for _ in range(4)],
        "width_factor": draw(st.integers(1, 2)),
        "stem_chs": 16 * draw(st.integers(1, 4)),
        "stem_type": draw(st.sampled_from(["", "fixed", "deep", "deep_fixed", "tiered"])),
        "avg_down": draw(st.booleans()),
        "preact": preact,
        "basic": preact and draw(st.booleans()),  # timm's post-activation blocks are bottlenecks
        "bottle_ratio": draw(st.sampled_from([0.25, 0.5, 1.0])),
        "output_stride": draw(st.sampled_from([8, 16, 32])),
        "act_layer": draw(st.sampled_from(["relu", "silu", "gelu", "leaky_relu"])),
        "norm_layer": f"{norm}/{groups}",
        "conv_layer": draw(st.sampled_from(["plain", "std/1e-6", "std/1e-8"])),
        "in_chans": draw(st.integers(1, 4)),
        "num_classes": draw(st.integers(0, 20)),
        "drop_rate": draw(st.sampled_from([0.0, 0.25])),
        "drop_path_rate": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "zero_init_last": draw(st.booleans()),
    }


def resnetv2_model(config: dict[str, Any]) -> torch.nn.Module:
    """timm's ResNetV2 built from a drawn configuration."""
    kwargs = dict(config)
    norm, groups = kwargs.pop("norm_layer").split("/")
    kwargs["norm_layer"] = {
        "batchnorm": "batchnorm",
        "groupnorm": partial(GroupNormAct, num_groups=int(groups)),
        "evonorm_s0": partial(EvoNorm2dS0, groups=int(groups)),
        "filter_response": FilterResponseNormTlu2d,
    }[norm]
    conv = kwargs.pop("conv_layer")
    kwargs["conv_layer"] = (
        create_conv2d if conv == "plain" else partial(StdConv2d, eps=float(conv[4:]))
    )
    return timm_resnetv2.ResNetV2(**kwargs)


@st.composite
def torchvision_configurations(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of torchvision's ResNet, over every one the spec language shares."""
    kind = draw(st.sampled_from(["basic", "bottleneck"]))
    norm = draw(st.sampled_from(["batchnorm", "frozenbatchnorm2d", "groupnorm"]))
    config: dict[str, Any] = {
        "block": kind,
        "layers": draw(st.lists(st.integers(1, 2), min_size=4, max_size=4)),
        "num_classes": draw(st.integers(1, 20)),
        "zero_init_residual": draw(st.booleans()),
        "norm_layer": norm
        if norm != "groupnorm"
        else f"groupnorm/{draw(st.sampled_from([1, 4, 32]))}",
    }
    if kind == "bottleneck":
        groups = draw(st.sampled_from([1, 2, 4, 8, 32, 64]))
        config["groups"] = groups
        config["width_per_group"] = draw(st.sampled_from([64, 128, 256])) // groups
        config["replace_stride_with_dilation"] = draw(
            st.lists(st.booleans(), min_size=3, max_size=3)
        )
    return config


def torchvision_model(config: dict[str, Any]) -> torch.nn.Module:
    kwargs = dict(config)
    kwargs["block"] = TORCHVISION_BLOCKS[kwargs["block"]]
    norm = kwargs.pop("norm_layer")
    if norm.startswith("groupnorm/"):
        kwargs["norm_layer"] = partial(_group_norm, int(norm[10:]))
    elif norm == "frozenbatchnorm2d":
        kwargs["norm_layer"] = FrozenBatchNorm2d
    return torchvision_resnet.ResNet(**kwargs)


def _group_norm(groups: int, channels: int) -> torch.nn.GroupNorm:
    return torch.nn.GroupNorm(groups, channels)


def _zero_parameters(model: torch.nn.Module) -> set[str]:
    """The zero parameters by their names in the state_dict (a library's, where the
    generated file speaks its names)."""
    state = model.state_dict(keep_vars=True)
    return {n for n, p in state.items() if isinstance(p, torch.nn.Parameter) and not torch.any(p)}


def assert_same_network(
    reference: torch.nn.Module, stage_features, directory: Path, sizes: list[tuple[int, int]]
) -> None:
    """The spec read from `reference` generates it: see the module docstring."""
    shortest = shortest_spec(read_model(reference), {"name": "oracle"}, directory)
    event(f"extends {shortest.extends or 'nothing'}")
    path = directory / "oracle.yaml"
    path.write_text(shortest.text)
    loaded = load(str(path))
    check_same_model(loaded, reference)  # import's own check, before it writes
    generated = instantiate(loaded)
    assert _zero_parameters(generated) == _zero_parameters(reference)

    generator = torch.Generator().manual_seed(0)
    randomise_norms(reference, generator)
    want = reference.state_dict()
    assert [(k, v.shape, v.dtype) for k, v in generated.state_dict().items()] == [
        (k, v.shape, v.dtype) for k, v in want.items()
    ]
    generated.load_state_dict({k: v.clone() for k, v in want.items()}, strict=True)
    channels = loaded.plan.in_channels
    taken = []  # the sizes the reference takes: timm's average anti-aliasing wants even ones
    for mode in ("eval", "train"):
        reference.train(mode == "train")
        generated.train(mode == "train")
        for height, width in sizes:
            x = torch.randn(2, channels, height, width, generator=generator)
            with torch.no_grad():
                torch.manual_seed(1)
                try:
                    expected = reference(x)
                except RuntimeError:
                    with pytest.raises(RuntimeError, match="must match the size"):
                        generated(x)
                    continue
                torch.manual_seed(1)
                got = generated(x)
            torch.testing.assert_close(got, expected)
            taken.append((height, width))
    updated = generated.state_dict()
    for key, value in reference.state_dict().items():  # running statistics after training
        assert_same_tensor(updated[key], value, msg=key)
    reference.eval()
    generated.eval()
    x = torch.randn(1, channels, *taken[-1], generator=generator)
    with torch.no_grad():
        expected_stages = stage_features(reference, x)
        got_stages = generated.forward_stages(x)
    assert len(got_stages) == len(expected_stages)
    for got, expected in zip(got_stages, expected_stages, strict=True):
        torch.testing.assert_close(got, expected)


def _timm_stages(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The four stages' outputs of a timm network (resnet.py's, resnetv2.py's, regnet.py's)."""
    return model.forward_intermediates(x, indices=[1, 2, 3, 4], intermediates_only=True)


def _torchvision_stages(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    layers = {f"layer{index}": str(index) for index in range(1, 5)}
    return list(IntermediateLayerGetter(model, layers)(x).values())


@pytest.mark.parametrize("examples", _tiers(40))
def test_timm_resnets_read_into_specs_are_the_same_network(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    @_examples(examples)
    @given(config=timm_configurations(), odd=st.sampled_from([(97, 103), (65, 71), (129, 35)]))
    def check(config: dict[str, Any], odd: tuple[int, int]) -> None:
        try:
            reference = timm_model(config)
        except ValueError as error:  # a group count that does not divide a tiered stem's width
            assert "divisible" in str(error), error
            assume(False)
        except AssertionError:  # a selective kernel's input split over an odd channel count
            kinds = {config["block"]} if isinstance(config["block"], str) else set(config["block"])
            assert kinds & SELECTIVE_KERNEL, config
            assume(False)
        norm = "frozen" if config["freeze_batch_norm_2d"] else config["norm_layer"]
        event(f"timm: output stride {config['output_stride']}, {norm}")
        kinds = [config["block"]] if isinstance(config["block"], str) else config["block"]
        event(f"timm blocks: {', '.join(sorted(set(kinds)))}")
        assert_same_network(
            reference, _timm_stages, tmp_path_factory.mktemp("timm"), [(224, 224), odd]
        )

    check()


@pytest.mark.parametrize("examples", _tiers(25))
def test_timm_resnetv2s_read_into_specs_are_the_same_network(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    @_examples(examples)
    @given(config=resnetv2_configurations(), odd=st.sampled_from([(97, 103), (65, 71), (129, 35)]))
    def check(config: dict[str, Any], odd: tuple[int, int]) -> None:
        try:
            reference = resnetv2_model(config)
        except ValueError as error:  # a group count that does not divide a width
            assert "divisible" in str(error), error
            assume(False)
        evonorms = [m for m in reference.modules() if isinstance(m, EvoNorm2dS0)]
        # EvoNorm-S0 checks its groups only when it runs: the language, when it plans.
        assume(all(m.weight.shape[0] % m.groups == 0 for m in evonorms))
        try:
            read_model(reference)
        except NotExpressible as error:
            # timm's resnetv2 projects on each stage's first bottleneck (and on a basic block
            # where a dilated stage starts), whatever its shape: the language, where the
            # shape changes.
            assert "keeps its shape" in error.reason, error
            event("resnetv2: a projection on a block that keeps its shape")
            assume(False)
        event(f"resnetv2: {config['norm_layer'].split('/')[0]}, {config['conv_layer']}")
        kind = "basic" if config["basic"] else "bottleneck"
        event(f"resnetv2: {'pre' if config['preact'] else 'post'}-activation {kind}")
        sizes = [(224, 224), odd]
        assert_same_network(reference, _timm_stages, tmp_path_factory.mktemp("v2"), sizes)

    check()


@st.composite
def regnet_configurations(draw: st.DrawFn) -> dict[str, Any]:
    """timm's RegNetCfg over what the language shares (its X and Y blocks, pre-activated
    or not, either rounding, its activations, batch norm or group norm of a group size,
    its shortcuts: a projection, after an average pool, or none where the shape changes;
    linear outputs and a final conv), and the network's own arguments (output stride,
    stochastic depth)."""
    norm = draw(st.sampled_from(["batchnorm", "batchnorm", "groupnorm/4", "groupnorm/8"]))
    w0 = 8 * draw(st.integers(1, 6))
    wa = draw(st.sampled_from([6.0, 8.5, 16.25, 24.48, 36.44]))
    wm = draw(st.sampled_from([1.5, 2.0, 2.49, 2.9]))
    # timm builds four stages only: the depths whose design gives four.
    group_size = draw(st.sampled_from([4, 8, 16, 24]))
    depths = [
        d for d in range(4, 15) if timm_regnet.generate_regnet(wa, w0, wm, d, group_size)[1] == 4
    ]
    assume(depths)
    preact = draw(st.booleans())
    shortcuts = ["conv1x1", "conv1x1", "avg", *([] if preact else [""])]
    return {
        "cfg": {
            "depth": draw(st.sampled_from(depths)),
            "w0": w0,
            "wa": wa,
            "wm": wm,
            "group_size": group_size,
            "bottle_ratio": draw(st.sampled_from([1.0, 1.0, 0.5, 2.0])),
            "se_ratio": draw(st.sampled_from([0.0, 0.25, 0.5])),
            "group_min_ratio": draw(st.sampled_from([0.0, 0.9])),
            "stem_width": 8 * draw(st.integers(1, 4)),
            "act_layer": draw(st.sampled_from(["relu", "relu", "silu"])),
            "norm_layer": norm,
            "preact": preact,
            "downsample": draw(st.sampled_from(shortcuts)),
            "linear_out": draw(st.booleans()),
            "num_features": draw(st.sampled_from([0, 0, 40])),
        },
        "in_chans": draw(st.integers(1, 4)),
        "num_classes": draw(st.integers(0, 20)),
        "drop_rate": draw(st.sampled_from([0.0, 0.25])),
        "drop_path_rate": draw(st.sampled_from([0.0, 0.0, 0.1])),
        "output_stride": draw(st.sampled_from([32, 32, 16, 8])),
        "zero_init_last": draw(st.booleans()),
    }


def regnet_model(config: dict[str, Any]) -> torch.nn.Module:
    cfg = dict(config["cfg"])
    if cfg["norm_layer"].startswith("groupnorm/"):
        cfg["norm_layer"] = partial(GroupNormAct, group_size=int(cfg["norm_layer"][10:]))
    arguments = {key: value for key, value in config.items() if key != "cfg"}
    return timm_regnet.RegNet(timm_regnet.RegNetCfg(**cfg), **arguments)


@pytest.mark.parametrize("examples", _tiers(10))
def test_timm_regnets_read_into_specs_are_the_same_network(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    @_examples(examples)
    @given(config=regnet_configurations(), odd=st.sampled_from([(97, 103), (65, 71), (129, 35)]))
    def check(config: dict[str, Any], odd: tuple[int, int]) -> None:
        try:
            reference = regnet_model(config)
        except AssertionError:  # timm's: a group norm's group wider than a layer's channels
            assume(False)
        try:
            read_model(reference)
        except NotExpressible as error:
            # timm's RegNet projects where a dilated stage starts, whatever its shape (two
            # stages of one width, once the widths are rounded to their groups): the
            # language, where the shape changes.
            assert "keeps its shape" in error.reason and config["output_stride"] < 32, error
            event("regnet: a projection on a block that keeps its shape")
            assume(False)
        cfg = config["cfg"]
        event(f"regnet: se {cfg['se_ratio']}, bottleneck ratio {cfg['bottle_ratio']}")
        event(
            f"regnet: {cfg['norm_layer']}, {cfg['act_layer']}, output stride {config['output_stride']}"
        )
        event(
            f"regnet: {'pre' if cfg['preact'] else 'post'}-activation, shortcut {cfg['downsample']!r}"
        )
        directory = tmp_path_factory.mktemp("regnet")
        assert_same_network(reference, _timm_stages, directory, [(224, 224), odd])

    check()


@pytest.mark.parametrize("examples", _tiers(15))
def test_torchvision_resnets_read_into_specs_are_the_same_network(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    @_examples(examples)
    @given(config=torchvision_configurations())
    def check(config: dict[str, Any]) -> None:
        try:
            reference = torchvision_model(config)
        except ValueError as error:  # a group count that does not divide a width
            assert "divisible" in str(error), error
            assume(False)
        event(f"torchvision: {config['block']}, {config['norm_layer']}")
        sizes = [(224, 224), (97, 103)]
        assert_same_network(reference, _torchvision_stages, tmp_path_factory.mktemp("tv"), sizes)

    check()


@st.composite
def hf_configurations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """HF's ResNetConfig, or a BitConfig, over every setting the language shares: depths,
    widths (hidden_sizes), the stem's width, where the stride sits and whether the first
    stage strides; BiT's norm groups and activation."""
    count = draw(st.integers(1, 4))
    depths = draw(st.lists(st.integers(1, 2), min_size=count, max_size=count))
    if draw(st.booleans()):
        groups = draw(st.sampled_from([1, 4, 8]))
        sizes = draw(st.lists(st.sampled_from([32, 64, 128]), min_size=count, max_size=count))
        config = {"depths": depths, "hidden_sizes": sizes, "num_groups": groups}
        config["embedding_size"] = draw(st.sampled_from([16, 32]))
        config["hidden_act"] = draw(st.sampled_from(["relu", "silu", "gelu"]))
        return "Bit", {**config, "num_labels": draw(st.integers(1, 20))}
    kind = draw(st.sampled_from(["basic", "bottleneck"]))
    sizes = draw(st.lists(st.sampled_from([16, 32, 64, 128]), min_size=count, max_size=count))
    config = {"depths": depths, "hidden_sizes": sizes, "layer_type": kind}
    config["embedding_size"] = draw(st.sampled_from([16, 24, 64]))
    config["num_channels"] = draw(st.sampled_from([1, 3]))
    config["downsample_in_first_stage"] = draw(st.booleans())
    config["downsample_in_bottleneck"] = draw(st.booleans())
    return "ResNet", {**config, "num_labels": draw(st.integers(1, 20))}


def hf_model(kind: str, config: dict[str, Any]) -> torch.nn.Module:
    import transformers

    from resnetgen.references import logits_only

    settings = getattr(transformers, f"{kind}Config")(**config)
    return logits_only(getattr(transformers, f"{kind}ForImageClassification")(settings))


def _hf_stages(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    body = model.base_model
    return list(body(x, output_hidden_states=True).hidden_states[1:])


@pytest.mark.parametrize("examples", _tiers(10))
def test_hf_resnets_and_bits_read_into_specs_are_the_same_network(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    @_examples(examples)
    @given(draw=hf_configurations())
    def check(draw: tuple[str, dict[str, Any]]) -> None:
        kind, config = draw
        reference = hf_model(kind, config)
        try:
            read_model(reference)
        except NotExpressible as error:
            # HF's BiT, as timm's resnetv2, projects on each stage's first block whatever its
            # shape: the language, where the shape changes.
            assert kind == "Bit" and "keeps its shape" in error.reason, error
            event("transformers: a BiT projection on a block that keeps its shape")
            assume(False)
        event(f"transformers: {kind}, {config.get('layer_type', 'preactivation')}")
        sizes = [(224, 224), (97, 103)]
        assert_same_network(reference, _hf_stages, tmp_path_factory.mktemp("hf"), sizes)

    check()


@st.composite
def mmpretrain_configurations(draw: st.DrawFn) -> dict[str, Any]:
    """mmpretrain's ResNet arguments over the space the language shares: the depth, the
    deep stem and its width, the average-pool shortcut, the base width, each stage's
    stride and the stride's place (style). Its zero_init_residual acts in init_weights,
    beside a head init of its own, which the language does not follow."""
    return {
        "depth": draw(st.sampled_from([18, 34, 50])),
        "deep_stem": draw(st.booleans()),
        "avg_down": draw(st.booleans()),
        "stem_channels": draw(st.sampled_from([32, 64])),
        "base_channels": draw(st.sampled_from([16, 32, 64])),
        "strides": tuple(draw(st.lists(st.sampled_from([1, 2]), min_size=4, max_size=4))),
        "style": draw(st.sampled_from(["pytorch", "caffe"])),
        "num_classes": draw(st.integers(1, 20)),
    }


def mmpretrain_model(config: dict[str, Any]) -> torch.nn.Module:
    from mmpretrain.registry import MODELS
    from mmpretrain.utils import register_all_modules

    register_all_modules()
    backbone = {key: value for key, value in config.items() if key != "num_classes"}
    expansion = 4 if config["depth"] >= 50 else 1
    model = MODELS.build(
        {
            "type": "ImageClassifier",
            "backbone": {"type": "ResNet", "out_indices": (0, 1, 2, 3), **backbone},
            "neck": {"type": "GlobalAveragePooling"},
            "head": {
                "type": "LinearClsHead",
                "num_classes": config["num_classes"],
                "in_channels": config["base_channels"] * 8 * expansion,
            },
        }
    )
    return model


def _mmpretrain_stages(model: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    return list(model.backbone(x))


@pytest.mark.parametrize("examples", _tiers(10))
def test_mmpretrain_resnets_read_into_specs_are_the_same_network(
    tmp_path_factory: pytest.TempPathFactory, examples: int
) -> None:
    @_examples(examples)
    @given(config=mmpretrain_configurations())
    def check(config: dict[str, Any]) -> None:
        reference = mmpretrain_model(config)
        event(f"mmpretrain: depth {config['depth']}, style {config['style']}")
        sizes = [(224, 224), (97, 103)]
        assert_same_network(reference, _mmpretrain_stages, tmp_path_factory.mktemp("mm"), sizes)

    check()
