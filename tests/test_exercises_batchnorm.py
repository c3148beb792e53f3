"""Os exercícios de programação do capítulo 4 (normalização em lote): as verificações públicas e
ocultas aceitam a referência, recusam os erros típicos com a dica certa e os atalhos proibidos."""

import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import hidden_module
from torch import nn

from residuais.checks import ForbiddenCall, folding
from residuais.checks import batchnorm as public
from residuais.norm import BatchNorm1d

hidden = hidden_module("batchnorm")

# --------------------------------------------------------------------------------------------
# exercício 1: eval_affine
# --------------------------------------------------------------------------------------------


def test_eval_affine_reference_passes_public_and_hidden():
    public.check_eval_affine(hidden.reference_eval_affine)
    hidden.check_eval_affine_hidden(hidden.reference_eval_affine)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda m, v, g, b, e: (g / (v.sqrt() + e), b - g / (v.sqrt() + e) * m), "e não σ̂ \\+ ε"),
    (lambda m, v, g, b, e: (g / v.sqrt(), b - g / v.sqrt() * m), "faltou o ε"),
    (lambda m, v, g, b, e: (g / (v + e).sqrt(), b + g / (v + e).sqrt() * m), "sinal de menos"),
    (lambda m, v, g, b, e: (g / (v + e).sqrt(), b - m), "também é multiplicada"),
])
def test_eval_affine_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_eval_affine, hidden.check_eval_affine_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_eval_affine_malformed_answers_fail():
    with pytest.raises(AssertionError, match="esperava 2 tensores"):
        public.check_eval_affine(lambda m, v, g, b, e: g)
    with pytest.raises(AssertionError, match="forma"):
        public.check_eval_affine(lambda m, v, g, b, e: (g[:1], b))


def test_eval_affine_probing_a_batch_norm_is_forbidden():
    def probing(m, v, g, b, e):
        bn = nn.BatchNorm1d(len(g), eps=e).double().eval()
        with torch.no_grad():
            bn.weight.copy_(g)
            bn.bias.copy_(b)
            bn.running_mean.copy_(m)
            bn.running_var.copy_(v)
            c = bn(torch.zeros(1, len(g), dtype=torch.float64))[0]
            return bn(torch.ones(1, len(g), dtype=torch.float64))[0] - c, c

    with pytest.raises(ForbiddenCall, match=r"BatchNorm1d.*pela fórmula"):
        public.check_eval_affine(probing)


def test_eval_affine_in_place_answer_fails_the_hidden_check():
    def in_place(m, v, g, b, e):
        scale = g.div_(torch.sqrt(v + e))
        return scale, b - scale * m

    public.check_eval_affine(in_place)
    with pytest.raises(AssertionError, match="alterou os tensores"):
        hidden.check_eval_affine_hidden(in_place)


# --------------------------------------------------------------------------------------------
# exercícios 2 e 3: batch_norm_backward e batch_norm2d_backward
# --------------------------------------------------------------------------------------------

BACKWARDS = [
    (public.check_batch_norm_backward, hidden.check_batch_norm_backward_hidden,
     hidden.reference_batch_norm_backward),
    (public.check_batch_norm2d_backward, hidden.check_batch_norm2d_backward_hidden,
     hidden.reference_batch_norm2d_backward),
]


@pytest.mark.parametrize(("check", "check_hidden", "reference"), BACKWARDS)
def test_backward_reference_passes_public_and_hidden(check, check_hidden, reference):
    check(reference)
    check_hidden(reference)


def _backward(dims, mean_term=True, hat_term=True, swap=False):
    """A passagem para trás escrita à mão, com um dos erros típicos ligado."""
    def answer(g, x, gamma, eps):
        axes = tuple(range(x.dim())) if dims is None else dims
        axes = tuple(d for d in axes if d != 1)
        shape = [1, -1] + [1] * (x.dim() - 2)
        inv_std = 1 / torch.sqrt(x.var(dim=axes, correction=0, keepdim=True) + eps)
        x_hat = (x - x.mean(dim=axes, keepdim=True)) * inv_std
        inner = g.clone()
        if mean_term:
            inner = inner - g.mean(dim=axes, keepdim=True)
        if hat_term:
            inner = inner - x_hat * (g * x_hat).mean(dim=axes, keepdim=True)
        sums = (g * x_hat).sum(dim=axes), g.sum(dim=axes)
        return (gamma.view(shape) * inv_std * inner, *(sums[::-1] if swap else sums))
    return answer


