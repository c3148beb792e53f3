"""Testes ocultos do capítulo 1 (processamento sequencial): as respostas de referência e os casos
extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as
ferramentas vêm das verificações públicas (``residuais.checks.spectral_slope``,
``residuais.checks.relu_jacobians`` e ``residuais.checks.bias_free_gradient``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from residuais.checks.bias_free_gradient import (
    RULES_TWO_GRADIENT_VALUES,
    autograd_slopes,
    bias_free_relu_mlp,
    expect_two_values,
    two_values,
)
from residuais.checks.core import call, expect_close, fail, forbidden
from residuais.checks.relu_jacobians import (
    EXPERIMENT_MARGIN,
    HINT_NO_RELU,
    HINT_SINGLE_LAYERS,
    HINT_WRONG_ORDER,
    RULES_JACOBIAN_NORMS,
    RULES_RELU_LAYER_JACOBIAN,
    autograd_jacobian_norms,
    autograd_layer_jacobian,
    expect_layer_jacobian,
    layer_factor,
    norms_vector,
    random_relu_network,
)
from residuais.checks.spectral_slope import (
    HINT_ALL_FREQUENCIES,
    HINT_AMPLITUDE,
    HINT_DROPPED_NYQUIST,
    HINT_SEMILOG,
    HINT_SWAPPED_AXES,
    student_slope,
)

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def line_slope(x: torch.Tensor, y: torch.Tensor) -> float:
    """A inclinação b da reta de mínimos quadrados y ≈ a + b·x."""
    x_centered = x - x.mean()
    return ((x_centered * (y - y.mean())).sum() / (x_centered * x_centered).sum()).item()


def reference_spectral_slope(g: torch.Tensor) -> float:
    """Inclinação de log P_k contra log k, k = 1 … ⌊N/2⌋, com P_k = |F_k|² do sinal centrado."""
    g = torch.as_tensor(g, dtype=torch.float64).flatten()
    n = g.numel()
    power = torch.fft.rfft(g - g.mean()).abs() ** 2  # (⌊N/2⌋ + 1,)
    k = torch.arange(1, n // 2 + 1, dtype=torch.float64)
    return line_slope(k.log(), power[1 : n // 2 + 1].log())


def reference_relu_layer_jacobian(weight: torch.Tensor, bias: torch.Tensor,
                                  h: torch.Tensor) -> torch.Tensor:
    """diag(1[z > 0]) W, com z = W h + b."""
    active = (weight @ h + bias > 0).to(weight.dtype)
    return active.unsqueeze(1) * weight


def reference_jacobian_norms(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
                             x: torch.Tensor) -> list[float]:
    """[‖J_1‖, ‖J_2 J_1‖, …, ‖J_L ⋯ J_1‖], acumulando o produto camada a camada."""
    h, product, norms = x, None, []
    for weight, bias in zip(weights, biases, strict=True):
        jac = reference_relu_layer_jacobian(weight, bias, h)
        product = jac if product is None else jac @ product
        h = torch.relu(weight @ h + bias)
        norms.append(torch.linalg.matrix_norm(product).item())
    return norms


def reference_two_gradient_values(model: nn.Module) -> tuple[float, float]:
    """Homogeneidade positiva: y(x) = x·y(1) para x > 0 e y(x) = −x·y(−1) para x < 0."""
    param = next(model.parameters())
    x = torch.tensor([[-1.0], [1.0]], dtype=param.dtype)
    with torch.no_grad():
        y = model(x).flatten()
    return -y[0].item(), y[1].item()


# erros típicos, para as dicas dos casos sorteados


def spectral_mistakes(g: torch.Tensor) -> dict[str, float]:
    """A inclinação que cada erro típico dá para o sinal ``g``."""
    g = torch.as_tensor(g, dtype=torch.float64).flatten()
    n = g.numel()
    full = torch.fft.fft(g - g.mean()).abs() ** 2  # (N,)
    k = torch.arange(1, n, dtype=torch.float64)
    half = n // 2
    return {
        HINT_AMPLITUDE: line_slope(k[:half].log(), full[1 : half + 1].sqrt().log()),
        HINT_ALL_FREQUENCIES: line_slope(k.log(), full[1:].log()),
        HINT_SEMILOG: line_slope(k[:half], full[1 : half + 1].log()),
        HINT_SWAPPED_AXES: line_slope(full[1 : half + 1].log(), k[:half].log()),
        HINT_DROPPED_NYQUIST: line_slope(k[: half - 1].log(), full[1:half].log()),
    }


# --------------------------------------------------------------------------------------------
# exercício 1
# --------------------------------------------------------------------------------------------


def _hidden_signals() -> list[tuple[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(2024)
    white = torch.randn(1000, generator=gen, dtype=torch.float64)
    return [
        ("ruído marrom (1.000 pontos)", white.cumsum(0)),
        ("ruído branco (1.000 pontos)", white),
        ("quatro pontos", torch.tensor([1.0, 3.0, -2.0, 0.5], dtype=torch.float64)),
        ("ruído marrom integrado duas vezes (500 pontos)", white[:500].cumsum(0).cumsum(0)),
        ("ruído branco com média 40 (333 pontos)", 40 + white[:333]),
        ("tensor float32 de forma (4, 5, 6)", torch.randn(4, 5, 6, generator=gen)),
    ]


def check_spectral_slope_hidden(fn: Callable[[torch.Tensor], Any]) -> None:
    """Casos extras: sinais longos e curtos (até 4 pontos), comprimento ímpar, média grande,
    ruído integrado duas vezes, float32 e forma 3D."""
    for case, g in _hidden_signals():
        expected = reference_spectral_slope(g)
        hints = {text: value for text, value in spectral_mistakes(g).items()
                 if math.isfinite(value) and abs(value - expected) > 1e-4}
        expect_close(student_slope(fn, g, case), expected, case, tol=1e-4, hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 2
# --------------------------------------------------------------------------------------------


def check_relu_layer_jacobian_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: formas (1, 6), (8, 2), (16, 16), entradas float32 e várias z_i = 0."""
    gen = torch.Generator().manual_seed(77)
    for m, n in [(1, 6), (8, 2), (16, 16)]:
        weight = torch.randn(m, n, generator=gen, dtype=torch.float64)
        bias = torch.randn(m, generator=gen, dtype=torch.float64)
        h = torch.randn(n, generator=gen, dtype=torch.float64)
        case = f"W com forma ({m}, {n})"
        expected = autograd_layer_jacobian(weight, bias, h)
        with forbidden(fn, RULES_RELU_LAYER_JACOBIAN):
            got = call(fn, case, weight.clone(), bias.clone(), h.clone())
        expect_layer_jacobian(got, expected, weight, case, [])

    weight = torch.randn(6, 4, generator=gen)
    bias = torch.tensor([0.0, 1.0, 0.0, -1.0, 0.0, 2.0])
    h = torch.zeros(4)
    case = "float32, h = 0 e três unidades com z_i = 0"
    expected = autograd_layer_jacobian(weight.double(), bias.double(), h.double())
    with forbidden(fn, RULES_RELU_LAYER_JACOBIAN):
        got = call(fn, case, weight.clone(), bias.clone(), h.clone())
    expect_layer_jacobian(got, expected, weight.double(), case, [0, 2, 4])


