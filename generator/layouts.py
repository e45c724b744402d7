"""Layouts: what each part of a network is called in one family's checkpoints.

The plan says what the network is; its layout says what the modules are called and how
they nest, so that the same network loads the checkpoints of another family of models.
A layout is a row of this table: the plan names its layers from it, the templates name
their attributes from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import LayoutName


@dataclass(frozen=True)
class Layout:
    name: LayoutName
    stem: str | None  # a Sequential holding the stem's convs, norms and activations, by
    # number (conv1, bn1, act1, conv2, ...); None: conv1 (deep: a Sequential) and bn1
    stem_pool: str
    attention: str
    classifier: str

    def stem_names(self, count: int) -> tuple[list[str], list[str]]:
        """The module names of a stem of `count` convs: each conv's, then each norm's
        (a deep stem's norms but the last sit inside its Sequential)."""
        if self.stem is None:
            if count == 1:
                return ["conv1"], ["bn1"]
            return ["conv1.0", "conv1.3", "conv1.6"], ["conv1.1", "conv1.4", "bn1"]
        convs = [f"{self.stem}.conv{index}" for index in range(1, count + 1)]
        return convs, [f"{self.stem}.bn{index}" for index in range(1, count + 1)]


LAYOUTS: dict[LayoutName, Layout] = {
    "resnet": Layout("resnet", None, "maxpool", "se", "fc"),
    "legacy_senet": Layout("legacy_senet", "layer0", "pool0", "se_module", "last_linear"),
}
