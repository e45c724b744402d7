"""The reference models: timm's, torchvision's and mmpretrain's constructors, called by name
with arguments, and HF transformers' hub models, built from the configs they state.

Only `resnetgen import` and the tests need them; torch and the reference libraries are
imported when a model is built, never when this module is.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

LIBRARIES = {
    "timm": "timm",
    "torchvision": "torchvision",
    "transformers": "transformers",
    "mmpretrain": "mmpretrain",
}
INSTALL = "pip install 'resnetgen[dev]' (or: pip install torch torchvision timm)"
# Where a library installs otherwise: mmpretrain's own pins compile mmcv.
INSTALLS = {
    "transformers": "pip install 'resnetgen[dev]' (or: pip install transformers)",
    "mmpretrain": "scripts/install_mmpretrain PIP (mmpretrain's own pins compile mmcv)",
}


class ReferenceUnavailable(Exception):
    """A reference that cannot be built: an unknown name, a refused argument, a missing library."""


def split_reference(reference: str) -> tuple[str, str]:
    """`timm/resnet50` -> ("timm", "resnet50"); `transformers/microsoft/resnet-50` ->
    ("transformers", "microsoft/resnet-50")."""
    library, _, model = reference.partition("/")
    if library not in LIBRARIES or not model:
        raise ReferenceUnavailable(
            "expected timm/NAME, torchvision/NAME, mmpretrain/NAME or transformers/ORG/NAME "
            f"(given {reference!r})"
        )
    return library, model


def library_module(library: str) -> Any:
    for needed in ("torch", LIBRARIES[library]):
        try:
            module = importlib.import_module(needed)
        except ImportError:
            install = INSTALLS.get(needed, INSTALL)
            raise ReferenceUnavailable(f"{needed} is not installed; {install}") from None
    return module


@functools.cache
def model_names(library: str) -> tuple[str, ...]:
    """Every classification model the library can build by name (listed once: timm's
    list takes a tenth of a second)."""
    if library == "transformers":
        from .layouts import HUB

        return tuple(HUB)
    module = library_module(library)
    if library in ("timm", "mmpretrain"):
        return tuple(module.list_models())
    return tuple(module.models.list_models(module=module.models))


def build_reference(reference: str, arguments: dict[str, Any] | None = None) -> nn.Module:
    """The reference model with random weights, built with `arguments` as keywords; on
    the meta device where the default device is it, even where the library's builder
    reads tensors back (torchvision's RegNets compute their widths with tensors): those
    build on the CPU and move to it."""
    library_module(split_reference(reference)[0])  # torch and the library, or what to install
    import torch

    try:
        return _built(reference, arguments)
    except ReferenceUnavailable as error:
        if torch.get_default_device().type != "meta" or "meta tensor" not in str(error):
            raise
    with torch.device("cpu"):
        return _built(reference, arguments).to("meta")


def _built(reference: str, arguments: dict[str, Any] | None) -> nn.Module:
    library, name = split_reference(reference)
    module = library_module(library)
    known = model_names(library)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {library}/{close[0]}?" if close else ""
        raise ReferenceUnavailable(f"{library} has no model {name!r}{hint}")
    keywords = dict(arguments or {})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on zero-sized layers and the like
            if library == "timm":
                return module.create_model(name, pretrained=False, **keywords)
            if library == "transformers":
                return _hub_model(module, name, keywords)
            if library == "mmpretrain":
                return module.get_model(name, pretrained=False, **keywords)
            if "norm_layer" in keywords:
                keywords["norm_layer"] = _torchvision_norm(keywords["norm_layer"])
            return module.models.get_model(name, weights=None, **keywords)
    except ReferenceUnavailable:
        raise
    except Exception as error:  # the constructor's own refusal, in its own words
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReferenceUnavailable(f"{library} refused the arguments: {message}") from None


def _torchvision_norm(value: Any) -> Any:
    """torchvision takes a norm class; a name stands for one, as timm's names do."""
    if not isinstance(value, str):
        return value
    import torch
    from torchvision.ops.misc import FrozenBatchNorm2d

    norms = {
        "batchnorm": torch.nn.BatchNorm2d,
        "batchnorm2d": torch.nn.BatchNorm2d,
        "frozenbatchnorm2d": FrozenBatchNorm2d,
        "groupnorm": lambda channels: torch.nn.GroupNorm(32, channels),
    }
    key = value.replace("_", "").lower()
    if key not in norms:
        raise ReferenceUnavailable(
            f"norm_layer {value!r} is not one of {', '.join(norms)} (as timm names them)"
        )
    return norms[key]


def _hub_model(transformers: Any, name: str, keywords: dict[str, Any]) -> nn.Module:
    """A HF hub ResNet from its config, with random weights, whose call gives the logits."""
    from .layouts import HF_MODELS, HUB

    kind, stated = HUB[name]
    config_class, model = HF_MODELS[kind]
    config = getattr(transformers, config_class)(**{"num_labels": 1000, **stated, **keywords})
    if config.num_labels:
        return logits_only(getattr(transformers, f"{model}ForImageClassification")(config))
    return getattr(transformers, f"{model}Model")(config)


def logits_only(model: nn.Module) -> nn.Module:
    """A HF classifier whose call returns its output's logits, as the other references'
    do; its class keeps its name, so that the tree reader knows it."""
    base = type(model)

    def forward(self: nn.Module, pixel_values: Any) -> Any:
        return base.forward(self, pixel_values).logits

    model.__class__ = type(
        base.__name__, (base,), {"forward": forward, "__module__": base.__module__}
    )
    return model
