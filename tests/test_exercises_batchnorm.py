"""Os exercícios de programação do capítulo 4 (batch norm): as verificações públicas e ocultas
aceitam a referência, recusam os erros típicos com a dica certa e os atalhos proibidos."""

import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import hidden_module
from torch import nn

from residuais.checks import ForbiddenCall
from residuais.checks import batchnorm as public
from residuais.norm import BatchNorm1d

hidden = hidden_module("batchnorm")

# --------------------------------------------------------------------------------------------
# exercício 1: batch_norm_eval
# --------------------------------------------------------------------------------------------


def test_batch_norm_eval_reference_passes_public_and_hidden():
    public.check_batch_norm_eval(hidden.reference_batch_norm_eval)
    hidden.check_batch_norm_eval_hidden(hidden.reference_batch_norm_eval)


def _batch_stats(x, mean, var, gamma, beta, eps):
    return gamma * (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + eps) + beta


@pytest.mark.parametrize(("wrong", "hint"), [
    (_batch_stats, "não a média e a variância do lote"),
    (lambda x, m, v, g, b, e: g * (x - m) / (v.sqrt() + e) + b, "e não σ \\+ ε"),
    (lambda x, m, v, g, b, e: g * (x - m) / v.sqrt() + b, "faltou o ε"),
])
def test_batch_norm_eval_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_batch_norm_eval, hidden.check_batch_norm_eval_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_batch_norm_eval_trivial_answers_fail():
    with pytest.raises(AssertionError, match="maior diferença"):
        public.check_batch_norm_eval(lambda x, m, v, g, b, e: x)
    with pytest.raises(AssertionError, match="forma de x"):
        public.check_batch_norm_eval(lambda x, m, v, g, b, e: torch.zeros(2))
    with pytest.raises(AssertionError, match="maior diferença"):
        public.check_batch_norm_eval(lambda x, m, v, g, b, e: torch.zeros_like(x))


def test_batch_norm_eval_in_place_answer_fails_the_hidden_check():
    def in_place(x, mean, var, gamma, beta, eps):
        return x.sub_(mean).div_(torch.sqrt(var + eps)).mul_(gamma).add_(beta)

    public.check_batch_norm_eval(in_place)
    with pytest.raises(AssertionError, match="alterou os tensores"):
        hidden.check_batch_norm_eval_hidden(in_place)


def _with_functional(x, mean, var, gamma, beta, eps):
    return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=eps)


def _with_torch_module(x, mean, var, gamma, beta, eps):
    bn = nn.BatchNorm1d(x.shape[1], eps=eps).double().eval()
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
    return bn(x)


def _with_course_module(x, mean, var, gamma, beta, eps):
    bn = BatchNorm1d(x.shape[1], eps=eps).double().eval()
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
    return bn(x)


def _with_aten(x, mean, var, gamma, beta, eps):
    return torch.batch_norm(x, gamma, beta, mean, var, False, 0.1, eps, False)


# ``nn.BatchNorm1d`` tem o nome do ``BatchNorm1d`` do curso importado aqui (como no notebook do
# capítulo), e a conferência dos nomes globais da resposta acha este primeiro: a mensagem pode
# nomear qualquer um dos dois, ambos proibidos.
@pytest.mark.parametrize(("shortcut", "name"), [
    (_with_functional, "torch.nn.functional.batch_norm"),
    (_with_torch_module, "(torch.nn|residuais.norm).BatchNorm1d"),
    (_with_course_module, "residuais.norm.BatchNorm1d"),
    (_with_aten, "torch.batch_norm"),
])
def test_batch_norm_eval_shortcuts_are_forbidden(shortcut, name):
    for check in (public.check_batch_norm_eval, hidden.check_batch_norm_eval_hidden):
        with pytest.raises(ForbiddenCall, match=rf"\({name}\).*avaliação escrita por você"):
            check(shortcut)


# --------------------------------------------------------------------------------------------
# exercício 2: batch_norm_train
# --------------------------------------------------------------------------------------------


def test_batch_norm_train_reference_passes_public_and_hidden():
    public.check_batch_norm_train(hidden.reference_batch_norm_train)
    hidden.check_batch_norm_train_hidden(hidden.reference_batch_norm_train)


