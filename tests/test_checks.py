"""As verificações dos exercícios aceitam a referência e recusam erros típicos, em português."""

import pytest
import torch

from residuais.analysis import lag1_autocorrelation
from residuais.checks.architectures import check_bottleneck_params, check_crop_and_concat
from residuais.checks.batchnorm import check_batch_norm_train, check_running_stats_update
from residuais.checks.residual import check_path_counts, check_preactivation_block
from residuais.checks.sequential import (
    check_lag1_autocorrelation,
    check_relu_layer_jacobian,
    relu_layer_jacobian_reference,
)
from residuais.checks.transformer import check_attention, check_pre_ln_block
from residuais.checks.variance import check_scaled_residual, check_variance_after_blocks


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

    with pytest.raises(AssertionError, match=r"ZeroDivisionError no caso “ruído branco"):
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


def test_path_counts_reference_and_typical_mistake():
    def right(n_blocks):
        return 2**n_blocks, [2 ** (n_blocks - 1)] * n_blocks

    check_path_counts(right, thorough=True)
    with pytest.raises(AssertionError, match="2\\^\\(K−k\\)"):
        check_path_counts(lambda n: (2**n, [2 ** (n - k) for k in range(1, n + 1)]))
    with pytest.raises(AssertionError, match="total de caminhos é 2;"):
        check_path_counts(lambda n: (2 ** (n - 1), [2 ** (n - 1)] * n))
    with pytest.raises(AssertionError, match="esperava um par"):
        check_path_counts(lambda n: 2**n)


def test_preactivation_block_reference_and_typical_mistakes():
    check_preactivation_block(lambda h, norm, lin: h + lin(torch.relu(norm(h))), thorough=True)
    with pytest.raises(AssertionError, match="Faltou somar"):
        check_preactivation_block(lambda h, norm, lin: lin(torch.relu(norm(h))))
    with pytest.raises(AssertionError, match="ordem do ramo"):
        check_preactivation_block(lambda h, norm, lin: h + torch.relu(lin(norm(h))))
    with pytest.raises(AssertionError, match="forma"):
        check_preactivation_block(lambda h, norm, lin: (h + lin(torch.relu(norm(h))))[:, :2])


def test_variance_after_blocks_reference_and_mistakes():
    check_variance_after_blocks(lambda k, v, a: v * (1 + a**2) ** k, thorough=True)
    with pytest.raises(AssertionError, match="α², não a α"):
        check_variance_after_blocks(lambda k, v, a: v * (1 + a) ** k)
    with pytest.raises(AssertionError, match="crescimento linear"):
        check_variance_after_blocks(lambda k, v, a: v * (1 + k * a**2))


def test_scaled_residual_reference_and_mistakes():
    def right(h, branch, alpha):
        return (h + alpha * branch(h)) / (1 + alpha**2) ** 0.5

    check_scaled_residual(right, thorough=True)
    with pytest.raises(AssertionError, match="Faltou dividir"):
        check_scaled_residual(lambda h, f, a: h + a * f(h))
    with pytest.raises(AssertionError, match="depende de α"):
        check_scaled_residual(lambda h, f, a: (h + a * f(h)) / 2**0.5)
    with pytest.raises(AssertionError, match="forma"):
        check_scaled_residual(lambda h, f, a: right(h, f, a)[:3])


def test_batch_norm_train_reference_and_mistakes():
    def right(x, gamma, beta, eps):
        return gamma * (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps) + beta

    check_batch_norm_train(right, thorough=True)
    with pytest.raises(AssertionError, match="não viesada"):
        check_batch_norm_train(
            lambda x, g, b, e: g * (x - x.mean(0)) / torch.sqrt(x.var(0) + e) + b
        )
    with pytest.raises(AssertionError, match="σ² \\+ ε"):
        check_batch_norm_train(
            lambda x, g, b, e: g * (x - x.mean(0)) / (x.std(0, unbiased=False) + e) + b,
            thorough=True,
        )


def test_running_stats_reference_and_mistakes():
    def right(mean, var, x, m):
        return (1 - m) * mean + m * x.mean(0), (1 - m) * var + m * x.var(0)

    check_running_stats_update(right, thorough=True)
    with pytest.raises(AssertionError, match="estatística \\*nova\\*"):
        check_running_stats_update(lambda mean, var, x, m: (m * mean + (1 - m) * x.mean(0), var))
    with pytest.raises(AssertionError, match="não viesada"):
        check_running_stats_update(
            lambda mean, var, x, m: ((1 - m) * mean + m * x.mean(0),
                                     (1 - m) * var + m * x.var(0, unbiased=False))
        )


def test_bottleneck_params_reference_and_mistake():
    check_bottleneck_params(lambda p: 17 * p * p + 12 * p, thorough=True)
    with pytest.raises(AssertionError, match="γ e β"):
        check_bottleneck_params(lambda p: 17 * p * p)


def test_crop_and_concat_reference_and_mistakes():
    from residuais.models import center_crop

    def right(skip, x):
        return torch.cat([center_crop(skip, *x.shape[-2:]), x], dim=1)

    check_crop_and_concat(right, thorough=True)
    with pytest.raises(AssertionError, match="ordem"):
        check_crop_and_concat(lambda s, x: torch.cat([x, center_crop(s, *x.shape[-2:])], dim=1))
    with pytest.raises(AssertionError, match="centro"):
        check_crop_and_concat(lambda s, x: torch.cat([s[..., :4, :4], x], dim=1))
    with pytest.raises(AssertionError, match="forma"):
        check_crop_and_concat(lambda s, x: x)


def test_attention_reference_and_mistakes():
    def right(q, k, v):
        return (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1) @ v

    check_attention(right, thorough=True)
    with pytest.raises(AssertionError, match="√d"):
        check_attention(lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v)
    with pytest.raises(AssertionError, match="último eixo"):
        check_attention(
            lambda q, k, v: (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-2) @ v
        )


def test_pre_ln_block_reference_and_mistakes():
    def right(x, ln1, attn, ln2, ffn):
        x = x + attn(ln1(x))
        return x + ffn(ln2(x))

    def post(x, ln1, attn, ln2, ffn):
        x = ln1(x + attn(x))
        return ln2(x + ffn(x))

    check_pre_ln_block(right, thorough=True)
    with pytest.raises(AssertionError, match="pós-LN"):
        check_pre_ln_block(post)
    with pytest.raises(AssertionError, match="forma"):
        check_pre_ln_block(lambda x, *modules: x[:, :1])
