"""Read a ResNet's state (its tensors' names and shapes) back into spec data, for
`resnetgen import` of a checkpoint file.

A checkpoint shows what has weights: every conv's channels and kernel, every norm's
kind and width, each block's kind (by its parts), the shortcuts, the attention, the
classifier. What has none it cannot show (where a stride sits, the activation,
dilation, parameter-free anti-aliasing, weight standardisation, drop rates): the
defaults stand for it, and `assumed` says so. Names are read through the layout's view
of them (`generator.layouts`), each block by its family (`generator.blocks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..blocks import FAMILIES, state_family
from ..blocks.family import ReadBlock
from ..inherit import deep_merge, leaf_paths
from ..layouts import DEFAULT_VIEW, LAYOUTS, VIEWS, View
from ..state import NORM_ENTRIES
from .common import NotExpressible, Readings, Setting
from .network import pruned, stage_fields

Shapes = dict[str, tuple[int, ...]]
# The parts of a network under resnet.py's names, of which every tensor is one.
PARTS = re.compile(r"^(conv1|bn1|maxpool|fc|norm|final_conv|layer[1-8])\.")
# What a checkpoint cannot show, and the default that stands for it.
ASSUMED = {
    "stages.stride_on": "3x3",
    "activation": "relu",
    "stages.dilations": "1",
    "anti_alias": "none",
    "weight_standardization": "none",
    "stages.drop_path": "0",
    "head.dropout": "0",
}


@dataclass(frozen=True)
class ConvShape:
    """A conv as its weight shows it."""

    in_channels: int
    out_channels: int
    kernel: int
    groups: int
    bias: bool


def read_state(
    shapes: Shapes, config: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Spec data (all but name, description and reference) of a ResNet's state, and what
    it assumed; NotExpressible names the first tensor it cannot place. A library's config
    beside the weights (a HF folder's config.json) settles what it states."""
    data, assumed, _settled = read_settled(shapes, config)
    return data, assumed


