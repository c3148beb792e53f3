"""Testes ocultos do capítulo 3 (variância): as respostas de referência e os casos extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as
constantes vêm das verificações públicas, em ``residuais.checks.variance``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.checks.core import as_float, call, expect_close, expect_tensor, fail, forbidden
from residuais.checks.variance import (
    HINT_ASYMPTOTIC,
    HINT_BINOMIAL,
    HINT_DIVIDED,
    HINT_FIXED,
    HINT_GROWTH_ALPHA,
    HINT_GROWTH_LINEAR,
    HINT_GROWTH_SQUARED,
    HINT_INVERTED,
    HINT_LINEAR,
    HINT_NO_ROOT,
    HINT_NO_SQRT,
    HINT_NOT_SQUARED,
    HINT_PER_COLUMN,
    HINT_REVERSED,
    HINT_UNSCALED,
    RULES_BRANCH_COUNTS,
    RULES_MAX_BRANCH_SCALE,
    RULES_SCALED_RESIDUAL,
    RULES_VARIANCE_AFTER_BLOCKS,
    distribution,
    expect_untouched,
)

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_variance_after_blocks(n_blocks: int, var0: float, alpha: float) -> float:
    """Var[h_K] = (1 + α²)^K · Var[h_0]: cada bloco soma α² Var[h] (ramo que preserva a
    variância, covariância nula)."""
    return var0 * (1 + alpha**2) ** n_blocks


def reference_scaled_residual(h: torch.Tensor, branch: nn.Module, alpha: float) -> torch.Tensor:
    """c·(h + α·branch(h)), com c² = Var[h] / Var[h + α·branch(h)] (todos os elementos)."""
    total = h + alpha * branch(h)
    return total * torch.sqrt(h.var() / total.var())


def reference_branch_count_distribution(rhos: list[float]) -> list[float]:
    """P(ℓ = j), j = 0 … K: cada bloco k põe o seu ramo no caminho com probabilidade
    1 − ρ_k², independentemente dos outros (programação dinâmica, O(K²))."""
    probabilities = [1.0]  # nenhum bloco: o caminho tem 0 ramos
    for rho in rhos:
        branch = 1 - rho * rho
        shifted = [0.0, *(p * branch for p in probabilities)]
        kept = [p * (1 - branch) for p in probabilities] + [0.0]
        probabilities = [a + b for a, b in zip(kept, shifted, strict=True)]
    return probabilities


def reference_max_branch_scale(n_blocks: int, max_growth: float) -> float:
    """O maior α com (1 + α²)^K ≤ G: α = √(G^(1/K) − 1) (com expm1, exato também para K
    enorme)."""
    return math.sqrt(math.expm1(math.log(max_growth) / n_blocks))


# --------------------------------------------------------------------------------------------
# exercício 1
# --------------------------------------------------------------------------------------------


def check_variance_after_blocks_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: nenhum bloco, 50 blocos, α = 0, α > 1 e α pequeno."""
    for n_blocks, var0, alpha in [(0, 3.0, 1.0), (50, 1.0, 1.0), (7, 2.0, 0.0),
                                  (20, 0.1, 0.3), (5, 2.0, 2.0), (100, 1.0, 0.1)]:
        case = f"K = {n_blocks}, Var[h_0] = {var0}, α = {alpha}"
        with forbidden(fn, RULES_VARIANCE_AFTER_BLOCKS):
            got = call(fn, case, n_blocks, var0, alpha)
        expected = reference_variance_after_blocks(n_blocks, var0, alpha)
        hints = {
            HINT_GROWTH_SQUARED: var0 * (1 + alpha) ** n_blocks,
            HINT_GROWTH_LINEAR: var0 * (1 + n_blocks * alpha**2),
            HINT_GROWTH_ALPHA: var0 * 2**n_blocks,
        }
        expect_close(as_float(got, case), expected, case, tol=1e-9 * max(1.0, expected),
                     hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 2
# --------------------------------------------------------------------------------------------


def _he_branch(width: int) -> nn.Module:
    from residuais.models import ResidualBlock

    return ResidualBlock(width, batch_norm=False).branch  # ReLU → linear (He)


def _bn_branch(width: int) -> nn.Module:
    from residuais.models import ResidualBlock

    return ResidualBlock(width, batch_norm=True).branch  # BN → ReLU → linear (He)


def _scaled_hints(h: torch.Tensor, branch: nn.Module, alpha: float) -> dict[str, torch.Tensor]:
    """As saídas dos erros típicos neste caso."""
    with torch.no_grad():
        total = h + alpha * branch(h)
    hints = {
        HINT_UNSCALED: total,
        HINT_NO_ROOT: total * (h.var() / total.var()),
        HINT_INVERTED: total * torch.sqrt(total.var() / h.var()),
        HINT_FIXED: total / math.sqrt(1 + alpha**2),
    }
    if h.dim() == 2:
        hints[HINT_PER_COLUMN] = total * torch.sqrt(h.var(0) / total.var(0))
    return hints


def check_scaled_residual_hidden(fn: Callable[..., Any]) -> None:
    """Ramos He de largura 64 com α = 0, 2 e 0,3, uma entrada (B, T, D), um ramo com BN (que
    não preserva a variância), a entrada intocada e uma pilha de 10 blocos com ramos com BN e
    α = 1 que mantém a variância de uma entrada de variância 25."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        cases = [(f"ramo He, α = {alpha}", alpha, _he_branch(64), torch.randn(256, 64))
                 for alpha in (0.0, 2.0, 0.3)]
        cases.append(("ramo He, α = 0.5", 0.5, _he_branch(16), torch.randn(4, 5, 16)))
        cases.append(("ramo BN → ReLU → linear, α = 1.0", 1.0, _bn_branch(64),
                      3 * torch.randn(256, 64) + 1))
        stack = [_bn_branch(128) for _ in range(10)]
        h_stack = 5 * torch.randn(512, 128)
    for name, alpha, branch, h in cases:
        case = f"h de forma {tuple(h.shape)}, {name}"
        given = h.clone()
        with torch.no_grad(), forbidden(fn, RULES_SCALED_RESIDUAL):
            got = call(fn, case, given, branch, alpha)
        expect_untouched(given, h, case)
        expect_tensor(got, h.shape, case, f"a saída deve ter a forma de h, {tuple(h.shape)}",
                      type_first=True)
        with torch.no_grad():
            expected = reference_scaled_residual(h, branch, alpha)
        expect_close(got, expected, case, tol=1e-4, hints=_scaled_hints(h, branch, alpha))

    case = "pilha de 10 blocos com ramos BN → ReLU → linear, α = 1, Var[h_0] ≈ 25"
    h = h_stack
    with torch.no_grad(), forbidden(fn, RULES_SCALED_RESIDUAL):
        for branch in stack:
            h = call(fn, case, h, branch, 1.0)
    ratio = (h.var() / h_stack.var()).item()
    if not abs(ratio - 1) < 1e-3:  # a referência dá 1 até o arredondamento do float32
        fail(f"No caso “{case}” a variância foi multiplicada por {ratio:.4g} depois dos 10 "
             f"blocos; deveria continuar a mesma. Dica: {HINT_FIXED}")


# --------------------------------------------------------------------------------------------
# exercício 3
# --------------------------------------------------------------------------------------------


def check_branch_count_distribution_hidden(fn: Callable[..., Any]) -> None:
    """Listas de ρ sorteadas (K = 1, 7, 20 e 64), K = 0, blocos que são a identidade (ρ = 1) ou
    só ramo (ρ = 0), a soma ÷ √2 com 64 blocos, e a lista recebida intocada."""
    gen = torch.Generator().manual_seed(3)
    cases = {f"{k} correlações sorteadas entre 0 e 1": torch.rand(k, generator=gen).tolist()
             for k in (1, 7, 20, 64)}
    cases |= {"nenhum bloco (K = 0)": [], "10 blocos com ρ = 1 (identidade)": [1.0] * 10,
              "10 blocos com ρ = 0 (só o ramo)": [0.0] * 10,
              "soma ÷ √2, 64 blocos": [2**-0.5] * 64}
    for case, rhos in cases.items():
        given = list(rhos)
        with forbidden(fn, RULES_BRANCH_COUNTS):
            got = call(fn, case, given)
        if given != rhos:
            fail(f"No caso “{case}” sua função alterou a lista recebida; calcule sem mudá-la.")
        values = distribution(got, len(rhos), case)
        expected = torch.tensor(reference_branch_count_distribution(rhos), dtype=torch.float64)
        reversed_rhos = [math.sqrt(max(0.0, 1 - r * r)) for r in rhos]  # p = ρ²
        hints = {HINT_REVERSED: reference_branch_count_distribution(reversed_rhos),
                 HINT_NOT_SQUARED: reference_branch_count_distribution(  # p = 1 − ρ
                     [math.sqrt(r) for r in rhos])}
        if rhos:
            mean = sum(1 - r * r for r in rhos) / len(rhos)
            hints[HINT_BINOMIAL] = reference_branch_count_distribution(
                [math.sqrt(1 - mean)] * len(rhos))
        expect_close(values, expected, case, tol=1e-6,
                     hints={text: torch.tensor(v, dtype=torch.float64)
                            for text, v in hints.items()})


# --------------------------------------------------------------------------------------------
# exercício 4
# --------------------------------------------------------------------------------------------


def check_max_branch_scale_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras (G = 1 dá α = 0, K grande), a escala decrescente com K e o comportamento
    √(ln G / K) para K grande."""
    for n_blocks, growth in [(5, 1.0), (3, 8.0), (7, 3.5), (1000, 10.0), (50, 1e6),
                             (10**6, 2.0)]:
        case = f"K = {n_blocks}, crescimento máximo G = {growth}"
        with forbidden(fn, RULES_MAX_BRANCH_SCALE):
            got = as_float(call(fn, case, n_blocks, growth), case)
        expected = reference_max_branch_scale(n_blocks, growth)
        root = growth ** (1 / n_blocks)
        hints = {
            HINT_NO_SQRT: root - 1,
            HINT_ASYMPTOTIC: math.sqrt(math.log(growth) / n_blocks),
            HINT_LINEAR: math.sqrt((growth - 1) / n_blocks),
        }
        if growth >= n_blocks:
            hints[HINT_DIVIDED] = math.sqrt(growth / n_blocks - 1)
        expect_close(got, expected, case, tol=1e-5 * max(expected, 1e-3), hints=hints)

    case = "α para K = 10, 100, 1000 e G = 4 (deve diminuir)"
    with forbidden(fn, RULES_MAX_BRANCH_SCALE):
        scales = [as_float(call(fn, case, n, 4.0), case) for n in (10, 100, 1000)]
    if not scales[0] > scales[1] > scales[2] > 0:
        fail(f"No caso “{case}” sua função devolveu {scales}; a escala máxima deve diminuir "
             f"com a profundidade.")
