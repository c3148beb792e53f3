"""Redes do livro: sequenciais (sem atalhos) e residuais.

Convenções: ``B`` é o tamanho do lote, ``D`` a largura (número de unidades ocultas).
A profundidade de uma ``PlainMLP`` é o número de camadas ocultas; a de uma ``ResidualMLP`` é o
número de blocos residuais (cada bloco tem uma ou mais camadas lineares no ramo).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn


def check_features(x: torch.Tensor, n_features: int, where: str) -> None:
    """Confere que ``x`` tem forma (B, n_features); caso contrário explica o erro em português."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: esperava um torch.Tensor, recebeu {type(x).__name__}.")
    if x.dim() != 2 or x.shape[1] != n_features:
        raise ValueError(
            f"{where}: esperava entrada de forma (B, {n_features}) — lote × atributos —, "
            f"mas recebeu forma {tuple(x.shape)}."
        )


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"O argumento {name} deve ser um inteiro positivo; recebeu {value!r}.")


def he_init_(layer: nn.Linear, scale: float = 1.0) -> None:
    """Inicialização de He: pesos ~ N(0, scale² · 2/fan_in), vieses zero.

    ``scale = 1`` é a inicialização de He et al. (2015), que preserva a variância numa rede
    ReLU; ``scale < 1`` faz a variância encolher a cada camada e ``scale > 1`` crescer.
    """
    fan_in = layer.weight.shape[1]
    with torch.no_grad():
        layer.weight.normal_(0.0, scale * math.sqrt(2.0 / fan_in))
        if layer.bias is not None:
            layer.bias.zero_()


def _linear(d_in: int, d_out: int, init_scale: float | None) -> nn.Linear:
    """Camada linear; ``init_scale=None`` mantém a inicialização padrão do PyTorch."""
    layer = nn.Linear(d_in, d_out)
    if init_scale is not None:
        he_init_(layer, init_scale)
    return layer


def _hidden_layer(
    d_in: int, width: int, batch_norm: bool, init_scale: float | None
) -> nn.Sequential:
    """Uma camada oculta sequencial: linear → (batch norm) → ReLU."""
    norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
    return nn.Sequential(_linear(d_in, width, init_scale), norm, nn.ReLU())


class PlainMLP(nn.Module):
    """Rede sequencial: h_k = ReLU(BN(W_k h_{k-1} + b_k)), k = 1..depth, e uma saída linear."""

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        d_out: int,
        batch_norm: bool = False,
        init_scale: float | None = 1.0,
    ) -> None:
        super().__init__()
        _check_positive(d_in=d_in, width=width, depth=depth, d_out=d_out)
        self.d_in = d_in
        dims = [d_in] + [width] * depth
        self.hidden = nn.ModuleList(
            _hidden_layer(a, width, batch_norm, init_scale) for a in dims[:-1]
        )
        self.head = _linear(width, d_out, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.d_in, "PlainMLP")
        h = x  # (B, d_in)
        for layer in self.hidden:
            h = layer(h)  # (B, D)
        return self.head(h)  # (B, d_out)


BLOCK_ORDERS = ("pre", "post", "relu_last")


