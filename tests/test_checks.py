"""As verificações dos exercícios aceitam a referência e recusam erros típicos, em português."""

import pytest

from residuais.analysis import lag1_autocorrelation
from residuais.checks import (
    check_lag1_autocorrelation,
    check_relu_layer_jacobian,
    relu_layer_jacobian_reference,
)


def test_reference_lag1_passes():
    check_lag1_autocorrelation(lag1_autocorrelation, thorough=True)


def test_lag1_without_centering_fails_with_hint():
    def wrong(g):
        g = g.flatten().double()
        return (g[:-1] * g[1:]).sum() / (g * g).sum()

    with pytest.raises(AssertionError, match="média não foi subtraída"):
        check_lag1_autocorrelation(wrong, thorough=True)


def test_lag1_returning_a_vector_is_explained():
    with pytest.raises(AssertionError, match="esperava um número"):
        check_lag1_autocorrelation(lambda g: g[:3])


def test_student_exception_names_the_case():
    def broken(g):
        raise ZeroDivisionError("divisão por zero")

    with pytest.raises(AssertionError, match=r"ZeroDivisionError no caso «ruído branco"):
        check_lag1_autocorrelation(broken)


def test_relu_jacobian_reference_and_typical_mistakes():
    def analytic(weight, bias, h):
        z = weight @ h + bias
        return (z > 0).to(weight.dtype).unsqueeze(1) * weight

    check_relu_layer_jacobian(analytic, thorough=True)
    check_relu_layer_jacobian(relu_layer_jacobian_reference, thorough=True)
    with pytest.raises(AssertionError, match="forma"):
        check_relu_layer_jacobian(lambda w, b, h: analytic(w, b, h).T)
    with pytest.raises(AssertionError, match="linhas"):
        check_relu_layer_jacobian(lambda w, b, h: w)  # esqueceu a máscara da ReLU
    with pytest.raises(AssertionError, match=r"torch\.Tensor"):
        check_relu_layer_jacobian(lambda w, b, h: analytic(w, b, h).tolist())


def test_relu_jacobian_accepts_float32_answers():
    def analytic32(weight, bias, h):
        z = weight.float() @ h.float() + bias.float()
        return (z > 0).float().unsqueeze(1) * weight.float()

    check_relu_layer_jacobian(analytic32, thorough=True)
