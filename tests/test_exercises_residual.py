"""Os exercícios de programação do capítulo 2: as verificações públicas e ocultas aceitam a
referência, recusam os erros típicos com a dica certa, pegam os atalhos proibidos, e as
constantes escritas nas verificações públicas conferem com a referência."""

import itertools
import math
import re

import pytest
import torch
from conftest import hidden_module

from residuais.analysis import enumerate_paths, expand_linear_residual
from residuais.checks import ForbiddenCall
from residuais.checks import residual as public
from residuais.checks.residual import (
    check_gradient_share_by_path_length,
    check_preactivation_block,
    check_residual_forward,
    check_unrolled_output,
)
from residuais.models import ResidualBlock

hidden = hidden_module("residual")


def _table(values):
    return torch.tensor(values, dtype=torch.float64)


# --------------------------------------------------------------------------------------------
# exercício 1: as representações bloco a bloco
# --------------------------------------------------------------------------------------------


def no_skip(branches, h0):
    states = [h0]
    for branch in branches:
        states.append(branch(states[-1]))
    return states


def only_from_input(branches, h0):
    states = [h0]
    for branch in branches:
        states.append(states[-1] + branch(h0))
    return states


def in_place(branches, h0):
    h, states = h0.clone(), [h0]
    for branch in branches:
        h += branch(h)
        states.append(h)
    return states


def test_residual_forward_reference_passes_public_and_hidden():
    check_residual_forward(hidden.reference_residual_forward)
    hidden.check_residual_forward_hidden(hidden.reference_residual_forward)


def test_residual_forward_constants_match_the_reference_and_the_mistakes():
    mistakes = {public.HINT_NO_SKIP: no_skip, public.HINT_ONLY_FROM_INPUT: only_from_input}
    for _, h0, branches, expected, hints in public.FORWARD_CASES:
        got = torch.stack(hidden.reference_residual_forward(branches, _table(h0)))
        assert torch.allclose(got, _table(expected), atol=5e-7)
        for text, wrong in hints.items():
            assert torch.allclose(torch.stack(mistakes[text](branches, _table(h0))),
                                  _table(wrong), atol=5e-7)


@pytest.mark.parametrize("answer, hint", [
    (no_skip, public.HINT_NO_SKIP),
    (only_from_input, public.HINT_ONLY_FROM_INPUT),
    (in_place, public.HINT_ALIASED),
    (lambda branches, h0: hidden.reference_residual_forward(branches, h0)[-1],
     public.HINT_ONLY_LAST),
    (lambda branches, h0: hidden.reference_residual_forward(branches, h0)[1:],
     public.HINT_MISSING_INPUT),
], ids=["sem atalho", "sempre h_0", "no lugar", "só h_K", "sem h_0"])
def test_residual_forward_mistakes_fail_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
        check_residual_forward(answer)
    if hint in (public.HINT_NO_SKIP, public.HINT_ONLY_FROM_INPUT):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            hidden.check_residual_forward_hidden(answer)


def test_residual_forward_trivial_answers_fail():
    with pytest.raises(AssertionError, match=r"elemento 0 .* function"):
        check_residual_forward(lambda branches, h0: branches)  # devolve o primeiro argumento
    with pytest.raises(AssertionError):
        check_residual_forward(lambda branches, h0: [h0] * (len(branches) + 1))
    with pytest.raises(AssertionError, match="recebeu NoneType"):
        check_residual_forward(lambda branches, h0: None)


def test_residual_forward_course_block_is_forbidden():
    def via_course(branches, h0):
        states = [h0]
        for branch in branches:
            block = ResidualBlock(h0.shape[-1], batch_norm=False)
            block.branch = branch
            states.append(block(states[-1]))
        return states

    with pytest.raises(ForbiddenCall, match=r"`ResidualBlock`.*não vale"):
        check_residual_forward(via_course)


# --------------------------------------------------------------------------------------------
# exercício 2: o bloco de pré-ativação
# --------------------------------------------------------------------------------------------


def forgot_skip(h, norm, linear):
    return linear(torch.relu(norm(h)))


def wrong_branch_order(h, norm, linear):
    return h + torch.relu(linear(norm(h)))


def relu_after_sum(h, norm, linear):
    return torch.relu(h + linear(torch.relu(norm(h))))


