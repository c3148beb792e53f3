"""Verificações públicas do exercício de programação 1 do capítulo 1: a inclinação do espectro
de potência (ruído branco, ruído marrom).

Os valores esperados de quatro sinais, e os dos erros típicos que viram dicas, são constantes
escritas aqui; depois, ruído branco e marrom de outras sementes têm de cair em faixas medidas.
Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.core import as_float, call, expect_close, fail

HINT_AMPLITUDE = ("parece que você usou a amplitude |F_k| em vez da potência |F_k|²: a "
                  "inclinação sai pela metade.")
HINT_ALL_FREQUENCIES = ("use só as frequências k = 1, …, ⌊N/2⌋: as de cima repetem as de baixo "
                        "(o espectro de um sinal real é simétrico), e o ajuste fica torto.")
HINT_SEMILOG = ("as duas escalas são logarítmicas: ajuste log P_k contra log k, não contra k.")
HINT_SWAPPED_AXES = ("o ajuste está invertido: a reta é log P_k = a + b·log k (log k no eixo "
                     "horizontal), e a inclinação é b.")
HINT_DROPPED_NYQUIST = "a última frequência, k = ⌊N/2⌋, também entra no ajuste."
HINT_ZERO_FREQUENCY = ("a frequência k = 0 não entra: log 0 não existe (com a média subtraída, "
                       "P_0 = 0), e log k também não.")


def white_noise(n: int, seed: int) -> torch.Tensor:
    """``n`` amostras de ruído branco N(0, 1) da semente ``seed``, em float64."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=gen, dtype=torch.float64)


def _white() -> torch.Tensor:
    return white_noise(256, 1234)


def _brown() -> torch.Tensor:
    return white_noise(256, 5).cumsum(0)


def _brown_grid() -> torch.Tensor:
    return white_noise(301, 7).cumsum(0)[:300].reshape(10, 30)


def _odd_length() -> torch.Tensor:
    return 3 + torch.sin(0.3 * torch.arange(201, dtype=torch.float64)) + white_noise(201, 11)


# (descrição, sinal) → (inclinação, {dica: valor de um erro típico}); os valores foram
# calculados com a resposta de referência e com cada erro (o teste do curso os confere)
SLOPE_CASES: dict[tuple[str, Callable[[], torch.Tensor]], tuple[float, dict[str, float]]] = {
    ("ruído marrom (256 pontos)", _brown): (-1.810279, {
        HINT_AMPLITUDE: -0.905139,
        HINT_ALL_FREQUENCIES: -0.707732,
        HINT_SEMILOG: -0.039773,
        HINT_SWAPPED_AXES: -0.373742,
        HINT_DROPPED_NYQUIST: -1.802617,
    }),
    ("ruído branco (256 pontos)", _white): (0.065994, {
        HINT_AMPLITUDE: 0.032997,
        HINT_ALL_FREQUENCIES: 0.020475,
    }),
    ("ruído marrom de forma (10, 30), achatado", _brown_grid): (-1.797446, {
        HINT_AMPLITUDE: -0.898723,
        HINT_ALL_FREQUENCIES: -0.718939,
        HINT_SWAPPED_AXES: -0.353522,
        HINT_DROPPED_NYQUIST: -1.799938,
    }),
    ("senoide 3 + sen(0,3·i) com ruído branco, 201 pontos", _odd_length): (-0.150419, {
        HINT_AMPLITUDE: -0.075209,
    }),
}
# Ruído branco tem espectro plano; ruído marrom cai como 1/k². Em 20 sinais de 256 pontos
# (sementes 0 a 19), a resposta de referência dá inclinações de −0,28 a 0,12 no branco e de
# −1,91 a −1,51 no marrom; as faixas abaixo deixam folga dos dois lados.
WHITE_RANGE = (-0.4, 0.4)
BROWN_RANGE = (-2.3, -1.3)


def student_slope(fn: Callable[[torch.Tensor], Any], g: torch.Tensor, case: str) -> float:
    """A inclinação que ``fn`` dá para ``g``, como número finito (senão, falha com a dica)."""
    got = as_float(call(fn, case, g.clone()), case)
    if not math.isfinite(got):
        fail(f"No caso “{case}” sua função devolveu {got}. Dica: {HINT_ZERO_FREQUENCY}")
    return got


def check_spectral_slope(fn: Callable[[torch.Tensor], Any]) -> None:
    """Confere ``fn(g)``: a inclinação da reta de mínimos quadrados de log P_k contra log k,
    k = 1 … ⌊N/2⌋, com P_k = |F_k|² a potência da transformada de Fourier discreta do sinal
    achatado e centrado. Quatro sinais com valores escritos; depois, ruído branco e marrom de
    outras sementes caem nas faixas esperadas (plano e ≈ −2)."""
    for (name, signal), (expected, hints) in SLOPE_CASES.items():
        expect_close(student_slope(fn, signal(), name), expected, name, tol=1e-4, hints=hints)
    for seed in (40, 41, 42):
        white = white_noise(256, seed)
        for kind, g, (low, high) in (("branco", white, WHITE_RANGE),
                                     ("marrom", white.cumsum(0), BROWN_RANGE)):
            case = f"ruído {kind} (256 pontos, semente {seed})"
            got = student_slope(fn, g, case)
            if not low < got < high:
                fail(f"No caso “{case}” a inclinação foi {got:.3f}; para ruído {kind}, esperava "
                     f"um valor entre {low:g} e {high:g}.")