def read_settled(
    shapes: Shapes, config: dict[str, Any] | None = None, view: View | None = None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """`read_state`, and the fields the config settled; through `view` where the model's
    library is known (its names may be resnet.py's: mmpretrain's backbone alone)."""
    if view is not None:
        assert view.keys is not None
        renamed = view.keys(list(shapes)) or {name: name for name in shapes}
    else:
        view, renamed = _view_of(list(shapes), (config or {}).get("model_type"))
    back = {new: old for old, new in renamed.items()}
    stated = view.settled(config) if view.settled is not None and config is not None else {}
    strides = stated.get("stages", {}).get("strides")  # which shapes a shortcut changes
    reader = StateReader({renamed[name]: shape for name, shape in shapes.items()}, view, strides)
    try:
        data = reader.read()
    except NotExpressible as error:
        raise NotExpressible(_own(error.module, back), error.reason) from None
    implied = view.implied(data) if view.implied is not None else {}
    implied_paths = [".".join(path) for path in leaf_paths(implied)]
    data, assumed = deep_merge(data, implied), unsettled(reader.assumed, implied_paths)
    settled = [".".join(path) for path in leaf_paths(stated)]
    return deep_merge(data, stated), unsettled(assumed, settled), settled


def _view_of(names: list[str], model_type: Any = None) -> tuple[View, dict[str, str]]:
    """The view whose names these are, and the names under resnet.py's: the one that
    reads a config's model type first, the default view last (it takes any names)."""
    views = dict.fromkeys(VIEWS.values())
    for view in sorted(views, key=lambda v: (model_type not in v.model_types, v is DEFAULT_VIEW)):
        renamed = view.keys(names) if view.keys else None
        if renamed is not None:
            return view, renamed
    raise AssertionError("the default view takes any names")


def unsettled(assumed: list[str], settled: list[str]) -> list[str]:
    """The assumptions a config did not settle ("stages.stride_on 3x3" is settled by
    stages.stride_on, "norm.groups 32" by norm)."""

    def covers(entry: str, path: str) -> bool:
        field, path = f"{entry.split()[0]}.", f"{path}."
        return field.startswith(path) or path.startswith(field)

    return [entry for entry in assumed if not any(covers(entry, path) for path in settled)]


def _own(name: str, back: dict[str, str]) -> str:
    """A view's name (a tensor's, or a module's before its tensors) as the file names it."""
    if name in back:
        return back[name]
    prefix = f"{name}."
    return next((back[new].rsplit(".", 1)[0] for new in back if new.startswith(prefix)), name)


class StateReader(Readings):
    """One reading of one network's state, under resnet.py's names."""

    def __init__(self, shapes: Shapes, view: View, strides: list[int] | None = None) -> None:
        super().__init__()
        self.shapes, self.view = shapes, view
        self.strides = strides  # each stage's, where a config states them
        self.layout = LAYOUTS[view.layout]
        self.entries: dict[str, set[str]] = {}  # each module's tensors by their last name
        for key in shapes:
            module, _, entry = key.rpartition(".")
            self.entries.setdefault(module, set()).add(entry)
        self.taken: set[str] = set()
        self.assumed: list[str] = []
        self.shortcut_kernel = Setting("shortcut kernel")
        # A pre-activation network ends in a norm, which each block's norms go before.
        self.preactivation = "norm.weight" in shapes

    # Leaves -------------------------------------------------------------------------

    def has(self, key: str) -> bool:
        return key in self.shapes

    def take(self, key: str, dimensions: int | None = None) -> tuple[int, ...]:
        if key not in self.shapes:
            raise NotExpressible(
                key.rsplit(".", 1)[0], f"no {key.rsplit('.', 1)[1]} where one belongs"
            )
        shape = self.shapes[key]
        if dimensions is not None and len(shape) != dimensions:
            raise NotExpressible(
                key, f"a tensor of shape {shape} where one of {dimensions} dimensions belongs"
            )
        self.taken.add(key)
        return shape

    def conv(
        self, name: str, in_channels: int | None, kernel: int | None = None, own_bias: bool = False
    ) -> ConvShape:
        """The square conv `name`, taking `in_channels` (any where None) in its groups;
        with `own_bias`, a bias that is its layer's (split attention's), not the network's."""
        out, per_group, height, width = self.take(f"{name}.weight", 4)
        inputs = per_group if in_channels is None else in_channels
        if height != width or (kernel is not None and height != kernel):
            wanted = f"a {kernel}x{kernel}" if kernel else "a square one"
            raise NotExpressible(name, f"a {height}x{width} conv where the language has {wanted}")
        if inputs % per_group or out % (inputs // per_group):
            raise NotExpressible(
                name, f"a conv over {per_group} channels a group where {inputs} arrive"
            )
        bias = self.has(f"{name}.bias")
        if bias:
            self.take(f"{name}.bias")
        if own_bias and not bias:
            raise NotExpressible(name, "a conv without the bias its layer has")
        if not own_bias:
            self.bias.see(bias, name)
        return ConvShape(inputs, out, height, inputs // per_group, bias)

    def norm_of(self, name: str, channels: int, kind: str | None = None) -> None:
        """The norm `name` over `channels`: its kind from its entries, the network's."""
        entries = self.entries.get(name, set())
        found = kind or _norm_kind(entries)
        if found is None:
            shown = ", ".join(sorted(entries)) or "nothing"
            raise NotExpressible(name, f"{shown} where a norm belongs")
        if kind is None:
            self.norm.see(found, name)
        self.seen("norm widths").append(channels)
        for entry in NORM_ENTRIES[found]:  # type: ignore[index]
            if self.take(f"{name}.{entry}") != (channels,):
                raise NotExpressible(
                    name,
                    f"normalises {self.shapes[f'{name}.{entry}']} where {channels} channels arrive",
                )
        if found == "batch":
            self.take(f"{name}.num_batches_tracked")

    def assume(self, what: str) -> None:
        if what not in self.assumed:
            self.assumed.append(what)

    # The network ----------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        stranger = next((key for key in self.shapes if not PARTS.match(key)), None)
        if stranger is not None:
            message = (
                "a tensor of no part of the ResNet layout (conv1, bn1, maxpool, layer1..., fc)"
            )
            raise NotExpressible(stranger, message)
        stem = self.stem()
        stage_names = self.stage_names()
        blocks_in = stem["channels"][-1]
        stages: list[list[ReadBlock]] = []
        for index, stage_name in enumerate(stage_names):
            stage = self.stage(stage_name, index, blocks_in)
            stages.append(stage)
            blocks_in = stage[0].out_channels
        if self.preactivation:
            self.norm_of("norm", blocks_in)
        final_conv = self.final_conv(blocks_in)
        data: dict[str, Any] = {"input": {"channels": stem.pop("in_channels")}, "stem": stem}
        data["stages"] = stage_fields(stages, stage_names, pruned(self, stages))
        if data["stages"]["shortcut"] == "zero_pad":
            data["stages"]["shortcut_norm"] = False
        data["stages"]["shortcut_kernel"] = self.shortcut_kernel.value or 1
        data["stages"]["reduce_first"] = self.reduce_first.value or 1
        for family in FAMILIES:
            data["stages"].update(family.fields(self))
        preactivated = any(block.preact for stage in stages for block in stage)
        data["stages"]["preactivation"] = self.preactivation or preactivated
        data["head"] = {"num_classes": self.head(final_conv or blocks_in)}
        if final_conv is not None:
            data["head"]["final_conv"] = final_conv
        data["conv_bias"] = bool(self.bias.value)
        norm = self.norm.value
        data["norm"] = {"type": norm}
        if norm in ("group", "evonorm_s0"):
            data["norm"]["groups"] = groups = _groups(self.seen("norm widths"))
            self.assume(f"norm.groups {groups}")
        data["anti_alias"] = self.anti_alias.value or "none"
        data["layout"] = self.layout.name
        untaken = next((key for key in self.shapes if key not in self.taken), None)
        if untaken is not None:
            raise NotExpressible(untaken, "a tensor no layer of the language takes")
        activating = norm in ("evonorm_s0", "filter_response")  # the only activation
        self.assumed += [
            f"{field} {value}"
            for field, value in ASSUMED.items()
            if not (activating and field == "activation")
            and not (field == "anti_alias" and self.anti_alias.value)
        ]
        return data

    def stem(self) -> dict[str, Any]:
        if self.has("conv1.0.weight"):  # a deep stem: conv, norm, act, conv, norm, act, conv
            convs = [self.conv("conv1.0", None, 3)]
            for conv, norm in ((3, 1), (6, 4)):
                self.norm_of(f"conv1.{norm}", convs[-1].out_channels)
                convs.append(self.conv(f"conv1.{conv}", convs[-1].out_channels, 3))
            stem: dict[str, Any] = {"type": "deep", "channels": [c.out_channels for c in convs]}
        else:
            conv = self.conv("conv1", None)
            types = {7: "classic", 3: "cifar"}
            if conv.kernel not in types:
                message = f"a {conv.kernel}x{conv.kernel} stem conv; the language has a 7x7 or 3x3"
                raise NotExpressible("conv1", message)
            convs = [conv]
            stem = {"type": types[conv.kernel], "channels": [conv.out_channels]}
        channels = stem["channels"][-1]
        stem["norm"] = self.has("bn1.weight")
        if stem["norm"]:
            self.norm_of("bn1", channels)
        stem["pool"] = self.stem_pool(channels, stem["type"])
        stem["in_channels"] = convs[0].in_channels
        return stem

    def stem_pool(self, channels: int, stem_type: str) -> dict[str, Any]:
        """A strided conv in the pool's place shows; a max pool (or none) does not."""
        if not self.has("maxpool.0.weight"):
            self.assume("stem.pool none" if stem_type == "cifar" else "stem.pool max 3/2/1")
            return {"type": "none"} if stem_type == "cifar" else {"type": "max"}
        conv = self.conv("maxpool.0", channels)
        if conv.out_channels != channels or conv.groups != 1:
            raise NotExpressible("maxpool.0", "a pooling conv that changes the channels")
        norm = "maxpool.1" if self.has("maxpool.1.weight") else "maxpool.2"
        if norm == "maxpool.2":  # an anti-aliasing pool between them, which has no weights
            self.anti_alias.see("blur", "maxpool.1")
            self.assume("anti_alias blur (a pool between the stem conv pool and its norm)")
        self.norm_of(norm, channels)
        return {
            "type": "conv",
            "kernel_size": conv.kernel,
            "stride": 2,
            "padding": conv.kernel // 2,
        }

    def stage_names(self) -> list[str]:
        stages = sorted(
            {int(m.group(1)) for key in self.shapes if (m := re.match(r"layer(\d+)\.", key))}
        )
        if stages != list(range(1, len(stages) + 1)) or not 1 <= len(stages) <= 8:
            raise NotExpressible(
                "layer1", f"stages numbered {stages}; the language has layer1 to layer8"
            )
        return [f"layer{number}" for number in stages]

    def stage(self, name: str, index: int, in_channels: int) -> list[ReadBlock]:
        prefix = re.compile(rf"{name}\.(\d+)\.")
        count = len({int(m.group(1)) for key in self.shapes if (m := prefix.match(key))})
        family, _ = state_family(self.parts(f"{name}.0"))
        blocks = []
        for position in range(count):
            default = 2 if index else family.first_stride if family else 1
            if self.strides is not None and index < len(self.strides):
                default = self.strides[index]
            blocks.append(
                self.block(f"{name}.{position}", in_channels, default if position == 0 else 1)
            )
            in_channels = blocks[-1].out_channels
        return blocks

    def parts(self, name: str) -> set[str]:
        """The names of a module's tensors, relative to it."""
        return {key.removeprefix(f"{name}.") for key in self.shapes if key.startswith(f"{name}.")}

    def block(self, name: str, in_channels: int, stride: int) -> ReadBlock:
        family, kind = state_family(self.parts(name))
        if family is None or kind is None:
            raise NotExpressible(name, "parts of no block the language has")
        convs = family.read_state(self, kind, name, in_channels)
        shortcut, shortcut_norm = self.shortcut(f"{name}.downsample", in_channels, convs.out)
        if shortcut == "zero_pad" and family.shortcut_free:
            shortcut = "none"  # no weights where the shape changes: no shortcut at all
        if shortcut == "identity" and in_channels == convs.out:
            stride = 1  # the shape it keeps: a strided block would project
        elif stride > 1 or shortcut == "zero_pad":
            self.assume("stages.strides 1, 2, 2, ...")
        return ReadBlock(
            kind=kind,
            in_channels=in_channels,
            first_width=convs.first.out_channels,
            width=convs.width,
            out_channels=convs.out,
            stride=stride,
            stride_on="3x3" if stride > 1 and family.inner(kind) else None,
            groups=convs.groups,
            first_dilation=1,
            dilation=convs.dilation,
            shortcut=shortcut,
            shortcut_norm=shortcut_norm,
            dilates=False,
            attention=self.attention(f"{name}.se", convs.attended or convs.out),
            drop_path=0.0,
            last_norm=None,
            preact=convs.preact,
        )

    def final_conv(self, channels: int) -> int | None:
        """A final 1x1 conv and norm after the stages: its channels, None without one."""
        name = self.layout.final_conv
        if name is None or not self.has(f"{name}.conv.weight"):
            return None
        conv = self.conv(f"{name}.conv", channels, 1)
        self.norm_of(f"{name}.{self.layout.norm}", conv.out_channels)
        return conv.out_channels

    def shortcut(self, name: str, in_channels: int, out: int) -> tuple[str, bool | None]:
        """identity, zero_pad (no weights where the channels change), projection, or
        avg_down (its conv at 1, after a pool slot with no weights); with a norm or not."""
        if not any(key.startswith(f"{name}.") for key in self.shapes):
            return ("identity" if in_channels == out else "zero_pad"), None
        position = 0 if self.has(f"{name}.0.weight") else 1
        conv = self.conv(f"{name}.{position}", in_channels)
        if conv.kernel == 3 and position == 0:
            self.shortcut_kernel.see(3, f"{name}.0")
        elif conv.kernel != 1:
            raise NotExpressible(
                f"{name}.{position}", f"a {conv.kernel}x{conv.kernel} shortcut conv"
            )
        if conv.out_channels != out or conv.groups != 1:
            raise NotExpressible(
                f"{name}.{position}", "a shortcut conv that does not match its block"
            )
        has_norm = self.has(f"{name}.{position + 1}.weight")
        if has_norm:
            self.norm_of(f"{name}.{position + 1}", out)
        return ("projection" if position == 0 else "avg_down"), has_norm

    def attention(self, name: str, channels: int) -> tuple[str, int] | None:
        if self.has(f"{name}.conv.weight"):
            _, _, kernel = self.take(f"{name}.conv.weight", 3)
            return "eca", kernel
        if not self.has(f"{name}.fc1.weight"):
            return None
        hidden, inputs, *_ = self.take(f"{name}.fc1.weight", 4)
        back, *_ = self.take(f"{name}.fc2.weight", 4)
        if inputs != channels or back != channels or not self.has(f"{name}.fc1.bias"):
            raise NotExpressible(name, "a squeeze-and-excitation other than the paper's")
        self.take(f"{name}.fc1.bias")
        self.take(f"{name}.fc2.bias")
        return "se", hidden

    def head(self, features: int) -> int:
        """The classifier's outputs, 0 without one: a Linear, or the layout's 1x1 conv."""
        if not self.has("fc.weight"):
            return 0
        shape = self.take("fc.weight", 4 if self.layout.conv_classifier else 2)
        if shape[1:] not in ((features,), (features, 1, 1)) or not self.has("fc.bias"):
            raise NotExpressible("fc", f"a classifier of shape {shape} on {features} features")
        self.take("fc.bias")
        return shape[0]


def _groups(widths: list[int]) -> int:
    """The groups of a group norm, which no weight shows: timm's and torch's 32 where
    they divide every normed width, else the most that do."""
    return next(g for g in range(32, 0, -1) if all(width % g == 0 for width in widths))


def _norm_kind(entries: set[str]) -> str | None:
    """A norm's kind by what it holds; without num_batches_tracked a batch norm's entries
    are a frozen one's (torchvision's FrozenBatchNorm2d holds no count)."""
    if {"running_mean", "running_var", "num_batches_tracked"} <= entries:
        return "batch"
    if {"running_mean", "running_var"} <= entries:
        return "frozen_batch"
    if "v" in entries:
        return "evonorm_s0"
    if "tau" in entries:
        return "filter_response"
    if {"weight", "bias"} <= entries:
        return "group"
    return None
