"""O gradiente que passa por caminhos isolados de uma rede residual (Veit et al., 2016).

Numa rede residual h_k = h_{k−1} + f_k[h_{k−1}], o gradiente que volta da saída do bloco K até a
entrada do bloco 1 é ∂L/∂h_K (I + J_K) ⋯ (I + J_1), com J_k o jacobiano do ramo k no ponto da
passagem direta. Expandido, é uma soma sobre os 2^K caminhos: o caminho que atravessa os ramos
do conjunto S leva ∂L/∂h_K vezes o produto dos J_k com k em S (e a identidade nos outros
blocos). É o que Veit et al. mediram: na volta, cada bloco deixa passar o gradiente só pelo ramo
(se k ∈ S) ou só pelo atalho.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def sample_paths(n_blocks: int, length: int, n_samples: int,
                 generator: torch.Generator) -> list[tuple[int, ...]]:
    """Caminhos de comprimento ``length`` (conjuntos de ``length`` ramos, índices a partir de 1,
    em ordem crescente): todos, se forem no máximo ``n_samples``; senão, ``n_samples`` sorteados
    (distintos)."""
    if not 0 <= length <= n_blocks:
        raise ValueError(f"length deve estar entre 0 e {n_blocks}; recebeu {length}.")
    if math.comb(n_blocks, length) <= n_samples:
        return [tuple(k + 1 for k in c) for c in itertools.combinations(range(n_blocks), length)]
    paths: set[tuple[int, ...]] = set()
    while len(paths) < n_samples:
        picks = torch.randperm(n_blocks, generator=generator)[:length]
        paths.add(tuple(sorted(int(k) + 1 for k in picks)))
    return sorted(paths)


def path_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                   paths: Sequence[Sequence[int]]) -> torch.Tensor:
    """O gradiente de L (entropia cruzada média no lote) em relação a h_0, a entrada do primeiro
    bloco, que passa só por cada caminho de ``paths``; forma (P, B, D).

    ``model`` é uma ``ResidualMLP`` (``stem``, ``blocks`` de atalho identidade, ``head``) em modo
    de avaliação, para que cada ramo aja em cada exemplo isoladamente. A soma sobre os 2^K
    caminhos é o gradiente inteiro ∂L/∂h_0.
    """
    if model.training:
        raise ValueError("Coloque a rede em modo de avaliação (model.eval()) antes de medir.")
    blocks = list(model.blocks)
    n_blocks = len(blocks)
    if any(b.order == "post" or b.branch_scale != 1 or b.output_scale != 1 for b in blocks):
        raise ValueError("A expansão em caminhos vale para blocos h + f(h) sem escalas nem ReLU "
                         "depois da soma (order='pre' ou 'relu_last').")
    through = torch.zeros(len(paths), n_blocks, dtype=torch.bool)  # (P, K)
    for p, path in enumerate(paths):
        if any(not 1 <= k <= n_blocks for k in path):
            raise ValueError(f"Os índices dos ramos vão de 1 a {n_blocks}; recebeu {path}.")
        through[p, [k - 1 for k in path]] = True

    with torch.no_grad():
        inputs = [model.stem(x)]  # h_0, h_1, …: a entrada de cada bloco
        for block in blocks:
            inputs.append(block(inputs[-1]))
    h_last = inputs[-1].detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model.head(h_last), y), h_last)  # (B, D)

    n_paths, batch = len(paths), grad.shape[0]
    grads = grad.expand(n_paths, *grad.shape).clone()  # (P, B, D)
    for k in reversed(range(n_blocks)):
        # a mesma passagem direta para todos os caminhos: o lote repetido P vezes, (P·B, D)
        repeated = inputs[k].expand(n_paths, *inputs[k].shape).reshape(n_paths * batch, -1)
        repeated.requires_grad_(True)
        # g J_k: o produto vetor-jacobiano do ramo, um g por linha
        (through_branch,) = torch.autograd.grad(blocks[k].branch(repeated), repeated,
                                                grads.reshape(n_paths * batch, -1))
        through_branch = through_branch.view_as(grads)  # (P, B, D)
        grads = torch.where(through[:, k, None, None], through_branch, grads)
    return grads
