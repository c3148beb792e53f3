"""Os exercícios de programação do capítulo 1: as verificações públicas e ocultas aceitam a
referência, recusam os erros típicos com a dica certa, pegam os atalhos proibidos, e as
constantes escritas nas verificações públicas conferem com a referência."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import hidden_module
from torch import nn

from residuais.analysis import input_gradient, sequential_jacobians
from residuais.checks import ForbiddenCall
from residuais.checks import bias_free_gradient as two_slopes
from residuais.checks import relu_jacobians as jacobians
from residuais.checks import spectral_slope as spectral
from residuais.checks.sequential import (
    check_jacobian_norms,
    check_relu_layer_jacobian,
    check_spectral_slope,
    check_two_gradient_values,
)

hidden = hidden_module("sequential")

# --------------------------------------------------------------------------------------------
# exercício 1: a inclinação do espectro de potência
# --------------------------------------------------------------------------------------------


def _fit(x, y):  # inclinação de mínimos quadrados, escrita de novo aqui (numpy)
    return float(np.polyfit(np.asarray(x), np.asarray(y), 1)[0])


def _spectrum(g):
    g = np.asarray(torch.as_tensor(g, dtype=torch.float64).flatten())
    return np.abs(np.fft.fft(g - g.mean())) ** 2, g.size


def amplitude(g):
    power, n = _spectrum(g)
    k = np.arange(1, n // 2 + 1)
    return _fit(np.log(k), np.log(np.sqrt(power[k])))


def all_frequencies(g):
    power, n = _spectrum(g)
    k = np.arange(1, n)
    return _fit(np.log(k), np.log(power[k]))


def semilog(g):
    power, n = _spectrum(g)
    k = np.arange(1, n // 2 + 1)
    return _fit(k, np.log(power[k]))


def swapped_axes(g):
    power, n = _spectrum(g)
    k = np.arange(1, n // 2 + 1)
    return _fit(np.log(power[k]), np.log(k))


def dropped_nyquist(g):
    power, n = _spectrum(g)
    k = np.arange(1, n // 2)
    return _fit(np.log(k), np.log(power[k]))


def with_zero_frequency(g):  # log 0 = −inf entra no ajuste, que sai nan
    g = g.flatten().double()
    n = g.numel()
    y = (torch.fft.rfft(g - g.mean()).abs() ** 2).log()
    x = torch.arange(0, n // 2 + 1, dtype=torch.float64).log()
    x = x - x.mean()
    return ((x * (y - y.mean())).sum() / (x * x).sum()).item()


def numpy_answer(g):  # outra resposta certa: numpy, frequências em ciclos por amostra
    power, n = _spectrum(g)
    k = np.arange(1, n // 2 + 1)
    return _fit(np.log(k / n), np.log(power[k] / n))


SLOPE_MISTAKES = {
    spectral.HINT_AMPLITUDE: amplitude,
    spectral.HINT_ALL_FREQUENCIES: all_frequencies,
    spectral.HINT_SEMILOG: semilog,
    spectral.HINT_SWAPPED_AXES: swapped_axes,
    spectral.HINT_DROPPED_NYQUIST: dropped_nyquist,
}


def test_spectral_slope_reference_passes_public_and_hidden():
    check_spectral_slope(hidden.reference_spectral_slope)
    hidden.check_spectral_slope_hidden(hidden.reference_spectral_slope)


def test_spectral_slope_another_correct_answer_passes():
    check_spectral_slope(numpy_answer)
    hidden.check_spectral_slope_hidden(numpy_answer)


def test_spectral_slope_constants_match_an_independent_answer_and_the_mistakes():
    for (_, signal), (expected, hints) in spectral.SLOPE_CASES.items():
        g = signal()
        assert numpy_answer(g) == pytest.approx(expected, abs=5e-7)
        assert hidden.reference_spectral_slope(g) == pytest.approx(expected, abs=5e-7)
        for text, value in hints.items():
            assert SLOPE_MISTAKES[text](g) == pytest.approx(value, abs=5e-7)


@pytest.mark.parametrize("hint", list(SLOPE_MISTAKES), ids=lambda h: h[:30])
def test_spectral_slope_mistakes_fail_with_their_hint(hint):
    wrong = SLOPE_MISTAKES[hint]
    for check in (check_spectral_slope, hidden.check_spectral_slope_hidden):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            check(wrong)


def test_spectral_slope_zero_frequency_gets_its_hint():
    for check in (check_spectral_slope, hidden.check_spectral_slope_hidden):
        with pytest.raises(AssertionError, match=re.escape(spectral.HINT_ZERO_FREQUENCY)):
            check(with_zero_frequency)


def test_spectral_slope_trivial_answers_fail():
    with pytest.raises(AssertionError, match="esperava um número"):
        check_spectral_slope(lambda g: g)
    with pytest.raises(AssertionError, match="devolveu 0"):
        check_spectral_slope(lambda g: 0.0)
    with pytest.raises(AssertionError, match="devolveu -2"):  # o marrom "de livro", sempre
        check_spectral_slope(lambda g: -2.0)


def test_spectral_slope_student_exception_names_the_case():
    def broken(g):
        raise ZeroDivisionError("divisão por zero")

    with pytest.raises(AssertionError, match=r"ZeroDivisionError no caso “ruído marrom"):
        check_spectral_slope(broken)


def test_spectral_slope_accepts_float32_arithmetic():
    def in_float32(g):
        g = g.flatten().float()
        n = g.numel()
        power = torch.fft.rfft(g - g.mean()).abs() ** 2
        x = torch.arange(1, n // 2 + 1).float().log()
        y = power[1 : n // 2 + 1].log()
        x = x - x.mean()
        return ((x * (y - y.mean())).sum() / (x * x).sum()).item()

    check_spectral_slope(in_float32)
    hidden.check_spectral_slope_hidden(in_float32)


def test_spectral_slope_noise_ranges_hold_with_margin():
    """As faixas do branco e do marrom contêm, com folga, 20 sinais de cada (sementes 0 a 19)."""
    white = [hidden.reference_spectral_slope(spectral.white_noise(256, s)) for s in range(20)]
    brown = [hidden.reference_spectral_slope(spectral.white_noise(256, s).cumsum(0))
             for s in range(20)]
    assert spectral.WHITE_RANGE[0] + 0.1 < min(white) and max(white) < spectral.WHITE_RANGE[1] - 0.1
    assert spectral.BROWN_RANGE[0] + 0.2 < min(brown) and max(brown) < spectral.BROWN_RANGE[1] - 0.1
    assert (round(min(white), 2), round(max(white), 2)) == (-0.28, 0.12)  # o comentário
    assert (round(min(brown), 2), round(max(brown), 2)) == (-1.91, -1.51)


# --------------------------------------------------------------------------------------------
# exercício 2: o jacobiano de uma camada ReLU
# --------------------------------------------------------------------------------------------


def test_relu_jacobian_reference_passes_public_and_hidden():
    check_relu_layer_jacobian(hidden.reference_relu_layer_jacobian)
    hidden.check_relu_layer_jacobian_hidden(hidden.reference_relu_layer_jacobian)


def test_relu_jacobian_accepts_float32_answers():
    def analytic32(weight, bias, h):
        z = weight.float() @ h.float() + bias.float()
        return (z > 0).float().unsqueeze(1) * weight.float()

    check_relu_layer_jacobian(analytic32)
    hidden.check_relu_layer_jacobian_hidden(analytic32)


def test_relu_jacobian_typical_mistakes():
    def greater_or_equal(weight, bias, h):
        return (weight @ h + bias >= 0).to(weight.dtype).unsqueeze(1) * weight

    def mask_without_bias(weight, bias, h):
        return (weight @ h > 0).to(weight.dtype).unsqueeze(1) * weight

    with pytest.raises(AssertionError, match=re.escape(jacobians.HINT_NO_MASK)):
        check_relu_layer_jacobian(lambda w, b, h: w)
    with pytest.raises(AssertionError, match=re.escape(jacobians.HINT_ZERO_PREACTIVATION)):
        check_relu_layer_jacobian(greater_or_equal)
    with pytest.raises(AssertionError, match=re.escape(jacobians.HINT_ZERO_PREACTIVATION)):
        hidden.check_relu_layer_jacobian_hidden(greater_or_equal)
    with pytest.raises(AssertionError, match=r"linhas \[.*\].*" + re.escape(jacobians.HINT_ROWS)):
        check_relu_layer_jacobian(mask_without_bias)
    with pytest.raises(AssertionError, match="forma"):
        check_relu_layer_jacobian(
            lambda w, b, h: hidden.reference_relu_layer_jacobian(w, b, h).T)
    with pytest.raises(AssertionError, match=r"torch\.Tensor"):
        check_relu_layer_jacobian(
            lambda w, b, h: hidden.reference_relu_layer_jacobian(w, b, h).tolist())
    with pytest.raises(AssertionError):
        check_relu_layer_jacobian(lambda w, b, h: torch.zeros_like(w))


def test_relu_jacobian_autograd_and_course_function_are_forbidden():
    def via_autograd(weight, bias, h):
        return torch.autograd.functional.jacobian(lambda v: torch.relu(weight @ v + bias), h)

    def via_backward(weight, bias, h):
        rows = []
        for i in range(weight.shape[0]):
            v = h.clone().requires_grad_(True)
            torch.relu(weight @ v + bias)[i].backward()
            rows.append(v.grad)
        return torch.stack(rows)

    def via_course(weight, bias, h):
        layer = nn.Sequential(nn.Linear(weight.shape[1], weight.shape[0]).double(), nn.ReLU())
        with torch.no_grad():
            layer[0].weight.copy_(weight)
            layer[0].bias.copy_(bias)
        return sequential_jacobians([layer], h)[0]

    for answer, name in [(via_autograd, "jacobian"), (via_backward, "backward"),
                         (via_course, "sequential_jacobians")]:
        with pytest.raises(ForbiddenCall, match=rf"`{name}`.*não vale"):
            check_relu_layer_jacobian(answer)
    x = torch.ones(2, requires_grad=True)
    (x**2).sum().backward()  # o autograd volta ao normal
    assert torch.equal(x.grad, 2 * torch.ones(2))


# --------------------------------------------------------------------------------------------
# exercício 3: a norma do jacobiano camada a camada
# --------------------------------------------------------------------------------------------


def test_jacobian_norms_reference_passes_public_and_hidden():
    check_jacobian_norms(hidden.reference_jacobian_norms)
    hidden.check_jacobian_norms_hidden(hidden.reference_jacobian_norms)


def test_jacobian_norms_hint_constants_match_the_mistakes():
    weights, biases, x = jacobians.random_relu_network((6,) * 5, 11, bias_std=0.5)
    wrong = hidden._ocultos_wrong_norms(weights, biases, x)
    assert set(wrong) == set(jacobians.NORMS_HINTS)
    for text, values in jacobians.NORMS_HINTS.items():
        assert wrong[text] == pytest.approx(values, abs=5e-7)


def _layer_jacobians(weights, biases, x):
    h, jacs = x, []
    for weight, bias in zip(weights, biases, strict=True):
        jacs.append(hidden.reference_relu_layer_jacobian(weight, bias, h))
        h = torch.relu(weight @ h + bias)
    return jacs


def single_layers(weights, biases, x):
    return [torch.linalg.matrix_norm(j).item() for j in _layer_jacobians(weights, biases, x)]


def wrong_order(weights, biases, x):
    product, norms = None, []
    for jac in _layer_jacobians(weights, biases, x):
        product = jac if product is None else product @ jac
        norms.append(torch.linalg.matrix_norm(product).item())
    return norms


def no_relu(weights, biases, x):
    product, norms = None, []
    for weight in weights:
        product = weight if product is None else weight @ product
        norms.append(torch.linalg.matrix_norm(product).item())
    return norms


@pytest.mark.parametrize("answer, hint", [(single_layers, jacobians.HINT_SINGLE_LAYERS),
                                          (wrong_order, jacobians.HINT_WRONG_ORDER),
                                          (no_relu, jacobians.HINT_NO_RELU)],
                         ids=["camadas isoladas", "ordem trocada", "sem ReLU"])
def test_jacobian_norms_mistakes_fail_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
        check_jacobian_norms(answer)


def test_jacobian_norms_experiment_catches_what_small_cases_miss():
    """Uma resposta certa nas redes pequenas, mas que, com muitas camadas, devolve as normas de
    cada camada isolada: só o experimento a recusa (o fator por camada fica perto de 1)."""

    def right_only_when_shallow(weights, biases, x):
        if len(weights) <= 4:
            return hidden.reference_jacobian_norms(weights, biases, x)
        return single_layers(weights, biases, x)

    with pytest.raises(AssertionError, match=r"experimento.*He × 0\.85.*fator por camada"):
        check_jacobian_norms(right_only_when_shallow)


def test_jacobian_norms_trivial_and_malformed_answers_fail():
    with pytest.raises(AssertionError):
        check_jacobian_norms(lambda w, b, x: [0.0] * len(w))
    with pytest.raises(AssertionError, match="uma norma por camada"):
        check_jacobian_norms(lambda w, b, x: hidden.reference_jacobian_norms(w, b, x)[:-1])
    with pytest.raises(AssertionError, match="recebeu float"):
        check_jacobian_norms(lambda w, b, x: 1.0)
    # um tensor de normas também vale
    check_jacobian_norms(lambda w, b, x: torch.tensor(hidden.reference_jacobian_norms(w, b, x)))


def test_jacobian_norms_autograd_is_forbidden():
    def via_autograd(weights, biases, x):
        def forward(v, depth):
            for weight, bias in zip(weights[:depth], biases[:depth], strict=True):
                v = torch.relu(weight @ v + bias)
            return v

        return [torch.linalg.matrix_norm(torch.func.jacrev(lambda v, k=k: forward(v, k))(x)).item()
                for k in range(1, len(weights) + 1)]

    with pytest.raises(ForbiddenCall, match=r"`jacrev`.*não vale"):
        check_jacobian_norms(via_autograd)


def test_jacobian_norms_experiment_margin_is_wider_than_the_spread():
    """A margem de 5% do experimento cobre, com folga, 20 grupos de 5 redes com outras sementes
    (o comentário da verificação relata 400 grupos)."""
    widths = (jacobians.EXPERIMENT_WIDTH,) * (jacobians.EXPERIMENT_DEPTH + 1)
    deviations = []
    for group in range(20):
        logs = []
        for seed in range(1000 + 5 * group, 1005 + 5 * group):
            weights, biases, x = jacobians.random_relu_network(widths, seed)
            norms = torch.tensor(hidden.reference_jacobian_norms(weights, biases, x))
            logs.append(math.log(jacobians.layer_factor(norms)))
        deviations.append(abs(math.exp(sum(logs) / len(logs)) - 1))
    assert max(deviations) < jacobians.EXPERIMENT_MARGIN / 1.3


# --------------------------------------------------------------------------------------------
# exercício 4: os dois valores do gradiente
# --------------------------------------------------------------------------------------------


def test_two_gradient_values_reference_passes_public_and_hidden():
    check_two_gradient_values(hidden.reference_two_gradient_values)
    hidden.check_two_gradient_values_hidden(hidden.reference_two_gradient_values)


def _forward(model, points):
    with torch.no_grad():
        return model(torch.tensor(points, dtype=torch.float64).unsqueeze(1)).flatten().tolist()


def forgot_sign(model):
    y_neg, y_pos = _forward(model, [-1.0, 1.0])
    return y_neg, y_pos


def across_zero(model):
    step = 1e-3
    y_minus, y_plus = _forward(model, [-step, step])
    slope = (y_plus - y_minus) / (2 * step)
    return slope, slope


def swapped(model):
    g_neg, g_pos = hidden.reference_two_gradient_values(model)
    return g_pos, g_neg


@pytest.mark.parametrize("answer, hint", [(forgot_sign, two_slopes.HINT_SIGN),
                                          (across_zero, two_slopes.HINT_ACROSS_ZERO),
                                          (swapped, two_slopes.HINT_SWAPPED)],
                         ids=["sinal", "atravessa o zero", "trocados"])
def test_two_gradient_values_mistakes_fail_with_their_hint(answer, hint):
    for check in (check_two_gradient_values, hidden.check_two_gradient_values_hidden):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            check(answer)


def test_two_gradient_values_one_sided_differences_are_accepted():
    """Uma diferença finita de um lado só do zero é exata (a rede é uma reta de cada lado)."""

    def one_sided(model):
        y = _forward(model, [-2.0, -1.0, 1.0, 2.0])
        return y[1] - y[0], y[3] - y[2]

    check_two_gradient_values(one_sided)
    hidden.check_two_gradient_values_hidden(one_sided)


def test_two_gradient_values_trivial_answers_fail():
    with pytest.raises(AssertionError):
        check_two_gradient_values(lambda model: (0.0, 0.0))
    with pytest.raises(AssertionError, match=r"par \(g_neg, g_pos\)"):
        check_two_gradient_values(lambda model: model)


def test_two_gradient_values_autograd_and_course_function_are_forbidden():
    def via_grad(model):
        x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(model(x).sum(), x)
        return tuple(grad.flatten().tolist())

    def via_backward(model):
        x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64, requires_grad=True)
        model(x).sum().backward()
        return tuple(x.grad.flatten().tolist())

    def via_course(model):
        grad = input_gradient(model, torch.tensor([[-1.0], [1.0]], dtype=torch.float64))
        return tuple(grad.flatten().tolist())

    for answer, name in [(via_grad, "grad"), (via_backward, "backward"),
                         (via_course, "input_gradient")]:
        with pytest.raises(ForbiddenCall, match=rf"`{name}`.*não vale"):
            check_two_gradient_values(answer)


def test_bias_free_networks_have_two_slopes():
    """O que o exercício supõe: a rede das verificações é uma reta de cada lado do zero."""
    model = two_slopes.bias_free_relu_mlp(12, 16, 1)
    slopes = two_slopes.autograd_slopes(model, [-5.0, -1.0, -0.1, 0.1, 1.0, 5.0])
    assert slopes[:3] == pytest.approx([slopes[0]] * 3)
    assert slopes[3:] == pytest.approx([slopes[3]] * 3)
    assert abs(slopes[0] - slopes[3]) > 0.1