def _normalized(x, eps, dim=0, correction=0):
    mean = x.mean(dim, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim, correction=correction, keepdim=True) + eps)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda x, g, b, e: g * _normalized(x, e, correction=1) + b, "variância viesada"),
    (lambda x, g, b, e: g * (x - x.mean(0)) / (x.std(0, correction=0) + e) + b,
     "e não σ \\+ ε"),
    (lambda x, g, b, e: g * (x - x.mean(0)) / x.std(0, correction=0) + b, "faltou o ε"),
    (lambda x, g, b, e: g * _normalized(x, e, dim=1) + b, "eixo 0, não no eixo 1"),
    (lambda x, g, b, e: _normalized(x, e), "faltou aplicar γ e β"),
])
def test_batch_norm_train_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
        public.check_batch_norm_train(wrong)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda x, g, b, e: g * _normalized(x, e, correction=1) + b, "variância viesada"),
    (lambda x, g, b, e: g * (x - x.mean(0)) / (x.std(0, correction=0) + e) + b,
     "e não σ \\+ ε"),
    (lambda x, g, b, e: g * _normalized(x, e, dim=1) + b, "eixo 0, não no eixo 1"),
])
def test_batch_norm_train_hidden_check_gives_the_hints_too(wrong, hint):
    with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
        hidden.check_batch_norm_train_hidden(wrong)


def test_batch_norm_train_trivial_answers_fail():
    with pytest.raises(AssertionError, match="maior diferença"):
        public.check_batch_norm_train(lambda x, g, b, e: x)
    with pytest.raises(AssertionError, match="forma de x"):
        public.check_batch_norm_train(lambda x, g, b, e: x.T)


@pytest.mark.parametrize(("shortcut", "name"), [
    (lambda x, g, b, e: F.batch_norm(x, None, None, g, b, training=True, eps=e),
     "torch.nn.functional.batch_norm"),
    (lambda x, g, b, e: F.layer_norm(x.T, (x.shape[0],), eps=e).T * g + b,
     "torch.nn.functional.layer_norm"),
    (lambda x, g, b, e: BatchNorm1d(x.shape[1], eps=e).double()(x) * g + b,
     "residuais.norm.BatchNorm1d"),
    (lambda x, g, b, e: nn.BatchNorm1d(x.shape[1], eps=e).double()(x) * g + b,
     "(torch.nn|residuais.norm).BatchNorm1d"),
])
def test_batch_norm_train_shortcuts_are_forbidden(shortcut, name):
    with pytest.raises(ForbiddenCall, match=rf"\({name}\).*treino escrita por você"):
        public.check_batch_norm_train(shortcut)


# --------------------------------------------------------------------------------------------
# exercício 3: update_running_stats
# --------------------------------------------------------------------------------------------


def test_running_stats_reference_passes_public_and_hidden():
    public.check_running_stats_update(hidden.reference_update_running_stats)
    hidden.check_running_stats_update_hidden(hidden.reference_update_running_stats)


def test_running_stats_lerp_answer_passes():
    def with_lerp(mean, var, x, m):
        return mean.lerp(x.mean(0), m), var.lerp(x.var(0), m)

    public.check_running_stats_update(with_lerp)
    hidden.check_running_stats_update_hidden(with_lerp)


@pytest.mark.parametrize("seed", range(5))
def test_running_stats_experiment_margin_holds_for_other_seeds(seed):
    mean = torch.zeros(8, dtype=torch.float64)
    var = torch.ones(8, dtype=torch.float64)
    variances = []
    for x in public.experiment_batches(seed):
        mean, var = hidden.reference_update_running_stats(mean, var, x, 0.1)
        variances.append(var)
    average = torch.stack(variances[public.EXPERIMENT_BURN_IN:]).mean().item()
    assert abs(average - public.TRUE_VARIANCE) <= public.VARIANCE_MARGIN / 2


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda mean, var, x, m: (m * mean + (1 - m) * x.mean(0),
                              m * var + (1 - m) * x.var(0)), "estatística \\*nova\\*"),
    (lambda mean, var, x, m: ((1 - m) * mean + m * x.mean(0),
                              (1 - m) * var + m * x.var(0, correction=0)), "\\*não viesada\\*"),
])
def test_running_stats_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_running_stats_update, hidden.check_running_stats_update_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_running_stats_trivial_and_malformed_answers_fail():
    with pytest.raises(AssertionError, match=r"valor correto|maior diferença"):
        public.check_running_stats_update(lambda mean, var, x, m: (mean, var))
    with pytest.raises(AssertionError, match="esperava um par"):
        public.check_running_stats_update(lambda mean, var, x, m: mean)
    with pytest.raises(AssertionError, match="forma"):
        public.check_running_stats_update(lambda mean, var, x, m: (x, x))


