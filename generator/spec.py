"""The spec language: what a user writes to describe a ResNet-family network.

Every architectural choice is a closed vocabulary, every number has bounds, unknown
fields are refused. Fields left out keep the defaults documented here; defaults that
depend on another field (the stem's channels depend on its type) stay `None` here and
are settled in `generator.plan`. `generator.rules` holds the rules that tie fields
together.
"""

from __future__ import annotations

import builtins
import keyword
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from .regnet_widths import Rounding, StageDesign, stage_designs

BlockKind = Literal[
    "basic", "bottleneck", "res2net", "resnest", "sk_basic", "sk_bottleneck", "regnet"
]
BASIC_KINDS = ("basic", "sk_basic")  # blocks of two 3x3 convs: no inner width, one group
PLAIN_KINDS = ("basic", "bottleneck")  # resnet.py's own, which every layout names
REGNET_KINDS: tuple[BlockKind, ...] = ("regnet",)  # regnet.py's, which only its layouts name
# The kinds resnet.py's layouts name: all but RegNet's.
RESNET_KINDS = tuple(kind for kind in get_args(BlockKind) if kind not in REGNET_KINDS)
STRIDE_ON_KINDS = ("bottleneck",)  # blocks whose stride stages.stride_on places
AvdPlace = Literal["none", "before", "after"]
StemType = Literal["classic", "deep", "cifar", "strided_3x3"]
PoolType = Literal["max", "conv", "none"]
AttentionType = Literal["none", "se", "eca"]
NormType = Literal["batch", "group", "frozen_batch", "evonorm_s0", "filter_response"]
ACTIVATING_NORMS = ("evonorm_s0", "filter_response")  # norms that are their own activation
GROUPED_NORMS = ("group", "evonorm_s0")  # norms over groups of channels: norm.groups
ActivationType = Literal["relu", "silu", "gelu", "leaky_relu"]
AntiAliasType = Literal["none", "blur", "avg"]
ShortcutKind = Literal["projection", "avg_down", "zero_pad", "projection_all", "none"]
StrideOn = Literal["1x1", "3x3"]
LayoutName = Literal[
    "resnet",
    "legacy_senet",
    "resnetv2",
    "transformers",
    "mmpretrain",
    "regnet",
    "torchvision_regnet",
    "transformers_regnet",
]

# Top-level names a generated file defines besides its factory; a spec name must not shadow them.
RESERVED_NAMES = frozenset(
    {
        "torch",
        "nn",
        "ResNet",
        "RegNet",
        "RegNetBlock",
        "PreActRegNetBlock",
        "BasicBlock",
        "Bottleneck",
        "PadShortcut",
        "SqueezeExcite",
        "EfficientChannelAttention",
        "conv1x1",
        "conv3x3",
        "checkpoint_name",
        "load_under_own_names",
        "save_under_checkpoint_names",
        "downsample",
        "make_stage",
        "fold_batch_norm",
        "for_inference",
        "PreActBasicBlock",
        "PreActBottleneck",
        "DropPath",
        "FrozenBatchNorm2d",
        "BlurPool",
        "Res2NetBottleneck",
        "ResNeStBottleneck",
        "SplitAttention",
        "ConvNormAct",
        "SelectiveKernel",
        "SelectiveKernelAttention",
        "SelectiveKernelBasicBlock",
        "SelectiveKernelBottleneck",
        "StdConv2d",
        "EvoNormS0",
        "FilterResponseNorm",
    }
)

Count = Annotated[StrictInt, Field(ge=1, le=4096)]
Channels = Annotated[StrictInt, Field(ge=1, le=16384)]
Side = Annotated[StrictInt, Field(ge=1, le=4096)]
Depth = Annotated[StrictInt, Field(ge=1, le=256)]
Stride = Annotated[StrictInt, Field(ge=1, le=4)]


