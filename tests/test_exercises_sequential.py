"""Os exercícios de programação do capítulo 1: as verificações públicas e ocultas aceitam a
referência, recusam os erros típicos com a dica certa, pegam os atalhos proibidos, e as
constantes escritas nas verificações públicas conferem com a referência."""

import math
import re

import pytest
import torch
from conftest import hidden_module
from torch import nn

from residuais.analysis import input_gradient, lag1_autocorrelation, sequential_jacobians
from residuais.checks import ForbiddenCall
from residuais.checks import sequential as public
from residuais.checks.sequential import (
    check_autocorrelation,
    check_jacobian_norms,
    check_relu_layer_jacobian,
    check_two_gradient_values,
)

hidden = hidden_module("sequential")

# --------------------------------------------------------------------------------------------
# exercício 1: autocorrelação com qualquer defasagem
# --------------------------------------------------------------------------------------------


def uncentered(g, lag):
    g = g.flatten().double()
    return ((g[:-lag] * g[lag:]).sum() / (g * g).sum()).item()


def lag_ignored(g, lag):
    return hidden.reference_autocorrelation(g, 1)


def averaged_sums(g, lag):  # numerador dividido por N − lag, denominador por N
    c = g.flatten().double()
    c = c - c.mean()
    return ((c[:-lag] * c[lag:]).mean() / (c * c).mean()).item()


def pearson(g, lag):
    g = g.flatten().double()
    return torch.corrcoef(torch.stack([g[:-lag], g[lag:]]))[0, 1].item()


def short_denominator(g, lag):
    c = g.flatten().double()
    c = c - c.mean()
    return ((c[:-lag] * c[lag:]).sum() / (c[:-lag] ** 2).sum()).item()


AUTOCORRELATION_MISTAKES = {
    public.HINT_UNCENTERED: uncentered,
    public.HINT_LAG_IGNORED: lag_ignored,
    public.HINT_FEWER_TERMS: averaged_sums,
    public.HINT_PEARSON: pearson,
    public.HINT_SHORT_DENOMINATOR: short_denominator,
}


def test_autocorrelation_reference_passes_public_and_hidden():
    check_autocorrelation(hidden.reference_autocorrelation)
    hidden.check_autocorrelation_hidden(hidden.reference_autocorrelation)


def test_autocorrelation_constants_match_the_reference_and_the_mistakes():
    for (_, signal, lag), (expected, hints) in public.AUTOCORRELATION_CASES.items():
        g = signal()
        assert hidden.reference_autocorrelation(g, lag) == pytest.approx(expected, abs=5e-7)
        for text, value in hints.items():
            assert AUTOCORRELATION_MISTAKES[text](g, lag) == pytest.approx(value, abs=5e-7)
    # e a defasagem 1 da referência é a do pacote do curso
    g = public._white()
    assert hidden.reference_autocorrelation(g, 1) == pytest.approx(lag1_autocorrelation(g))


@pytest.mark.parametrize("hint", list(AUTOCORRELATION_MISTAKES), ids=lambda h: h[:30])
def test_autocorrelation_mistakes_fail_with_their_hint(hint):
    wrong = AUTOCORRELATION_MISTAKES[hint]
    for check in (check_autocorrelation, hidden.check_autocorrelation_hidden):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            check(wrong)


def test_autocorrelation_trivial_answers_fail():
    with pytest.raises(AssertionError, match="esperava um número"):
        check_autocorrelation(lambda g, lag: g)
    with pytest.raises(AssertionError, match="devolveu 0"):
        check_autocorrelation(lambda g, lag: 0.0)


def test_autocorrelation_student_exception_names_the_case():
    def broken(g, lag):
        raise ZeroDivisionError("divisão por zero")

    with pytest.raises(AssertionError, match=r"ZeroDivisionError no caso “senoide"):
        check_autocorrelation(broken)


def test_autocorrelation_accepts_float32_arithmetic():
    def in_float32(g, lag):
        c = g.flatten().float()
        c = c - c.mean()
        return ((c[:-lag] * c[lag:]).sum() / (c * c).sum()).item()

    check_autocorrelation(in_float32)
    hidden.check_autocorrelation_hidden(in_float32)


def test_autocorrelation_course_function_is_forbidden():
    def via_course(g, lag):
        return lag1_autocorrelation(g) if lag == 1 else hidden.reference_autocorrelation(g, lag)

    with pytest.raises(ForbiddenCall, match=r"lag1_autocorrelation.*não vale"):
        check_autocorrelation(via_course)
    # o pacote volta ao normal depois
    assert lag1_autocorrelation(torch.tensor([1.0, 2.0, 3.0, 5.0])) == pytest.approx(1.6875 / 8.75)


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

    with pytest.raises(AssertionError, match=re.escape(public.HINT_NO_MASK)):
        check_relu_layer_jacobian(lambda w, b, h: w)
    with pytest.raises(AssertionError, match=re.escape(public.HINT_ZERO_PREACTIVATION)):
        check_relu_layer_jacobian(greater_or_equal)
    with pytest.raises(AssertionError, match=re.escape(public.HINT_ZERO_PREACTIVATION)):
        hidden.check_relu_layer_jacobian_hidden(greater_or_equal)
    with pytest.raises(AssertionError, match=r"linhas \[.*\].*" + re.escape(public.HINT_ROWS)):
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
    weights, biases, x = public.random_relu_network((6,) * 5, 11, bias_std=0.5)
    wrong = hidden._ocultos_wrong_norms(weights, biases, x)
    assert set(wrong) == set(public.NORMS_HINTS)
    for text, values in public.NORMS_HINTS.items():
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


@pytest.mark.parametrize("answer, hint", [(single_layers, public.HINT_SINGLE_LAYERS),
                                          (wrong_order, public.HINT_WRONG_ORDER),
                                          (no_relu, public.HINT_NO_RELU)],
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
    widths = (public.EXPERIMENT_WIDTH,) * (public.EXPERIMENT_DEPTH + 1)
    deviations = []
    for group in range(20):
        logs = []
        for seed in range(1000 + 5 * group, 1005 + 5 * group):
            weights, biases, x = public.random_relu_network(widths, seed)
            norms = torch.tensor(hidden.reference_jacobian_norms(weights, biases, x))
            logs.append(math.log(public.layer_factor(norms)))
        deviations.append(abs(math.exp(sum(logs) / len(logs)) - 1))
    assert max(deviations) < public.EXPERIMENT_MARGIN / 1.3


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


@pytest.mark.parametrize("answer, hint", [(forgot_sign, public.HINT_SIGN),
                                          (across_zero, public.HINT_ACROSS_ZERO),
                                          (swapped, public.HINT_SWAPPED)],
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
    model = public.bias_free_relu_mlp(12, 16, 1)
    slopes = public.autograd_slopes(model, [-5.0, -1.0, -0.1, 0.1, 1.0, 5.0])
    assert slopes[:3] == pytest.approx([slopes[0]] * 3)
    assert slopes[3:] == pytest.approx([slopes[3]] * 3)
    assert abs(slopes[0] - slopes[3]) > 0.1
