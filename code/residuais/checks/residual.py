"""Verificações públicas dos exercícios de programação do capítulo 2 (conexões residuais).

Os valores esperados são constantes escritas aqui (com as dos erros típicos, que viram dicas) ou
vêm da forma em produto (I + A_K) ⋯ (I + A_1) h_0, calculada com ``torch.linalg.multi_dot``; o
experimento confere a leitura de conjunto do capítulo com margem medida. Nenhuma resposta é
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
    call,
    expect_close,
    expect_tensor,
    fail,
    forbidden,
)
from residuais.checks.sequential import RULES_AUTOGRAD

REASON_BLOCK = ("o exercício é escrever a soma do atalho; os blocos residuais do curso já a "
                "fazem.")
# uma regra por objeto: ela vale pelos dois caminhos (residuais.models e residuais.models.mlp)
RULES_RESIDUAL_FORWARD = (
    Rule("residuais.models.ResidualBlock", REASON_BLOCK),
    Rule("residuais.models.ResidualMLP", REASON_BLOCK),
)
REASON_AUTOGRAD = "o exercício pede o jacobiano pela fórmula, sem o autograd."
RULES_BLOCK_JACOBIAN = tuple(Rule(rule.target, REASON_AUTOGRAD) for rule in RULES_AUTOGRAD)
REASON_PATHS = "ela já enumera os caminhos; o exercício é escrever essa enumeração."
RULES_OUTPUTS_BY_LENGTH = (
    Rule("residuais.analysis.expand_linear_residual", REASON_PATHS),
    Rule("residuais.analysis.enumerate_paths", REASON_PATHS),
)
RULES_GRADIENT_SHARE = (
    Rule("residuais.analysis.enumerate_paths",
         "o exercício pede a conta por comprimento, sem listar os 2^K caminhos."),
)


def _table(values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


# --------------------------------------------------------------------------------------------
# exercício 1: as representações de uma rede residual, bloco a bloco
# --------------------------------------------------------------------------------------------

HINT_NO_SKIP = "faltou o atalho: h_k = h_{k−1} + f_k(h_{k−1}), não só f_k(h_{k−1})."
HINT_ONLY_FROM_INPUT = ("cada ramo recebe a representação anterior, h_{k−1}, e não a entrada "
                        "h_0.")
HINT_ALIASED = ("dois elementos da lista são o mesmo tensor: `h += …` altera o tensor no lugar "
                "(e os que já estão na lista com ele); escreva `h = h + …`.")
HINT_ONLY_LAST = ("parece que você devolveu só h_K; o pedido é a lista [h_0, h_1, …, h_K] "
                  "inteira.")
HINT_MISSING_INPUT = "a lista começa com h_0, a própria entrada: são K + 1 elementos."


def _half(h: torch.Tensor) -> torch.Tensor:
    return 0.5 * h


def _quarter_flipped(h: torch.Tensor) -> torch.Tensor:
    return 0.25 * h.flip(-1)


# (descrição, h_0, ramos) → ([h_0, …, h_K], {dica: lista de um erro típico})
FORWARD_CASES: list[tuple[str, Any, list[Callable[[torch.Tensor], torch.Tensor]], Any,
                          dict[str, Any]]] = [
    ("três ramos: 0,5·h, sen h e 0,25·(h invertido)", (1.0, -2.0, 0.5),
     [_half, torch.sin, _quarter_flipped],
     ((1.0, -2.0, 0.5), (1.5, -3.0, 0.75), (2.497495, -3.14112, 1.431639),
      (2.855405, -3.9264, 2.056013)), {
         HINT_NO_SKIP: ((1.0, -2.0, 0.5), (0.5, -1.0, 0.25), (0.479426, -0.841471, 0.247404),
                        (0.061851, -0.210368, 0.119856)),
         HINT_ONLY_FROM_INPUT: ((1.0, -2.0, 0.5), (1.5, -3.0, 0.75),
                                (2.341471, -3.909297, 1.229426),
                                (2.466471, -4.409297, 1.479426)),
     }),
    ("um ramo tanh, lote de forma (2, 3)", ((0.5, -1.0, 2.0), (0.0, 3.0, -0.25)), [torch.tanh],
     (((0.5, -1.0, 2.0), (0.0, 3.0, -0.25)),
      ((0.962117, -1.761594, 2.964028), (0.0, 3.995055, -0.494919))), {
         HINT_NO_SKIP: (((0.5, -1.0, 2.0), (0.0, 3.0, -0.25)),
                        ((0.462117, -0.761594, 0.964028), (0.0, 0.995055, -0.244919))),
     }),
]


def expect_states(got: Any, expected: Sequence[torch.Tensor], case: str,
                  hints: Mapping[str, Sequence[torch.Tensor]]) -> None:
    """Confere a lista [h_0, …, h_K]: tipo, tamanho, formas, tensores distintos e valores."""
    shape = tuple(expected[0].shape)
    if isinstance(got, torch.Tensor):
        hint = f" Dica: {HINT_ONLY_LAST}" if tuple(got.shape) == shape else ""
        fail(f"No caso “{case}” esperava uma lista com {len(expected)} tensores "
             f"[h_0, …, h_K]; recebeu um tensor de forma {tuple(got.shape)}.{hint}")
    if not isinstance(got, list | tuple):
        fail(f"No caso “{case}” esperava uma lista com {len(expected)} tensores [h_0, …, h_K]; "
             f"recebeu {type(got).__name__}.")
    for k, state in enumerate(got):
        if not isinstance(state, torch.Tensor):
            fail(f"No caso “{case}” esperava uma lista de tensores [h_0, …, h_K], mas o "
                 f"elemento {k} é {type(state).__name__}.")
    if len(got) != len(expected):
        hint = f" Dica: {HINT_MISSING_INPUT}" if len(got) == len(expected) - 1 else ""
        fail(f"No caso “{case}” esperava {len(expected)} tensores [h_0, …, h_K]; a lista tem "
             f"{len(got)}.{hint}")
    for k, state in enumerate(got):
        expect_tensor(state, shape, case, type_first=True,
                      expected=f"h_{k} deve ter a forma de h_0, {shape}")
    if len({id(state) for state in got}) < len(got):
        fail(f"No caso “{case}” a lista está errada. Dica: {HINT_ALIASED}")
    stacked = torch.stack([state.detach().to(torch.float64) for state in got])
    expect_close(stacked, torch.stack(list(expected)).to(torch.float64), case, tol=1e-5,
                 hints={text: torch.stack(list(wrong)).to(torch.float64)
                        for text, wrong in hints.items()})


def check_residual_forward(fn: Callable[..., Any]) -> None:
    """Confere ``fn(branches, h0)`` = [h_0, h_1, …, h_K], h_k = h_{k−1} + f_k(h_{k−1}), em
    dois casos com ramos e valores escritos."""
    for case, h0, branches, expected, hints in FORWARD_CASES:
        with torch.no_grad(), forbidden(fn, RULES_RESIDUAL_FORWARD):
            got = call(fn, case, list(branches), _table(h0))
        expect_states(got, list(_table(expected)), case,
                      {text: list(_table(wrong)) for text, wrong in hints.items()})


# --------------------------------------------------------------------------------------------
# exercício 2: o jacobiano do bloco original (pós-ativação)
# --------------------------------------------------------------------------------------------

HINT_NO_IDENTITY = ("faltou o atalho: a derivada de h + W h + b em relação a h é I + W, não só "
                    "W.")
HINT_NO_POST_MASK = ("faltou a ReLU depois da soma: as linhas em que s = h + W h + b é ≤ 0 "
                     "devem ser zero.")
HINT_BRANCH_MASK = ("a ReLU age na soma s = h + W h + b, não só no ramo W h + b: a máscara vem "
                    "de s > 0.")
HINT_ZERO_SUM = ("na coordenada com s_i = 0 exatamente, a derivada da ReLU vale 0 (como no "
                 "autograd): use s > 0, não s ≥ 0.")


def post_block(weight: torch.Tensor, bias: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """O bloco original com um ramo linear: ReLU(h + W h + b)."""
    return torch.relu(h + weight @ h + bias)


def autograd_block_jacobian(weight: torch.Tensor, bias: torch.Tensor,
                            h: torch.Tensor) -> torch.Tensor:
    """O jacobiano de h ↦ ReLU(h + W h + b) pelo autograd do PyTorch; forma (d, d)."""
    return torch.autograd.functional.jacobian(lambda v: post_block(weight, bias, v), h)


# Os casos escritos: (caso, W, b, h) → (jacobiano esperado, {dica: resposta de um erro típico}).
# No primeiro, s = h + W h + b = (2; 3,5; −5) e o ramo W h + b = (0; 2,5; −4): as máscaras da
# soma e do ramo diferem na primeira linha. No segundo, s = (0; 2; −2) tem uma soma nula.
BLOCK_CASES: list[tuple[str, Any, Any, Any, Any, dict[str, Any]]] = [
    ("W, b e h escritos (d = 3)", ((0.5, -1.0, 0.0), (1.0, 0.5, -0.5), (-2.0, 0.0, 1.0)),
     (0.0, -0.5, 1.0), (2.0, 1.0, -1.0),
     ((1.5, -1.0, 0.0), (1.0, 1.5, -0.5), (0.0, 0.0, 0.0)), {
         HINT_NO_IDENTITY: ((0.5, -1.0, 0.0), (1.0, 0.5, -0.5), (0.0, 0.0, 0.0)),
         HINT_BRANCH_MASK: ((0.0, 0.0, 0.0), (1.0, 1.5, -0.5), (0.0, 0.0, 0.0)),
         HINT_NO_POST_MASK: ((1.5, -1.0, 0.0), (1.0, 1.5, -0.5), (-2.0, 0.0, 2.0)),
     }),
    ("W = I, b = 0 e h = (0; 1; −1): s = (0; 2; −2), a primeira soma é exatamente 0",
     ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), (0.0, 0.0, 0.0), (0.0, 1.0, -1.0),
     ((0.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, 0.0, 0.0)), {
         HINT_ZERO_SUM: ((2.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, 0.0, 0.0)),
     }),
]


def expect_block_jacobian(fn: Callable[..., Any], weight: torch.Tensor, bias: torch.Tensor,
                          h: torch.Tensor, case: str,
                          hints: Mapping[str, torch.Tensor] | None = None) -> None:
    """Chama ``fn`` com o autograd proibido e compara com o jacobiano do autograd; sem dicas
    dadas, só a de esquecer a máscara (I + W, que não tem nada da resposta)."""
    expected = autograd_block_jacobian(weight.double(), bias.double(), h.double())
    if hints is None:
        eye = torch.eye(h.shape[0], dtype=torch.float64)
        hints = {HINT_NO_POST_MASK: eye + weight.double()}
    with forbidden(fn, RULES_BLOCK_JACOBIAN):
        got = call(fn, case, weight.clone(), bias.clone(), h.clone())
    d = h.shape[0]
    expect_tensor(got, (d, d), case, type_first=True,
                  expected=f"o jacobiano deve ter forma {(d, d)}")
    expect_close(got, expected, case, tol=1e-5, hints=hints)  # erros de máscara são O(1)


def check_post_block_jacobian(fn: Callable[..., Any]) -> None:
    """Confere ``fn(weight, bias, h)`` = ∂/∂h ReLU(h + W h + b), calculado sem o autograd, contra
    o jacobiano do autograd: dois casos escritos (com as dicas) e dois sorteados."""
    for case, weight, bias, h, expected, hints in BLOCK_CASES:
        expect_close(autograd_block_jacobian(_table(weight), _table(bias), _table(h)),
                     _table(expected), "constante escrita", tol=1e-12)  # sanidade
        expect_block_jacobian(fn, _table(weight), _table(bias), _table(h), case,
                              {text: _table(wrong) for text, wrong in hints.items()})
    gen = torch.Generator().manual_seed(8)
    for d in (4, 6):
        weight, bias, h = (torch.randn(d, d, generator=gen, dtype=torch.float64),
                           torch.randn(d, generator=gen, dtype=torch.float64),
                           torch.randn(d, generator=gen, dtype=torch.float64))
        expect_block_jacobian(fn, weight, bias, h, f"W, b e h sorteados (d = {d})")


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
    matrices = [_table(a) for a in WRITTEN_MATRICES]
    h0 = _table(WRITTEN_INPUT)
    case = "K = 4, d = 2 (matrizes escritas)"
    rows = student_rows(fn, matrices, h0, case)
    expected = _table(WRITTEN_ROWS)
    hints = {text: _table(wrong) for text, wrong in WRITTEN_HINTS.items()}
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
        expect_shares(shares_vector(got, n_blocks, case), _table(expected), case,
                      {text: _table(wrong) for text, wrong in hints.items()})

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
