"""Os exercícios de programação do capítulo 3 (variância): as verificações públicas e ocultas
aceitam a referência, recusam os erros típicos com a dica certa e os atalhos proibidos, e as
constantes escritas nas verificações públicas são as que a referência dá."""

import math

import numpy as np
import pytest
import torch
from conftest import hidden_module

from residuais.analysis import forward_variances
from residuais.checks import ForbiddenCall
from residuais.checks import variance as public
from residuais.models import ResidualBlock

hidden = hidden_module("variance")

# --------------------------------------------------------------------------------------------
# exercício 1: variance_after_blocks
# --------------------------------------------------------------------------------------------


def test_variance_after_blocks_reference_passes_public_and_hidden():
    public.check_variance_after_blocks(hidden.reference_variance_after_blocks)
    hidden.check_variance_after_blocks_hidden(hidden.reference_variance_after_blocks)


def test_variance_after_blocks_constants_match_the_reference():
    for (n_blocks, var0, alpha), (expected, _) in public.VARIANCE_CASES.items():
        assert expected == pytest.approx(
            hidden.reference_variance_after_blocks(n_blocks, var0, alpha), rel=1e-12)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda k, v, a: v * (1 + a) ** k, "α², não 1 \\+ α"),
    (lambda k, v, a: v * (1 + k * a**2), "crescimento linear"),
    (lambda k, v, a: v * 2**k, "só vale 2 quando α = 1"),
])
def test_variance_after_blocks_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_variance_after_blocks, hidden.check_variance_after_blocks_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_variance_after_blocks_trivial_answers_fail():
    for trivial in (lambda k, v, a: k, lambda k, v, a: v, lambda k, v, a: 0.0):
        with pytest.raises(AssertionError, match="valor correto"):
            public.check_variance_after_blocks(trivial)
    with pytest.raises(AssertionError, match="esperava um número"):
        public.check_variance_after_blocks(lambda k, v, a: torch.ones(2))


def test_variance_after_blocks_measuring_is_forbidden():
    def measures(n_blocks, var0, alpha):
        from residuais.models import ResidualMLP

        model = ResidualMLP(8, 8, max(n_blocks, 1), 2, batch_norm=False, branch_scale=alpha)
        return forward_variances(model, [model.stem, *model.blocks], torch.randn(16, 8))[-1]

    with pytest.raises(ForbiddenCall, match=r"forward_variances.*não medida numa rede"):
        public.check_variance_after_blocks(measures)


# --------------------------------------------------------------------------------------------
# exercício 2: scaled_residual
# --------------------------------------------------------------------------------------------


def test_scaled_residual_reference_passes_public_and_hidden():
    public.check_scaled_residual(hidden.reference_scaled_residual)
    hidden.check_scaled_residual_hidden(hidden.reference_scaled_residual)


def test_scaled_residual_constants_match_the_reference():
    h = torch.tensor(public.SCALED_INPUT, dtype=torch.float64)
    branch = public.small_branch()
    with torch.no_grad():
        for alpha, (expected, _) in public.SCALED_CASES.items():
            got = hidden.reference_scaled_residual(h, branch, alpha)
            assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda h, f, a: h + a * f(h), "faltou dividir"),
    (lambda h, f, a: (h + a * f(h)) / 2**0.5, "depende de α"),
    (lambda h, f, a: (h + a * f(h)) / (1 + a**2), "não por 1 \\+ α², a variância"),
])
def test_scaled_residual_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_scaled_residual, hidden.check_scaled_residual_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_scaled_residual_wrong_shape_and_trivial_answers_fail():
    with pytest.raises(AssertionError, match="forma de h"):
        public.check_scaled_residual(lambda h, f, a: hidden.reference_scaled_residual(h, f, a)[:1])
    with pytest.raises(AssertionError, match="maior diferença"):
        public.check_scaled_residual(lambda h, f, a: h)
    with pytest.raises(AssertionError, match=r"torch\.Tensor"):
        public.check_scaled_residual(lambda h, f, a: h.tolist())


def test_scaled_residual_in_place_answer_fails_the_hidden_check():
    def in_place(h, branch, alpha):
        h += alpha * branch(h)
        return h.div_(math.sqrt(1 + alpha**2))

    public.check_scaled_residual(in_place)  # a pública passa cópias
    with pytest.raises(AssertionError, match="alterou o tensor h"):
        hidden.check_scaled_residual_hidden(in_place)


