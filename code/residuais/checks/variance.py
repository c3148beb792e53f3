"""Verificações públicas dos exercícios de programação do capítulo 3 (variância).

Os valores esperados são constantes escritas aqui (com as dos erros típicos, que viram dicas) ou
propriedades que a teoria do capítulo impõe (as probabilidades somam 1, a média é a profundidade
efetiva); nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
REASON_BLOCK = ("o exercício pede o bloco escrito por você (o ResidualBlock do curso usa uma "
                "escala fixa, output_scale, e não a mede).")
RULES_SCALED_RESIDUAL = (
    Rule("residuais.models.ResidualBlock", REASON_BLOCK),
)
REASON_DISTRIBUTION = ("o exercício pede a distribuição calculada por você; enumerar os 2^K "
                       "caminhos não cabe no tempo para K = 64.")
RULES_BRANCH_COUNTS = (
    Rule("residuais.analysis.enumerate_paths", REASON_DISTRIBUTION),
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
# exercício 2: o bloco com a escala medida, c · (h + α f(h)) com Var[saída] = Var[h]
# --------------------------------------------------------------------------------------------

# um ramo pequeno, ReLU → linear, com pesos escritos, e uma entrada h de forma (2, 3)
BRANCH_WEIGHT = ((1.0, -1.0, 0.5), (0.0, 2.0, -1.0), (-0.5, 0.0, 1.0))
BRANCH_BIAS = (0.25, -0.5, 0.0)
SCALED_INPUT = ((1.0, -2.0, 0.5), (-1.5, 3.0, 2.0))

HINT_FIXED = ("1/√(1 + α²) só acerta quando o ramo preserva a variância e não se correlaciona "
              "com a entrada; aqui isso não vale. Meça as duas variâncias e tire c delas.")
HINT_UNSCALED = "faltou multiplicar a soma pela escala c."
HINT_NO_ROOT = ("c multiplica cada valor, então multiplica a variância por c²: c é a raiz da "
                "razão entre as variâncias.")
HINT_INVERTED = ("a razão está invertida: c² = Var[h] / Var[h + α·branch(h)] (a saída deve "
                 "voltar à variância de h).")
HINT_PER_COLUMN = ("c é um número só, calculado com todos os elementos; uma escala por coluna "
                   "já seria uma normalização por unidade.")
HINT_IN_PLACE = ("sua função alterou o tensor h recebido (por exemplo com `+=` ou `mul_`); "
                 "devolva um tensor novo e deixe h como estava.")

# (ramo, α) → (saída esperada, {dica: saída de um erro típico}); "relu" é o ramo f(h) = ReLU(h),
# muito correlacionado com a entrada
SCALED_CASES: dict[tuple[str, float], tuple[tuple[tuple[float, ...], ...], dict[str, Any]]] = {
    ("ReLU → linear", 0.75): (((1.218897, -1.577396, 0.286799), (-1.613246, 3.226493, 2.007595)), {
        HINT_FIXED: ((1.7, -2.2, 0.4), (-2.25, 4.5, 2.8)),
        HINT_UNSCALED: ((2.125, -2.75, 0.5), (-2.8125, 5.625, 3.5)),
        HINT_NO_ROOT: ((0.699158, -0.904793, 0.164508), (-0.925356, 1.850712, 1.151554)),
        HINT_INVERTED: ((3.704681, -4.794293, 0.871690), (-4.903254, 9.806508, 6.101827)),
        HINT_PER_COLUMN: ((1.075949, -1.641791, 0.25), (-1.424051, 3.358209, 1.75)),
    }),
    ("ReLU", 1.0): (((1.255584, -1.255584, 0.627792), (-0.941688, 3.766752, 2.511168)), {
        HINT_FIXED: ((1.414214, -1.414214, 0.707107), (-1.060660, 4.242641, 2.828427)),
        HINT_UNSCALED: ((2.0, -2.0, 1.0), (-1.5, 6.0, 4.0)),
        HINT_NO_ROOT: ((0.788245, -0.788245, 0.394123), (-0.591184, 2.364736, 1.576491)),
        HINT_INVERTED: ((3.185769, -3.185769, 1.592884), (-2.389327, 9.557306, 6.371538)),
        HINT_PER_COLUMN: ((1.428571, -1.25, 0.5), (-1.071429, 3.75, 2.0)),
    }),
}


def small_branch(kind: str = "ReLU → linear") -> nn.Module:
    """Os ramos dos casos públicos, em ``float64``: ReLU → linear (3 → 3) com pesos escritos, ou
    só a ReLU."""
    if kind == "ReLU":
        return nn.Sequential(nn.ReLU())
    linear = nn.Linear(3, 3).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(BRANCH_WEIGHT))
        linear.bias.copy_(torch.tensor(BRANCH_BIAS))
    return nn.Sequential(nn.ReLU(), linear)


def _table(values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def expect_untouched(given: torch.Tensor, original: torch.Tensor, case: str) -> None:
    """Falha se a função alterou, no lugar, o tensor que recebeu."""
    if not torch.equal(given, original):
        fail(f"No caso “{case}” {HINT_IN_PLACE}")


def check_scaled_residual(fn: Callable[..., Any]) -> None:
    """Confere ``fn(h, branch, alpha)`` = c·(h + α·branch(h)), com o número c > 0 que faz a
    variância de todos os elementos da saída igual à de h, em dois ramos pequenos com pesos
    fixos (um deles muito correlacionado com a entrada), e que h não é alterado no lugar; os
    valores esperados estão escritos acima."""
    h = _table(SCALED_INPUT)
    for (kind, alpha), (expected, hints) in SCALED_CASES.items():
        case = f"h de forma (2, 3), ramo {kind}, α = {alpha}"
        given = h.clone()
        with torch.no_grad(), forbidden(fn, RULES_SCALED_RESIDUAL):
            got = call(fn, case, given, small_branch(kind), alpha)
        expect_untouched(given, h, case)
        expect_tensor(got, h.shape, case, f"a saída deve ter a forma de h, {tuple(h.shape)}",
                      type_first=True)
        expect_close(got, _table(expected), case, tol=1e-5,
                     hints={text: _table(wrong) for text, wrong in hints.items()})


# --------------------------------------------------------------------------------------------
# exercício 3: quantos ramos tem o caminho típico — a distribuição, não só a média
# --------------------------------------------------------------------------------------------

HINT_REVERSED = ("a probabilidade de o caminho passar pelo ramo do bloco k é 1 − ρ_k² (a fração "
                 "da variância que chega pelo ramo), não ρ_k² (a do atalho).")
HINT_NOT_SQUARED = ("as frações da variância são ρ_k² (atalho) e 1 − ρ_k² (ramo): faltou elevar "
                    "ρ_k ao quadrado.")
HINT_BINOMIAL = ("isso é a binomial com a probabilidade média; cada bloco tem o seu ρ_k, e a "
                 "distribuição precisa usar cada um.")
HINT_LENGTH = ("com K blocos, o número de ramos vai de 0 a K: são K + 1 probabilidades "
               "(a primeira é a do caminho só de atalhos).")

# ρ_1, …, ρ_K → (P(ℓ = 0), …, P(ℓ = K), {dica: distribuição de um erro típico})
BRANCH_COUNT_CASES: dict[tuple[float, ...], tuple[tuple[float, ...], dict[str, Any]]] = {
    (0.6, 0.8, 1.0): ((0.2304, 0.5392, 0.2304, 0.0), {
        HINT_REVERSED: (0.0, 0.2304, 0.5392, 0.2304),
        HINT_NOT_SQUARED: (0.48, 0.44, 0.08, 0.0),
        HINT_BINOMIAL: (0.296296, 0.444444, 0.222222, 0.037037),
    }),
    (0.9, 0.5, 0.7, 0.95): ((0.089551, 0.392538, 0.405859, 0.104967, 0.007086), {
        HINT_REVERSED: (0.007086, 0.104967, 0.405859, 0.392538, 0.089551),
        HINT_NOT_SQUARED: (0.29925, 0.4765, 0.2, 0.0235, 0.00075),
        HINT_BINOMIAL: (0.141318, 0.356679, 0.337591, 0.142011, 0.022402),
    }),
}
# as correlações por bloco que o capítulo prevê para 30 blocos: soma ÷ √2 (todas 1/√2) e BN no
# ramo, ρ_k = √((v_0 + k − 1)/(v_0 + k)) com v_0 = 2,1; a média da distribuição tem de ser a
# profundidade efetiva Σ (1 − ρ_k²) de (c3-prof-efetiva): 15 e ≈ 2,52
CHAPTER_RHOS: dict[str, tuple[float, ...]] = {
    "soma ÷ √2, 30 blocos": (2**-0.5,) * 30,
    "BN no ramo, 30 blocos": tuple(math.sqrt((2.1 + k - 1) / (2.1 + k)) for k in range(1, 31)),
}


def distribution(got: Any, n_blocks: int, case: str) -> torch.Tensor:
    """A resposta (lista, tupla ou tensor 1-D) como tensor ``float64`` de K + 1 elementos."""
    try:
        values = torch.as_tensor(got, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        fail(f"No caso “{case}” esperava uma lista de números, mas recebeu "
             f"{type(got).__name__}.")
    if values.numel() != n_blocks + 1:
        fail(f"No caso “{case}” esperava {n_blocks + 1} probabilidades, mas recebeu "
             f"{values.numel()}. Dica: {HINT_LENGTH}")
    if not torch.isfinite(values).all():
        fail(f"No caso “{case}” sua resposta tem valores infinitos ou NaN.")
    return values


def check_branch_count_distribution(fn: Callable[..., Any]) -> None:
    """Confere ``fn(rhos)``: a distribuição do número de ramos atravessados por um caminho
    sorteado com probabilidade proporcional à variância que carrega, P(ℓ = j) para j = 0 … K,
    em dois casos escritos; depois, nas correlações que o capítulo prevê para 30 blocos, que as
    probabilidades somam 1 e que a média é a profundidade efetiva Σ (1 − ρ_k²)."""
    for rhos, (expected, hints) in BRANCH_COUNT_CASES.items():
        case = f"ρ = {list(rhos)}"
        with forbidden(fn, RULES_BRANCH_COUNTS):
            got = call(fn, case, list(rhos))
        values = distribution(got, len(rhos), case)
        expect_close(values, _table(expected), case, tol=1e-5,
                     hints={text: _table(wrong) for text, wrong in hints.items()})
    for name, rhos in CHAPTER_RHOS.items():
        case = f"{name} (as correlações previstas no capítulo)"
        with forbidden(fn, RULES_BRANCH_COUNTS):
            got = call(fn, case, list(rhos))
        values = distribution(got, len(rhos), case)
        total = values.sum().item()
        if abs(total - 1) > 1e-6:
            fail(f"No caso “{case}” as probabilidades somam {total:.6g}, e deveriam somar 1.")
        mean = sum(j * p for j, p in enumerate(values.tolist()))
        depth = sum(1 - r * r for r in rhos)  # (c3-prof-efetiva), a definição do capítulo
        if abs(mean - depth) > 1e-6:
            fail(f"No caso “{case}” a média da sua distribuição é {mean:.4f}, mas deveria ser "
                 f"a profundidade efetiva Σ (1 − ρ_k²) = {depth:.4f}.")


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
