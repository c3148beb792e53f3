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
    HINT_BY_SQRT2,
    HINT_DIVIDED,
    HINT_GROWTH_ALPHA,
    HINT_GROWTH_LINEAR,
    HINT_GROWTH_SQUARED,
    HINT_LINEAR,
    HINT_NO_ROOT,
    HINT_NO_SQRT,
    HINT_UNCENTERED,
    HINT_UNSCALED,
    REMEDIES,
    RULES_BLOCK_CORRELATION,
    RULES_MAX_BRANCH_SCALE,
    RULES_SCALED_RESIDUAL,
    RULES_VARIANCE_AFTER_BLOCKS,
    correlation_experiment,
)

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_variance_after_blocks(n_blocks: int, var0: float, alpha: float) -> float:
    """Var[h_K] = (1 + α²)^K · Var[h_0]: cada bloco soma α² Var[h] (ramo que preserva a
    variância, covariância nula)."""
    return var0 * (1 + alpha**2) ** n_blocks


def reference_scaled_residual(h: torch.Tensor, branch: nn.Module, alpha: float) -> torch.Tensor:
    """(h + α·branch(h)) / √(1 + α²)."""
    return (h + alpha * branch(h)) / math.sqrt(1 + alpha**2)


def reference_block_correlation(h_prev: torch.Tensor, h_next: torch.Tensor) -> float:
    """Correlação de Pearson entre todos os elementos (achatados) de dois tensores."""
    a = h_prev.detach().flatten().to(torch.float64)
    b = h_next.detach().flatten().to(torch.float64)
    a, b = a - a.mean(), b - b.mean()
    return ((a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())).item()


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


def check_scaled_residual_hidden(fn: Callable[..., Any]) -> None:
    """Ramos He de largura 64 com α = 0, 2 e 0,3, uma entrada (B, T, D), a entrada intocada e
    uma pilha de 10 blocos com α = 1 que mantém a variância."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        cases = [(alpha, _he_branch(64), torch.randn(256, 64)) for alpha in (0.0, 2.0, 0.3)]
        cases.append((0.5, _he_branch(16), torch.randn(4, 5, 16)))
        stack = [_he_branch(256) for _ in range(10)]
        h_stack = torch.randn(512, 256)
    for alpha, branch, h in cases:
        case = f"h de forma {tuple(h.shape)}, ramo He, α = {alpha}"
        given = h.clone()
        with torch.no_grad(), forbidden(fn, RULES_SCALED_RESIDUAL):
            got = call(fn, case, given, branch, alpha)
        if not torch.equal(given, h):
            fail(f"No caso “{case}” sua função alterou o tensor h recebido; devolva um tensor "
                 f"novo.")
        expect_tensor(got, h.shape, case, f"a saída deve ter a forma de h, {tuple(h.shape)}",
                      type_first=True)
        with torch.no_grad():
            expected = reference_scaled_residual(h, branch, alpha)
            unscaled = h + alpha * branch(h)
        hints = {HINT_UNSCALED: unscaled, HINT_NO_ROOT: unscaled / (1 + alpha**2)}
        if alpha != 1.0:
            hints[HINT_BY_SQRT2] = unscaled / math.sqrt(2)
        expect_close(got, expected, case, tol=1e-5, hints=hints)

    case = "pilha de 10 blocos com α = 1 (largura 256)"
    h = h_stack
    with torch.no_grad(), forbidden(fn, RULES_SCALED_RESIDUAL):
        for branch in stack:
            h = call(fn, case, h, branch, 1.0)
    factor = (h.var() / h_stack.var()).item() ** (1 / len(stack))
    if not 0.8 < factor < 1.25:  # medido em 20 sementes: 0,96 a 1,03 por bloco
        fail(f"No caso “{case}” a variância foi multiplicada, em média, por {factor:.3g} a cada "
             f"bloco; deveria ficar perto de 1.")


# --------------------------------------------------------------------------------------------
# exercício 3
# --------------------------------------------------------------------------------------------


def _uncentered(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    return ((a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())).item()


def check_block_correlation_hidden(fn: Callable[..., Any]) -> None:
    """Pares aleatórios de várias formas (float32, float64, com média longe de zero) contra
    ``torch.corrcoef``, as entradas intocadas, a invariância de escala e o experimento com
    outras sementes."""
    gen = torch.Generator().manual_seed(11)
    pairs = {}
    a = torch.randn(100, generator=gen, dtype=torch.float64)
    pairs["vetores de 100 elementos"] = (a, 0.3 * a + torch.randn(100, generator=gen,
                                                                   dtype=torch.float64))
    a = torch.randn(8, 16, 4, generator=gen)
    pairs["tensores float32 de forma (8, 16, 4)"] = (a, -0.7 * a + torch.rand(8, 16, 4,
                                                                              generator=gen))
    a = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    pairs["médias 10 e −20, escalas 0,1 e 100 (a média deve ser subtraída)"] = (
        10 + 0.1 * a, -20 + 100 * (a + torch.randn(50, 3, generator=gen, dtype=torch.float64)))
    a = torch.randn(64, 32, generator=gen)
    pairs["tensores independentes (64, 32)"] = (a, torch.randn(64, 32, generator=gen))
    for case, (h_prev, h_next) in pairs.items():
        stacked = torch.stack([h_prev.flatten(), h_next.flatten()]).double()
        expected = torch.corrcoef(stacked)[0, 1].item()  # fora da verificação proibida
        given_prev, given_next = h_prev.clone(), h_next.clone()
        with forbidden(fn, RULES_BLOCK_CORRELATION):
            got = call(fn, case, given_prev, given_next)
        if not (torch.equal(given_prev, h_prev) and torch.equal(given_next, h_next)):
            fail(f"No caso “{case}” sua função alterou os tensores recebidos; calcule sem "
                 f"mudá-los (sem operações in-place como sub_).")
        tol = 1e-4 if h_prev.dtype == torch.float32 else 1e-5
        if isinstance(got, torch.Tensor) and got.numel() != 1:
            as_float(got, case)  # a mensagem da forma errada
        expect_close(as_float(got, case), expected, case, tol=tol,
                     hints={HINT_UNCENTERED: _uncentered(h_prev, h_next)})

    a, b = pairs["vetores de 100 elementos"]
    case = "invariância de escala: Corr[h_prev, 1000·h_next]"
    with forbidden(fn, RULES_BLOCK_CORRELATION):
        got = call(fn, case, a.clone(), 1000 * b)
    expect_close(as_float(got, case), reference_block_correlation(a, b), case, tol=1e-6)

    for seed in (1, 2):
        h0, runs = correlation_experiment(seed)
        for name, outputs in runs.items():
            _, predictions, margin = REMEDIES[name]
            for k, (h, predicted) in enumerate(zip(outputs, predictions, strict=True), start=1):
                case = f"experimento “{name}” com a semente {seed}, Corr[h_0, h_{k}]"
                with forbidden(fn, RULES_BLOCK_CORRELATION):
                    got = call(fn, case, h0.clone(), h.clone())
                value = as_float(got, case)
                if not (math.isfinite(value) and abs(value - predicted) <= margin):
                    fail(f"No caso “{case}” sua função deu {value:.4f}, mas a teoria prevê "
                         f"{predicted:.4f} ± {margin:g}.")


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