def test_running_stats_drift_in_the_experiment_is_caught():
    calls = []

    def drifts(mean, var, x, m):
        calls.append(1)
        new_mean, new_var = hidden.reference_update_running_stats(mean, var, x, m)
        return new_mean, new_var * (1.01 if len(calls) > 20 else 1.0)

    with pytest.raises(AssertionError, match=r"passo 20.*se afastaram"):
        public.check_running_stats_update(drifts)


def _with_torch_buffers(mean, var, x, m):
    bn = nn.BatchNorm1d(x.shape[1], momentum=m).double()
    bn.running_mean.copy_(mean)
    bn.running_var.copy_(var)
    bn(x)
    return bn.running_mean, bn.running_var


def _with_functional_update(mean, var, x, m):
    mean, var = mean.clone(), var.clone()
    F.batch_norm(x, mean, var, training=True, momentum=m)
    return mean, var


@pytest.mark.parametrize(("shortcut", "name"), [
    (_with_torch_buffers, "(torch.nn|residuais.norm).BatchNorm1d"),
    (_with_functional_update, "torch.nn.functional.batch_norm"),
])
def test_running_stats_shortcuts_are_forbidden(shortcut, name):
    with pytest.raises(ForbiddenCall, match=rf"\({name}\).*médias móveis escrita por você"):
        public.check_running_stats_update(shortcut)


def test_running_stats_course_module_is_forbidden():
    def with_course_module(mean, var, x, m):
        bn = BatchNorm1d(x.shape[1], momentum=m).double()
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn(x)
        return bn.running_mean, bn.running_var

    with pytest.raises(ForbiddenCall, match=r"\(residuais.norm.BatchNorm1d\)"):
        public.check_running_stats_update(with_course_module)


# --------------------------------------------------------------------------------------------
# exercício 4: fold_batch_norm
# --------------------------------------------------------------------------------------------


def test_fold_reference_passes_public_and_hidden():
    public.check_fold_batch_norm(hidden.reference_fold_batch_norm)
    hidden.check_fold_batch_norm_hidden(hidden.reference_fold_batch_norm)


def test_fold_by_probing_an_eval_copy_passes():
    """Quem percebe que bn(linear(x)) em avaliação é afim e o mede num cópia também acerta."""
    def probing(linear, bn):
        composed = nn.Sequential(copy.deepcopy(linear), copy.deepcopy(bn)).eval()
        with torch.no_grad():
            bias = composed(torch.zeros(1, linear.in_features))[0]
            weight = (composed(torch.eye(linear.in_features)) - bias).T
        folded = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            folded.weight.copy_(weight)
            folded.bias.copy_(bias)
        return folded

    public.check_fold_batch_norm(probing)
    hidden.check_fold_batch_norm_hidden(probing)


def _folded(linear, bn, weight_scale, bias_fn):
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
    folded = nn.Linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        folded.weight.copy_(weight_scale(linear.weight, scale))
        folded.bias.copy_(bias_fn(bias, scale, bn))
    return folded


def _right_bias(bias, scale, bn):
    return scale * (bias - bn.running_mean) + bn.bias


def _no_eps(linear, bn):
    scale = bn.weight / torch.sqrt(bn.running_var)
    bias = linear.bias if linear.bias is not None else torch.zeros(linear.out_features)
    folded = nn.Linear(linear.in_features, linear.out_features)
    with torch.no_grad():
        folded.weight.copy_(scale[:, None] * linear.weight)
        folded.bias.copy_(scale * (bias - bn.running_mean) + bn.bias)
    return folded