def test_scaled_residual_course_block_is_forbidden():
    def with_course_block(h, branch, alpha):
        block = ResidualBlock(h.shape[-1], batch_norm=False, branch_scale=alpha,
                              output_scale=(1 + alpha**2) ** -0.5).double()
        block.branch = branch
        return block(h)

    with pytest.raises(ForbiddenCall, match=r"ResidualBlock.*escalas"):
        public.check_scaled_residual(with_course_block)


# --------------------------------------------------------------------------------------------
# exercício 3: block_correlation
# --------------------------------------------------------------------------------------------


def test_block_correlation_reference_passes_public_and_hidden():
    public.check_block_correlation(hidden.reference_block_correlation)
    hidden.check_block_correlation_hidden(hidden.reference_block_correlation)


def test_block_correlation_accepts_a_float32_tensor_answer():
    def float32_tensor(a, b):
        a, b = a.float().flatten(), b.float().flatten()
        a, b = a - a.mean(), b - b.mean()
        return (a * b).sum() / (a.norm() * b.norm())

    public.check_block_correlation(float32_tensor)
    hidden.check_block_correlation_hidden(float32_tensor)


def test_block_correlation_constants_match_the_reference():
    a = torch.tensor(public.CORRELATION_A, dtype=torch.float64)
    for b, (expected, _) in public.CORRELATION_CASES.items():
        got = hidden.reference_block_correlation(a, torch.tensor(b, dtype=torch.float64))
        assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_block_correlation_experiment_margins_hold_for_other_seeds(seed):
    h0, runs = public.correlation_experiment(seed)
    for name, outputs in runs.items():
        _, predictions, margin = public.REMEDIES[name]
        for h, predicted in zip(outputs, predictions, strict=True):
            measured = hidden.reference_block_correlation(h0, h)
            assert abs(measured - predicted) <= margin / 2, (name, seed, measured)


def test_block_correlation_predictions_are_the_theory():
    alphas = {"soma ÷ √2": 1.0, "ramo × 0,2": 0.2}
    for name, alpha in alphas.items():
        _, predictions, _ = public.REMEDIES[name]
        for k, predicted in enumerate(predictions, start=1):
            assert predicted == pytest.approx((1 + alpha**2) ** (-k / 2), abs=1e-6)


def _covariance_parts(a, b, correction):
    a, b = a.flatten().double(), b.flatten().double()
    n = a.numel() - correction
    cov = ((a - a.mean()) * (b - b.mean())).sum() / n
    return cov, a.var(correction=correction), b.var(correction=correction)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda a, b: ((a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())).item(),
     "médias não foram subtraídas"),
    (lambda a, b: (lambda c, va, vb: c / va)(*_covariance_parts(a, b, 0)), "variância de h_prev"),
    (lambda a, b: (lambda c, va, vb: c / vb)(*_covariance_parts(a, b, 0)), "variância de h_next"),
    (lambda a, b: _covariance_parts(a, b, 1)[0] / (a.std(correction=0) * b.std(correction=0)),
     "denominador n − 1 e os desvios-padrão com n"),
    (lambda a, b: _covariance_parts(a, b, 0)[0] / (a.std() * b.std()),
     "denominador n e os desvios-padrão com n − 1"),
    (lambda a, b: _covariance_parts(a, b, 0)[0], "isso é a covariância \\(denominador n\\)"),
    (lambda a, b: _covariance_parts(a, b, 1)[0], "isso é a covariância \\(denominador n − 1\\)"),
    (lambda a, b: abs(hidden.reference_block_correlation(a, b)), "a correlação tem sinal"),
])
def test_block_correlation_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
        public.check_block_correlation(wrong)


