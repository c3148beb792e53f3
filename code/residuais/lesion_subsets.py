"""Estudo de lesão exaustivo: a acurácia de uma rede treinada para **cada** subconjunto de um
pequeno conjunto de blocos removidos, calculada de uma vez.

Remover os blocos de um subconjunto e avaliar a rede, para todos os $2^K$ subconjuntos, repetiria
muitas vezes as mesmas contas: as redes sem o bloco 9 e sem os blocos 9 e 12 coincidem até o
bloco 11. Aqui as remontagens percorrem a rede juntas, como uma árvore: antes de cada bloco
escolhível, cada estado se divide em dois (o bloco removido, que deixa o estado como está, e o
bloco presente), e os blocos fixos são aplicados uma vez a todos os estados, num só lote. O
resultado é o de ``residuais.lesion.lesion_accuracies`` com a ordem correspondente a cada
subconjunto, com uma fração das contas.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from residuais.lesion import reassemble, removable_blocks


def _layers(model: nn.Module) -> tuple[list[nn.Module], list[nn.Module], nn.Module]:
    """A entrada (vazia na ``PlainMLP``), os blocos na ordem original e a saída de ``model``."""
    n_blocks = max(removable_blocks(model), default=1)  # a PlainMLP de 1 camada não tem removíveis
    layers = list(reassemble(model, range(1, n_blocks + 1)))  # [*entrada, *blocos, saída]
    n_entry = len(layers) - n_blocks - 1
    return layers[:n_entry], layers[n_entry:-1], layers[-1]


@torch.no_grad()
def subset_lesion_accuracies(model: nn.Module, choosable: Sequence[int], x: torch.Tensor,
                             y: torch.Tensor) -> dict[frozenset[int], float]:
    """A acurácia em (x, y) da rede sem os blocos de cada subconjunto de ``choosable``.

    ``model`` é uma ``ResidualMLP`` ou uma ``PlainMLP`` em modo de avaliação (em modo de treino,
    a BN misturaria as remontagens num lote só); ``choosable`` são índices de blocos removíveis
    (contando de 1, como em ``residuais.lesion``). Devolve um dicionário com os
    ``2 ** len(choosable)`` subconjuntos (``frozenset`` dos blocos removidos; o vazio é a rede
    intacta) como chaves.
    """
    if model.training:
        raise ValueError("Ponha a rede em modo de avaliação (model.eval()) antes do estudo de "
                         "lesão: em modo de treino, a BN usaria as estatísticas de todas as "
                         "remontagens juntas.")
    allowed = removable_blocks(model)
    chosen = {int(k) for k in choosable}
    if len(chosen) < len(choosable) or not chosen <= set(allowed):
        raise ValueError(f"choosable deve ter índices distintos entre os blocos removíveis "
                         f"{allowed}; recebeu {list(choosable)}.")
    entry, blocks, head = _layers(model)
    h = x
    for layer in entry:
        h = layer(h)
    states, removed = h.unsqueeze(0), [frozenset()]  # (S, N, D): um estado por subconjunto
    for k, block in enumerate(blocks, start=1):
        if k in chosen:  # cada estado se divide: sem o bloco k e com ele
            after = block(states.flatten(0, 1)).view(states.shape[0], *states.shape[1:-1], -1)
            states = torch.cat([states, after])
            removed = [s | {k} for s in removed] + removed
        else:
            states = block(states.flatten(0, 1)).view(states.shape[0], *states.shape[1:-1], -1)
    logits = head(states.flatten(0, 1)).view(states.shape[0], states.shape[1], -1)  # (S, N, C)
    accuracy = (logits.argmax(dim=-1) == y).float().mean(dim=1)  # (S,)
    return dict(zip(removed, accuracy.tolist(), strict=True))
