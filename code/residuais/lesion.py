"""Estudos de lesão (Veit et al., 2016): uma rede já treinada, remontada com blocos removidos ou
trocados de lugar, avaliada sem treinar de novo.

Uma remontagem é descrita por uma **ordem**: a lista dos índices (contando de 1) dos blocos que
ficam, na ordem em que a entrada os atravessa. ``[1, 2, …, K]`` é a rede intacta; omitir um
índice remove o bloco; permutar índices troca blocos de lugar. Numa ``PlainMLP`` os "blocos" são
as camadas ocultas, e a camada 1 (que muda a dimensão da entrada para a largura) fica sempre em
primeiro lugar.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from residuais.train import evaluate


def _stack(model: nn.Module) -> tuple[nn.ModuleList, int]:
    """Os blocos que se podem mexer e o primeiro índice removível (1 ou, na PlainMLP, 2)."""
    if hasattr(model, "blocks"):
        return model.blocks, 1
    if hasattr(model, "hidden"):
        return model.hidden, 2
    raise TypeError("A remontagem aceita ResidualMLP (blocks) ou PlainMLP (hidden).")


def reassemble(model: nn.Module, order: Sequence[int]) -> nn.Sequential:
    """A rede com os blocos de ``order`` (índices a partir de 1), nessa ordem, entre a entrada e
    a saída de ``model``.

    Nada é copiado: a remontagem usa as mesmas camadas (e os mesmos pesos) de ``model`` e começa
    no mesmo modo (treino ou avaliação) que ele.
    """
    stack, first = _stack(model)
    order = [int(k) for k in order]
    if any(not 1 <= k <= len(stack) for k in order) or len(set(order)) < len(order):
        raise ValueError(f"order deve ter índices distintos entre 1 e {len(stack)}; "
                         f"recebeu {order}.")
    if first == 2 and order[:1] != [1]:
        raise ValueError("Numa PlainMLP a camada 1 muda a dimensão da entrada e precisa vir "
                         f"primeiro; recebeu a ordem {order}.")
    entry = [model.stem] if hasattr(model, "stem") else []
    layers = [*entry, *(stack[k - 1] for k in order), model.head]
    return nn.Sequential(*layers).train(model.training)


def removable_blocks(model: nn.Module) -> list[int]:
    """Os índices dos blocos que uma lesão pode remover (todos, menos a camada 1 da PlainMLP)."""
    stack, first = _stack(model)
    return list(range(first, len(stack) + 1))


def random_removals(model: nn.Module, n_removed: int, n_draws: int,
                    generator: torch.Generator) -> list[list[int]]:
    """``n_draws`` ordens, cada uma sem ``n_removed`` blocos sorteados (sem reposição) entre os
    removíveis; os blocos que ficam mantêm a ordem original."""
    stack, _ = _stack(model)
    candidates = removable_blocks(model)
    if not 0 <= n_removed <= len(candidates):
        raise ValueError(f"n_removed deve estar entre 0 e {len(candidates)}; recebeu "
                         f"{n_removed}.")
    orders = []
    for _ in range(n_draws):
        picks = torch.randperm(len(candidates), generator=generator)[:n_removed].tolist()
        removed = {candidates[i] for i in picks}
        orders.append([k for k in range(1, len(stack) + 1) if k not in removed])
    return orders


def adjacent_swaps(model: nn.Module) -> list[list[int]]:
    """Uma ordem para cada par de blocos vizinhos trocáveis (k, k + 1): a rede intacta com esses
    dois blocos trocados de lugar."""
    stack, first = _stack(model)
    intact = list(range(1, len(stack) + 1))
    orders = []
    for k in range(first, len(stack)):
        order = intact.copy()
        order[k - 1], order[k] = order[k], order[k - 1]
        orders.append(order)
    return orders


def lesion_accuracies(model: nn.Module, orders: Sequence[Sequence[int]], x: torch.Tensor,
                      y: torch.Tensor) -> list[float]:
    """A acurácia em (x, y), em modo de avaliação, de cada remontagem de ``model``."""
    return [evaluate(reassemble(model, order), x, y)[1] for order in orders]
