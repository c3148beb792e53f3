"""Verificações públicas dos exercícios de programação 3 e 4 do capítulo 2: a saída separada
por comprimento de caminho e quanto do gradiente passa por caminhos de cada comprimento.

Os valores esperados são constantes escritas aqui (com as dos erros típicos, que viram dicas)
ou vêm da forma em produto (I + A_K) ⋯ (I + A_1) h_0, calculada com ``torch.linalg.multi_dot``;
o experimento confere a leitura de conjunto do capítulo com margem medida. Nenhuma resposta é
calculada aqui.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from residuais.checks.core import (
    Rule,
    as_float,
    as_table,
    call,
    expect_close,
    expect_tensor,
    fail,
    forbidden,
)

REASON_PATHS = "ela já enumera os caminhos; o exercício é escrever essa enumeração."
RULES_OUTPUTS_BY_LENGTH = (
    Rule("residuais.analysis.expand_linear_residual", REASON_PATHS),
    Rule("residuais.analysis.enumerate_paths", REASON_PATHS),
)
RULES_GRADIENT_SHARE = (
    Rule("residuais.analysis.enumerate_paths",
         "o exercício pede a conta por comprimento, sem listar os 2^K caminhos."),
)


# --------------------------------------------------------------------------------------------
# exercício 3: a saída separada por comprimento de caminho
# --------------------------------------------------------------------------------------------

HINT_REVERSED_PRODUCT = ("o termo de um caminho aplica os ramos na ordem dos blocos: "
                         "A_{k_m} ⋯ A_{k_2} A_{k_1} h_0, com o primeiro bloco à direita.")
HINT_CUMULATIVE = ("a linha ℓ tem só os caminhos de exatamente ℓ ramos; você devolveu as somas "
                   "acumuladas (até ℓ ramos).")
HINT_WRONG_ROWS = ("a soma das linhas está certa (é a saída da rede), mas os termos estão na "
                   "linha errada: a linha ℓ junta os caminhos que atravessam exatamente ℓ ramos.")
HINT_MISSING_EMPTY_PATH = ("faltou a linha ℓ = 0, a do caminho só de atalhos (o próprio h_0): "
                           "são K + 1 linhas.")

# Um caso escrito: K = 4, d = 2; linhas ℓ = 0 … 4 e as de dois erros típicos.
WRITTEN_MATRICES = (((0.0, 1.0), (1.0, 0.0)), ((1.0, 1.0), (0.0, 1.0)),
                    ((0.5, 0.0), (0.0, -1.0)), ((0.0, -1.0), (2.0, 0.0)))
WRITTEN_INPUT = (1.0, 2.0)
WRITTEN_ROWS = ((1.0, 2.0), (3.5, 3.0), (4.5, 9.0), (3.5, 10.0), (1.0, 3.0))
WRITTEN_HINTS = {
    HINT_REVERSED_PRODUCT: ((1.0, 2.0), (3.5, 3.0), (-0.5, -0.5), (-5.0, -4.5), (-2.0, -3.0)),
    HINT_CUMULATIVE: ((1.0, 2.0), (4.5, 5.0), (9.0, 14.0), (12.5, 24.0), (13.5, 27.0)),
}
# Com K = 30, listar os caminhos (2^30 ≈ 10^9) não termina a tempo: a conta tem de ser por
# comprimento, bloco a bloco.
LARGE_BLOCKS = 30

# O experimento: K = 10 blocos de largura 8 com ramos A_k = 0,2 · N(0, 1/8) (cada ramo
# multiplica a norma por cerca de 0,2), 4 redes (sementes 0 a 3). Só os caminhos curtos
# importam: o erro relativo médio de S_0 + … + S_L como aproximação da saída deve cair a cada L,
# passar de 30% só com o atalho (L = 0) e ficar abaixo de 5% com até 3 ramos (176 dos 1.024
# caminhos). Medido com a resposta de referência em 200 grupos de 4 redes: o erro só com o
# atalho fica entre 0,41 e 0,81 (média 0,57); com até 3 ramos, entre 0,010 e 0,038 (média
# 0,019, desvio-padrão 0,005).
EXPERIMENT_BLOCKS = 10
EXPERIMENT_WIDTH = 8
EXPERIMENT_GAIN = 0.2
EXPERIMENT_SEEDS = range(4)
EXPERIMENT_IDENTITY_ERROR = 0.3
EXPERIMENT_SHORT_ERROR = 0.05
EXPERIMENT_SHORT_LENGTH = 3


def product_form(matrices: Sequence[torch.Tensor], h0: torch.Tensor) -> torch.Tensor:
    """A saída da rede, (I + A_K) ⋯ (I + A_1) h_0, com ``torch.linalg.multi_dot``."""
    if not matrices:
        return h0.clone()
    eye = torch.eye(h0.shape[0], dtype=h0.dtype)
    factors = [eye + a for a in reversed(matrices)]
    return torch.linalg.multi_dot([*factors, h0.unsqueeze(1)]).squeeze(1)


def random_matrices(n_blocks: int, width: int, gain: float, seed: int
                    ) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``n_blocks`` ramos A_k = gain · N(0, 1/width) e uma entrada h_0 ~ N(0, I), em float64."""
    gen = torch.Generator().manual_seed(seed)
    matrices = [gain / math.sqrt(width)
                * torch.randn(width, width, generator=gen, dtype=torch.float64)
                for _ in range(n_blocks)]
    return matrices, torch.randn(width, generator=gen, dtype=torch.float64)


