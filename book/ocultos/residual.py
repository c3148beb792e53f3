"""Testes ocultos do capítulo 2 (conexões residuais): as respostas de referência e os casos
extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as
ferramentas vêm das verificações públicas (``residuais.checks.residual_blocks`` e
``residuais.checks.path_lengths``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from residuais.checks.core import call, expect_close, forbidden
from residuais.checks.path_lengths import (
    HINT_CUMULATIVE,
    HINT_FORGOT_BINOMIAL,
    HINT_NOT_NORMALIZED,
    HINT_POWER_OF_TWO,
    HINT_PROBABILITY_G,
    HINT_REVERSED_PRODUCT,
    RULES_GRADIENT_SHARE,
    expect_rows,
    expect_shares,
    random_matrices,
    shares_vector,
    student_rows,
)
from residuais.checks.residual_blocks import (
    HINT_BRANCH_MASK,
    HINT_NO_IDENTITY,
    HINT_NO_POST_MASK,
    HINT_NO_SKIP,
    HINT_ONLY_FROM_INPUT,
    HINT_ZERO_SUM,
    RULES_RESIDUAL_FORWARD,
    expect_block_jacobian,
    expect_states,
)

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_residual_forward(branches: Sequence[Callable[[torch.Tensor], torch.Tensor]],
                               h0: torch.Tensor) -> list[torch.Tensor]:
    """[h_0, h_1, …, h_K] com h_k = h_{k−1} + f_k(h_{k−1})."""
    states = [h0]
    for branch in branches:
        states.append(states[-1] + branch(states[-1]))
    return states


def reference_post_block_jacobian(weight: torch.Tensor, bias: torch.Tensor,
                                  h: torch.Tensor) -> torch.Tensor:
    """D (I + W), com D = diag(1[h + W h + b > 0])."""
    keep = (h + weight @ h + bias > 0).to(weight.dtype)  # (d,)
    return keep.unsqueeze(1) * (torch.eye(h.shape[0], dtype=weight.dtype) + weight)


def reference_outputs_by_length(matrices: Sequence[torch.Tensor],
                                h0: torch.Tensor) -> torch.Tensor:
    """(K + 1, d): a linha ℓ soma A_{k_ℓ} ⋯ A_{k_1} h0 sobre os caminhos de ℓ ramos. Bloco a
    bloco: depois do bloco k, S_ℓ ← S_ℓ (pelo atalho) + A_k S_{ℓ−1} (pelo ramo)."""
    rows = h0.unsqueeze(0)  # (1, d): antes de qualquer bloco, só o caminho vazio
    for a in matrices:
        zero = torch.zeros_like(rows[:1])
        rows = torch.cat([rows, zero]) + torch.cat([zero, rows @ a.T])  # (ℓ + 1, d)
    return rows


def enumerated_rows(matrices: Sequence[torch.Tensor], h0: torch.Tensor,
                    reverse: bool = False) -> torch.Tensor:
    """As mesmas linhas listando os caminhos (só para K pequeno); com ``reverse``, o erro típico
    do produto na ordem trocada."""
    n_blocks = len(matrices)
    rows = torch.zeros(n_blocks + 1, h0.shape[0], dtype=h0.dtype)
    for length in range(n_blocks + 1):
        for path in itertools.combinations(range(n_blocks), length):
            term = h0
            for k in (reversed(path) if reverse else path):
                term = matrices[k] @ term
            rows[length] += term
    return rows


def reference_gradient_share_by_path_length(n_blocks: int, branch_gain: float) -> list[float]:
    """C(K, ℓ) g^ℓ / (1 + g)^K, ℓ = 0..K: a binomial com p = g / (1 + g)."""
    total = (1 + branch_gain) ** n_blocks
    return [math.comb(n_blocks, length) * branch_gain**length / total
            for length in range(n_blocks + 1)]


# --------------------------------------------------------------------------------------------
# exercício 1
# --------------------------------------------------------------------------------------------


def _ocultos_tanh_branch(width: int, gen: torch.Generator) -> nn.Module:
    linear = nn.Linear(width, width).double()
    with torch.no_grad():
        linear.weight.copy_(torch.randn(width, width, generator=gen, dtype=torch.float64)
                            / math.sqrt(width))
        linear.bias.copy_(0.1 * torch.randn(width, generator=gen, dtype=torch.float64))
    return nn.Sequential(linear, nn.Tanh())


def check_residual_forward_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: nenhum bloco, ramos sorteados (linear → tanh) em lotes, 12 blocos."""
    gen = torch.Generator().manual_seed(2)
    cases = [
        ("nenhum bloco", [], torch.randn(3, generator=gen, dtype=torch.float64)),
        ("4 ramos linear → tanh, lote (5, 6)", [_ocultos_tanh_branch(6, gen) for _ in range(4)],
         torch.randn(5, 6, generator=gen, dtype=torch.float64)),
        ("12 ramos linear → tanh, largura 8", [_ocultos_tanh_branch(8, gen) for _ in range(12)],
         torch.randn(8, generator=gen, dtype=torch.float64)),
    ]
    for case, branches, h0 in cases:
        expected = reference_residual_forward(branches, h0)
        no_skip, only_input = [h0], [h0]
        for branch in branches:
            no_skip.append(branch(no_skip[-1]))
            only_input.append(only_input[-1] + branch(h0))
        with torch.no_grad():
            expected = [t.detach() for t in expected]
            hints = {HINT_NO_SKIP: [t.detach() for t in no_skip],
                     HINT_ONLY_FROM_INPUT: [t.detach() for t in only_input]}
        with torch.no_grad(), forbidden(fn, RULES_RESIDUAL_FORWARD):
            got = call(fn, case, list(branches), h0.clone())
        expect_states(got, expected, case, hints)


