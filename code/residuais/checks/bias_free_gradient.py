"""Verificações públicas do exercício de programação 4 do capítulo 1: os dois valores do
gradiente de uma rede ReLU sem vieses.

Os valores esperados vêm do autograd do PyTorch em x = −1 e x = 1, calculado fora do bloco em
que os atalhos ficam proibidos; os erros típicos (sinal trocado, diferença que atravessa o zero,
par invertido) viram dicas. Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from residuais.checks.autograd_rules import RULES_AUTOGRAD
from residuais.checks.core import Rule, as_float, call, expect_close, fail, forbidden

RULES_TWO_GRADIENT_VALUES = (
    *(Rule(rule.target, "o exercício pede as derivadas só com passos para a frente do modelo, "
           "sem o autograd.") for rule in RULES_AUTOGRAD),
    Rule("residuais.analysis.input_gradient", "ela calcula dy/dx com o autograd."),
)


HINT_SIGN = ("o sinal de g_neg está trocado: para x < 0, lembre-se de que |x| = −x.")
HINT_ACROSS_ZERO = ("uma diferença finita que atravessa x = 0 mistura as duas retas e dá a "
                    "média das duas inclinações; use pontos do mesmo lado do zero.")
HINT_SWAPPED = "os dois valores estão trocados: devolva (derivada para x < 0, para x > 0)."


def bias_free_relu_mlp(depth: int, width: int = 16, seed: int = 0) -> nn.Sequential:
    """Uma rede ReLU sem vieses nem batch norm, 1 entrada → 1 saída, pesos He, em float64."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        d_in = 1
        for _ in range(depth):
            linear = nn.Linear(d_in, width, bias=False)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            layers += [linear, nn.ReLU()]
            d_in = width
        head = nn.Linear(d_in, 1, bias=False)
        nn.init.kaiming_normal_(head.weight, nonlinearity="relu")
    return nn.Sequential(*layers, head).double()


def autograd_slopes(model: nn.Module, points: Sequence[float]) -> list[float]:
    """dy/dx nos pontos ``points``, pelo autograd do PyTorch."""
    x = torch.tensor(points, dtype=torch.float64).unsqueeze(1).requires_grad_(True)
    (grad,) = torch.autograd.grad(model(x).sum(), x)
    return grad.squeeze(1).tolist()


def two_values(got: Any, case: str) -> tuple[float, float]:
    if isinstance(got, torch.Tensor) and got.numel() == 2:
        got = got.flatten().tolist()
    if not (isinstance(got, tuple | list) and len(got) == 2):
        fail(f"No caso “{case}” esperava um par (g_neg, g_pos); recebeu {type(got).__name__}.")
    return as_float(got[0], case), as_float(got[1], case)


def expect_two_values(got: tuple[float, float], expected: tuple[float, float], case: str) -> None:
    g_neg, g_pos = expected
    tol = 1e-6 * max(1.0, abs(g_neg), abs(g_pos))
    average = (g_neg + g_pos) / 2
    expect_close(torch.tensor(got, dtype=torch.float64),
                 torch.tensor(expected, dtype=torch.float64), case, tol=tol,
                 hints={HINT_SIGN: torch.tensor([-g_neg, g_pos], dtype=torch.float64),
                        HINT_ACROSS_ZERO: torch.tensor([average, average], dtype=torch.float64),
                        HINT_SWAPPED: torch.tensor([g_pos, g_neg], dtype=torch.float64)})


def check_two_gradient_values(fn: Callable[[nn.Module], Any]) -> None:
    """Confere ``fn(model)`` = (dy/dx para x < 0, dy/dx para x > 0) em redes ReLU sem vieses,
    contra o autograd em x = −1 e x = 1."""
    for depth, width, seed in [(3, 8, 0), (12, 16, 1)]:
        case = f"rede sem vieses com {depth} camadas de largura {width} (semente {seed})"
        model = bias_free_relu_mlp(depth, width, seed)
        expected = autograd_slopes(model, [-1.0, 1.0])
        with forbidden(fn, RULES_TWO_GRADIENT_VALUES):
            got = call(fn, case, model)
        expect_two_values(two_values(got, case), (expected[0], expected[1]), case)