def test_block_correlation_per_column_answer_gets_the_shape_hint():
    def per_column(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        return (a * b).sum(0) / torch.sqrt((a * a).sum(0) * (b * b).sum(0))

    with pytest.raises(AssertionError, match=r"forma \(2,\).*Dica: .*um número só"):
        public.check_block_correlation(per_column)


def test_block_correlation_uncentered_answer_also_fails_the_hidden_check():
    def uncentered(a, b):
        a, b = a.flatten().double(), b.flatten().double()
        return ((a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())).item()

    with pytest.raises(AssertionError, match="médias não foram subtraídas"):
        hidden.check_block_correlation_hidden(uncentered)


def test_block_correlation_in_place_answer_fails_the_hidden_check():
    def in_place(a, b):
        a, b = a.sub_(a.mean()).double(), b.sub_(b.mean()).double()
        return ((a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum())).item()

    with pytest.raises(AssertionError, match="alterou os tensores"):
        hidden.check_block_correlation_hidden(in_place)


def test_block_correlation_trivial_answers_fail():
    for trivial in (lambda a, b: 0.0, lambda a, b: 1.0):
        with pytest.raises(AssertionError, match="valor correto"):
            public.check_block_correlation(trivial)
    with pytest.raises(AssertionError, match="esperava um número"):
        public.check_block_correlation(lambda a, b: a)


@pytest.mark.parametrize("shortcut", [
    lambda a, b: torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1],
    lambda a, b: torch.stack([a.flatten(), b.flatten()]).corrcoef()[0, 1],
    lambda a, b: float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1]),
], ids=["torch.corrcoef", "Tensor.corrcoef", "numpy.corrcoef"])
def test_block_correlation_builtins_are_forbidden(shortcut):
    with pytest.raises(ForbiddenCall, match=r"corrcoef.*correlação escrita por você"):
        public.check_block_correlation(shortcut)


def test_block_correlation_statistics_module_is_forbidden():
    import statistics

    def from_statistics(a, b):
        return statistics.correlation(a.flatten().tolist(), b.flatten().tolist())

    with pytest.raises(ForbiddenCall, match=r"statistics\.correlation"):
        public.check_block_correlation(from_statistics)


# --------------------------------------------------------------------------------------------
# exercício 4: max_branch_scale
# --------------------------------------------------------------------------------------------


def test_max_branch_scale_reference_passes_public_and_hidden():
    public.check_max_branch_scale(hidden.reference_max_branch_scale)
    hidden.check_max_branch_scale_hidden(hidden.reference_max_branch_scale)


def test_max_branch_scale_naive_formula_passes_too():
    def naive(n_blocks, max_growth):
        return math.sqrt(max_growth ** (1 / n_blocks) - 1)

    public.check_max_branch_scale(naive)
    hidden.check_max_branch_scale_hidden(naive)


def test_max_branch_scale_constants_match_the_reference():
    for (n_blocks, growth), (expected, hints) in public.BRANCH_SCALE_CASES.items():
        alpha = hidden.reference_max_branch_scale(n_blocks, growth)
        assert alpha == pytest.approx(expected, abs=1e-6)
        # e a escala máxima atinge exatamente o crescimento permitido (a fórmula do exercício 1)
        assert hidden.reference_variance_after_blocks(n_blocks, 1.0, alpha) == pytest.approx(growth)
        wrong = {public.HINT_NO_SQRT: growth ** (1 / n_blocks) - 1,
                 public.HINT_ASYMPTOTIC: math.sqrt(math.log(growth) / n_blocks),
                 public.HINT_LINEAR: math.sqrt((growth - 1) / n_blocks)}
        if growth >= n_blocks:
            wrong[public.HINT_DIVIDED] = math.sqrt(growth / n_blocks - 1)
        for text, value in hints.items():
            assert value == pytest.approx(wrong[text], abs=1e-6), text


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda k, g: g ** (1 / k) - 1, "faltou uma raiz quadrada"),
    (lambda k, g: math.sqrt(g / k - 1), "não é o crescimento dividido por K"),
    (lambda k, g: math.sqrt(math.log(g) / k), "aproximação para K grande"),
    (lambda k, g: math.sqrt((g - 1) / k), "crescimento linear"),
])
def test_max_branch_scale_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
        public.check_max_branch_scale(wrong)


def test_max_branch_scale_trivial_answers_fail():
    for trivial in (lambda k, g: 1.0, lambda k, g: 0.0, lambda k, g: k):
        with pytest.raises(AssertionError, match="valor correto"):
            public.check_max_branch_scale(trivial)


def test_max_branch_scale_measuring_is_forbidden():
    def searches(n_blocks, max_growth):
        forward_variances(torch.nn.Linear(2, 2), [], torch.zeros(1, 2))
        return 0.0

    with pytest.raises(ForbiddenCall, match=r"forward_variances.*busca medindo redes"):
        public.check_max_branch_scale(searches)