class ResidualBlock(nn.Module):
    """Bloco residual totalmente conectado: h_k = h_{k-1} + f_k[h_{k-1}].

    ``order="pre"`` (pré-ativação, He et al. 2016b): f = [BN → ReLU → linear] × n_layers.
    ``order="post"`` (ResNet original): f = linear → BN (→ ReLU → linear → BN ...) e a ReLU vem
    depois da soma, h_k = ReLU(h_{k-1} + f_k[h_{k-1}]).
    ``order="relu_last"``: f = [linear → BN → ReLU] × n_layers; como o ramo termina numa ReLU,
    o bloco só consegue somar valores não negativos.

    Remédios para a variância (capítulo 3): ``branch_scale`` = α multiplica o ramo e
    ``output_scale`` = c multiplica a soma, h_k = c · (h_{k-1} + α f_k[h_{k-1}]);
    ``zero_init_last=True`` zera a última camada linear do ramo, e o bloco começa como a
    identidade (como ``zero_init_residual`` do torchvision, Fixup e SkipInit).
    """

    def __init__(
        self,
        width: int,
        n_layers: int = 1,
        batch_norm: bool = True,
        order: str = "pre",
        init_scale: float | None = 1.0,
        branch_scale: float = 1.0,
        output_scale: float = 1.0,
        zero_init_last: bool = False,
    ) -> None:
        super().__init__()
        _check_positive(width=width, n_layers=n_layers)
        if order not in BLOCK_ORDERS:
            raise ValueError(f"order deve ser um de {BLOCK_ORDERS}; recebeu {order!r}.")
        self.width = width
        self.order = order

        def norm() -> nn.Module:
            return nn.BatchNorm1d(width) if batch_norm else nn.Identity()

        layers: list[nn.Module] = []
        for i in range(n_layers):
            if order == "pre":
                layers += [norm(), nn.ReLU(), _linear(width, width, init_scale)]
            elif order == "relu_last":
                layers += [_linear(width, width, init_scale), norm(), nn.ReLU()]
            else:
                layers += [_linear(width, width, init_scale), norm()]
                if i < n_layers - 1:
                    layers.append(nn.ReLU())
        self.branch = nn.Sequential(*layers)
        self.branch_scale = branch_scale
        self.output_scale = output_scale
        if zero_init_last:
            last = linear_layers(self.branch)[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        check_features(h, self.width, "ResidualBlock")
        h = h + self.branch_scale * self.branch(h)  # (B, D): a identidade mais a correção f_k
        if self.output_scale != 1.0:
            h = self.output_scale * h
        return torch.relu(h) if self.order == "post" else h


class ResidualMLP(nn.Module):
    """Rede residual: uma camada linear de entrada, ``n_blocks`` blocos residuais e a saída.

    A entrada é linear (sem ReLU) para que o fluxo residual comece com valores dos dois sinais;
    com blocos de pré-ativação, a saída aplica BN → ReLU → linear.
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        n_blocks: int,
        d_out: int,
        batch_norm: bool = True,
        order: str = "pre",
        layers_per_block: int = 1,
        init_scale: float | None = 1.0,
        **block_options: float | bool,
    ) -> None:
        """``block_options`` vão para cada ``ResidualBlock`` (``branch_scale``,
        ``output_scale``, ``zero_init_last``)."""
        super().__init__()
        _check_positive(d_in=d_in, width=width, n_blocks=n_blocks, d_out=d_out)
        self.d_in = d_in
        self.stem = _linear(d_in, width, init_scale)
        self.blocks = nn.ModuleList(
            ResidualBlock(width, layers_per_block, batch_norm, order, init_scale, **block_options)
            for _ in range(n_blocks)
        )
        if order == "pre":
            norm = nn.BatchNorm1d(width) if batch_norm else nn.Identity()
            self.head = nn.Sequential(norm, nn.ReLU(), _linear(width, d_out, init_scale))
        else:
            self.head = _linear(width, d_out, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(x, self.d_in, "ResidualMLP")
        h = self.stem(x)  # (B, D)
        for block in self.blocks:
            h = block(h)  # (B, D)
        return self.head(h)  # (B, d_out)


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Convolução 3×3 com preenchimento 1 e sem viés (o batch norm seguinte já tem o seu)."""
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """Convolução 1×1 sem viés: muda o número de canais (e, com passo 2, a resolução)."""
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def check_channels(x: torch.Tensor, channels: int, where: str) -> None:
    """Confere que ``x`` tem forma (B, channels, H, W); caso contrário explica o erro."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: esperava um torch.Tensor, recebeu {type(x).__name__}.")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(
            f"{where}: esperava entrada de forma (B, {channels}, H, W) — lote × canais × altura × "
            f"largura —, mas recebeu forma {tuple(x.shape)}."
        )


class BasicBlock(nn.Module):
    """Bloco básico da ResNet (He et al. 2016a), no estilo do ``resnet.py`` do torchvision.

    y = ReLU(F(x) + atalho(x)), com F = conv3×3 → BN → ReLU → conv3×3 → BN. O atalho é a
    identidade quando a forma não muda ("bloco identidade") e uma projeção W_s — convolução 1×1
    com o mesmo passo, seguida de BN — quando muda o número de canais ou a resolução ("bloco
    convolucional").
    """

    expansion = 1

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, residual: bool = True
    ) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels, stride=stride)
        self.in_channels = in_channels
        self.residual = residual  # False: o mesmo bloco sem atalho (a rede "plain" do artigo)
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if residual and (stride != 1 or in_channels != out_channels):
            self.downsample = _projection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, "BasicBlock")
        out = self.relu(self.bn1(self.conv1(x)))  # (B, C_out, H', W')
        out = self.bn2(self.conv2(out))  # (B, C_out, H', W')
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Atalho de projeção W_s: convolução 1×1 com passo ``stride``, seguida de BN."""
    return nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))