@pytest.mark.parametrize(("wrong", "hint"), [
    (_backward(None, mean_term=False, hat_term=False), "faltaram os dois termos"),
    (_backward(None, mean_term=False), "faltou subtrair ḡ"),
    (_backward(None, hat_term=False), "faltou o termo ĥ"),
    (_backward(None, swap=True), "∂L/∂γ = Σ g·ĥ"),
])
def test_backward_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_batch_norm_backward, public.check_batch_norm2d_backward,
                  hidden.check_batch_norm_backward_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_backward_conv_over_the_batch_axis_only_is_explained():
    public.check_batch_norm2d_backward(_backward(None))  # a conta geral passa
    with pytest.raises(AssertionError, match=r"∂L/∂γ.*forma \(3,\), mas tem forma \(3, 5, 5\)"):
        public.check_batch_norm2d_backward(_backward((0,)))  # a do exercício 2, sem mudar

    def batch_axis_statistics(g, x, gamma, eps):
        grad_x, _, _ = _backward((0,))(g, x, gamma, eps)
        return grad_x, *hidden.reference_batch_norm2d_backward(g, x, gamma, eps)[1:]

    with pytest.raises(AssertionError, match=r"Dica: .*os eixos 0, 2 e 3"):
        public.check_batch_norm2d_backward(batch_axis_statistics)


def test_backward_batch_of_one_is_checked_and_has_zero_input_gradient():
    """O caso B = 1 das verificações: a resposta certa dá ∂L/∂x = 0 e ∂L/∂β = g."""
    assert ((1, 3), 1.0) in public.BACKWARD_CASES
    x, gamma, g = public.backward_inputs((1, 3), 1.0, 0)
    grad_x, _, grad_beta = hidden.reference_batch_norm_backward(g, x, gamma, 1e-5)
    assert torch.equal(grad_x, torch.zeros_like(x)) and torch.equal(grad_beta, g[0])


def _with_autograd(g, x, gamma, eps):
    x = x.clone().requires_grad_(True)
    gamma = gamma.clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    axes = tuple(d for d in range(x.dim()) if d != 1)
    shape = [1, -1] + [1] * (x.dim() - 2)
    y = gamma.view(shape) * (x - x.mean(axes, keepdim=True)) / torch.sqrt(
        x.var(axes, correction=0, keepdim=True) + eps) + beta.view(shape)
    (y * g).sum().backward()
    return x.grad, gamma.grad, beta.grad


def _with_grad(g, x, gamma, eps):
    x = x.clone().requires_grad_(True)
    y = F.batch_norm(x, None, None, gamma, None, training=True, eps=eps)
    return torch.autograd.grad((y * g).sum(), x)[0], (g * y / gamma).sum(0), g.sum(0)


def _with_aten(g, x, gamma, eps):
    return torch.ops.aten.native_batch_norm_backward(
        g, x, gamma, None, None, x.mean(0), 1 / torch.sqrt(x.var(0, correction=0) + eps), True,
        eps, [True, True, True])


@pytest.mark.parametrize(("shortcut", "name"), [
    (_with_autograd, "backward"),
    (_with_grad, "torch.autograd.grad"),
    (_with_aten, "native_batch_norm_backward"),
])
def test_backward_shortcuts_are_forbidden(shortcut, name):
    with pytest.raises(ForbiddenCall, match=rf"{name}.*sem o autograd"):
        public.check_batch_norm_backward(shortcut)


def test_backward_in_place_answer_fails_the_hidden_check():
    def in_place(g, x, gamma, eps):
        grad_x, grad_gamma, grad_beta = hidden.reference_batch_norm_backward(g, x, gamma, eps)
        g.zero_()
        return grad_x, grad_gamma, grad_beta

    public.check_batch_norm_backward(in_place)
    with pytest.raises(AssertionError, match="alterou os tensores"):
        hidden.check_batch_norm_backward_hidden(in_place)


# --------------------------------------------------------------------------------------------
# exercício 4: fold_batch_norm_conv
# --------------------------------------------------------------------------------------------


def test_fold_reference_passes_public_and_hidden():
    folding.check_fold_batch_norm_conv(hidden.reference_fold_batch_norm_conv)
    hidden.check_fold_batch_norm_conv_hidden(hidden.reference_fold_batch_norm_conv)