PrunedBlock = Annotated[list[Channels], Field(min_length=2, max_length=2)]
Reference = Annotated[
    StrictStr,
    Field(
        pattern=r"^((torchvision|timm|mmpretrain)/[a-z0-9_]+"
        r"|transformers/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)$"
    ),
]


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _safe_name(value: str) -> str:
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise ValueError(f"{value!r} is a Python keyword")
    if value in dir(builtins):
        raise ValueError(f"{value!r} would shadow a Python builtin")
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} would shadow a name the generated file uses")
    return value


Name = Annotated[
    StrictStr,
    Field(pattern=r"^[a-z][a-z0-9_]*$", min_length=1, max_length=64),
    AfterValidator(_safe_name),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Input(_Section):
    channels: Annotated[StrictInt, Field(ge=1, le=64)] = Field(
        3, description="Image channels: 3 for RGB, 1 for grayscale."
    )
    size: list[Side] = Field(
        [224, 224],
        min_length=2,
        max_length=2,
        description="Nominal [height, width]: the size `show`, the docstring and the analysis "
        "report figures at.",
    )
    resize: list[Side] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="[height, width] the model resamples every input to before the stem, or null.",
    )
    resize_mode: Literal["bilinear", "bicubic", "nearest"] = Field(
        "bilinear", description="Interpolation used by `resize`."
    )


class StemPool(_Section):
    type: PoolType = Field(
        "max",
        description="max: a max pool after the stem; conv: a strided 3x3 conv, norm and "
        "activation in its place (timm's replace_stem_pool); none: no pool.",
    )
    kernel_size: Annotated[StrictInt, Field(ge=1, le=7)] = 3
    stride: Stride = 2
    padding: Annotated[StrictInt, Field(ge=0, le=3)] = 1
    ceil_mode: StrictBool = Field(False, description="Round the output size up, not down.")
    zero_padded: StrictBool = Field(
        False,
        description="max only: pad the input with `padding` zeros, then pool it unpadded "
        "(BiT's fixed padding); by default the pool pads with values no maximum takes.",
    )


class Stem(_Section):
    type: StemType = Field(
        "classic",
        description="classic: one 7x7 stride-2 conv (the ResNet paper); deep: three 3x3 convs, "
        "the first with stride 2 (ResNet-C); cifar: one 3x3 stride-1 conv (CIFAR nets); "
        "strided_3x3: one 3x3 stride-2 conv (RegNet's).",
    )
    channels: list[Channels] | None = Field(
        None,
        min_length=1,
        max_length=3,
        description="Output channels of each stem conv: one for classic and cifar, three for "
        "deep. Default: [64]; deep [32, 32, 64]; cifar [16]; strided_3x3 [32].",
    )
    pool: StemPool | None = Field(
        None,
        description="The pool after the stem. Default: max 3x3 stride 2 padding 1; none for cifar "
        "and strided_3x3.",
    )
    norm: StrictBool = Field(
        True,
        description="A norm and activation after the stem conv. Pre-activation CIFAR nets "
        "leave them to the first block.",
    )


class Attention(_Section):
    type: AttentionType = Field(
        "none",
        description="Channel attention after each residual branch's last norm: se "
        "(squeeze-and-excitation, Hu et al., arXiv:1709.01507) or eca (efficient channel "
        "attention, Wang et al., arXiv:1910.03151).",
    )
    reduction: Annotated[StrictInt, Field(ge=1, le=256)] = Field(
        16,
        description="se only: hidden channels = channels / reduction, rounded to a multiple "
        "of `divisor` as timm does.",
    )
    divisor: Annotated[StrictInt, Field(ge=1, le=256)] = Field(
        8,
        description="se only: the hidden channels are a multiple of this, and at least it "
        "(timm's rd_divisor); 1 gives channels / reduction itself where it divides, as "
        "the original SENets have it.",
    )
    activation: ActivationType = Field(
        "relu",
        description="se only: the activation between its two 1x1 convs (timm's RegNets "
        "take the network's: silu in regnety_040_sgn).",
    )


