"""Os exercícios de programação do capítulo 2: as verificações públicas e ocultas aceitam a
referência, recusam os erros típicos com a dica certa, pegam os atalhos proibidos, e as
constantes escritas nas verificações públicas conferem com a referência."""

import math
import re

import pytest
import torch
from conftest import hidden_module

from residuais.analysis import enumerate_paths, expand_linear_residual
from residuais.checks import ForbiddenCall
from residuais.checks import path_lengths as paths
from residuais.checks import residual_blocks as blocks
from residuais.checks.residual import (
    check_gradient_share_by_path_length,
    check_outputs_by_length,
    check_post_block_jacobian,
    check_residual_forward,
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
    mistakes = {blocks.HINT_NO_SKIP: no_skip, blocks.HINT_ONLY_FROM_INPUT: only_from_input}
    for _, h0, branches, expected, hints in blocks.FORWARD_CASES:
        got = torch.stack(hidden.reference_residual_forward(branches, _table(h0)))
        assert torch.allclose(got, _table(expected), atol=5e-7)
        for text, wrong in hints.items():
            assert torch.allclose(torch.stack(mistakes[text](branches, _table(h0))),
                                  _table(wrong), atol=5e-7)


@pytest.mark.parametrize("answer, hint", [
    (no_skip, blocks.HINT_NO_SKIP),
    (only_from_input, blocks.HINT_ONLY_FROM_INPUT),
    (in_place, blocks.HINT_ALIASED),
    (lambda branches, h0: hidden.reference_residual_forward(branches, h0)[-1],
     blocks.HINT_ONLY_LAST),
    (lambda branches, h0: hidden.reference_residual_forward(branches, h0)[1:],
     blocks.HINT_MISSING_INPUT),
], ids=["sem atalho", "sempre h_0", "no lugar", "só h_K", "sem h_0"])
def test_residual_forward_mistakes_fail_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
        check_residual_forward(answer)
    if hint in (blocks.HINT_NO_SKIP, blocks.HINT_ONLY_FROM_INPUT):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            hidden.check_residual_forward_hidden(answer)


def test_residual_forward_trivial_answers_fail():
    with pytest.raises(AssertionError, match=r"elemento 0 .* function"):
        check_residual_forward(lambda branches, h0: branches)  # devolve o primeiro argumento
    with pytest.raises(AssertionError):
        check_residual_forward(lambda branches, h0: [h0] * (len(branches) + 1))
    with pytest.raises(AssertionError, match=r"não devolveu nada \(falta `return`\?\)"):
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
# exercício 2: o jacobiano do bloco original (pós-ativação)
# --------------------------------------------------------------------------------------------


def _pieces(weight, bias, h):
    eye = torch.eye(h.shape[0], dtype=weight.dtype)
    return eye, h + weight @ h + bias


def no_identity(weight, bias, h):
    _, total = _pieces(weight, bias, h)
    return (total > 0).to(weight.dtype).unsqueeze(1) * weight


def no_post_mask(weight, bias, h):
    eye, _ = _pieces(weight, bias, h)
    return eye + weight


def branch_mask(weight, bias, h):
    eye, _ = _pieces(weight, bias, h)
    return (weight @ h + bias > 0).to(weight.dtype).unsqueeze(1) * (eye + weight)


def zero_sum_kept(weight, bias, h):
    eye, total = _pieces(weight, bias, h)
    return (total >= 0).to(weight.dtype).unsqueeze(1) * (eye + weight)


def columns_masked(weight, bias, h):  # D aplicada do lado errado: (I + W) D
    eye, total = _pieces(weight, bias, h)
    return (eye + weight) * (total > 0).to(weight.dtype).unsqueeze(0)


BLOCK_MISTAKES = [
    (no_identity, blocks.HINT_NO_IDENTITY),
    (no_post_mask, blocks.HINT_NO_POST_MASK),
    (branch_mask, blocks.HINT_BRANCH_MASK),
    (zero_sum_kept, blocks.HINT_ZERO_SUM),
]


def test_post_block_jacobian_reference_passes_public_and_hidden():
    check_post_block_jacobian(hidden.reference_post_block_jacobian)
    hidden.check_post_block_jacobian_hidden(hidden.reference_post_block_jacobian)


def test_post_block_jacobian_matches_the_course_block():
    """Com um ramo só linear, o ResidualBlock(order="post") sem BN é o bloco do exercício."""
    torch.manual_seed(0)
    block = ResidualBlock(5, batch_norm=False, order="post").double()
    linear = block.branch[0]
    h = torch.randn(5, dtype=torch.float64)
    expected = torch.autograd.functional.jacobian(lambda v: block(v.unsqueeze(0)).squeeze(0), h)
    got = hidden.reference_post_block_jacobian(linear.weight.detach(), linear.bias.detach(), h)
    assert torch.allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize(("answer", "hint"), BLOCK_MISTAKES,
                         ids=lambda a: getattr(a, "__name__", ""))
def test_post_block_jacobian_mistakes_fail_with_their_hint(answer, hint):
    for check in (check_post_block_jacobian, hidden.check_post_block_jacobian_hidden):
        with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
            check(answer)


def test_post_block_jacobian_other_mistakes_and_trivial_answers_fail():
    for wrong in (columns_masked, lambda w, b, h: torch.zeros_like(w), lambda w, b, h: w):
        with pytest.raises(AssertionError):
            check_post_block_jacobian(wrong)
    with pytest.raises(AssertionError, match="forma"):
        check_post_block_jacobian(lambda w, b, h: h)


def test_post_block_jacobian_accepts_float32_arithmetic():
    def in_float32(weight, bias, h):
        return hidden.reference_post_block_jacobian(weight.float(), bias.float(), h.float())

    check_post_block_jacobian(in_float32)
    hidden.check_post_block_jacobian_hidden(in_float32)


def test_post_block_jacobian_autograd_is_forbidden():
    def via_autograd(weight, bias, h):
        return torch.autograd.functional.jacobian(
            lambda v: torch.relu(v + weight @ v + bias), h)

    with pytest.raises(ForbiddenCall, match=r"jacobian.*não vale"):
        check_post_block_jacobian(via_autograd)


# --------------------------------------------------------------------------------------------
# exercício 3: a saída separada por comprimento de caminho
# --------------------------------------------------------------------------------------------


def listed_rows(matrices, h0):  # outra resposta certa, listando os caminhos (só K pequeno)
    rows = [torch.zeros_like(h0) for _ in range(len(matrices) + 1)]
    for path in enumerate_paths(len(matrices)):
        term = h0
        for k in path:
            term = matrices[k - 1] @ term
        rows[len(path)] = rows[len(path)] + term
    return torch.stack(rows)


def reversed_product(matrices, h0):
    return hidden.enumerated_rows(matrices, h0, reverse=True)


def cumulative(matrices, h0):
    return hidden.reference_outputs_by_length(matrices, h0).cumsum(dim=0)


def without_empty_path(matrices, h0):
    return hidden.reference_outputs_by_length(matrices, h0)[1:]


def everything_in_row_zero(matrices, h0):  # a soma certa, na linha errada
    rows = torch.zeros(len(matrices) + 1, h0.shape[0], dtype=h0.dtype)
    rows[0] = paths.product_form(matrices, h0)
    return rows


OUTPUTS_MISTAKES = [
    (reversed_product, paths.HINT_REVERSED_PRODUCT),
    (cumulative, paths.HINT_CUMULATIVE),
    (without_empty_path, paths.HINT_MISSING_EMPTY_PATH),
    (everything_in_row_zero, paths.HINT_WRONG_ROWS),
]


def test_outputs_by_length_reference_passes_public_and_hidden():
    check_outputs_by_length(hidden.reference_outputs_by_length)
    hidden.check_outputs_by_length_hidden(hidden.reference_outputs_by_length)


def test_outputs_by_length_reference_agrees_with_listing_the_paths():
    for n_blocks in range(7):
        matrices, h0 = paths.random_matrices(n_blocks, 3, 0.7, seed=100 + n_blocks)
        assert torch.allclose(hidden.reference_outputs_by_length(matrices, h0),
                              listed_rows(matrices, h0), atol=1e-12)
        # e com as funções do curso: a linha ℓ junta os termos de expand_linear_residual
        terms = expand_linear_residual(matrices, h0)
        for length in range(n_blocks + 1):
            by_course = sum((t for p, t in terms.items() if len(p) == length),
                            torch.zeros_like(h0))
            assert torch.allclose(hidden.reference_outputs_by_length(matrices, h0)[length],
                                  by_course, atol=1e-12)


def test_outputs_by_length_written_constants_match():
    matrices = [torch.tensor(a, dtype=torch.float64) for a in paths.WRITTEN_MATRICES]
    h0 = torch.tensor(paths.WRITTEN_INPUT, dtype=torch.float64)
    assert hidden.reference_outputs_by_length(matrices, h0).tolist() == [
        list(row) for row in paths.WRITTEN_ROWS]
    assert listed_rows(matrices, h0).tolist() == [list(row) for row in paths.WRITTEN_ROWS]
    for answer, hint in OUTPUTS_MISTAKES[:2]:
        assert answer(matrices, h0).tolist() == [list(r) for r in paths.WRITTEN_HINTS[hint]]
    # e a soma até 2 ramos é a do exercício antigo (9, 14), conferida à mão
    assert cumulative(matrices, h0)[2].tolist() == [9.0, 14.0]


@pytest.mark.parametrize(("answer", "hint"), OUTPUTS_MISTAKES,
                         ids=lambda a: getattr(a, "__name__", ""))
def test_outputs_by_length_mistakes_fail_with_their_hint(answer, hint):
    with pytest.raises(AssertionError, match=re.escape(f"Dica: {hint}")):
        check_outputs_by_length(answer)


def test_outputs_by_length_hidden_catches_the_mistakes():
    for answer, _ in OUTPUTS_MISTAKES:
        with pytest.raises(AssertionError):
            hidden.check_outputs_by_length_hidden(answer)


def test_outputs_by_length_listing_the_paths_is_too_slow_for_the_large_case():
    """Listar os caminhos responde os casos pequenos, mas não o de K = 30 (2^30 caminhos): a
    verificação pública usa K = 30 justamente para pedir a conta por comprimento."""
    assert paths.LARGE_BLOCKS >= 30 and 2 ** paths.LARGE_BLOCKS > 1e9


def test_outputs_by_length_trivial_answers_fail():
    with pytest.raises(AssertionError, match="esperava"):
        check_outputs_by_length(lambda matrices, h0: h0)
    with pytest.raises(AssertionError):
        check_outputs_by_length(
            lambda matrices, h0: torch.zeros(len(matrices) + 1, h0.shape[0], dtype=h0.dtype))


def test_outputs_by_length_course_functions_are_forbidden():
    def via_expansion(matrices, h0):
        terms = expand_linear_residual(matrices, h0)
        return torch.stack([sum((t for p, t in terms.items() if len(p) == length),
                                torch.zeros_like(h0)) for length in range(len(matrices) + 1)])

    with pytest.raises(ForbiddenCall, match=r"expand_linear_residual.*não vale"):
        check_outputs_by_length(via_expansion)
    with pytest.raises(ForbiddenCall, match=r"enumerate_paths.*não vale"):
        check_outputs_by_length(listed_rows)


def test_outputs_by_length_experiment_numbers_in_the_comment():
    errors = []
    for seed in range(200):
        matrices, h0 = paths.random_matrices(10, 8, 0.2, seed)
        rows = hidden.reference_outputs_by_length(matrices, h0).cumsum(dim=0)
        full = paths.product_form(matrices, h0)
        errors.append([((rows[length] - full).norm() / full.norm()).item()
                       for length in (0, 3)])
    groups = torch.tensor(errors).view(50, 4, 2).mean(dim=1)  # 50 grupos de 4 redes
    assert groups[:, 0].min() > paths.EXPERIMENT_IDENTITY_ERROR
    assert groups[:, 1].max() < paths.EXPERIMENT_SHORT_ERROR


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


SHARE_MISTAKES = {paths.HINT_FORGOT_BINOMIAL: forgot_binomial,
                  paths.HINT_NOT_NORMALIZED: not_normalized,
                  paths.HINT_POWER_OF_TWO: by_power_of_two,
                  paths.HINT_PROBABILITY_G: probability_g,
                  paths.HINT_COUNTS_ONLY: counts_only}


def test_gradient_share_reference_passes_public_and_hidden():
    check_gradient_share_by_path_length(hidden.reference_gradient_share_by_path_length)
    hidden.check_gradient_share_by_path_length_hidden(
        hidden.reference_gradient_share_by_path_length)


def test_gradient_share_constants_match_the_reference_and_the_mistakes():
    reference = hidden.reference_gradient_share_by_path_length
    for (n_blocks, gain), (expected, hints) in paths.SHARE_CASES.items():
        assert reference(n_blocks, gain) == pytest.approx(expected, abs=5e-7)
        for text, wrong in hints.items():
            assert SHARE_MISTAKES[text](n_blocks, gain) == pytest.approx(wrong, abs=5e-7)
    shares = reference(paths.RESNET_BLOCKS, paths.RESNET_GAIN)
    for length, value in paths.RESNET_SHARES.items():
        assert shares[length] == pytest.approx(value, rel=1e-5)
    assert max(range(55), key=shares.__getitem__) == paths.RESNET_MODE == 9
    assert 5 <= paths.RESNET_MODE <= 17  # dentro da faixa medida por Veit et al.
    for mode, text in paths.RESNET_WRONG_MODES.items():
        wrong = SHARE_MISTAKES[text](paths.RESNET_BLOCKS, paths.RESNET_GAIN)
        assert max(range(55), key=wrong.__getitem__) == mode
    # a soma sobre os caminhos, listados um a um, dá o mesmo (K pequeno)
    for n_blocks, gain in [(4, 0.3), (6, 1.7)]:
        by_length = [0.0] * (n_blocks + 1)
        for path in enumerate_paths(n_blocks):
            by_length[len(path)] += gain ** len(path)
        total = sum(by_length)
        assert reference(n_blocks, gain) == pytest.approx([w / total for w in by_length])


@pytest.mark.parametrize("hint", [paths.HINT_FORGOT_BINOMIAL, paths.HINT_NOT_NORMALIZED,
                                  paths.HINT_POWER_OF_TWO, paths.HINT_PROBABILITY_G],
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

    with pytest.raises(AssertionError, match=re.escape(f"Dica: {paths.HINT_COUNTS_ONLY}")):
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


def test_gradient_share_answer_key_modes():
    """O gabarito da pergunta escrita do exercício 4 (capítulo 2): a moda de Binomial(K, g/(1+g))
    é 9 com K = 54 e g = 0,2, 27 com g = 1, e 3 (com o 4 logo atrás) para a rede de 12 blocos com
    g entre 0,40 e 0,44; o pico anda para caminhos mais longos quando g cresce."""
    def mode(n_blocks, gain):
        shares = hidden.reference_gradient_share_by_path_length(n_blocks, gain)
        return max(range(n_blocks + 1), key=shares.__getitem__)

    assert mode(54, 0.2) == 9 == math.floor(55 * 0.2 / 1.2)
    assert mode(54, 1.0) == 27
    for gain in (0.40, 0.42, 0.44):
        shares = hidden.reference_gradient_share_by_path_length(12, gain)
        assert mode(12, gain) == 3 and sorted(range(13), key=shares.__getitem__)[-2] == 4
    modes = [mode(54, gain) for gain in (0.05, 0.2, 0.5, 1.0, 2.0)]
    assert modes == sorted(modes) and len(set(modes)) == len(modes)
