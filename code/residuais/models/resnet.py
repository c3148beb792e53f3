"""ResNets: os blocos básico e com gargalo, a ResNet-18…200 para ImageNet e uma rede pequena.

Segue o ``resnet.py`` do torchvision (mesmos nomes de módulos e mesmo número de parâmetros).
Como lá, a normalização é injetada: ``norm_layer`` é um chamável que recebe o número de canais
e devolve a camada (padrão ``nn.BatchNorm2d``); o ``residuais.norm.BatchNorm2d`` do curso serve.
Convenções de forma: ``B`` lote, ``C`` canais, ``H`` × ``W`` altura × largura.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.shapes import check_positive, check_tensor

NormLayer = Callable[[int], nn.Module]  # número de canais → camada de normalização


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Convolução 3×3 com preenchimento 1 e sem viés (a normalização em lote seguinte já tem o
    seu β)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Convolução 1×1 sem viés: muda o número de canais (e, com passo 2, a resolução)."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def _projection(in_channels: int, out_channels: int, stride: int,
                norm_layer: NormLayer) -> nn.Sequential:
    """Atalho de projeção W_s: convolução 1×1 com passo ``stride``, seguida de BN."""
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), norm_layer(out_channels))


class BasicBlock(nn.Module):
    """Bloco básico da ResNet (He et al. 2016a), no estilo do ``resnet.py`` do torchvision.

    y = ReLU(F(x) + atalho(x)), com F = conv3×3 → BN → ReLU → conv3×3 → BN. O atalho é a
    identidade quando a forma não muda ("bloco identidade") e uma projeção W_s — convolução 1×1
    com o mesmo passo, seguida de BN — quando muda o número de canais ou a resolução ("bloco
    convolucional"). ``residual=False`` tira o atalho (a rede sem atalhos do artigo);
    ``norm_layer`` faz cada BN (padrão ``nn.BatchNorm2d``).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *,
                 residual: bool = True, norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.in_channels = in_channels
        self.residual = residual
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = norm_layer(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = norm_layer(out_channels)
        self.downsample: nn.Module | None = None
        if residual and (stride != 1 or in_channels != out_channels):
            self.downsample = _projection(in_channels, out_channels, stride, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "BasicBlock", "(B, C, H, W)", C=self.in_channels)
        out = self.relu(self.bn1(self.conv1(x)))  # (B, C_out, H', W')
        out = self.bn2(self.conv2(out))  # (B, C_out, H', W')
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """Bloco com gargalo (*bottleneck*) da ResNet-50/101/152 (He et al. 2016a), como no
    torchvision (o passo fica na convolução 3×3, a "ResNet v1.5").

    F = conv1×1 (reduz para ``planes`` canais) → BN → ReLU → conv3×3 → BN → ReLU →
    conv1×1 (expande para 4·``planes``) → BN; y = ReLU(F(x) + atalho(x)). ``norm_layer`` faz
    cada BN (padrão ``nn.BatchNorm2d``).
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, *,
                 norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, planes=planes, stride=stride)
        self.in_channels = in_channels
        out_channels = planes * self.expansion
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv3 = conv1x1(planes, out_channels)
        self.bn3 = norm_layer(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = _projection(in_channels, out_channels, stride, norm_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "Bottleneck", "(B, C, H, W)", C=self.in_channels)
        identity = x if self.downsample is None else self.downsample(x)  # (B, 4p, H', W')
        out = self.relu(self.bn1(self.conv1(x)))  # (B, p, H, W): gargalo
        out = self.relu(self.bn2(self.conv2(out)))  # (B, p, H', W')
        out = self.bn3(self.conv3(out))  # (B, 4p, H', W')
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet para ImageNet (He et al. 2016a), no estilo do ``resnet.py`` do torchvision.

    Haste: conv 7×7 (passo 2) → BN → ReLU → agrupamento por máximo (*max pooling*) 3×3 (passo
    2); depois quatro estágios com 64, 128, 256 e 512 "planos", cada um começando com passo 2
    (menos o primeiro); por fim média global e uma camada linear. ``zero_init_residual`` zera o
    γ do último BN de cada bloco, e cada bloco começa como a identidade (Goyal et al. 2017).
    ``norm_layer`` faz cada BN, da haste, dos blocos e das projeções (padrão ``nn.BatchNorm2d``).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        *,
        zero_init_residual: bool = False,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers deve ter 4 números (blocos por estágio): {layers!r}.")
        check_positive(num_classes=num_classes)
        self._norm_layer = norm_layer
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.in_channels = 64
        self.layer1 = self._make_layer(block, 64, layers[0], stride=1)
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            # no dispositivo "meta" não há valores a sortear (e o normal_ de lá importa o
            # torch._dynamo, ~2 s na primeira vez)
            if isinstance(m, nn.Conv2d) and not m.weight.is_meta:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck | BasicBlock):
                    last = m.bn3 if isinstance(m, Bottleneck) else m.bn2
                    if not isinstance(getattr(last, "weight", None), torch.Tensor):
                        raise ValueError("zero_init_residual zera o γ (weight) do último BN de "
                                         "cada bloco; esta norm_layer não tem γ.")
                    nn.init.zeros_(last.weight)

    def _make_layer(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, n_blocks: int, stride: int
    ) -> nn.Sequential:
        """Um estágio: o primeiro bloco muda a forma (e ganha a projeção), os outros não."""
        blocks = [block(self.in_channels, planes, stride, norm_layer=self._norm_layer)]
        self.in_channels = planes * block.expansion
        blocks += [block(self.in_channels, planes, norm_layer=self._norm_layer)
                   for _ in range(1, n_blocks)]
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "ResNet", "(B, C, H, W)", C=3)
        x = self.conv1(x)  # (B, 64, 112, 112) para uma entrada 224×224
        x = self.bn1(x)
        x = self.relu(x)
        x = self.maxpool(x)  # (B, 64, 56, 56)
        x = self.layer1(x)  # (B, 64·e, 56, 56), com e = block.expansion
        x = self.layer2(x)  # (B, 128·e, 28, 28)
        x = self.layer3(x)  # (B, 256·e, 14, 14)
        x = self.layer4(x)  # (B, 512·e, 7, 7)
        x = self.avgpool(x)  # (B, 512·e, 1, 1)
        x = torch.flatten(x, 1)  # (B, 512·e)
        x = self.fc(x)  # (B, num_classes)
        return x

    def stages(self) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
        """As etapas do ``forward`` em ordem, com nomes, para traçar as formas. Usam os módulos
        já construídos (nada é criado); aplicadas em sequência, dão o mesmo que ``forward``."""
        return [("conv1 + bn + relu", lambda x: self.relu(self.bn1(self.conv1(x)))),
                ("maxpool", self.maxpool), ("layer1", self.layer1), ("layer2", self.layer2),
                ("layer3", self.layer3), ("layer4", self.layer4), ("avgpool", self.avgpool),
                ("fc", lambda x: self.fc(torch.flatten(x, 1)))]


RESNET_LAYERS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
    200: (Bottleneck, (3, 24, 36, 3)),  # He et al. 2016b, tabela de ImageNet
}


def resnet(depth: int, num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-``depth`` (18, 34, 50, 101, 152 ou 200). ``options`` vão para ``ResNet``
    (``zero_init_residual``, ``norm_layer``), só por nome."""
    if depth not in RESNET_LAYERS:
        raise ValueError(f"Profundidades disponíveis: {sorted(RESNET_LAYERS)}; recebeu {depth!r}.")
    block, layers = RESNET_LAYERS[depth]
    return ResNet(block, layers, num_classes, **options)


def resnet18(num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-18 (He et al. 2016a, tabela 1): blocos básicos, 2-2-2-2 por estágio."""
    return resnet(18, num_classes, **options)


def resnet34(num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-34 (He et al. 2016a, tabela 1): blocos básicos, 3-4-6-3 por estágio."""
    return resnet(34, num_classes, **options)


def resnet50(num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-50 (He et al. 2016a, tabela 1): blocos com gargalo, 3-4-6-3 por estágio."""
    return resnet(50, num_classes, **options)


def resnet101(num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-101 (He et al. 2016a, tabela 1): blocos com gargalo, 3-4-23-3 por estágio."""
    return resnet(101, num_classes, **options)


def resnet152(num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-152 (He et al. 2016a, tabela 1): blocos com gargalo, 3-8-36-3 por estágio."""
    return resnet(152, num_classes, **options)


def resnet200(num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-200 (He et al. 2016b, a das experiências em ImageNet): blocos com gargalo,
    3-24-36-3 por estágio. Aqui os blocos são de pós-ativação, como nas outras."""
    return resnet(200, num_classes, **options)


class ConvNet(nn.Module):
    """Rede convolucional pequena para imagens 1×8×8 (dígitos do scikit-learn): uma haste
    conv3×3 com passo 2 → BN → ReLU, que reduz a imagem a 4×4 (como a haste da ResNet reduz
    224×224 a 56×56), ``n_blocks`` blocos básicos (duas convoluções cada) e uma saída linear.
    Com ``residual=False`` é a mesma rede sem atalhos; ``norm_layer`` faz cada BN."""

    def __init__(self, n_blocks: int, width: int = 16, num_classes: int = 10, *,
                 residual: bool = True, norm_layer: NormLayer = nn.BatchNorm2d) -> None:
        super().__init__()
        check_positive(n_blocks=n_blocks, width=width, num_classes=num_classes)
        self.in_channels = 1
        self.stem = nn.Sequential(conv3x3(1, width, stride=2), norm_layer(width), nn.ReLU())
        self.blocks = nn.Sequential(*(
            BasicBlock(width, width, residual=residual, norm_layer=norm_layer)
            for _ in range(n_blocks)))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and x.shape[1] == 64 * self.in_channels:  # (B, 64) achatada
            x = x.view(x.shape[0], self.in_channels, 8, 8)  # (B, 1, 8, 8)
        check_tensor(x, "ConvNet", "(B, C, H, W)", C=self.in_channels)
        x = self.stem(x)  # (B, width, 4, 4)
        x = self.blocks(x)  # (B, width, 4, 4)
        return self.head(x)  # (B, num_classes)