class SelectiveKernel(_Section):
    reduction: Annotated[StrictInt, Field(ge=1, le=256)] = Field(
        16,
        description="The attention's hidden width = channels / reduction, rounded to a "
        "multiple of `divisor` as timm rounds (timm's rd_ratio = 1 / reduction).",
    )
    divisor: Annotated[StrictInt, Field(ge=1, le=256)] = Field(
        8, description="The attention's hidden width is a multiple of this, and at least it."
    )
    split_input: StrictBool = Field(
        True,
        description="Each path takes half of the input's channels (timm's SKNets but "
        "skresnext50_32x4d); false: both take all of it, as in the paper.",
    )


class Norm(_Section):
    type: NormType = Field(
        "batch",
        description="batch: BatchNorm2d; group: GroupNorm; frozen_batch: a batch norm with "
        "fixed statistics and affine terms, as detection backbones use; evonorm_s0: "
        "EvoNorm-S0, x * sigmoid(v * x) / std(x) * weight + bias, the standard deviation "
        "over groups of channels (Liu et al. 2020, arXiv:2004.02967); filter_response: "
        "filter response normalisation with its thresholded linear unit, max(x / "
        "sqrt(mean(x^2) + eps) * weight + bias, tau), the mean over each channel's pixels "
        "(Singh and Krishnan 2019, arXiv:1911.09737). The last two are their own "
        "activation: pre-activation networks only, where every norm activates.",
    )
    groups: Annotated[StrictInt, Field(ge=1, le=1024)] = Field(
        32,
        description="group and evonorm_s0 only: the number of groups; it must divide every "
        "normed width.",
    )
    group_size: Annotated[StrictInt, Field(ge=1, le=16384)] | None = Field(
        None,
        description="group only, in place of `groups`: the channels of each group, so that "
        "a norm over C channels has C / group_size groups (timm's GroupNormAct(group_size=16) "
        "in regnety_040_sgn); it must divide every normed width.",
    )


class WeightStandardization(_Section):
    eps: Annotated[StrictFloat, Field(gt=0.0, le=0.01, allow_inf_nan=False)] = Field(
        1e-6, description="Added to each filter's variance before its square root."
    )


class Design(_Section):
    depth: Annotated[StrictInt, Field(ge=1, le=2048)] = Field(
        description="Blocks in all stages: d."
    )
    w_0: Annotated[StrictInt, Field(ge=8, le=8192, multiple_of=8)] = Field(
        description="The first block's width, a multiple of 8."
    )
    w_a: Annotated[StrictFloat, Field(ge=0.0, le=8192.0, allow_inf_nan=False)] = Field(
        description="The slope of the widths: block j's is w_0 + w_a * j before quantisation."
    )
    w_m: Annotated[StrictFloat, Field(gt=1.0, le=16.0, allow_inf_nan=False)] = Field(
        description="The width multiplier between stages: each block's width moves to the "
        "nearest w_0 * w_m^k, rounded to a multiple of 8; equal widths form a stage."
    )
    rounding: Rounding = Field(
        "pycls",
        description="How a stage's inner width becomes a multiple of its group width: "
        "pycls (the nearest multiple; timm's RegNets) or torchvision (its _make_divisible, "
        "never more than 10 % down; torchvision's RegNets and timm's *_tv).",
    )