BLOCK_MISTAKES = {public.HINT_FORGOT_SKIP: forgot_skip,
                  public.HINT_WRONG_BRANCH_ORDER: wrong_branch_order,
                  public.HINT_RELU_AFTER_SUM: relu_after_sum}


def test_preactivation_block_reference_passes_public_and_hidden():
    check_preactivation_block(hidden.reference_preactivation_block)
    hidden.check_preactivation_block_hidden(hidden.reference_preactivation_block)


def test_preactivation_block_constants_match_the_reference_and_the_mistakes():
    h = _table(public.BLOCK_INPUT)
    for mode, (expected, hints) in public.BLOCK_CASES.items():
        norm, linear = public.small_block_layers(mode == "treino")
        with torch.no_grad():
            assert torch.allclose(hidden.reference_preactivation_block(h, norm, linear),
                                  _table(expected), atol=5e-7)
            assert set(hints) == set(BLOCK_MISTAKES)
            for text, wrong in hints.items():
                assert torch.allclose(BLOCK_MISTAKES[text](h, norm, linear), _table(wrong),
                                      atol=5e-7)


def test_preactivation_block_matches_the_course_block():
    """A referência é o ResidualBlock(order="pre") do curso, com as mesmas camadas."""
    torch.manual_seed(0)
    block = ResidualBlock(8, order="pre").train()
    norm, _, linear = block.branch
    h = torch.randn(16, 8)
    with torch.no_grad():
        assert torch.allclose(hidden.reference_preactivation_block(h, norm, linear), block(h),
                              atol=1e-6)


@pytest.mark.parametrize("hint", list(BLOCK_MISTAKES), ids=lambda h: h[:25])
def test_preactivation_block_mistakes_fail_with_their_hint(hint):
    for check in (check_preactivation_block, hidden.check_preactivation_block_hidden):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            check(BLOCK_MISTAKES[hint])


def test_preactivation_block_trivial_and_malformed_answers_fail():
    with pytest.raises(AssertionError):
        check_preactivation_block(lambda h, norm, linear: h)
    with pytest.raises(AssertionError, match="forma"):
        check_preactivation_block(
            lambda h, norm, linear: hidden.reference_preactivation_block(h, norm, linear)[:, :2])


def test_preactivation_block_course_block_is_forbidden():
    def via_course(h, norm, linear):
        block = ResidualBlock(h.shape[1], order="pre").double()
        block.branch = torch.nn.Sequential(norm, torch.nn.ReLU(), linear)
        return block(h)

    with pytest.raises(ForbiddenCall, match=r"`ResidualBlock`.*não vale"):
        check_preactivation_block(via_course)


# --------------------------------------------------------------------------------------------
# exercício 3: a saída como soma de caminhos
# --------------------------------------------------------------------------------------------


def reversed_product(matrices, h0, max_length=None):
    total = torch.zeros_like(h0)
    longest = len(matrices) if max_length is None else max_length
    for length in range(min(longest, len(matrices)) + 1):
        for path in itertools.combinations(range(len(matrices)), length):
            term = h0
            for k in reversed(path):
                term = matrices[k] @ term
            total = total + term
    return total


def without_identity(matrices, h0, max_length=None):
    return hidden.reference_unrolled_output(matrices, h0, max_length) - h0


def strict_max_length(matrices, h0, max_length=None):
    if max_length is None:
        return hidden.reference_unrolled_output(matrices, h0)
    if max_length == 0:
        return h0.clone()
    return hidden.reference_unrolled_output(matrices, h0, max_length - 1)


def test_unrolled_output_reference_passes_public_and_hidden():
    check_unrolled_output(hidden.reference_unrolled_output)
    hidden.check_unrolled_output_hidden(hidden.reference_unrolled_output)


def test_unrolled_output_constant_matches_the_reference_and_the_course():
    matrices = [_table(a) for a in public.TRUNCATED_MATRICES]
    h0 = _table(public.TRUNCATED_INPUT)
    got = hidden.reference_unrolled_output(matrices, h0, public.TRUNCATED_MAX_LENGTH)
    assert torch.equal(got, _table(public.TRUNCATED_EXPECTED))
    terms = expand_linear_residual(matrices, h0)  # a enumeração do pacote do curso
    assert torch.equal(got, sum(t for path, t in terms.items()
                                if len(path) <= public.TRUNCATED_MAX_LENGTH))


