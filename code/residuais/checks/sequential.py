"""Verificações públicas dos exercícios de programação do capítulo 1 (processamento sequencial)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.analysis import lag1_autocorrelation
from residuais.checks.core import as_float, call, expect_tensor, fail


def _signals(thorough: bool) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1234)
    white = torch.randn(500, generator=gen, dtype=torch.float64)
    cases = {
        "ruído branco (500 pontos)": white,
        "ruído marrom (soma acumulada do ruído branco)": white.cumsum(0),
    }
    if thorough:
        cases["sequência alternada +1, −1, +1, ..."] = torch.tensor([1.0, -1.0] * 20)
        cases["senoide com média 3 (a média deve ser subtraída)"] = (
            3 + torch.sin(torch.linspace(0, 12, 300))
        )
        cases["tensor float32 de forma (64, 1)"] = torch.randn(64, 1, generator=gen)
    return cases


def check_lag1_autocorrelation(fn: Callable[[torch.Tensor], Any], thorough: bool = False) -> None:
    """Confere uma implementação da autocorrelação com defasagem 1."""
    for case, signal in _signals(thorough).items():
        got = as_float(call(fn, case, signal.clone()), case)
        expected = lag1_autocorrelation(signal)
        if not abs(got - expected) <= 1e-4:
            hint = ""
            uncentered = (signal[:-1] * signal[1:]).sum() / (signal * signal).sum()
            if abs(got - uncentered.item()) < 1e-4:
                hint = " Parece que a média não foi subtraída antes de multiplicar."
            fail(f"No caso “{case}” sua função devolveu {got:.4f}, mas o valor correto é "
                  f"{expected:.4f} (tolerância 1e-4).{hint}")


def relu_layer_jacobian_reference(
    weight: torch.Tensor, bias: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """Jacobiano de h ↦ ReLU(W h + b) calculado pelo autograd; forma (m, n)."""
    return torch.autograd.functional.jacobian(lambda v: torch.relu(weight @ v + bias), h)


def check_relu_layer_jacobian(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any], thorough: bool = False
) -> None:
    """Confere o Jacobiano analítico de uma camada linear + ReLU contra o autograd."""
    gen = torch.Generator().manual_seed(7)
    shapes = [(3, 4), (5, 5)] + ([(1, 6), (8, 2), (16, 16)] if thorough else [])
    for m, n in shapes:
        weight = torch.randn(m, n, generator=gen, dtype=torch.float64)
        bias = torch.randn(m, generator=gen, dtype=torch.float64)
        h = torch.randn(n, generator=gen, dtype=torch.float64)
        case = f"W com forma ({m}, {n})"
        got = call(fn, case, weight.clone(), bias.clone(), h.clone())
        expect_tensor(got, (m, n), case, type_first=True,
                       expected=f"o Jacobiano deve ter forma {(m, n)} — saídas × entradas —")
        expected = relu_layer_jacobian_reference(weight, bias, h)
        if not torch.allclose(got.to(torch.float64), expected, atol=1e-5):
            rows = (got.to(torch.float64) - expected).abs().sum(dim=1).nonzero().flatten().tolist()
            fail(f"No caso “{case}” o Jacobiano está errado nas linhas {rows}. Lembre-se de que a "
                  f"linha i é zero quando a pré-ativação z_i = (W h + b)_i é negativa ou nula.")