# --------------------------------------------------------------------------------------------
# exercício 2
# --------------------------------------------------------------------------------------------


def block_jacobian_hints(weight: torch.Tensor, bias: torch.Tensor,
                         h: torch.Tensor) -> dict[str, torch.Tensor]:
    """O que cada erro típico devolve (para as dicas), sem as que coincidem com a resposta."""
    eye = torch.eye(h.shape[0], dtype=weight.dtype)
    total = h + weight @ h + bias
    expected = reference_post_block_jacobian(weight, bias, h)
    hints = {  # a dica mais específica primeiro: com todas as somas ≥ 0, a última coincide
        HINT_ZERO_SUM: (total >= 0).to(weight.dtype).unsqueeze(1) * (eye + weight),
        HINT_NO_IDENTITY: (total > 0).to(weight.dtype).unsqueeze(1) * weight,
        HINT_BRANCH_MASK: (weight @ h + bias > 0).to(weight.dtype).unsqueeze(1) * (eye + weight),
        HINT_NO_POST_MASK: eye + weight,
    }
    return {text: wrong for text, wrong in hints.items()
            if (wrong - expected).abs().max() > 1e-5}


def check_post_block_jacobian_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: d = 1, d = 16, h todo negativo com ramo pequeno (jacobiano zero), várias
    somas exatamente nulas e float32."""
    gen = torch.Generator().manual_seed(3)
    cases = [(f"d = {d}", torch.randn(d, d, generator=gen, dtype=torch.float64),
              torch.randn(d, generator=gen, dtype=torch.float64),
              torch.randn(d, generator=gen, dtype=torch.float64)) for d in (1, 16)]
    cases.append(("h todo negativo e ramo pequeno: a ReLU corta tudo",
                  0.1 * torch.randn(5, 5, generator=gen, dtype=torch.float64),
                  torch.zeros(5, dtype=torch.float64), -1 - torch.rand(5, generator=gen,
                                                                       dtype=torch.float64)))
    cases.append(("W = 0, b = −h: todas as somas são exatamente 0", torch.zeros(4, 4,
                  dtype=torch.float64), -torch.arange(1.0, 5.0, dtype=torch.float64),
                  torch.arange(1.0, 5.0, dtype=torch.float64)))
    cases.append(("float32, d = 8", torch.randn(8, 8, generator=gen), torch.randn(8, generator=gen),
                  torch.randn(8, generator=gen)))
    for case, weight, bias, h in cases:
        expect_block_jacobian(fn, weight, bias, h, case,
                              block_jacobian_hints(weight.double(), bias.double(), h.double()))


# --------------------------------------------------------------------------------------------
# exercício 3
# --------------------------------------------------------------------------------------------


def check_outputs_by_length_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: nenhum bloco, K = 6 e d = 10 (com as dicas), float32, d = 1 e K = 40."""
    gen = torch.Generator().manual_seed(4)
    h0 = torch.randn(4, generator=gen, dtype=torch.float64)
    expect_close(student_rows(fn, [], h0, "nenhum bloco"), h0.unsqueeze(0), "nenhum bloco",
                 tol=1e-9)

    matrices = [0.4 * torch.randn(10, 10, generator=gen, dtype=torch.float64)
                for _ in range(6)]
    h0 = torch.randn(10, generator=gen, dtype=torch.float64)
    case = "K = 6, d = 10"
    expected = reference_outputs_by_length(matrices, h0)
    hints = {HINT_REVERSED_PRODUCT: enumerated_rows(matrices, h0, reverse=True),
             HINT_CUMULATIVE: expected.cumsum(dim=0)}
    expect_close(student_rows(fn, matrices, h0, case), expected, case, tol=1e-9, hints=hints)

    matrices, h0 = random_matrices(5, 4, 0.8, seed=44)
    case = "float32, K = 5, d = 4"
    got = student_rows(fn, [a.float() for a in matrices], h0.float(), case)
    expect_close(got, reference_outputs_by_length(matrices, h0), case, tol=1e-4)

    for n_blocks, width, gain, seed in ((8, 1, 1.0, 45), (40, 5, 0.3, 46)):
        matrices, h0 = random_matrices(n_blocks, width, gain, seed)
        case = f"K = {n_blocks}, d = {width}"
        rows = student_rows(fn, matrices, h0, case)
        expect_rows(rows, matrices, h0, case)
        expect_close(rows, reference_outputs_by_length(matrices, h0), case,
                     tol=1e-9 * max(1.0, rows.abs().max().item()))