def student_rows(fn: Callable[..., Any], matrices: Sequence[torch.Tensor], h0: torch.Tensor,
                 case: str) -> torch.Tensor:
    """As linhas S_0 … S_K que ``fn`` devolve, conferidas na forma (K + 1, d), em float64."""
    with forbidden(fn, RULES_OUTPUTS_BY_LENGTH):
        got = call(fn, case, [a.clone() for a in matrices], h0.clone())
    shape = (len(matrices) + 1, h0.shape[0])
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (shape[0] - 1, shape[1]):
        fail(f"No caso “{case}” esperava forma {shape}; recebeu {tuple(got.shape)}. "
             f"Dica: {HINT_MISSING_EMPTY_PATH}")
    expect_tensor(got, shape, case, type_first=True,
                  expected=f"esperava uma linha por comprimento ℓ = 0 … K, forma {shape}")
    rows = got.detach().to(torch.float64)
    if not torch.isfinite(rows).all():
        fail(f"No caso “{case}” sua resposta tem valores infinitos ou NaN.")
    return rows


def expect_rows(rows: torch.Tensor, matrices: Sequence[torch.Tensor], h0: torch.Tensor,
                case: str) -> None:
    """Confere as linhas sem calcular nenhuma delas: para todo t, Σ_ℓ t^ℓ S_ℓ tem de ser a saída
    da rede com ramos t·A_k, (I + t A_K) ⋯ (I + t A_1) h_0. Em K + 1 valores de t, isso fixa
    cada S_ℓ (é um polinômio de grau K em t)."""
    n_blocks = len(matrices)

    def tolerance(powers: torch.Tensor) -> float:  # relativa ao tamanho dos termos somados
        return 1e-9 * (n_blocks + 1) * max(1.0, (powers @ rows.abs()).max().item())

    ones = torch.ones(n_blocks + 1, dtype=torch.float64)
    total_error = (rows.sum(dim=0) - product_form(matrices, h0)).abs().max().item()
    for t in torch.linspace(0.5, 1.5, n_blocks + 1, dtype=torch.float64).tolist():
        powers = t ** torch.arange(n_blocks + 1, dtype=torch.float64)  # (K + 1,)
        expected = product_form([t * a for a in matrices], h0)
        error = ((powers @ rows) - expected).abs().max().item()
        if error > tolerance(powers):
            hint = HINT_WRONG_ROWS if total_error <= tolerance(ones) else ""
            fail(f"No caso “{case}” as linhas não são as somas por comprimento: com os ramos "
                 f"multiplicados por t = {t:.3g}, Σ_ℓ t^ℓ S_ℓ difere da saída da rede em "
                 f"{error:.2e}." + (f" Dica: {hint}" if hint else ""))


