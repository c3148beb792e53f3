"""Verificações públicas dos exercícios de programação do capítulo 3 (variância).

Os valores esperados são constantes escritas aqui (com as dos erros típicos, que viram dicas) ou
previsões da teoria do capítulo, conferidas num experimento pequeno com margem medida; nenhuma
resposta é calculada aqui.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from residuais.checks.core import (
    Rule,
    as_float,
    call,
    expect_close,
    expect_tensor,
    fail,
    forbidden,
)

REASON_PREDICTION = "o exercício pede a variância prevista pela fórmula, não medida numa rede."
RULES_VARIANCE_AFTER_BLOCKS = (
    Rule("residuais.analysis.forward_variances", REASON_PREDICTION),
)
REASON_BLOCK = ("o exercício pede o bloco escrito por você; o ResidualBlock do curso já tem as "
                "escalas (branch_scale, output_scale).")
RULES_SCALED_RESIDUAL = (
    Rule("residuais.models.ResidualBlock", REASON_BLOCK),
)
REASON_CORRELATION = "o exercício pede a correlação escrita por você."
RULES_BLOCK_CORRELATION = (
    Rule("torch.corrcoef", REASON_CORRELATION),
    Rule("torch.Tensor.corrcoef", REASON_CORRELATION),
    Rule("numpy.corrcoef", REASON_CORRELATION),
    Rule("statistics.correlation", REASON_CORRELATION),
)
RULES_MAX_BRANCH_SCALE = (
    Rule("residuais.analysis.forward_variances",
         "o exercício pede a escala que a fórmula prevê, não uma busca medindo redes."),
)


def _relative(value: float) -> float:
    return 1e-9 * max(1.0, abs(value))


# --------------------------------------------------------------------------------------------
# exercício 1: a variância prevista depois de K blocos
# --------------------------------------------------------------------------------------------

HINT_GROWTH_SQUARED = "a variância de α·f é α² Var[f]: o fator por bloco é 1 + α², não 1 + α."
HINT_GROWTH_LINEAR = ("isso é crescimento linear (o caso em que o ramo soma variância fixa, como "
                      "com BN no ramo); aqui Var[f_k] acompanha Var[h_{k−1}] e o fator se "
                      "multiplica.")
HINT_GROWTH_ALPHA = "o fator por bloco depende de α: é 1 + α², que só vale 2 quando α = 1."

# (K, Var[h_0], α) → (variância prevista, {dica: valor de um erro típico})
VARIANCE_CASES: dict[tuple[int, float, float], tuple[float, dict[str, float]]] = {
    (1, 1.0, 1.0): (2.0, {}),
    (10, 0.5, 1.0): (512.0, {HINT_GROWTH_LINEAR: 5.5}),
    (4, 1.0, 0.5): (2.44140625, {HINT_GROWTH_SQUARED: 5.0625, HINT_GROWTH_LINEAR: 2.0,
                                 HINT_GROWTH_ALPHA: 16.0}),
}


def check_variance_after_blocks(fn: Callable[..., Any]) -> None:
    """Confere ``fn(n_blocks, var0, alpha)``: a variância depois de K blocos
    h_k = h_{k−1} + α f_k[h_{k−1}], com Var[f_k] = Var[h_{k−1}] e covariância nula."""
    for (n_blocks, var0, alpha), (expected, hints) in VARIANCE_CASES.items():
        case = f"K = {n_blocks}, Var[h_0] = {var0}, α = {alpha}"
        with forbidden(fn, RULES_VARIANCE_AFTER_BLOCKS):
            got = call(fn, case, n_blocks, var0, alpha)
        expect_close(as_float(got, case), expected, case, tol=_relative(expected), hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 2: o bloco escalado, (h + α f(h)) / √(1 + α²)
# --------------------------------------------------------------------------------------------

# um ramo pequeno, ReLU → linear, com pesos escritos, e uma entrada h de forma (2, 3)
BRANCH_WEIGHT = ((1.0, -1.0, 0.5), (0.0, 2.0, -1.0), (-0.5, 0.0, 1.0))
BRANCH_BIAS = (0.25, -0.5, 0.0)
SCALED_INPUT = ((1.0, -2.0, 0.5), (-1.5, 3.0, 2.0))

HINT_UNSCALED = "faltou dividir por √(1 + α²)."
HINT_BY_SQRT2 = "o fator de correção depende de α: √(1 + α²), que só vale √2 quando α = 1."
HINT_NO_ROOT = "divida por √(1 + α²), o desvio-padrão, e não por 1 + α², a variância."

# α → (saída esperada, {dica: saída de um erro típico})
SCALED_CASES: dict[float, tuple[tuple[tuple[float, ...], ...], dict[str, Any]]] = {
    0.75: (((1.7, -2.2, 0.4), (-2.25, 4.5, 2.8)), {
        HINT_UNSCALED: ((2.125, -2.75, 0.5), (-2.8125, 5.625, 3.5)),
        HINT_BY_SQRT2: ((1.502602, -1.944544, 0.353553), (-1.988738, 3.977476, 2.474874)),
        HINT_NO_ROOT: ((1.36, -1.76, 0.32), (-1.8, 3.6, 2.24)),
    }),
    1.0: (((1.767767, -2.121320, 0.353553), (-2.298097, 4.596194, 2.828427)), {
        HINT_UNSCALED: ((2.5, -3.0, 0.5), (-3.25, 6.5, 4.0)),
        HINT_NO_ROOT: ((1.25, -1.5, 0.25), (-1.625, 3.25, 2.0)),
    }),
}


def small_branch() -> nn.Module:
    """O ramo ReLU → linear (3 → 3) dos casos públicos, em ``float64``."""
    linear = nn.Linear(3, 3).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(BRANCH_WEIGHT))
        linear.bias.copy_(torch.tensor(BRANCH_BIAS))
    return nn.Sequential(nn.ReLU(), linear)


def _table(values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def check_scaled_residual(fn: Callable[..., Any]) -> None:
    """Confere ``fn(h, branch, alpha)`` = (h + α·branch(h)) / √(1 + α²) num ramo pequeno com
    pesos fixos; os valores esperados estão escritos acima."""
    h = _table(SCALED_INPUT)
    branch = small_branch()
    for alpha, (expected, hints) in SCALED_CASES.items():
        case = f"h de forma (2, 3), α = {alpha}"
        with torch.no_grad(), forbidden(fn, RULES_SCALED_RESIDUAL):
            got = call(fn, case, h.clone(), branch, alpha)
        expect_tensor(got, h.shape, case, f"a saída deve ter a forma de h, {tuple(h.shape)}",
                      type_first=True)
        expect_close(got, _table(expected), case, tol=1e-5,
                     hints={text: _table(wrong) for text, wrong in hints.items()})


# --------------------------------------------------------------------------------------------
# exercício 3: a correlação entre a entrada e a saída dos blocos
# --------------------------------------------------------------------------------------------

HINT_UNCENTERED = "parece que as médias não foram subtraídas antes de multiplicar."
HINT_SHAPE = ("a correlação pedida é um número só, entre todos os elementos dos dois tensores "
              "(achatados), não uma por coluna ou por linha.")
CORRELATION_A = ((1.0, 2.0), (3.0, 4.0))
# h_next → (correlação, {dica: valor de um erro típico})
CORRELATION_CASES: dict[tuple[tuple[float, ...], ...], tuple[float, dict[str, float]]] = {
    ((4.0, 2.0), (8.0, 6.0)): (0.6, {
        HINT_UNCENTERED: 0.933333,
        "você dividiu a covariância pela variância de h_prev (isso é a inclinação da "
        "regressão); divida pelo produto dos dois desvios-padrão.": 1.2,
        "você dividiu a covariância pela variância de h_next; divida pelo produto dos dois "
        "desvios-padrão.": 0.3,
        "a covariância está com denominador n − 1 e os desvios-padrão com n: use o mesmo nos "
        "três (ele se cancela).": 0.8,
        "a covariância está com denominador n e os desvios-padrão com n − 1: use o mesmo nos "
        "três (ele se cancela).": 0.45,
        "isso é a covariância (denominador n); falta dividir pelo produto dos desvios-padrão.":
            1.5,
        "isso é a covariância (denominador n − 1); falta dividir pelo produto dos "
        "desvios-padrão.": 2.0,
    }),
    ((2.0, -1.0), (-4.0, -7.0)): (-1.0, {
        HINT_UNCENTERED: -0.872872,
        "a correlação tem sinal: aqui h_next = 5 − 3·h_prev, uma reta decrescente.": 1.0,
    }),
}

# O experimento: largura 256, lote 256, K = 4 blocos ReLU → linear (He), os do capítulo.
EXPERIMENT_WIDTH = 256
EXPERIMENT_BLOCKS = 4
# remédio → (opções do ResidualBlock ou None para a camada sem atalho, Corr[h_0, h_k] prevista
# para k = 1 … 4, margem). A previsão: o ramo preserva a variância e não se correlaciona com a
# entrada, então cada bloco multiplica a correlação por 1/√(1 + α²) (a escala da soma não muda
# nada); sem atalho, ≈ 0; com o ramo zerado, 1. As margens são cerca de 2,5 vezes o maior
# desvio da previsão medido com a resposta de referência em 10 sementes (0,024; 0,004; 0;
# 0,012).
REMEDIES: dict[str, tuple[dict[str, Any] | None, tuple[float, ...], float]] = {
    "soma ÷ √2": ({"output_scale": 2**-0.5}, (0.707107, 0.5, 0.353553, 0.25), 0.06),
    "ramo × 0,2": ({"branch_scale": 0.2}, (0.980581, 0.961538, 0.942866, 0.924556), 0.015),
    "ramo zerado": ({"zero_init_last": True}, (1.0, 1.0, 1.0, 1.0), 1e-4),
    "sem atalho (camada sequencial)": (None, (0.0, 0.0, 0.0, 0.0), 0.05),
}


def correlation_experiment(seed: int = 0) -> tuple[torch.Tensor, dict[str, list[torch.Tensor]]]:
    """h_0 (lote 256, largura 256) e, para cada remédio, as saídas h_1 … h_4 de 4 blocos."""
    from residuais.models import ResidualBlock

    runs: dict[str, list[torch.Tensor]] = {}
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        h0 = torch.randn(EXPERIMENT_WIDTH, EXPERIMENT_WIDTH)
        for name, (options, _, _) in REMEDIES.items():
            h, outputs = h0, []
            for _ in range(EXPERIMENT_BLOCKS):
                block = ResidualBlock(EXPERIMENT_WIDTH, batch_norm=False, **(options or {}))
                h = block(h) if options is not None else block.branch(h)
                outputs.append(h)
            runs[name] = outputs
    return h0, runs


def correlation_value(got: Any, case: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() != 1:
        fail(f"No caso “{case}” esperava um número, mas recebeu um tensor de forma "
             f"{tuple(got.shape)}. Dica: {HINT_SHAPE}")
    return as_float(got, case)


def _expect_correlation(fn: Callable[..., Any], a: torch.Tensor, b: torch.Tensor, case: str,
                        expected: float, tol: float, hints: Mapping[str, float]) -> None:
    with forbidden(fn, RULES_BLOCK_CORRELATION):
        got = call(fn, case, a.clone(), b.clone())
    expect_close(correlation_value(got, case), expected, case, tol=tol, hints=hints)


def check_block_correlation(fn: Callable[..., Any]) -> None:
    """Confere ``fn(h_prev, h_next)``, a correlação de Pearson entre todos os elementos de dois
    tensores de mesma forma, em dois casos escritos; depois roda o experimento do capítulo com
    ela: a correlação entre h_0 e h_k ao longo de 4 blocos, para cada remédio, deve seguir a
    previsão (1 + α²)^(−k/2) (soma ÷ √2 e ramo × 0,2), 1 (ramo zerado) e 0 (sem atalho)."""
    a = _table(CORRELATION_A)
    for b, (expected, hints) in CORRELATION_CASES.items():
        case = f"h_prev = {CORRELATION_A}, h_next = {b}"
        _expect_correlation(fn, a, _table(b), case, expected, 1e-5, hints)

    h0, runs = correlation_experiment()
    for name, outputs in runs.items():
        _, predictions, margin = REMEDIES[name]
        for k, (h, predicted) in enumerate(zip(outputs, predictions, strict=True), start=1):
            case = f"experimento “{name}”, Corr[h_0, h_{k}]"
            with forbidden(fn, RULES_BLOCK_CORRELATION):
                got = call(fn, case, h0.clone(), h.clone())
            value = correlation_value(got, case)
            if not (math.isfinite(value) and abs(value - predicted) <= margin):
                fail(f"No caso “{case}” sua função deu {value:.4f}, mas a teoria prevê "
                     f"{predicted:.4f} ± {margin:g} (lote 256, largura 256). Ela funciona com "
                     f"tensores grandes e float32?")


# --------------------------------------------------------------------------------------------
# exercício 4: a maior escala do ramo para um orçamento de crescimento
# --------------------------------------------------------------------------------------------

HINT_NO_SQRT = ("α entra ao quadrado na variância (o fator por bloco é 1 + α²): faltou uma "
                "raiz quadrada.")
HINT_DIVIDED = "a raiz K-ésima do crescimento não é o crescimento dividido por K."
HINT_ASYMPTOTIC = ("√(ln G / K) é só a aproximação para K grande; o exercício pede a conta "
                   "exata.")
HINT_LINEAR = ("isso resolve 1 + Kα² = G, o crescimento linear (ramo com variância fixa); "
               "aqui a variância se multiplica por 1 + α² a cada bloco.")

# (K, crescimento máximo G) → (α máximo, {dica: valor de um erro típico})
BRANCH_SCALE_CASES: dict[tuple[int, float], tuple[float, dict[str, float]]] = {
    (1, 2.0): (1.0, {HINT_ASYMPTOTIC: 0.832555}),
    (2, 6.25): (1.224745, {HINT_NO_SQRT: 1.5, HINT_DIVIDED: 1.457738, HINT_ASYMPTOTIC: 0.957231,
                           HINT_LINEAR: 1.620185}),
    (8, 10.0): (0.577513, {HINT_NO_SQRT: 0.333521, HINT_DIVIDED: 0.5, HINT_ASYMPTOTIC: 0.536492,
                           HINT_LINEAR: 1.060660}),
    (100, 2.0): (0.083400, {HINT_NO_SQRT: 0.006956, HINT_LINEAR: 0.1}),
}


def check_max_branch_scale(fn: Callable[..., Any]) -> None:
    """Confere ``fn(n_blocks, max_growth)``: o maior α para o qual a variância prevista depois
    de K blocos h_k = h_{k−1} + α f_k[h_{k−1}] cresce no máximo pelo fator G."""
    for (n_blocks, growth), (expected, hints) in BRANCH_SCALE_CASES.items():
        case = f"K = {n_blocks}, crescimento máximo G = {growth}"
        with forbidden(fn, RULES_MAX_BRANCH_SCALE):
            got = call(fn, case, n_blocks, growth)
        expect_close(as_float(got, case), expected, case, tol=2e-6, hints=hints)