def _folded(weight_scale, bias_fn, eps=True, geometry=True):
    def answer(conv, bn):
        var = bn.running_var + (bn.eps if eps else 0.0)
        scale = bn.weight / torch.sqrt(var)
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        kwargs = ({"stride": conv.stride, "padding": conv.padding, "dilation": conv.dilation}
                  if geometry else {})
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, **kwargs)
        with torch.no_grad():
            folded.weight.copy_(weight_scale(conv.weight, scale))
            folded.bias.copy_(bias_fn(bias, scale, bn))
        return folded
    return answer


def _right_weight(w, s):
    return s[:, None, None, None] * w


def _right_bias(b, s, bn):
    return s * (b - bn.running_mean) + bn.bias


@pytest.mark.parametrize(("wrong", "hint"), [
    (_folded(_right_weight, _right_bias, eps=False), "faltou o ε"),
    (_folded(lambda w, s: w, _right_bias), "os filtros também"),
    (_folded(lambda w, s: w * s[None, :, None, None], _right_bias), "o eixo 0, não o 1"),
    (_folded(_right_weight, lambda b, s, bn: s * b + bn.bias), "subtrair a média móvel"),
])
def test_fold_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
        folding.check_fold_batch_norm_conv(wrong)


def _no_dilation(conv, bn):
    folded = hidden.reference_fold_batch_norm_conv(conv, bn)
    folded.dilation = (1, 1)
    return folded


def test_fold_losing_the_geometry_is_explained():
    with pytest.raises(AssertionError, match=r"padding = .*a geometria"):
        folding.check_fold_batch_norm_conv(_folded(_right_weight, _right_bias, geometry=False))
    with pytest.raises(AssertionError, match=r"dilation = .*a geometria"):
        hidden.check_fold_batch_norm_conv_hidden(_no_dilation)


def test_fold_calling_bn_in_training_mode_is_explained():
    def batch_statistics(conv, bn):
        with torch.no_grad():
            bn(conv(torch.randn(4, conv.in_channels, 7, 7)))
        return hidden.reference_fold_batch_norm_conv(conv, bn)

    with pytest.raises(AssertionError, match=r"alterou a conv ou o bn.*Dica: chamar bn em modo "
                                             r"de treino"):
        folding.check_fold_batch_norm_conv(batch_statistics)


def test_fold_modifying_the_originals_fails():
    def in_place(conv, bn):
        with torch.no_grad():
            conv.weight.mul_(2)
        return hidden.reference_fold_batch_norm_conv(conv, bn)

    for check in (folding.check_fold_batch_norm_conv, hidden.check_fold_batch_norm_conv_hidden):
        with pytest.raises(AssertionError, match="alterou a conv ou o bn"):
            check(in_place)


def test_fold_trivial_and_malformed_answers_fail():
    with pytest.raises(AssertionError, match="maior diferença"):
        folding.check_fold_batch_norm_conv(_folded(lambda w, s: w, lambda b, s, bn: b))
    with pytest.raises(AssertionError, match=r"esperava um nn\.Conv2d"):
        folding.check_fold_batch_norm_conv(lambda conv, bn: nn.Sequential(conv, bn))

    def without_bias(conv, bn):
        return nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                         stride=conv.stride, padding=conv.padding, bias=False)

    with pytest.raises(AssertionError, match="não tem viés"):
        folding.check_fold_batch_norm_conv(without_bias)


@pytest.mark.parametrize("name", ["fuse_conv_bn_eval", "fuse_conv_bn_weights"])
def test_fold_fusion_builtins_are_forbidden(name):
    from torch.nn.utils import fusion

    def with_fusion(conv, bn):
        if name == "fuse_conv_bn_eval":
            return fusion.fuse_conv_bn_eval(copy.deepcopy(conv).eval(), copy.deepcopy(bn).eval())
        folded = copy.deepcopy(conv)
        folded.weight, folded.bias = fusion.fuse_conv_bn_weights(
            conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
        return folded

    with pytest.raises(ForbiddenCall, match=rf"\(torch.nn.utils.fusion.{name}\).*dobramento"):
        folding.check_fold_batch_norm_conv(with_fusion)


def test_the_course_batch_norm_is_forbidden_where_it_answers():
    """A BN do curso (residuais.norm) também não vale onde a do PyTorch não vale."""
    def probing(m, v, g, b, e):
        bn = BatchNorm1d(len(g), eps=e).double().eval()
        return bn.weight * 0 + g / torch.sqrt(v + e), b - g / torch.sqrt(v + e) * m

    with pytest.raises(ForbiddenCall, match=r"residuais.norm.BatchNorm1d"):
        public.check_eval_affine(probing)