def test_unrolled_output_experiment_numbers_in_the_comment():
    """O experimento com a referência e as sementes da verificação: longe das margens."""
    errors = torch.zeros(4, dtype=torch.float64)
    for seed in public.EXPERIMENT_SEEDS:
        matrices, h0 = public._random_matrices(10, 8, 0.2, seed)
        full = public.product_form(matrices, h0)
        for length in range(4):
            got = hidden.reference_unrolled_output(matrices, h0, length)
            errors[length] += ((got - full).norm() / full.norm()).item() / 4
    assert errors[0] > 1.3 * public.EXPERIMENT_IDENTITY_ERROR
    assert errors[3] < public.EXPERIMENT_SHORT_ERROR / 1.3
    assert math.comb(10, 0) + math.comb(10, 1) + math.comb(10, 2) + math.comb(10, 3) == 176


@pytest.mark.parametrize("answer, hint", [
    (reversed_product, public.HINT_REVERSED_PRODUCT),
    (without_identity, public.HINT_NO_IDENTITY_PATH),
    (strict_max_length, public.HINT_MAX_LENGTH_STRICT),
], ids=["ordem trocada", "sem a identidade", "max_length estrito"])
def test_unrolled_output_mistakes_fail_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
        check_unrolled_output(answer)


def test_unrolled_output_hidden_catches_the_strict_max_length():
    with pytest.raises(AssertionError, match="max_length conta os ramos"):
        hidden.check_unrolled_output_hidden(strict_max_length)


def test_unrolled_output_ignoring_max_length_fails_the_experiment_or_earlier():
    with pytest.raises(AssertionError, match="max_length = 0"):
        check_unrolled_output(lambda matrices, h0, max_length=None: public.product_form(
            matrices, h0))


def test_unrolled_output_experiment_catches_what_the_exact_cases_miss():
    """Uma resposta certa com poucos blocos, mas que com muitos blocos só soma os caminhos de
    até 2 ramos (um atalho “para ganhar tempo”): só o experimento a recusa."""

    def truncated_when_deep(matrices, h0, max_length=None):
        if len(matrices) <= 5:
            return hidden.reference_unrolled_output(matrices, h0, max_length)
        return hidden.reference_unrolled_output(matrices, h0, min(max_length or 2, 2))

    with pytest.raises(AssertionError, match="experimento com K = 10"):
        check_unrolled_output(truncated_when_deep)


def test_unrolled_output_trivial_answer_fails():
    with pytest.raises(AssertionError):
        check_unrolled_output(lambda matrices, h0, max_length=None: h0)
    with pytest.raises(AssertionError, match=r"esperava um torch\.Tensor, recebeu list"):
        check_unrolled_output(lambda matrices, h0, max_length=None: matrices)


def test_unrolled_output_course_functions_are_forbidden():
    def via_expansion(matrices, h0, max_length=None):
        terms = expand_linear_residual(matrices, h0)
        return sum(t for p, t in terms.items() if max_length is None or len(p) <= max_length)

    def via_paths(matrices, h0, max_length=None):
        total = torch.zeros_like(h0)
        for path in enumerate_paths(len(matrices)):
            if max_length is None or len(path) <= max_length:
                term = h0
                for k in path:
                    term = matrices[k - 1] @ term
                total = total + term
        return total

    with pytest.raises(ForbiddenCall, match=r"`expand_linear_residual`.*não vale"):
        check_unrolled_output(via_expansion)
    with pytest.raises(ForbiddenCall, match=r"`enumerate_paths`.*não vale"):
        check_unrolled_output(via_paths)
    assert len(enumerate_paths(3)) == 8  # restaurada


# --------------------------------------------------------------------------------------------
# exercício 4: o gradiente por comprimento de caminho
# --------------------------------------------------------------------------------------------


def _counts(n_blocks):
    return [math.comb(n_blocks, ell) for ell in range(n_blocks + 1)]


def forgot_binomial(n_blocks, gain):
    powers = [gain**ell for ell in range(n_blocks + 1)]
    return [p / sum(powers) for p in powers]


def not_normalized(n_blocks, gain):
    return [c * gain**ell for ell, c in enumerate(_counts(n_blocks))]


def by_power_of_two(n_blocks, gain):
    return [c * gain**ell / 2**n_blocks for ell, c in enumerate(_counts(n_blocks))]


def probability_g(n_blocks, gain):
    return [c * gain**ell * (1 - gain) ** (n_blocks - ell)
            for ell, c in enumerate(_counts(n_blocks))]


