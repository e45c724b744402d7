"""The layouts, one module each: a row of names for the plan and the templates, and a
view of the library's module trees for `import`. A new layout is a module here, added
to the table below and its name to the spec's LayoutName (CONTRIBUTING.md)."""

from __future__ import annotations

from ..spec import LayoutName
from . import (
    legacy_senet,
    mmpretrain,
    regnet,
    resnet,
    resnetv2,
    torchvision_regnet,
    transformers,
    transformers_regnet,
)
from .layout import CheckpointNames, Layout, View

# regnet before resnetv2: both name a stem.conv, and only its stages are sN.bM.
_MODULES = (
    resnet,
    legacy_senet,
    regnet,
    resnetv2,
    transformers,
    mmpretrain,
    torchvision_regnet,
    transformers_regnet,
)
LAYOUTS: dict[LayoutName, Layout] = {module.LAYOUT.name: module.LAYOUT for module in _MODULES}
# The view of each network class the tree reader reads, by the class's qualified name.
VIEWS: dict[str, View] = {
    network: module.VIEW for module in _MODULES for network in module.VIEW.networks
}
DEFAULT_VIEW = resnet.VIEW  # the reader's own names, for any other network
# HF's hub models by their ids (their model type, what config.json states), and each
# model type's config class and the prefix of its model classes.
HUB = transformers.HUB | transformers_regnet.HUB
HF_MODELS = transformers.HF_MODELS | transformers_regnet.HF_MODELS

__all__ = [
    "DEFAULT_VIEW",
    "HF_MODELS",
    "HUB",
    "LAYOUTS",
    "VIEWS",
    "CheckpointNames",
    "Layout",
    "View",
]