@pytest.mark.parametrize(("wrong", "hint"), [
    (_no_eps, "faltou o ε"),
    (lambda lin, bn: _folded(lin, bn, lambda w, s: w, _right_bias), "as linhas de W também"),
    (lambda lin, bn: _folded(lin, bn, lambda w, s: w * s, _right_bias), "não uma coluna"),
    (lambda lin, bn: _folded(lin, bn, lambda w, s: s[:, None] * w,
                             lambda b, s, bn: s * b + bn.bias), "subtrair a média móvel"),
])
def test_fold_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
        public.check_fold_batch_norm(wrong)


def test_fold_calling_bn_in_training_mode_is_explained():
    def batch_statistics(linear, bn):
        with torch.no_grad():
            out = bn(linear(torch.randn(16, linear.in_features)))
        folded = nn.Linear(linear.in_features, linear.out_features)
        with torch.no_grad():
            folded.bias.copy_(out.mean(0))
        return folded

    with pytest.raises(AssertionError, match=r"alterou o linear ou o bn.*Dica: chamar bn em modo "
                                             r"de treino"):
        public.check_fold_batch_norm(batch_statistics)


def test_fold_modifying_the_originals_fails():
    def in_place(linear, bn):
        with torch.no_grad():
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            linear.weight.mul_(scale[:, None])
        return linear

    for check in (public.check_fold_batch_norm, hidden.check_fold_batch_norm_hidden):
        with pytest.raises(AssertionError, match="alterou o linear ou o bn"):
            check(in_place)

    def switches_to_eval(linear, bn):
        bn.eval()
        return hidden.reference_fold_batch_norm(linear, bn)

    with pytest.raises(AssertionError, match="modo treino/avaliação"):
        public.check_fold_batch_norm(switches_to_eval)


def test_fold_trivial_and_malformed_answers_fail():
    with pytest.raises(AssertionError, match="maior diferença"):
        public.check_fold_batch_norm(lambda linear, bn: copy.deepcopy(linear)
                                     if linear.bias is not None else
                                     nn.Linear(linear.in_features, linear.out_features))
    with pytest.raises(AssertionError, match=r"esperava um nn\.Linear"):
        public.check_fold_batch_norm(lambda linear, bn: nn.Sequential(linear, bn))

    def without_bias(linear, bn):
        return nn.Linear(linear.in_features, linear.out_features, bias=False)

    with pytest.raises(AssertionError, match="não tem viés"):
        public.check_fold_batch_norm(without_bias)


@pytest.mark.parametrize("name", ["fuse_linear_bn_eval", "fuse_linear_bn_weights"])
def test_fold_fusion_builtins_are_forbidden(name):
    from torch.nn.utils import fusion

    def with_fusion(linear, bn):
        if name == "fuse_linear_bn_eval":
            return fusion.fuse_linear_bn_eval(copy.deepcopy(linear).eval(),
                                              copy.deepcopy(bn).eval())
        weight, bias = fusion.fuse_linear_bn_weights(
            linear.weight, linear.bias if linear.bias is not None
            else torch.zeros(linear.out_features), bn.running_mean, bn.running_var, bn.eps,
            bn.weight, bn.bias)
        folded = nn.Linear(linear.in_features, linear.out_features)
        folded.weight, folded.bias = weight, bias
        return folded

    with pytest.raises(ForbiddenCall, match=rf"\(torch.nn.utils.fusion.{name}\).*dobramento"):
        public.check_fold_batch_norm(with_fusion)


def test_fold_quantization_fuser_is_forbidden():
    from torch.ao.quantization import fuse_modules

    def with_fuser(linear, bn):
        model = nn.Sequential(copy.deepcopy(linear), copy.deepcopy(bn)).eval()
        return fuse_modules(model, [["0", "1"]])[0]

    # a função de alto nível chama fuse_linear_bn_eval por dentro: a mensagem nomeia uma das duas
    with pytest.raises(ForbiddenCall, match=r"fuse_modules|fuse_linear_bn_eval"):
        public.check_fold_batch_norm(with_fuser)
