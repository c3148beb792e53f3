"""DenseNet: blocos densos, que concatenam em vez de somar, e a DenseNet-121 para ImageNet.

Segue o ``densenet.py`` do torchvision (mesmo número de parâmetros). Convenções de forma:
``B`` lote, ``C`` canais, ``H`` × ``W`` altura × largura, ``k`` a taxa de crescimento.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from residuais.models.resnet import conv1x1, conv3x3
from residuais.shapes import check_positive, check_tensor


class DenseLayer(nn.Module):
    """Camada de um bloco denso (Huang et al. 2017), com gargalo: BN → ReLU → conv1×1
    (``bn_size``·k canais) → BN → ReLU → conv3×3 (k canais). Devolve só os k canais novos."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.branch = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
            conv1x1(in_channels, bn_size * growth_rate),
            nn.BatchNorm2d(bn_size * growth_rate), nn.ReLU(inplace=True),
            conv3x3(bn_size * growth_rate, growth_rate),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "DenseLayer", "(B, C, H, W)", C=self.in_channels)
        return self.branch(x)  # (B, k, H, W)


class DenseBlock(nn.Module):
    """Bloco denso: cada camada recebe a concatenação de todas as anteriores,
    h_ℓ = [h_{ℓ-1}, H_ℓ(h_{ℓ-1})]; a saída tem c_0 + L·k canais."""

    def __init__(
        self, n_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4
    ) -> None:
        super().__init__()
        check_positive(n_layers=n_layers, in_channels=in_channels, growth_rate=growth_rate)
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size)
            for i in range(n_layers)
        )
        self.out_channels = in_channels + n_layers * growth_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)  # (B, c + k, H, W): concatena, não soma
        return x


class Transition(nn.Sequential):
    """Transição entre blocos densos: BN → ReLU → conv1×1 (comprime os canais) → média 2×2
    (reduz a resolução). A concatenação exige a mesma resolução; por isso a transição fica fora
    dos blocos."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True),
            conv1x1(in_channels, out_channels), nn.AvgPool2d(2, stride=2),
        )


class DenseNet(nn.Module):
    """DenseNet-BC para ImageNet (Huang et al. 2017), como o ``densenet.py`` do torchvision."""

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        compression: float = 0.5,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        layers: list[tuple[str, nn.Module]] = [
            ("conv0", nn.Conv2d(3, num_init_features, 7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, stride=2, padding=1)),
        ]
        channels = num_init_features
        for i, n_layers in enumerate(block_config, start=1):
            block = DenseBlock(n_layers, channels, growth_rate, bn_size)
            layers.append((f"denseblock{i}", block))
            channels = block.out_channels
            if i < len(block_config):
                compressed = int(channels * compression)
                layers.append((f"transition{i}", Transition(channels, compressed)))
                channels = compressed
        layers += [("norm5", nn.BatchNorm2d(channels)), ("relu5", nn.ReLU(inplace=True))]
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "DenseNet", "(B, C, H, W)", C=3)
        x = self.features(x)  # (B, 1024, 7, 7) para a DenseNet-121 com 224×224
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)  # (B, 1024)
        return self.classifier(x)


def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121 (Huang et al. 2017, tabela 1): k = 32, blocos de 6, 12, 24 e 16 camadas."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes)