# --------------------------------------------------------------------------------------------
# exercício 3
# --------------------------------------------------------------------------------------------


def _ocultos_wrong_norms(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
                 x: torch.Tensor) -> dict[str, list[float]]:
    """As normas dos erros típicos: camadas isoladas, ordem trocada e sem a máscara da ReLU."""
    h, jacs = x, []
    for weight, bias in zip(weights, biases, strict=True):
        jacs.append(reference_relu_layer_jacobian(weight, bias, h))
        h = torch.relu(weight @ h + bias)
    hints = {HINT_SINGLE_LAYERS: [torch.linalg.matrix_norm(j).item() for j in jacs]}
    if all(w.shape[0] == w.shape[1] for w in weights):
        product, wrong = None, []
        for jac in jacs:
            product = jac if product is None else product @ jac
            wrong.append(torch.linalg.matrix_norm(product).item())
        hints[HINT_WRONG_ORDER] = wrong
    product, plain = None, []
    for weight in weights:
        product = weight if product is None else weight @ product
        plain.append(torch.linalg.matrix_norm(product).item())
    hints[HINT_NO_RELU] = plain
    return hints


def check_jacobian_norms_hidden(fn: Callable[..., Any]) -> None:
    """Casos extras: uma camada só, larguras variadas, uma camada morta (normas zero depois
    dela), float32; e o experimento com outras sementes, largura 96 e 30 camadas."""
    cases = [
        ("uma camada 4 → 3", random_relu_network((4, 3), 21, bias_std=0.5)),
        ("larguras 3 → 7 → 5 → 9 → 2", random_relu_network((3, 7, 5, 9, 2), 22, bias_std=0.3)),
        ("8 camadas 10 → 10", random_relu_network((10,) * 9, 23, bias_std=0.2)),
    ]
    weights, biases, x = random_relu_network((5, 5, 5, 5), 24)
    biases[1] = torch.full((5,), -100.0, dtype=torch.float64)  # a camada 2 desliga tudo
    cases.append(("camada 2 toda desligada (vieses −100)", (weights, biases, x)))
    weights, biases, x = random_relu_network((6, 6, 6), 25, bias_std=0.5)
    cases.append(("float32", ([w.float() for w in weights], [b.float() for b in biases],
                              x.float())))
    for case, (weights, biases, x) in cases:
        weights64 = [w.double() for w in weights]
        biases64 = [b.double() for b in biases]
        expected = torch.tensor(autograd_jacobian_norms(weights64, biases64, x.double()),
                                dtype=torch.float64)
        with forbidden(fn, RULES_JACOBIAN_NORMS):
            got = call(fn, case, [w.clone() for w in weights], [b.clone() for b in biases],
                       x.clone())
        got = norms_vector(got, len(weights), case)
        tol = 1e-4 if x.dtype == torch.float32 else 1e-5
        hints = {text: torch.tensor(v, dtype=torch.float64)
                 for text, v in _ocultos_wrong_norms(weights64, biases64, x.double()).items()}
        expect_close(got, expected, case, tol=tol * max(1.0, expected.abs().max().item()),
                     hints=hints)

    width, depth = 64, 30
    for scale in (0.85, 1.0, 1.15):
        case = f"experimento com largura {width}, {depth} camadas, He × {scale:g}"
        log_factors = []
        for seed in range(100, 105):
            weights, biases, x = random_relu_network((width,) * (depth + 1), seed, scale)
            with forbidden(fn, RULES_JACOBIAN_NORMS):
                got = call(fn, case, weights, biases, x)
            norms = norms_vector(got, depth, case)
            if not (torch.isfinite(norms).all() and (norms > 0).all()):
                fail(f"No caso “{case}” as normas deviam ser positivas e finitas.")
            log_factors.append(math.log(layer_factor(norms)))
        factor = math.exp(sum(log_factors) / len(log_factors))
        if abs(factor / scale - 1) > EXPERIMENT_MARGIN:
            fail(f"No caso “{case}” o fator por camada medido com a sua função foi "
                 f"{factor:.3f}; o capítulo prevê {scale:g} (margem de 5%).")