def check_outputs_by_length(fn: Callable[..., Any]) -> None:
    """Confere ``fn(matrices, h0)``: a matriz (K + 1, d) cuja linha ℓ é a soma, sobre os
    caminhos que atravessam exatamente ℓ ramos, de A_{k_ℓ} ⋯ A_{k_1} h_0. Um caso escrito; depois
    K = 1 … 6 e K = 30 pela forma em produto, sem calcular a resposta; por fim o experimento dos
    caminhos curtos."""
    matrices = [as_table(a) for a in WRITTEN_MATRICES]
    h0 = as_table(WRITTEN_INPUT)
    case = "K = 4, d = 2 (matrizes escritas)"
    rows = student_rows(fn, matrices, h0, case)
    expected = as_table(WRITTEN_ROWS)
    hints = {text: as_table(wrong) for text, wrong in WRITTEN_HINTS.items()}
    if torch.allclose(rows.sum(dim=0), expected.sum(dim=0), atol=1e-9):
        hints[HINT_WRONG_ROWS] = rows  # a soma certa, repartida errado
    expect_close(rows, expected, case, tol=1e-9, hints=hints)

    for n_blocks in (*range(1, 7), LARGE_BLOCKS):
        matrices, h0 = random_matrices(n_blocks, 3, 0.5, seed=n_blocks)
        case = f"K = {n_blocks}, d = 3"
        expect_rows(student_rows(fn, matrices, h0, case), matrices, h0, case)

    lengths = range(EXPERIMENT_SHORT_LENGTH + 1)
    errors = torch.zeros(len(lengths), dtype=torch.float64)
    for seed in EXPERIMENT_SEEDS:
        matrices, h0 = random_matrices(EXPERIMENT_BLOCKS, EXPERIMENT_WIDTH, EXPERIMENT_GAIN,
                                       seed)
        case = f"experimento com K = 10, d = 8, ramos de ganho 0,2 (semente {seed})"
        rows = student_rows(fn, matrices, h0, case)
        expect_rows(rows, matrices, h0, case)
        full = product_form(matrices, h0)
        partial = rows.cumsum(dim=0)  # S_0 + … + S_L
        for length in lengths:
            errors[length] += ((partial[length] - full).norm()
                               / full.norm()).item() / len(EXPERIMENT_SEEDS)
    shown = ", ".join(f"{e:.3f}" for e in errors.tolist())
    if not (errors[0] > EXPERIMENT_IDENTITY_ERROR
            and errors[EXPERIMENT_SHORT_LENGTH] < EXPERIMENT_SHORT_ERROR
            and (errors[1:] < errors[:-1]).all()):
        fail(f"No experimento com K = 10 e ramos de ganho 0,2, os erros relativos médios de "
             f"S_0 + … + S_L, L = 0, 1, 2 e 3, foram {shown}; esperava que caíssem a cada "
             f"comprimento, de mais de 0,3 a menos de 0,05.")


# --------------------------------------------------------------------------------------------
# exercício 4: quanto do gradiente passa por caminhos de cada comprimento
# --------------------------------------------------------------------------------------------

HINT_FORGOT_BINOMIAL = ("há C(K, ℓ) caminhos de comprimento ℓ, e cada um carrega g^ℓ: faltou "
                        "multiplicar pelo número de caminhos.")
HINT_NOT_NORMALIZED = ("essas são as contribuições C(K, ℓ)·g^ℓ; falta dividir pelo total, para "
                       "que as frações somem 1.")
HINT_POWER_OF_TWO = ("dividir por 2^K (o número de caminhos) só normaliza quando g = 1; o total "
                     "a dividir é a soma das contribuições, Σ_ℓ C(K, ℓ)·g^ℓ.")
HINT_PROBABILITY_G = ("g não é uma probabilidade: o atalho multiplica por 1 e o ramo por g, "
                      "então o peso de um caminho é g^ℓ · 1^(K − ℓ), sem (1 − g)^(K − ℓ).")
HINT_COUNTS_ONLY = ("essa é só a contagem de caminhos, C(K, ℓ)/2^K: faltou o peso g^ℓ de cada "
                    "caminho.")