class Stages(_Section):
    block: Annotated[
        list[BlockKind],
        BeforeValidator(_one_or_many, json_schema_input_type=BlockKind | list[BlockKind]),
    ] = Field(
        min_length=1,
        max_length=8,
        description="basic (two 3x3 convs), bottleneck (1x1, 3x3, 1x1, expansion 4) or res2net "
        "(a bottleneck whose 3x3 runs over `scale` splits of its inner width, each split fed "
        "the previous one's output; Gao et al. 2019, arXiv:1904.01169) or resnest (a "
        "bottleneck whose 3x3 is split attention over `radix` candidate maps; Zhang et al. "
        "2020, arXiv:2004.08955) or sk_basic or sk_bottleneck (a basic block or bottleneck "
        "whose strided 3x3 is a selective kernel: two 3x3 paths, the second dilated twice "
        "as far, weighed channel by channel by attention; Li et al. 2019, arXiv:1903.06586): "
        "one kind for every stage, or a list with a kind per stage.",
    )
    depths: list[Depth] | None = Field(
        None,
        min_length=1,
        max_length=8,
        description="Blocks in each stage; one entry per stage. Required, unless `design` "
        "gives them.",
    )
    widths: list[Channels] | None = Field(
        None,
        min_length=1,
        max_length=8,
        description="Base width of each stage: the output channels of a basic block, a quarter "
        "of a bottleneck's. Default: 64, 128, 256, ... doubling per stage.",
    )
    strides: list[Stride] | None = Field(
        None,
        min_length=1,
        max_length=8,
        description="Stride of each stage's first block. Default: 1, then 2 for every later stage; "
        "2 for every stage of regnet blocks.",
    )
    dilations: list[Annotated[StrictInt, Field(ge=1, le=16)]] | None = Field(
        None,
        min_length=1,
        max_length=8,
        description="Dilation of each stage's 3x3 convs; with stride 1 in place of 2 it keeps "
        "the resolution (output stride 16 or 8, for segmentation). A stage's first block "
        "keeps the previous stage's dilation, as torchvision's bottlenecks do. Default: 1.",
    )
    preactivation: StrictBool = Field(
        False,
        description="Norm and activation before each conv (ResNet v2, He et al. 2016, "
        "arXiv:1603.05027), a norm and activation before the head, projections fed by "
        "the pre-activated input; regnet blocks (timm's RegNet-V) take every shortcut "
        "from it and end in the activation alone.",
    )
    drop_path: Annotated[StrictFloat, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = Field(
        0.0,
        description="Stochastic depth (Huang et al. 2016, arXiv:1603.09382): the largest "
        "probability of dropping a residual branch in training, reached by the last block; "
        "it rises linearly from 0 at the first.",
    )
    drop_path_float32: StrictBool = Field(
        False,
        description="Spread the stochastic depth rates by a float32 torch.linspace, as "
        "timm's resnetv2 does (they differ from the exact line in the eighth digit).",
    )
    stride_on: StrideOn = Field(
        "3x3",
        description="Where a bottleneck puts its stride: 3x3 (ResNet-B, torchvision's v1.5, timm) "
        "or 1x1 (the original ResNet v1).",
    )
    shortcut: ShortcutKind = Field(
        "projection",
        description="How a block's shortcut changes shape: projection (1x1 conv, option B); "
        "avg_down (an average pool over each stride x stride window, then a 1x1 conv; "
        "ResNet-D); zero_pad (stride and zero channels, no parameters, option A); "
        "projection_all (a 1x1 conv on every block, option C); none (a block that changes "
        "shape has no shortcut, its branch alone: RegNet-Z's; regnet blocks only).",
    )
    shortcut_norm: StrictBool = Field(True, description="A norm after the shortcut's conv.")
    branch_activation: StrictBool = Field(
        False,
        description="Of basic blocks: an activation after the second norm too, before the "
        "attention and the sum, as the SE-ResNet-18 and -34 of timm's legacy senet.py have.",
    )
    shortcut_kernel: Literal[1, 3] = Field(
        1,
        description="Kernel of a projection shortcut's conv where its stage strides or "
        "dilates (a 1x1 elsewhere): 3 for SENet-154 (timm's down_kernel_size).",
    )
    reduce_first: Annotated[StrictInt, Field(ge=1, le=8)] = Field(
        1,
        description="Each block's first conv outputs its inner width divided by this: 2 for "
        "SENet-154 (timm's block_reduce_first). res2net blocks, as timm's, keep the full width.",
    )
    scale: Annotated[StrictInt, Field(ge=1, le=16)] = Field(
        4,
        description="Splits of a res2net block's inner width; its first 1x1 conv outputs "
        "scale times the inner width, and scale - 1 of the splits get a 3x3 conv.",
    )
    pruned_channels: list[Channels] | None = Field(
        None,
        min_length=1,
        max_length=8,
        description="Output channels of each stage of a pruned bottleneck network, in place "
        "of four times its width (Aflalo et al. 2020, arXiv:2002.08258; timm's *_pruned). "
        "With pruned_widths.",
    )
    pruned_widths: (
        list[Annotated[list[PrunedBlock], Field(min_length=1, max_length=256)]] | None
    ) = Field(
        None,
        min_length=1,
        max_length=8,
        description="Of a pruned bottleneck network: for each stage, each block's first "
        "1x1 and 3x3 conv widths, [first, second]. `widths` still sets the attention's "
        "size, from the unpruned channels, as timm's pruned networks keep it.",
    )
    radix: Annotated[StrictInt, Field(ge=1, le=8)] = Field(
        2,
        description="Candidate maps per group of a resnest block's split attention: a softmax "
        "across them weighs them into one; 1 is a sigmoid gate on a single map.",
    )
    avd: AvdPlace = Field(
        "none",
        description="Where a strided resnest block downsamples: none (its 3x3 conv strides), "
        "before or after its 3x3 conv (a 3x3 average pool, padded by 1, takes the stride; "
        "timm's avd_first and avd).",
    )
    selective_kernel: SelectiveKernel = Field(
        SelectiveKernel(), description="The selective kernels of sk_basic and sk_bottleneck blocks."
    )
    groups: Count = Field(1, description="Groups of the bottleneck 3x3 conv (ResNeXt cardinality).")
    width_per_group: Count = Field(
        64,
        description="Bottleneck inner width (a res2net block's split width) = "
        "floor(width * width_per_group / 64) * groups; "
        "64 with one group is the plain ResNet.",
    )
    attention: Attention = Field(Attention(), description="Channel attention in every block.")
    group_width: Count | None = Field(
        None,
        description="regnet blocks only: the channels of each group of the 3x3 conv, capped "
        "at the stage's inner width; the stage's groups are its inner width over this.",
    )
    bottleneck_ratio: Annotated[StrictFloat, Field(gt=0.0, le=16.0, allow_inf_nan=False)] = Field(
        1.0,
        description="regnet blocks only: a block's inner width over its output width (1 for "
        "RegNet-X and -Y, 4 for RegNet-Z's inverted bottlenecks).",
    )
    linear_output: StrictBool = Field(
        False,
        description="regnet blocks only: no activation after the residual sum, and one "
        "before the head instead where no final_conv is given (RegNet-Z's linear outputs; "
        "timm's linear_out).",
    )
    design: Design | None = Field(
        None,
        description="regnet blocks only: the depths and widths from RegNet's design space "
        "(Radosavovic et al. 2020, arXiv:2003.13678) in place of `depths` and `widths`.",
    )

    def stage_depths(self) -> list[int]:
        """Each stage's blocks: `depths`, or what `design` gives."""
        if self.design is None:
            return list(self.depths or ())
        return [stage.depth for stage in self.designed()]

    def stage_widths(self) -> list[int] | None:
        """Each stage's width: `widths`, or what `design` gives; None for the default."""
        if self.design is None:
            return self.widths
        return [stage.width for stage in self.designed()]

    def designed(self) -> tuple[StageDesign, ...]:
        """The stages `design` gives, with `group_width` and `bottleneck_ratio`."""
        assert self.design is not None
        design = self.design
        return stage_designs(
            design.depth,
            design.w_0,
            design.w_a,
            design.w_m,
            self.group_width or 1,
            self.bottleneck_ratio,
            design.rounding,
        )


class Head(_Section):
    num_classes: Annotated[StrictInt, Field(ge=0, le=100_000)] = Field(
        1000,
        description="Classifier outputs; 0 leaves the classifier out, so that forward returns "
        "the pooled features (timm's num_classes=0).",
    )
    dropout: Annotated[StrictFloat, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = Field(
        0.0, description="Dropout before the classifier."
    )
    final_conv: Channels | None = Field(
        None,
        description="The channels of a 1x1 conv, norm and activation between the last "
        "stage and the pool (timm's final_conv: 1024 in regnetz_005, 1536 in regnetz_040_h); "
        "null: none. The regnet layout only.",
    )


class Init(_Section):
    zero_init_residual: StrictBool = Field(
        False,
        description="Start the last norm of every residual branch at zero, so each block "
        "starts as the identity (Goyal et al. 2017, arXiv:1706.02677).",
    )


class Spec(_Section):
    """A ResNet-family network."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="resnetgen spec", json_schema_extra={"$id": "resnetgen"}
    )

    name: Name = Field(
        description="Python identifier of the network: the generated file is NAME.py and its "
        "factory NAME()."
    )
    extends: StrictStr | None = Field(
        None,
        description="A spec to start from: a spec's name (beside this file, else the zoo's) "
        "or the path of a .yaml or .yml spec inside this file's project, relative to this "
        "file; this file's fields are merged over it.",
    )
    description: StrictStr = Field(
        "", max_length=4000, description="What the network is and where it comes from."
    )
    reference: Annotated[
        list[Reference],
        BeforeValidator(_one_or_many, json_schema_input_type=Reference | list[Reference]),
    ] = Field(
        [],
        max_length=4,
        description="The models whose checkpoints load into this network: timm/NAME, "
        "torchvision/NAME, mmpretrain/NAME (mmpretrain.get_model) or transformers/ORG/NAME "
        "(a HF hub model, built from the config its config.json states), e.g. "
        "timm/resnet50d; a zoo spec reproduces their logits too.",
    )
    input: Input = Input()
    stem: Stem = Stem()
    stages: Stages
    head: Head = Head()
    conv_bias: StrictBool = Field(False, description="Give every convolution a bias.")
    weight_standardization: WeightStandardization | None = Field(
        None,
        description="Standardise each conv's weights, filter by filter, before it convolves: "
        "w' = (w - mean(w)) / sqrt(var(w) + eps) (Qiao et al. 2019, arXiv:1903.10520; "
        "BiT's StdConv2d). The classifier and attention convs stay plain; null: every "
        "conv is plain.",
    )
    norm: Norm = Field(Norm(), description="The normalisation layer after every conv.")
    activation: ActivationType = Field(
        "relu",
        description="relu, silu, gelu or leaky_relu (slope 0.01); convs start from kaiming "
        "init with the matching gain.",
    )
    anti_alias: AntiAliasType = Field(
        "none",
        description="Anti-aliased downsampling (Zhang, ICML 2019, arXiv:1904.11486), as timm "
        "builds it: each strided 3x3 conv, and the stem pool, runs at stride 1 and hands its "
        "stride to a pool after it. blur: a fixed 3x3 binomial filter per channel over the "
        "reflection-padded input (timm's BlurPool2d); avg: a stride x stride average pool, "
        "which in the stem replaces a max pool outright. res2net blocks, as timm's, keep "
        "the stride on their convs.",
    )
    init: Init = Init()
    layout: LayoutName = Field(
        "resnet",
        description="How the generated modules are named and nested, so that one family's "
        "checkpoints load: resnet (torchvision's and timm's resnet.py: conv1, bn1, maxpool, "
        "layer1..., se, fc) or legacy_senet (timm's senet.py: the stem in layer0 as conv1, "
        "bn1, ..., pool0, se_module, last_linear) or resnetv2 (timm's resnetv2.py: the stem "
        "and its pool in stem, blocks in stages.N.blocks with norm1, norm2, ..., shortcuts "
        "as downsample.conv and downsample.norm, a 1x1 conv classifier as head.fc) or "
        "transformers (HF transformers' ResNet and BiT: resnet.embedder, "
        "resnet.encoder.stages.N.layers, classifier.1) or mmpretrain (its ResNet, ResNetV1c "
        "and ResNetV1d: backbone. and head.fc) or regnet (timm's regnet.py: stem.conv, "
        "s1.b1.conv1.conv, ..., downsample.conv, head.fc) or torchvision_regnet "
        "(torchvision's RegNets: stem.0, trunk_output.block1.block1-0.f.a.0, proj.0, fc) or "
        "transformers_regnet (HF transformers' RegNet: regnet.embedder, "
        "regnet.encoder.stages.N.layers, classifier.1); transformers, mmpretrain and the "
        "last two build resnet.py's or regnet.py's modules and their state_dict speaks the "
        "library's names.",
    )
