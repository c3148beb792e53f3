"""Verificações públicas dos exercícios de programação do capítulo 3 (variância)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.core import as_float, call, expect_tensor, fail


def check_variance_after_blocks(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(n_blocks, var0, alpha)``: a variância depois de K blocos
    h_k = h_{k-1} + α f_k[h_{k-1}] com Var[f_k] = Var[h_{k-1}] e covariância nula."""
    cases = [(1, 1.0, 1.0), (10, 0.5, 1.0), (4, 1.0, 0.5)]
    if thorough:
        cases += [(0, 3.0, 1.0), (50, 1.0, 1.0), (7, 2.0, 0.0), (20, 0.1, 0.3)]
    for n_blocks, var0, alpha in cases:
        case = f"K = {n_blocks}, Var[h_0] = {var0}, α = {alpha}"
        got = as_float(call(fn, case, n_blocks, var0, alpha), case)
        expected = var0 * (1 + alpha**2) ** n_blocks
        if not abs(got - expected) <= 1e-9 * max(1.0, abs(expected)):
            hint = ""
            if abs(got - var0 * (1 + alpha) ** n_blocks) <= 1e-9 * max(1.0, abs(got)):
                hint = " A variância de α·f é proporcional a α², não a α."
            elif abs(got - var0 * (1 + n_blocks * alpha**2)) <= 1e-9 * max(1.0, abs(got)):
                hint = (" Isso é crescimento linear (o caso em que o ramo tem variância fixa, "
                        "como com batch norm); aqui Var[f_k] acompanha Var[h_{k-1}].")
            fail(f"No caso “{case}” a variância deveria ser {expected:.6g}; sua função devolveu "
                  f"{got:.6g}.{hint}")


def check_scaled_residual(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(h, branch, alpha)`` = (h + α·branch(h)) / √(1 + α²), o bloco que preserva a
    variância quando Var[branch(h)] = Var[h] e a covariância é nula."""
    from residuais.models import ResidualBlock

    alphas = [1.0, 0.5] + ([0.0, 2.0] if thorough else [])
    for alpha in alphas:
        case = f"α = {alpha}"
        torch.manual_seed(0)
        branch = ResidualBlock(64, batch_norm=False).branch  # ReLU → linear (He)
        h = torch.randn(256, 64)
        with torch.no_grad():
            expected = (h + alpha * branch(h)) / (1 + alpha**2) ** 0.5
            got = call(fn, case, h.clone(), branch, alpha)
        expect_tensor(got, h.shape, case)
        if not torch.allclose(got, expected, atol=1e-5):
            with torch.no_grad():
                unscaled = h + alpha * branch(h)
                by_sqrt2 = unscaled / 2**0.5
            hint = ""
            if torch.allclose(got, unscaled, atol=1e-5):
                hint = " Faltou dividir por √(1 + α²)."
            elif torch.allclose(got, by_sqrt2, atol=1e-5):
                hint = " O fator de correção depende de α: √(1 + α²), que só vale √2 quando α = 1."
            fail(f"No caso “{case}” a saída difere da referência.{hint}")
    if thorough:  # uma pilha de 30 blocos deve manter a variância
        torch.manual_seed(1)
        h = torch.randn(512, 64)
        var0 = h.var().item()
        with torch.no_grad():
            for _ in range(30):
                h = fn(h, ResidualBlock(64, batch_norm=False).branch, 1.0)
        ratio = h.var().item() / var0
        if not 0.5 < ratio < 2.0:
            fail(f"Depois de 30 blocos a variância foi multiplicada por {ratio:.3g}; deveria "
                  f"ficar perto de 1.")

