"""Medições sobre redes: gradientes por camada, jacobianos, gradientes em relação à entrada e
autocorrelação (para os gradientes fragmentados de Balduzzi et al., 2017)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from residuais.models import linear_layers


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Norma de Frobenius de ∂L/∂W_k para cada camada linear k (da entrada à saída), com L a
    entropia cruzada média no lote (x, y). Os gradientes acumulados no modelo são apagados."""
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    norms = [layer.weight.grad.norm().item() for layer in linear_layers(model)]
    model.zero_grad(set_to_none=True)
    return norms


@contextmanager
def captured_outputs(layers: Sequence[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Durante o bloco ``with``, guarda (na ordem de execução) a saída de cada módulo de
    ``layers``; os ganchos são removidos ao sair."""
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        outputs.append(output)

    handles = [layer.register_forward_hook(keep) for layer in layers]
    try:
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


def activation_gradient_norms(
    model: nn.Module, layers: Sequence[nn.Module], x: torch.Tensor, y: torch.Tensor
) -> list[float]:
    """Norma de ∂L/∂h_k, o sinal que volta pela retropropagação, na saída de cada módulo de
    ``layers`` (na ordem dada), sendo L a entropia cruzada média no lote (x, y)."""
    with captured_outputs(layers) as outputs:
        loss = F.cross_entropy(model(x), y)
    if len(outputs) != len(layers):
        raise ValueError("Cada módulo de `layers` deve ser usado exatamente uma vez pela rede.")
    for h in outputs:
        h.retain_grad()
    loss.backward()
    model.zero_grad(set_to_none=True)
    return [h.grad.norm().item() for h in outputs]


@torch.no_grad()
def forward_variances(
    model: nn.Module, layers: Sequence[nn.Module], x: torch.Tensor
) -> list[float]:
    """Variância (sobre o lote e as unidades) da saída de cada módulo de ``layers`` quando
    ``model`` processa ``x``. Valores não finitos aparecem como ``inf`` ou ``nan``."""
    with captured_outputs(layers) as outputs:
        model(x)
    if len(outputs) != len(layers):
        raise ValueError("Cada módulo de `layers` deve ser usado exatamente uma vez pela rede.")
    return [h.double().var().item() for h in outputs]


def sequential_jacobians(layers: Sequence[nn.Module], x: torch.Tensor) -> list[torch.Tensor]:
    """Os jacobianos ∂h_k/∂h_{k-1} de cada camada de uma composição h_k = f_k(h_{k-1}), h_0 = x.

    ``x`` é um único exemplo, de forma (n,); o k-ésimo jacobiano tem forma (dim h_k, dim h_{k-1}).
    """
    if x.dim() != 1:
        raise ValueError(
            f"x deve ser um único exemplo de forma (n,); recebeu forma {tuple(x.shape)}."
        )
    jacobians = []
    h = x
    for layer in layers:
        jacobians.append(torch.autograd.functional.jacobian(layer, h))
        with torch.no_grad():
            h = layer(h)
    return jacobians


def input_grid(n_points: int = 256, low: float = -2.0, high: float = 2.0) -> torch.Tensor:
    """Grade de ``n_points`` entradas escalares igualmente espaçadas, forma (n_points, 1)."""
    return torch.linspace(low, high, n_points).unsqueeze(1)


@torch.no_grad()
def freeze_batch_statistics(model: nn.Module, x: torch.Tensor) -> None:
    """Calcula as estatísticas da normalização em lote (*batch norm*) no lote ``x`` e as congela
    (modo de avaliação).

    Depois disso a rede é uma função de cada exemplo isolado, como na inferência, e a derivada
    dy_i/dx_i não mistura exemplos do lote.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # média acumulada: com um só lote, é a estatística do lote
    model.train()
    model(x)
    model.eval()


def input_gradient(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """dy/dx em cada ponto de ``x`` (forma (N, 1)) para uma rede de saída escalar; forma (N,).

    A rede deve estar em modo de avaliação (cada saída depende só da sua entrada).
    """
    if x.dim() != 2 or x.shape[1] != 1:
        raise ValueError(f"x deve ter forma (N, 1); recebeu forma {tuple(x.shape)}.")
    if model.training:
        raise ValueError("Coloque a rede em modo de avaliação (model.eval()) antes de derivar.")
    x = x.detach().clone().requires_grad_(True)
    y = model(x)  # (N, 1)
    if y.shape != x.shape:
        raise ValueError(
            f"A rede deve ter saída escalar, forma (N, 1); a saída tem forma {tuple(y.shape)}."
        )
    (grad,) = torch.autograd.grad(y.sum(), x)
    return grad.squeeze(1)


def lag1_autocorrelation(g: torch.Tensor) -> float:
    """Autocorrelação com defasagem 1 de uma sequência: Σ (g_i − ḡ)(g_{i+1} − ḡ) / Σ (g_i − ḡ)².

    Perto de 1 para sinais suaves (ruído marrom); perto de 0 para ruído branco.
    """
    g = torch.as_tensor(g, dtype=torch.float64).flatten()
    if g.numel() < 2:
        raise ValueError("A sequência precisa de pelo menos 2 valores.")
    centered = g - g.mean()
    denominator = (centered * centered).sum()
    if denominator == 0:
        raise ValueError("Sequência constante: a autocorrelação não está definida.")
    return ((centered[:-1] * centered[1:]).sum() / denominator).item()


def enumerate_paths(n_blocks: int) -> list[tuple[int, ...]]:
    """Todos os caminhos da entrada à saída de uma rede com ``n_blocks`` blocos residuais.

    Cada bloco é atravessado pelo ramo f_k ou pulado pelo atalho, então um caminho é o
    subconjunto (em ordem crescente) dos blocos cujo ramo ele atravessa; () é o atalho puro.
    """
    if not isinstance(n_blocks, int) or n_blocks < 0:
        raise ValueError(f"n_blocks deve ser um inteiro ≥ 0; recebeu {n_blocks!r}.")
    paths = [()]
    for k in range(1, n_blocks + 1):
        paths += [(*path, k) for path in paths]
    return sorted(paths, key=lambda p: (len(p), p))


def expand_linear_residual(
    matrices: Sequence[torch.Tensor], x: torch.Tensor
) -> dict[tuple[int, ...], torch.Tensor]:
    """Expande y = (I + A_K)···(I + A_1) x numa soma sobre caminhos: o termo do caminho
    (k_1 < ... < k_m) é A_{k_m}···A_{k_1} x. Devolve {caminho: termo}; a soma dos termos é y."""
    terms = {}
    for path in enumerate_paths(len(matrices)):
        term = x
        for k in path:
            term = matrices[k - 1] @ term
        terms[path] = term
    return terms


def without_block(model: nn.Module, k: int) -> nn.Module:
    """Cópia de ``model`` com o k-ésimo bloco (contando de 1) trocado pela identidade.

    Numa ``ResidualMLP`` apaga o bloco k inteiro (h_k = h_{k-1}); numa ``PlainMLP`` troca a
    camada oculta k pela identidade, o que só é possível para k ≥ 2 (a primeira muda a dimensão).
    """
    if hasattr(model, "blocks"):
        layers_name, first = "blocks", 1
    elif hasattr(model, "hidden"):
        layers_name, first = "hidden", 2
    else:
        raise TypeError("without_block aceita ResidualMLP (blocks) ou PlainMLP (hidden).")
    n = len(getattr(model, layers_name))
    if not first <= k <= n:
        raise ValueError(f"k deve estar entre {first} e {n} para esta rede; recebeu {k}.")
    lesioned = copy.deepcopy(model)
    getattr(lesioned, layers_name)[k - 1] = nn.Identity()
    return lesioned