# --------------------------------------------------------------------------------------------
# exercício 4
# --------------------------------------------------------------------------------------------


def check_gradient_share_by_path_length_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: K = 110, g pequeno, g > 1, g = 1 (a binomial simétrica da contagem de
    caminhos), g = 0 (só o atalho) e nenhum bloco."""
    for n_blocks, gain in [(110, 0.2), (54, 0.05), (6, 3.0), (20, 1.0), (5, 0.0), (0, 0.5)]:
        case = f"K = {n_blocks}, g = {gain}"
        with forbidden(fn, RULES_GRADIENT_SHARE):
            got = call(fn, case, n_blocks, gain)
        expected = torch.tensor(reference_gradient_share_by_path_length(n_blocks, gain),
                                dtype=torch.float64)
        counts = torch.tensor([math.comb(n_blocks, ell) for ell in range(n_blocks + 1)],
                              dtype=torch.float64)
        powers = torch.tensor([gain**ell for ell in range(n_blocks + 1)], dtype=torch.float64)
        hints = {HINT_NOT_NORMALIZED: counts * powers,
                 HINT_POWER_OF_TWO: counts * powers / 2.0**n_blocks}
        if powers.sum() > 0:
            hints[HINT_FORGOT_BINOMIAL] = powers / powers.sum()
        if 0 < gain < 1:
            hints[HINT_PROBABILITY_G] = torch.tensor(
                [math.comb(n_blocks, ell) * gain**ell * (1 - gain) ** (n_blocks - ell)
                 for ell in range(n_blocks + 1)], dtype=torch.float64)
        expect_shares(shares_vector(got, n_blocks, case), expected, case, hints)
