"""The networks of the articles this project started from, as the articles write them,
are their zoo specs: the same parameters and, with the article network's weights copied
in layer by layer in the order its forward calls them, the same logits.

Each network below follows its article's code: its own module names, its own order of
operations. Only the weights pass between the two models, never the names.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from .conftest import import_file, randomise_norms, zoo_spec


def _kaiming_fan_out(model: nn.Module, zero_last: type[nn.Module] | None = None) -> None:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if zero_last is not None and isinstance(module, zero_last):
            nn.init.zeros_(module.last_bn.weight)


# 1. ResNet-18 for grayscale images (the ResNet-18/34 walkthrough): basic blocks, one
#    input channel, kaiming fan-out init, the last BN of each residual branch at zero.


class GrayBasicBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn_a = nn.BatchNorm2d(planes)
        self.conv_b = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.last_bn = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or inplanes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn_a(self.conv_a(x)))
        out = self.last_bn(self.conv_b(out))
        return torch.relu(out + self.shortcut(x))


class GrayResNet18(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem_conv = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
        self.stem_bn = nn.BatchNorm2d(64)
        self.pool = nn.MaxPool2d(3, 2, 1)
        blocks, inplanes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [GrayBasicBlock(inplanes, planes, stride), GrayBasicBlock(planes, planes, 1)]
            inplanes = planes
        self.blocks = nn.Sequential(*blocks)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(512, num_classes)
        _kaiming_fan_out(self, zero_last=GrayBasicBlock)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.stem_bn(self.stem_conv(x))))
        x = self.avg(self.blocks(x))
        return self.classifier(torch.flatten(x, 1))


# 2. ResNet-50-D ("Bag of Tricks", He et al. 2019): B's stride on the 3x3, C's stem of
#    three 3x3 convs (32, 32, 64), D's 2x2 average pool before the shortcut's 1x1 conv.


class BottleneckD(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int) -> None:
        super().__init__()
        width, out = planes, planes * 4
        self.reduce = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn_reduce = nn.BatchNorm2d(width)
        self.conv3x3 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # B: the stride here
        self.bn3x3 = nn.BatchNorm2d(width)
        self.expand = nn.Conv2d(width, out, 1, bias=False)
        self.last_bn = nn.BatchNorm2d(out)
        self.shortcut = nn.Sequential()
        if stride != 1 or inplanes != out:
            pool = [nn.AvgPool2d(2, 2)] if stride != 1 else []  # D: pool, then a stride-1 conv
            self.shortcut = nn.Sequential(
                *pool, nn.Conv2d(inplanes, out, 1, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn_reduce(self.reduce(x)))
        out = torch.relu(self.bn3x3(self.conv3x3(out)))
        out = self.last_bn(self.expand(out))
        return torch.relu(out + self.shortcut(x))


class ResNet50D(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(  # C: three 3x3 convs in place of the 7x7
            nn.Conv2d(3, 32, 3, 2, 1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, 1, 1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, 1, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        blocks, inplanes = [], 64
        for planes, depth, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for index in range(depth):
                blocks.append(BottleneckD(inplanes, planes, stride if index == 0 else 1))
                inplanes = planes * 4
        self.blocks = nn.Sequential(*blocks)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avg(self.blocks(self.stem(x)))
        return self.classifier(torch.flatten(x, 1))


# 3. ResNet-50 on CIFAR-10 (the from-scratch tutorial): every conv with a bias, the input
#    upsampled by nn.Upsample's default mode, a 2x2 max pool, a bare 1x1 conv (no BN) as
#    the shortcut only where the channels change.


class CifarBottleneck(nn.Module):
    def __init__(self, in_channels: int, mid: int, out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, mid, 1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU()
        self.shortcut = nn.Conv2d(in_channels, out, 1, stride) if in_channels != out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.bn1(self.conv1(x)))
        h = self.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        shortcut = self.shortcut(x) if self.shortcut is not None else x
        return self.relu(h + shortcut)


class CifarResNet50(nn.Module):
    def __init__(self, output_dim: int = 10) -> None:
        super().__init__()
        self.upsample = nn.Upsample(size=(224, 224))
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)
        blocks, channels = [], 64
        for mid, depth in ((64, 3), (128, 4), (256, 6), (512, 3)):
            for index in range(depth):
                stride = 2 if index == 0 and mid != 64 else 1
                blocks.append(CifarBottleneck(channels, mid, mid * 4, stride))
                channels = mid * 4
        self.blocks = nn.Sequential(*blocks)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.bn1(self.conv1(self.upsample(x)))))
        x = self.gap(self.blocks(x))
        return self.fc(torch.flatten(x, 1))


ARTICLES = [
    # (zoo spec, the article's network, input)
    ("resnet18_gray", GrayResNet18, (2, 1, 224, 224)),
    ("resnet50d", ResNet50D, (2, 3, 224, 224)),
    ("resnet50_cifar10", CifarResNet50, (2, 3, 32, 32)),
]


def _layers_in_call_order(model: nn.Module, x: torch.Tensor) -> list[nn.Module]:
    """The modules holding weights, in the order `model`'s forward calls them."""
    called: list[nn.Module] = []
    hooks = [
        module.register_forward_hook(lambda module, *_: called.append(module))
        for module in model.modules()
        if isinstance(module, nn.Conv2d | nn.BatchNorm2d | nn.Linear)
    ]
    with torch.no_grad():
        model.eval()(x)
    for hook in hooks:
        hook.remove()
    return called


def _layers_in_order(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.BatchNorm2d | nn.Linear)]


@pytest.mark.parametrize(("name", "article", "shape"), ARTICLES, ids=[a[0] for a in ARTICLES])
def test_the_article_network_is_its_zoo_spec(zoo_files, name, article, shape) -> None:
    torch.manual_seed(0)
    source = article()
    randomise_norms(source, torch.Generator().manual_seed(1))
    with torch.device("meta"):
        generated = getattr(import_file(zoo_files[name]), name)()
    count = sum(p.numel() for p in source.parameters())
    assert count == sum(p.numel() for p in generated.parameters()) == zoo_spec(name).analysis.params

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    # The generated blocks hold their shortcut last, where these articles call it.
    pairs = list(zip(_layers_in_call_order(source, x), _layers_in_order(generated), strict=True))
    state = {}
    names = {module: name for name, module in generated.named_modules()}
    for theirs, ours in pairs:
        assert type(theirs) is type(ours)
        for key, value in theirs.state_dict().items():
            assert value.shape == getattr(ours, key).shape, (names[ours], key)
            state[f"{names[ours]}.{key}"] = value.clone()
    generated.load_state_dict(state, strict=True, assign=True)
    with torch.no_grad():
        torch.testing.assert_close(generated.eval()(x), source.eval()(x))