def counts_only(n_blocks, gain):
    return [c / 2**n_blocks for c in _counts(n_blocks)]


SHARE_MISTAKES = {public.HINT_FORGOT_BINOMIAL: forgot_binomial,
                  public.HINT_NOT_NORMALIZED: not_normalized,
                  public.HINT_POWER_OF_TWO: by_power_of_two,
                  public.HINT_PROBABILITY_G: probability_g,
                  public.HINT_COUNTS_ONLY: counts_only}


def test_gradient_share_reference_passes_public_and_hidden():
    check_gradient_share_by_path_length(hidden.reference_gradient_share_by_path_length)
    hidden.check_gradient_share_by_path_length_hidden(
        hidden.reference_gradient_share_by_path_length)


def test_gradient_share_constants_match_the_reference_and_the_mistakes():
    reference = hidden.reference_gradient_share_by_path_length
    for (n_blocks, gain), (expected, hints) in public.SHARE_CASES.items():
        assert reference(n_blocks, gain) == pytest.approx(expected, abs=5e-7)
        for text, wrong in hints.items():
            assert SHARE_MISTAKES[text](n_blocks, gain) == pytest.approx(wrong, abs=5e-7)
    shares = reference(public.RESNET_BLOCKS, public.RESNET_GAIN)
    for length, value in public.RESNET_SHARES.items():
        assert shares[length] == pytest.approx(value, rel=1e-5)
    assert max(range(55), key=shares.__getitem__) == public.RESNET_MODE == 9
    assert 5 <= public.RESNET_MODE <= 17  # dentro da faixa medida por Veit et al.
    for mode, text in public.RESNET_WRONG_MODES.items():
        wrong = SHARE_MISTAKES[text](public.RESNET_BLOCKS, public.RESNET_GAIN)
        assert max(range(55), key=wrong.__getitem__) == mode
    # a soma sobre os caminhos, listados um a um, dá o mesmo (K pequeno)
    for n_blocks, gain in [(4, 0.3), (6, 1.7)]:
        by_length = [0.0] * (n_blocks + 1)
        for path in enumerate_paths(n_blocks):
            by_length[len(path)] += gain ** len(path)
        total = sum(by_length)
        assert reference(n_blocks, gain) == pytest.approx([w / total for w in by_length])


@pytest.mark.parametrize("hint", [public.HINT_FORGOT_BINOMIAL, public.HINT_NOT_NORMALIZED,
                                  public.HINT_POWER_OF_TWO, public.HINT_PROBABILITY_G],
                         ids=lambda h: h[:25])
def test_gradient_share_mistakes_fail_with_their_hint(hint):
    for check in (check_gradient_share_by_path_length,
                  hidden.check_gradient_share_by_path_length_hidden):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            check(SHARE_MISTAKES[hint])


def test_gradient_share_counts_only_is_caught_at_the_resnet():
    def counts_only_when_large(n_blocks, gain):  # passa nos casos pequenos com g = 1 ...
        if n_blocks < 10:
            return hidden.reference_gradient_share_by_path_length(n_blocks, gain)
        return counts_only(n_blocks, gain)

    with pytest.raises(AssertionError, match=re.escape(f"Dica: {public.HINT_COUNTS_ONLY}")):
        check_gradient_share_by_path_length(counts_only_when_large)


def test_gradient_share_trivial_and_malformed_answers_fail():
    with pytest.raises(AssertionError):
        check_gradient_share_by_path_length(lambda n, g: [1 / (n + 1)] * (n + 1))
    with pytest.raises(AssertionError, match="K \\+ 1 = 5 frações"):
        check_gradient_share_by_path_length(lambda n, g: [0.25] * n)
    # um tensor também vale
    check_gradient_share_by_path_length(
        lambda n, g: torch.tensor(hidden.reference_gradient_share_by_path_length(n, g)))


def test_gradient_share_enumerating_paths_is_forbidden():
    def via_paths(n_blocks, gain):
        by_length = [0.0] * (n_blocks + 1)
        for path in enumerate_paths(n_blocks):
            by_length[len(path)] += gain ** len(path)
        return [w / sum(by_length) for w in by_length]

    with pytest.raises(ForbiddenCall, match=r"`enumerate_paths`.*não vale"):
        check_gradient_share_by_path_length(via_paths)
