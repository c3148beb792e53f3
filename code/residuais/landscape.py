"""Fatias da paisagem da perda em torno dos pesos treinados (Li et al., 2018).

A perda é avaliada em θ + a·d₁ + b·d₂, com θ os pesos treinados e d₁, d₂ direções aleatórias
**normalizadas por filtro**: em cada camada, a direção de cada filtro (numa camada linear, a
linha de pesos que produz uma unidade de saída) é reescalada para ter a norma do filtro
correspondente de θ. Assim uma unidade de a ou b move cada filtro por uma distância igual à
sua norma, e redes com escalas diferentes (a normalização em lote torna a rede invariante à
escala dos pesos que a precedem) ficam comparáveis. Vieses e parâmetros da BN ficam fixos (a
direção vale zero neles), como na opção ``ignore='biasbn'`` do código dos autores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def filter_normalized_direction(model: nn.Module,
                                generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Uma direção aleatória com a forma dos parâmetros de ``model``, normalizada por filtro.

    Para cada peso com 2 ou mais eixos (linear: (saída, entrada); convolução: (saída, entrada,
    k, k)), cada fatia ``d[j]`` é uma gaussiana reescalada para ‖d[j]‖ = ‖θ[j]‖; vieses e
    parâmetros da BN (1 eixo) recebem direção zero.
    """
    direction = {}
    for name, weight in model.named_parameters():
        weight = weight.detach()
        if weight.dim() <= 1:
            direction[name] = torch.zeros_like(weight)
            continue
        d = torch.randn(weight.shape, generator=generator, dtype=weight.dtype)
        d_norms = d.flatten(1).norm(dim=1)  # (saída,)
        w_norms = weight.flatten(1).norm(dim=1)  # (saída,)
        scale = w_norms / d_norms.clamp_min(1e-12)
        direction[name] = d * scale.view(-1, *([1] * (weight.dim() - 1)))
    return direction


@torch.no_grad()
def loss_surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 directions: tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]],
                 coords: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """A entropia cruzada média em (x, y) nos pontos θ + a·d₁ + b·d₂, para a e b em ``coords``;
    forma (len(coords), len(coords)), com a no primeiro eixo.

    ``model`` fica em modo de avaliação (a BN usa as estatísticas guardadas no treino,
    que não mudam com a perturbação). Os pontos da grade são avaliados em grupos de ``chunk``,
    com os pesos empilhados e ``torch.vmap`` sobre ``functional_call``.
    """
    if model.training:
        raise ValueError("Coloque a rede em modo de avaliação (model.eval()) antes de medir.")
    d1, d2 = directions
    params = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: b for name, b in model.named_buffers()}
    a, b = torch.meshgrid(coords, coords, indexing="ij")  # (n, n) cada
    a, b = a.flatten(), b.flatten()  # (G,)

    def loss_at(point: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = torch.func.functional_call(model, (point, buffers), (x,))  # (B, n_classes)
        return F.cross_entropy(logits, y)

    losses = []
    for start in range(0, a.numel(), chunk):
        ca, cb = a[start : start + chunk], b[start : start + chunk]  # (C,)

        def shifted(name: str, ca: torch.Tensor = ca, cb: torch.Tensor = cb) -> torch.Tensor:
            shape = (-1, *([1] * params[name].dim()))
            return params[name] + ca.view(shape) * d1[name] + cb.view(shape) * d2[name]

        points = {name: shifted(name) for name in params}  # cada tensor: (C, ...)
        losses.append(torch.vmap(loss_at)(points))  # (C,)
    return torch.cat(losses).view(len(coords), len(coords))


def nonconvex_fraction(surface: torch.Tensor) -> float:
    """A fração dos pontos internos da grade em que a fatia tem curvatura negativa em alguma
    direção: a hessiana 2 × 2 da fatia, por diferenças finitas centradas, tem um autovalor
    negativo. Vale 0 numa fatia convexa."""
    s = surface.double()
    center = s[1:-1, 1:-1]
    s_aa = s[2:, 1:-1] - 2 * center + s[:-2, 1:-1]  # ∂²/∂a² (vezes o passo²)
    s_bb = s[1:-1, 2:] - 2 * center + s[1:-1, :-2]
    s_ab = (s[2:, 2:] - s[2:, :-2] - s[:-2, 2:] + s[:-2, :-2]) / 4
    smallest = (s_aa + s_bb) / 2 - torch.sqrt((s_aa - s_bb) ** 2 / 4 + s_ab**2)  # menor autovalor
    return (smallest < 0).double().mean().item()
