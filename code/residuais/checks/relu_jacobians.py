"""Verificações públicas dos exercícios de programação 2 e 3 do capítulo 1: o jacobiano de uma
camada ReLU e a norma do jacobiano camada a camada (com o fator por camada).

Os valores esperados vêm do autograd do PyTorch, calculado fora do bloco em que os atalhos
ficam proibidos, ou são constantes escritas (as dos erros típicos, que viram dicas); o
experimento confere a previsão do capítulo com margem medida. Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from residuais.checks.autograd_rules import RULES_AUTOGRAD
from residuais.checks.core import Rule, as_float, call, expect_close, expect_tensor, fail, forbidden

REASON_JACOBIANS = "ela calcula os jacobianos das camadas com o autograd."
RULES_RELU_LAYER_JACOBIAN = (
    *RULES_AUTOGRAD,
    Rule("residuais.analysis.sequential_jacobians", REASON_JACOBIANS),
)
RULES_JACOBIAN_NORMS = RULES_RELU_LAYER_JACOBIAN


def norms_vector(values: Any, length: int, case: str) -> torch.Tensor:
    """``values`` (lista, tupla ou tensor de ``length`` normas) como tensor float64."""
    what = f"uma norma por camada ({length} camadas)"
    if isinstance(values, torch.Tensor):
        if values.dim() != 1 or values.numel() != length:
            fail(f"No caso “{case}” esperava {what}: {length} números numa lista (ou tensor de "
                 f"forma ({length},)); recebeu um tensor de forma {tuple(values.shape)}.")
        return values.detach().to(torch.float64).cpu()
    if not isinstance(values, list | tuple):
        fail(f"No caso “{case}” esperava {what}: uma lista de {length} números; recebeu "
             f"{type(values).__name__}.")
    if len(values) != length:
        fail(f"No caso “{case}” esperava {what}: {length} números; recebeu {len(values)}.")
    return torch.tensor([as_float(v, case) for v in values], dtype=torch.float64)


# --------------------------------------------------------------------------------------------
# exercício 2: o jacobiano de uma camada ReLU
# --------------------------------------------------------------------------------------------

HINT_NO_MASK = ("você devolveu W inteira: as linhas das unidades com z_i ≤ 0 (ReLU desligada) "
                "devem ser zero.")
HINT_ZERO_PREACTIVATION = ("na unidade com z_i = 0 exatamente, a derivada da ReLU vale 0 (como "
                           "no autograd): use z > 0, não z ≥ 0.")
HINT_ROWS = ("lembre-se de que a linha i é zero quando a pré-ativação z_i = (W h + b)_i é "
             "negativa ou nula, e igual à linha i de W quando z_i > 0.")


def _layer_cases() -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, list[int]]]:
    """(caso, W, b, h, linhas com z_i = 0): dois casos sorteados e um com z = b exatamente."""
    gen = torch.Generator().manual_seed(7)
    cases = []
    for m, n in [(3, 4), (5, 5)]:
        weight = torch.randn(m, n, generator=gen, dtype=torch.float64)
        bias = torch.randn(m, generator=gen, dtype=torch.float64)
        h = torch.randn(n, generator=gen, dtype=torch.float64)
        cases.append((f"W com forma ({m}, {n})", weight, bias, h, []))
    weight = torch.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 1.0]], dtype=torch.float64)
    bias = torch.tensor([0.5, 0.0, -0.5], dtype=torch.float64)
    cases.append(("h = 0 e b = (0,5; 0; −0,5): z = b, e a linha 1 tem z = 0", weight, bias,
                  torch.zeros(2, dtype=torch.float64), [1]))
    return cases


def autograd_layer_jacobian(weight: torch.Tensor, bias: torch.Tensor,
                            h: torch.Tensor) -> torch.Tensor:
    """O jacobiano de h ↦ ReLU(W h + b) pelo autograd do PyTorch; forma (m, n)."""
    return torch.autograd.functional.jacobian(lambda v: torch.relu(weight @ v + bias), h)


def expect_layer_jacobian(got: Any, expected: torch.Tensor, weight: torch.Tensor, case: str,
                           zero_rows: Sequence[int]) -> None:
    m, n = expected.shape
    expect_tensor(got, (m, n), case, type_first=True,
                  expected=f"o jacobiano deve ter forma {(m, n)} — saídas × entradas —")
    got64 = got.detach().to(torch.float64)
    if not torch.isfinite(got64).all():
        fail(f"No caso “{case}” sua resposta tem valores infinitos ou NaN.")
    if torch.allclose(got64, expected, atol=1e-5):
        return
    if torch.allclose(got64, weight, atol=1e-5):
        fail(f"No caso “{case}” o jacobiano está errado. Dica: {HINT_NO_MASK}")
    rows = (got64 - expected).abs().sum(dim=1).nonzero().flatten().tolist()
    hint = HINT_ZERO_PREACTIVATION if zero_rows and rows == list(zero_rows) else HINT_ROWS
    fail(f"No caso “{case}” o jacobiano está errado nas linhas {rows} (contando de 0). "
         f"Dica: {hint}")


def check_relu_layer_jacobian(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any],
) -> None:
    """Confere o jacobiano analítico de uma camada linear + ReLU contra o do autograd."""
    for case, weight, bias, h, zero_rows in _layer_cases():
        expected = autograd_layer_jacobian(weight, bias, h)
        with forbidden(fn, RULES_RELU_LAYER_JACOBIAN):
            got = call(fn, case, weight.clone(), bias.clone(), h.clone())
        expect_layer_jacobian(got, expected, weight, case, zero_rows)


# --------------------------------------------------------------------------------------------
# exercício 3: a norma do jacobiano camada a camada (e o fator por camada)
# --------------------------------------------------------------------------------------------

HINT_SINGLE_LAYERS = ("esses são os ‖J_k‖ de cada camada sozinha; o pedido é a norma do produto "
                      "J_k ⋯ J_2 J_1, o jacobiano da entrada até a camada k.")
HINT_WRONG_ORDER = ("o produto está na ordem errada: o jacobiano até a camada k é "
                    "J_k ⋯ J_2 J_1 (o da última camada à esquerda).")
HINT_NO_RELU = ("esses são os ‖W_k ⋯ W_1‖: faltou zerar, em cada J_k, as linhas das unidades "
                "desligadas pela ReLU.")

# O caso escrito: 4 camadas 6 → 6 sorteadas (semente 11) e as normas dos erros típicos.
NORMS_HINTS: dict[str, tuple[float, ...]] = {
    HINT_SINGLE_LAYERS: (2.106064, 2.169752, 3.242987, 2.056679),
    HINT_WRONG_ORDER: (2.106064, 1.706440, 2.190687, 1.077376),
    HINT_NO_RELU: (2.824441, 4.530955, 7.745405, 9.221170),
}

# O experimento do capítulo com a sua função: largura 64, 20 camadas, pesos He × s, vieses
# zero, 5 redes (sementes 0 a 4) e uma entrada sorteada por rede. O fator por camada de cada
# rede é (‖J_20 ⋯ J_1‖ / ‖J_1‖)^(1/19); a média geométrica das 5 redes deve estar a 5% de s.
# Margem medida com a resposta de referência em 2.000 redes (400 grupos de 5): o fator médio
# fica em 0,991·s, com desvio-padrão 0,9% e pior grupo a 3,4% de s; a margem de 5% separa bem
# s = 0,85, 1 e 1,15 (e não aceita s·√2, o fator sem a máscara da ReLU).
EXPERIMENT_WIDTH = 64
EXPERIMENT_DEPTH = 20
EXPERIMENT_SCALES = (0.85, 1.0, 1.15)
EXPERIMENT_SEEDS = range(5)
EXPERIMENT_MARGIN = 0.05


def random_relu_network(widths: Sequence[int], seed: int, scale: float = 1.0,
                        bias_std: float = 0.0
                        ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """Pesos W_k ~ N(0, scale² · 2/n_{k−1}), vieses N(0, bias_std²) e uma entrada x ~ N(0, I),
    em float64, para as larguras ``widths`` = (n_0, n_1, …, n_L)."""
    gen = torch.Generator().manual_seed(seed)
    weights, biases = [], []
    for n_in, n_out in itertools.pairwise(widths):
        weights.append(scale * math.sqrt(2 / n_in)
                       * torch.randn(n_out, n_in, generator=gen, dtype=torch.float64))
        biases.append(bias_std * torch.randn(n_out, generator=gen, dtype=torch.float64))
    x = torch.randn(widths[0], generator=gen, dtype=torch.float64)
    return weights, biases, x


def autograd_jacobian_norms(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
                            x: torch.Tensor) -> list[float]:
    """‖∂h_k/∂x‖ (Frobenius), k = 1..L, pelo autograd do PyTorch, com
    h_k = ReLU(W_k h_{k−1} + b_k)."""

    def forward(v: torch.Tensor, depth: int) -> torch.Tensor:
        for weight, bias in zip(weights[:depth], biases[:depth], strict=True):
            v = torch.relu(weight @ v + bias)
        return v

    return [torch.linalg.matrix_norm(
        torch.autograd.functional.jacobian(lambda v, k=k: forward(v, k), x)).item()
        for k in range(1, len(weights) + 1)]


def _norms_cases() -> list[tuple[str, tuple[list[torch.Tensor], list[torch.Tensor],
                                             torch.Tensor], dict[str, tuple[float, ...]]]]:
    return [
        ("4 camadas 6 → 6 com vieses", random_relu_network((6,) * 5, 11, bias_std=0.5),
         NORMS_HINTS),
        ("larguras 3 → 5 → 4 → 2", random_relu_network((3, 5, 4, 2), 12, bias_std=0.5), {}),
    ]


def layer_factor(norms: torch.Tensor) -> float:
    """O fator por camada de uma rede: (‖J_L ⋯ J_1‖ / ‖J_1‖)^(1/(L − 1))."""
    return (norms[-1] / norms[0]).item() ** (1 / (len(norms) - 1))


def check_jacobian_norms(fn: Callable[..., Any]) -> None:
    """Confere ``fn(weights, biases, x)`` = [‖J_1‖, ‖J_2 J_1‖, …, ‖J_L ⋯ J_1‖] contra o autograd
    em dois casos; depois roda com ela o experimento do capítulo (largura 64, 20 camadas, He × s)
    e confere que o fator por camada medido é s, a 5%, para s = 0,85, 1 e 1,15."""
    for case, (weights, biases, x), hints in _norms_cases():
        expected = torch.tensor(autograd_jacobian_norms(weights, biases, x), dtype=torch.float64)
        with forbidden(fn, RULES_JACOBIAN_NORMS):
            got = call(fn, case, [w.clone() for w in weights], [b.clone() for b in biases],
                       x.clone())
        got = norms_vector(got, len(weights), case)
        expect_close(got, expected, case, tol=1e-5,
                     hints={text: torch.tensor(v, dtype=torch.float64)
                            for text, v in hints.items()})

    widths = (EXPERIMENT_WIDTH,) * (EXPERIMENT_DEPTH + 1)
    for scale in EXPERIMENT_SCALES:
        case = f"experimento com largura 64, 20 camadas, He × {scale:g}"
        log_factors = []
        for seed in EXPERIMENT_SEEDS:
            weights, biases, x = random_relu_network(widths, seed, scale)
            with forbidden(fn, RULES_JACOBIAN_NORMS):
                got = call(fn, case, weights, biases, x)
            norms = norms_vector(got, EXPERIMENT_DEPTH, case)
            if not (torch.isfinite(norms).all() and (norms > 0).all()):
                fail(f"No caso “{case}” (semente {seed}) as normas deviam ser positivas e "
                     f"finitas; recebeu {norms.tolist()}.")
            log_factors.append(math.log(layer_factor(norms)))
        factor = math.exp(sum(log_factors) / len(log_factors))
        if abs(factor / scale - 1) > EXPERIMENT_MARGIN:
            fail(f"No caso “{case}” o fator por camada medido com a sua função, "
                 f"(‖J_20 ⋯ J_1‖ / ‖J_1‖)^(1/19) na média de 5 redes, foi {factor:.3f}; o "
                 f"capítulo prevê {scale:g} (margem de 5%).")