# (K, g) → (frações esperadas, {dica: frações de um erro típico})
SHARE_CASES: dict[tuple[int, float], tuple[tuple[float, ...], dict[str, tuple[float, ...]]]] = {
    (4, 1.0): ((0.0625, 0.25, 0.375, 0.25, 0.0625), {
        HINT_FORGOT_BINOMIAL: (0.2, 0.2, 0.2, 0.2, 0.2),
        HINT_NOT_NORMALIZED: (1.0, 4.0, 6.0, 4.0, 1.0),
        HINT_PROBABILITY_G: (0.0, 0.0, 0.0, 0.0, 1.0),
    }),
    (3, 0.5): ((0.296296, 0.444444, 0.222222, 0.037037), {
        HINT_FORGOT_BINOMIAL: (0.533333, 0.266667, 0.133333, 0.066667),
        HINT_NOT_NORMALIZED: (1.0, 1.5, 0.75, 0.125),
        HINT_POWER_OF_TWO: (0.125, 0.1875, 0.09375, 0.015625),
        HINT_PROBABILITY_G: (0.125, 0.375, 0.375, 0.125),
    }),
}
# A ResNet-110 (K = 54) com g = 0,2: as frações em três comprimentos e o comprimento que mais
# carrega; os erros típicos põem o máximo em outro lugar.
RESNET_BLOCKS, RESNET_GAIN = 54, 0.2
RESNET_SHARES = {0: 5.29923e-05, 9: 0.144287, 27: 1.38476e-08}
RESNET_MODE = 9
RESNET_WRONG_MODES = {0: HINT_FORGOT_BINOMIAL, 27: HINT_COUNTS_ONLY, 11: HINT_PROBABILITY_G}


def shares_vector(got: Any, n_blocks: int, case: str) -> torch.Tensor:
    """As frações como tensor float64 de K + 1 números (aceita lista, tupla ou tensor)."""
    if isinstance(got, torch.Tensor):
        if got.dim() != 1 or got.numel() != n_blocks + 1:
            fail(f"No caso “{case}” esperava K + 1 = {n_blocks + 1} frações (ℓ = 0 … K); "
                 f"recebeu um tensor de forma {tuple(got.shape)}.")
        return got.detach().to(torch.float64)
    if not isinstance(got, list | tuple):
        fail(f"No caso “{case}” esperava uma lista de K + 1 = {n_blocks + 1} frações; recebeu "
             f"{type(got).__name__}.")
    if len(got) != n_blocks + 1:
        fail(f"No caso “{case}” esperava K + 1 = {n_blocks + 1} frações (ℓ = 0 … K, inclusive "
             f"o caminho só de atalhos); recebeu {len(got)}.")
    return torch.tensor([as_float(v, case) for v in got], dtype=torch.float64)


def expect_shares(got: torch.Tensor, expected: torch.Tensor, case: str,
                  hints: Mapping[str, torch.Tensor]) -> None:
    expect_close(got, expected, case, tol=1e-6, hints=hints)


def check_gradient_share_by_path_length(fn: Callable[..., Any]) -> None:
    """Confere ``fn(n_blocks, branch_gain)``: a fração do gradiente total que passa pelos
    caminhos de comprimento ℓ = 0 … K, se cada ramo multiplica o gradiente por g e cada atalho
    por 1. Dois casos escritos e a ResNet-110 (K = 54, g = 0,2)."""
    for (n_blocks, gain), (expected, hints) in SHARE_CASES.items():
        case = f"K = {n_blocks}, g = {gain}"
        with forbidden(fn, RULES_GRADIENT_SHARE):
            got = call(fn, case, n_blocks, gain)
        expect_shares(shares_vector(got, n_blocks, case), as_table(expected), case,
                      {text: as_table(wrong) for text, wrong in hints.items()})

    case = f"K = {RESNET_BLOCKS}, g = {RESNET_GAIN} (ResNet-110)"
    with forbidden(fn, RULES_GRADIENT_SHARE):
        got = call(fn, case, RESNET_BLOCKS, RESNET_GAIN)
    shares = shares_vector(got, RESNET_BLOCKS, case)
    if not torch.isfinite(shares).all():
        fail(f"No caso “{case}” sua resposta tem valores infinitos ou NaN.")
    if abs(shares.sum().item() - 1) > 1e-6:
        fail(f"No caso “{case}” as frações somam {shares.sum().item():.6g}, não 1. "
             f"Dica: {HINT_NOT_NORMALIZED}")
    mode = int(shares.argmax())
    if mode != RESNET_MODE:
        hint = f" Dica: {RESNET_WRONG_MODES[mode]}" if mode in RESNET_WRONG_MODES else ""
        fail(f"No caso “{case}” o comprimento que mais carrega gradiente na sua resposta é "
             f"{mode}; o correto é {RESNET_MODE}.{hint}")
    for length, value in RESNET_SHARES.items():
        if not math.isclose(shares[length].item(), value, rel_tol=1e-5):
            fail(f"No caso “{case}” a fração do comprimento {length} é "
                 f"{shares[length].item():.4g}; a correta é {value:.4g}.")