# --------------------------------------------------------------------------------------------
# exercício 4
# --------------------------------------------------------------------------------------------


def _ocultos_positive_first_layer(depth: int, width: int, seed: int) -> nn.Sequential:
    """Rede cuja primeira camada só tem pesos positivos: para x < 0 tudo desliga e y = 0."""
    model = bias_free_relu_mlp(depth, width, seed)
    with torch.no_grad():
        model[0].weight.abs_()
    return model


def check_two_gradient_values_hidden(fn: Callable[[nn.Module], Any]) -> None:
    """Casos extras: uma camada, largura 1, 30 camadas, uma rede com derivada 0 para x < 0; os
    valores esperados vêm do autograd em vários pontos de cada lado do zero (os mesmos)."""
    models: list[tuple[str, nn.Module]] = [
        ("uma camada de largura 4", bias_free_relu_mlp(1, 4, 31)),
        ("5 camadas de largura 1", bias_free_relu_mlp(5, 1, 36)),
        ("30 camadas de largura 32", bias_free_relu_mlp(30, 32, 33)),
        ("primeira camada só com pesos positivos", _ocultos_positive_first_layer(4, 8, 34)),
        ("8 camadas de largura 64", bias_free_relu_mlp(8, 64, 35)),
    ]
    for name, model in models:
        case = f"rede sem vieses, {name}"
        slopes = autograd_slopes(model, [-3.0, -1.0, -0.01, 0.01, 0.5, 7.0])
        g_neg, g_pos = slopes[1], slopes[4]
        if not (math.isclose(min(slopes[:3]), max(slopes[:3]), rel_tol=1e-9, abs_tol=1e-12)
                and math.isclose(min(slopes[3:]), max(slopes[3:]), rel_tol=1e-9,
                                 abs_tol=1e-12)):
            raise RuntimeError(f"{case}: a rede não é linear de cada lado do zero")
        with forbidden(fn, RULES_TWO_GRADIENT_VALUES):
            got = call(fn, case, model)
        expect_two_values(two_values(got, case), (g_neg, g_pos), case)