class Bottleneck(nn.Module):
    """Bloco com gargalo (*bottleneck*) da ResNet-50/101/152 (He et al. 2016a), como no
    torchvision (o passo fica na convolução 3×3, a "ResNet v1.5").

    F = conv1×1 (reduz para ``planes`` canais) → BN → ReLU → conv3×3 → BN → ReLU →
    conv1×1 (expande para 4·``planes``) → BN; y = ReLU(F(x) + atalho(x)).
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, planes=planes, stride=stride)
        self.in_channels = in_channels
        out_channels = planes * self.expansion
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, out_channels)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = _projection(in_channels, out_channels, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, "Bottleneck")
        identity = x if self.downsample is None else self.downsample(x)  # (B, 4p, H', W')
        out = self.relu(self.bn1(self.conv1(x)))  # (B, p, H, W): gargalo
        out = self.relu(self.bn2(self.conv2(out)))  # (B, p, H', W')
        out = self.bn3(self.conv3(out))  # (B, 4p, H', W')
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet para ImageNet (He et al. 2016a), no estilo do ``resnet.py`` do torchvision.

    Haste: conv 7×7 (passo 2) → BN → ReLU → max-pooling 3×3 (passo 2); depois quatro estágios
    com 64, 128, 256 e 512 "planos", cada um começando com passo 2 (menos o primeiro); por fim
    média global e uma camada linear. ``zero_init_residual`` zera o γ do último BN de cada
    bloco, e cada bloco começa como a identidade (Goyal et al. 2017).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers deve ter 4 números (blocos por estágio): {layers!r}.")
        _check_positive(num_classes=num_classes)
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.in_channels = 64
        self.layer1 = self._make_stage(block, 64, layers[0], stride=1)
        self.layer2 = self._make_stage(block, 128, layers[1], stride=2)
        self.layer3 = self._make_stage(block, 256, layers[2], stride=2)
        self.layer4 = self._make_stage(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _make_stage(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, n_blocks: int, stride: int
    ) -> nn.Sequential:
        """Um estágio: o primeiro bloco muda a forma (e ganha a projeção), os outros não."""
        blocks = [block(self.in_channels, planes, stride)]
        self.in_channels = planes * block.expansion
        blocks += [block(self.in_channels, planes) for _ in range(1, n_blocks)]
        return nn.Sequential(*blocks)

    def stages(self) -> list[tuple[str, nn.Module]]:
        """As etapas do ``forward`` em ordem, com nomes, para traçar as formas."""
        return [("conv1 + bn + relu", nn.Sequential(self.conv1, self.bn1, self.relu)),
                ("maxpool", self.maxpool), ("layer1", self.layer1), ("layer2", self.layer2),
                ("layer3", self.layer3), ("layer4", self.layer4),
                ("avgpool", self.avgpool), ("fc", nn.Sequential(nn.Flatten(), self.fc))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, 3, "ResNet")
        for _, stage in self.stages():
            x = stage(x)  # (B, 64, 112, 112) → ... → (B, 512·e, 7, 7) → (B, num_classes)
        return x


RESNET_LAYERS = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
    200: (Bottleneck, (3, 24, 36, 3)),  # He et al. 2016b, tabela de ImageNet
}


def resnet(depth: int, num_classes: int = 1000, zero_init_residual: bool = False) -> ResNet:
    """ResNet-``depth`` (18, 34, 50, 101, 152 ou 200)."""
    if depth not in RESNET_LAYERS:
        raise ValueError(f"Profundidades disponíveis: {sorted(RESNET_LAYERS)}; recebeu {depth!r}.")
    block, layers = RESNET_LAYERS[depth]
    return ResNet(block, layers, num_classes, zero_init_residual)


def resnet18(**kwargs) -> ResNet:
    return resnet(18, **kwargs)


def resnet34(**kwargs) -> ResNet:
    return resnet(34, **kwargs)


def resnet50(**kwargs) -> ResNet:
    return resnet(50, **kwargs)


def resnet101(**kwargs) -> ResNet:
    return resnet(101, **kwargs)


def resnet152(**kwargs) -> ResNet:
    return resnet(152, **kwargs)


def resnet200(**kwargs) -> ResNet:
    return resnet(200, **kwargs)


class ConvNet(nn.Module):
    """Rede convolucional pequena para imagens 1×8×8 (dígitos do scikit-learn): uma haste
    conv3×3 → BN → ReLU, ``n_blocks`` blocos básicos (duas convoluções cada) e uma saída linear.
    Com ``residual=False`` é a mesma rede sem atalhos."""

    def __init__(self, n_blocks: int, width: int = 16, num_classes: int = 10,
                 residual: bool = True) -> None:
        super().__init__()
        _check_positive(n_blocks=n_blocks, width=width, num_classes=num_classes)
        self.stem = nn.Sequential(conv3x3(1, width), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(
            *(BasicBlock(width, width, residual=residual) for _ in range(n_blocks))
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # (B, 64) achatada → (B, 1, 8, 8)
            x = x.view(-1, 1, 8, 8)
        check_channels(x, 1, "ConvNet")
        return self.head(self.blocks(self.stem(x)))  # (B, num_classes)


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
        check_channels(x, self.in_channels, "DenseLayer")
        return self.branch(x)  # (B, k, H, W)


class DenseBlock(nn.Module):
    """Bloco denso: cada camada recebe a concatenação de todas as anteriores,
    h_ℓ = [h_{ℓ-1}, H_ℓ(h_{ℓ-1})]; a saída tem c_0 + L·k canais."""

    def __init__(self, n_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4):
        super().__init__()
        _check_positive(n_layers=n_layers, in_channels=in_channels, growth_rate=growth_rate)
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
        check_channels(x, 3, "DenseNet")
        x = self.features(x)  # (B, 1024, 7, 7) para a DenseNet-121 com 224×224
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)  # (B, 1024)
        return self.classifier(x)


def densenet121(num_classes: int = 1000) -> DenseNet:
    """DenseNet-121: k = 32, blocos de 6, 12, 24 e 16 camadas."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes)


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Recorta o centro de ``x`` (B, C, H, W) para (B, C, height, width), como a U-Net original
    faz com o atalho antes de concatenar."""
    h, w = x.shape[-2:]
    if height > h or width > w:
        raise ValueError(f"Não dá para recortar {h}×{w} para {height}×{width}: o alvo é maior.")
    top, left = (h - height) // 2, (w - width) // 2
    return x[..., top : top + height, left : left + width]


def _double_conv(
    in_channels: int, out_channels: int, padding: int, batch_norm: bool
) -> nn.Sequential:
    """Duas convoluções 3×3, cada uma seguida de (BN e) ReLU."""
    layers: list[nn.Module] = []
    for c_in in (in_channels, out_channels):
        layers.append(nn.Conv2d(c_in, out_channels, 3, padding=padding, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015): codificador–decodificador com atalhos por concatenação.

    Com os padrões (``padding=0``, canais 64…1024, entrada 1 canal, 2 classes) é a rede do
    artigo: convoluções sem preenchimento ("válidas"), então cada atalho é recortado no centro
    antes de ser concatenado, e uma entrada 572×572 dá uma saída 388×388. ``padding=1`` mantém
    o tamanho; ``skips=False`` tira os atalhos (o decodificador só vê o que subiu do fundo).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        padding: int = 0,
        batch_norm: bool = False,
        skips: bool = True,
    ) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, num_classes=num_classes,
                        base_channels=base_channels, depth=depth)
        self.in_channels = in_channels
        self.skips = skips
        widths = [base_channels * 2**i for i in range(depth + 1)]  # 64, 128, ..., 1024
        self.down = nn.ModuleList()
        c_in = in_channels
        for w in widths[:-1]:
            self.down.append(_double_conv(c_in, w, padding, batch_norm))
            c_in = w
        self.pool = nn.MaxPool2d(2)
        self.bottom = _double_conv(widths[-2], widths[-1], padding, batch_norm)
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for w_low, w in zip(reversed(widths[1:]), reversed(widths[:-1]), strict=True):
            self.up.append(nn.ConvTranspose2d(w_low, w, 2, stride=2))  # dobra a resolução
            self.up_conv.append(_double_conv(2 * w if skips else w, w, padding, batch_norm))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_channels(x, self.in_channels, "UNet")
        saved = []
        for down in self.down:
            x = down(x)  # (B, w, H, W)
            saved.append(x)  # o atalho: as características antes de reduzir a resolução
            x = self.pool(x)  # (B, w, H/2, W/2)
        x = self.bottom(x)
        for up, up_conv, skip in zip(self.up, self.up_conv, reversed(saved), strict=True):
            x = up(x)  # (B, w, 2H, 2W)
            if self.skips:
                skip = center_crop(skip, *x.shape[-2:])  # recorte: convoluções válidas encolhem
                x = torch.cat([skip, x], dim=1)  # (B, 2w, 2H, 2W)
            x = up_conv(x)
        return self.head(x)  # (B, num_classes, H_out, W_out)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """As camadas lineares de ``model`` na ordem em que foram definidas (da entrada à saída)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


# Configuração "D" de Simonyan e Zisserman (2015): números são canais de convoluções 3×3,
# "M" é um max-pooling 2×2.
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                512, 512, 512, "M", 512, 512, 512, "M")  # fmt: skip


def vgg16(num_classes: int = 1000) -> nn.Sequential:
    """VGG-16 (configuração D) para entradas 3×224×224, como no artigo e no torchvision.

    Use ``with torch.device("meta"):`` para contar parâmetros sem alocar memória.
    """
    _check_positive(num_classes=num_classes)
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
            channels = item
    layers += [
        nn.Flatten(),  # (B, 512·7·7)
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, num_classes),
    ]  # fmt: skip
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module) -> int:
    """Número de parâmetros treináveis (os buffers do batch norm não contam)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
