"""Redes totalmente conectadas: a sequencial (``PlainMLP``) e a residual (``ResidualMLP``).

Convenções: ``B`` é o tamanho do lote, ``D`` o número de atributos de cada exemplo (na entrada,
``d_in``; nas camadas ocultas, a largura, isto é, o número de unidades).
A profundidade de uma ``PlainMLP`` é o número de camadas ocultas; a de uma ``ResidualMLP`` é o
número de blocos residuais (cada bloco tem uma ou mais camadas lineares no ramo).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from residuais.shapes import check_positive, check_tensor

NormLayer = Callable[[int], nn.Module]  # número de atributos → camada de normalização


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


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """As camadas lineares de ``model`` na ordem em que foram definidas (da entrada à saída)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def count_parameters(model: nn.Module) -> int:
    """Número de parâmetros treináveis (os buffers da normalização em lote, como as médias
    móveis, não contam)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _linear(d_in: int, d_out: int, init_scale: float | None) -> nn.Linear:
    """Camada linear; ``init_scale=None`` mantém a inicialização padrão do PyTorch."""
    layer = nn.Linear(d_in, d_out)
    if init_scale is not None:
        he_init_(layer, init_scale)
    return layer


def _norm(width: int, batch_norm: bool, norm_layer: NormLayer) -> nn.Module:
    """``norm_layer(width)`` com ``batch_norm``; senão, a identidade."""
    return norm_layer(width) if batch_norm else nn.Identity()


def _hidden_layer(d_in: int, width: int, batch_norm: bool, init_scale: float | None,
                  norm_layer: NormLayer) -> nn.Sequential:
    """Uma camada oculta sequencial: linear → (normalização em lote) → ReLU."""
    norm = norm_layer(width) if batch_norm else nn.Identity()
    return nn.Sequential(_linear(d_in, width, init_scale), norm, nn.ReLU())


class PlainMLP(nn.Module):
    """Rede sequencial: h_k = ReLU(BN(W_k h_{k-1} + b_k)), k = 1..depth, e uma saída linear.

    A BN (normalização em lote, *batch norm*) só entra com ``batch_norm=True``; ``norm_layer``
    a constrói a partir do número de atributos (padrão ``nn.BatchNorm1d``; o
    ``residuais.norm.BatchNorm1d`` do curso serve). ``init_scale`` vai para ``he_init_``
    (``None``: a inicialização padrão do PyTorch).
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        depth: int,
        d_out: int,
        *,
        batch_norm: bool = False,
        init_scale: float | None = 1.0,
        norm_layer: NormLayer = nn.BatchNorm1d,
    ) -> None:
        super().__init__()
        check_positive(d_in=d_in, width=width, depth=depth, d_out=d_out)
        self.d_in = d_in
        dims = [d_in] + [width] * depth
        self.hidden = nn.ModuleList(
            _hidden_layer(a, width, batch_norm, init_scale, norm_layer) for a in dims[:-1]
        )
        self.head = _linear(width, d_out, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "PlainMLP", "(B, D)", D=self.d_in)
        h = x  # (B, d_in)
        for layer in self.hidden:
            h = layer(h)  # (B, D)
        return self.head(h)  # (B, d_out)


BLOCK_ORDERS = ("pre", "post", "relu_last")


def _times(scale: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """scale · x, sem a multiplicação quando scale é o número 1 (ela custaria uma operação a
    mais por bloco, na ida e na volta). ``scale`` também pode ser um tensor, um valor por cópia
    de uma rede treinada junto com outras (``residuais.copies``)."""
    if isinstance(scale, int | float) and scale == 1:
        return x
    return scale * x


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
    Tudo depois de ``width`` vai só por nome; ``norm_layer`` faz cada BN (com ``batch_norm``).
    """

    def __init__(
        self,
        width: int,
        *,
        n_layers: int = 1,
        batch_norm: bool = True,
        order: str = "pre",
        init_scale: float | None = 1.0,
        branch_scale: float = 1.0,
        output_scale: float = 1.0,
        zero_init_last: bool = False,
        norm_layer: NormLayer = nn.BatchNorm1d,
    ) -> None:
        super().__init__()
        check_positive(width=width, n_layers=n_layers)
        if order not in BLOCK_ORDERS:
            raise ValueError(f"order deve ser um de {BLOCK_ORDERS}; recebeu {order!r}.")
        self.width = width
        self.order = order

        def norm() -> nn.Module:
            return _norm(width, batch_norm, norm_layer)

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
        check_tensor(h, "ResidualBlock", "(B, D)", D=self.width)
        h = _times(self.output_scale, h + _times(self.branch_scale, self.branch(h)))  # (B, D)
        return torch.relu(h) if self.order == "post" else h


class ResidualMLP(nn.Module):
    """Rede residual: uma camada linear de entrada, ``n_blocks`` blocos residuais e a saída.

    A entrada é linear (sem ReLU) para que o fluxo residual comece com valores dos dois sinais;
    com blocos de pré-ativação, a saída aplica BN → ReLU → linear (a soma do último bloco ainda
    não passou por BN nem ReLU).
    """

    def __init__(
        self,
        d_in: int,
        width: int,
        n_blocks: int,
        d_out: int,
        *,
        batch_norm: bool = True,
        order: str = "pre",
        layers_per_block: int = 1,
        init_scale: float | None = 1.0,
        norm_layer: NormLayer = nn.BatchNorm1d,
        **block_options: float | bool,
    ) -> None:
        """``block_options`` vão para cada ``ResidualBlock`` (``branch_scale``,
        ``output_scale``, ``zero_init_last``)."""
        super().__init__()
        check_positive(d_in=d_in, width=width, n_blocks=n_blocks, d_out=d_out)
        self.d_in = d_in
        self.stem = _linear(d_in, width, init_scale)
        self.blocks = nn.ModuleList(
            ResidualBlock(width, n_layers=layers_per_block, batch_norm=batch_norm, order=order,
                          init_scale=init_scale, norm_layer=norm_layer, **block_options)
            for _ in range(n_blocks)
        )
        if order == "pre":
            self.head = nn.Sequential(_norm(width, batch_norm, norm_layer), nn.ReLU(),
                                      _linear(width, d_out, init_scale))
        else:
            self.head = _linear(width, d_out, init_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "ResidualMLP", "(B, D)", D=self.d_in)
        h = self.stem(x)  # (B, D)
        for block in self.blocks:
            h = block(h)  # (B, D)
        return self.head(h)  # (B, d_out)
