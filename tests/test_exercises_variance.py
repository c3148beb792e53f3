"""Os exercícios de programação do capítulo 3 (variância): as verificações públicas e ocultas
aceitam a referência, recusam os erros típicos com a dica certa e os atalhos proibidos, e as
constantes escritas nas verificações públicas são as que a referência dá."""

import itertools
import math

import pytest
import torch
from conftest import hidden_module

from residuais.analysis import enumerate_paths, forward_variances
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
# exercício 2: scaled_residual (a escala c medida)
# --------------------------------------------------------------------------------------------


def test_scaled_residual_reference_passes_public_and_hidden():
    public.check_scaled_residual(hidden.reference_scaled_residual)
    hidden.check_scaled_residual_hidden(hidden.reference_scaled_residual)


def test_scaled_residual_constants_match_the_reference():
    h = torch.tensor(public.SCALED_INPUT, dtype=torch.float64)
    with torch.no_grad():
        for (kind, alpha), (expected, hints) in public.SCALED_CASES.items():
            branch = public.small_branch(kind)
            got = hidden.reference_scaled_residual(h, branch, alpha)
            assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-6)
            assert got.var().item() == pytest.approx(h.var().item())  # o que o enunciado pede
            wrong = hidden._scaled_hints(h, branch, alpha)
            for text, value in hints.items():
                assert torch.allclose(wrong[text], torch.tensor(value, dtype=torch.float64),
                                      atol=1e-6), text


def _total(h, f, a):
    return h + a * f(h)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda h, f, a: _total(h, f, a) / math.sqrt(1 + a**2), "só acerta quando o ramo preserva"),
    (_total, "faltou multiplicar"),
    (lambda h, f, a: _total(h, f, a) * (h.var() / _total(h, f, a).var()), "raiz da razão"),
    (lambda h, f, a: _total(h, f, a) * (_total(h, f, a).var() / h.var()).sqrt(),
     "razão está invertida"),
    (lambda h, f, a: _total(h, f, a) * (h.var(0) / _total(h, f, a).var(0)).sqrt(),
     "um número só"),
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


def test_scaled_residual_in_place_answer_fails_the_public_check():
    """Revisão S7.3: a verificação pública pega o ``+=`` que o enunciado proíbe."""
    def in_place(h, branch, alpha):
        target = h.var()
        h += alpha * branch(h)
        return h.mul_(torch.sqrt(target / h.var()))

    for check in (public.check_scaled_residual, hidden.check_scaled_residual_hidden):
        with pytest.raises(AssertionError, match=r"alterou o tensor h recebido.*`\+=`"):
            check(in_place)


def test_an_answer_without_return_gets_the_missing_return_message():
    """Revisão S7.3: sem ``return``, a mensagem diz isso (e não “recebeu NoneType”)."""
    checks = [(public.check_variance_after_blocks, lambda k, v, a: None),
              (public.check_scaled_residual, lambda h, f, a: None),
              (public.check_branch_count_distribution, lambda rhos: None),
              (public.check_max_branch_scale, lambda k, g: None),
              (hidden.check_scaled_residual_hidden, lambda h, f, a: None),
              (hidden.check_branch_count_distribution_hidden, lambda rhos: None)]
    for check, answer in checks:
        with pytest.raises(AssertionError, match=r"não devolveu nada \(falta `return`\?\)"):
            check(answer)


def test_scaled_residual_course_block_is_forbidden():
    def with_course_block(h, branch, alpha):
        block = ResidualBlock(h.shape[-1], batch_norm=False, branch_scale=alpha).double()
        block.branch = branch
        total = block(h)
        return total * (h.var() / total.var()).sqrt()

    with pytest.raises(ForbiddenCall, match=r"ResidualBlock.*não a mede"):
        public.check_scaled_residual(with_course_block)


# --------------------------------------------------------------------------------------------
# exercício 3: branch_count_distribution
# --------------------------------------------------------------------------------------------


def test_branch_count_distribution_reference_passes_public_and_hidden():
    public.check_branch_count_distribution(hidden.reference_branch_count_distribution)
    hidden.check_branch_count_distribution_hidden(hidden.reference_branch_count_distribution)


def test_branch_count_distribution_accepts_a_tensor_answer():
    def as_tensor(rhos):
        return torch.tensor(hidden.reference_branch_count_distribution(rhos), dtype=torch.float32)

    public.check_branch_count_distribution(as_tensor)


def _brute_force(rhos):
    """A definição: soma, sobre os 2^K caminhos, do produto das frações de variância."""
    probabilities = [0.0] * (len(rhos) + 1)
    for path in itertools.product((0, 1), repeat=len(rhos)):  # 1: o caminho passa pelo ramo
        weight = math.prod(1 - r * r if b else r * r for r, b in zip(rhos, path, strict=True))
        probabilities[sum(path)] += weight
    return probabilities


def test_branch_count_constants_match_the_reference_and_the_definition():
    for rhos, (expected, hints) in public.BRANCH_COUNT_CASES.items():
        reference = hidden.reference_branch_count_distribution(list(rhos))
        assert reference == pytest.approx(list(expected), abs=1e-6)
        assert _brute_force(rhos) == pytest.approx(reference, abs=1e-12)
        mean = sum(1 - r * r for r in rhos) / len(rhos)
        wrong = {public.HINT_REVERSED: _brute_force([math.sqrt(1 - r * r) for r in rhos]),
                 public.HINT_NOT_SQUARED: _brute_force([math.sqrt(r) for r in rhos]),
                 public.HINT_BINOMIAL: [math.comb(len(rhos), j) * mean**j
                                        * (1 - mean) ** (len(rhos) - j)
                                        for j in range(len(rhos) + 1)]}
        for text, value in hints.items():
            assert list(value) == pytest.approx(wrong[text], abs=1e-6), text


def test_branch_count_distribution_is_binomial_for_equal_correlations():
    """Com todos os ρ iguais, a distribuição é a binomial (K, 1 − ρ²) do capítulo 2."""
    got = hidden.reference_branch_count_distribution([2**-0.5] * 30)
    assert got == pytest.approx([math.comb(30, j) / 2**30 for j in range(31)], abs=1e-12)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda rhos: hidden.reference_branch_count_distribution(
        [math.sqrt(1 - r * r) for r in rhos]), "não ρ_k²"),
    (lambda rhos: hidden.reference_branch_count_distribution([math.sqrt(r) for r in rhos]),
     "faltou elevar"),
    (lambda rhos: (lambda p: [math.comb(len(rhos), j) * p**j * (1 - p) ** (len(rhos) - j)
                              for j in range(len(rhos) + 1)])(
        sum(1 - r * r for r in rhos) / len(rhos)), "binomial com a probabilidade média"),
    (lambda rhos: hidden.reference_branch_count_distribution(rhos)[1:], "K \\+ 1 probabilidades"),
])
def test_branch_count_distribution_typical_mistakes_get_their_hint(wrong, hint):
    for check in (public.check_branch_count_distribution,
                  hidden.check_branch_count_distribution_hidden):
        with pytest.raises(AssertionError, match=f"Dica: .*{hint}"):
            check(wrong)


def test_branch_count_distribution_wrong_mean_fails_the_public_check():
    """Uma distribuição que acerta os dois casos escritos e erra nos de 30 blocos (aqui: o ramo
    do último bloco esquecido) falha pela média."""
    def drops_last(rhos):
        if len(rhos) < 30:
            return hidden.reference_branch_count_distribution(rhos)
        return hidden.reference_branch_count_distribution([*rhos[:-1], 1.0])

    with pytest.raises(AssertionError, match="profundidade efetiva"):
        public.check_branch_count_distribution(drops_last)


def test_branch_count_distribution_mutating_answer_fails_the_hidden_check():
    def mutates(rhos):
        rhos.sort()
        return hidden.reference_branch_count_distribution(rhos)

    with pytest.raises(AssertionError, match="alterou a lista"):
        hidden.check_branch_count_distribution_hidden(mutates)


def test_branch_count_distribution_trivial_answers_fail():
    for trivial in (lambda rhos: [1.0] + [0.0] * len(rhos),
                    lambda rhos: [1 / (len(rhos) + 1)] * (len(rhos) + 1)):
        with pytest.raises(AssertionError, match="maior diferença"):
            public.check_branch_count_distribution(trivial)
    with pytest.raises(AssertionError, match="lista de números"):
        public.check_branch_count_distribution(lambda rhos: "0,5")


def test_branch_count_distribution_enumerating_paths_is_forbidden():
    def enumerates(rhos):
        probabilities = [0.0] * (len(rhos) + 1)
        for path in enumerate_paths(len(rhos)):
            probabilities[len(path)] += 0.0
        return probabilities

    with pytest.raises(ForbiddenCall, match=r"enumerate_paths.*K = 64"):
        public.check_branch_count_distribution(enumerates)


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


# --------------------------------------------------------------------------------------------
# nenhuma função que a página do capítulo 3 mostra responde um exercício (issue 29, item 2)
# --------------------------------------------------------------------------------------------


def _shown_functions() -> dict[str, object]:
    """As funções definidas nas células que o estudante vê (sem soluções nem testes), com as
    importações do capítulo; só as definições rodam, não o resto das células."""
    import ast
    import json

    from conftest import ROOT

    notebook = json.loads((ROOT / "book" / "03_variancia.ipynb").read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"
             and "# BEGIN SOLUTION" not in "".join(c["source"])
             and "remove-cell" not in c.get("metadata", {}).get("tags", [])]
    namespace: dict[str, object] = {}
    exec(compile(cells[0], "importações", "exec"), namespace)  # a primeira célula: importações
    for source in cells[1:]:
        tree = ast.parse(source)
        tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        exec(compile(tree, "célula", "exec"), namespace)
    return {name: value for name, value in namespace.items()
            if callable(value) and getattr(value, "__module__", None) is None}


def test_no_function_shown_in_the_chapter_passes_an_exercise_check(monkeypatch):
    """Como na correção, em que as regras de ``forbidden`` só viram um aviso ao professor: sem
    elas, nenhuma função mostrada passa na verificação de um exercício (antes, a
    ``correlation`` da página, com ``torch.corrcoef``, respondia o exercício 3)."""
    import contextlib
    import inspect

    monkeypatch.setattr(public, "forbidden", lambda fn, rules: contextlib.nullcontext())
    shown = _shown_functions()
    assert {"block_outputs", "correlation", "train", "make_model", "profile_view"} <= set(shown)
    checks = [(public.check_variance_after_blocks, 3), (public.check_scaled_residual, 3),
              (public.check_branch_count_distribution, 1), (public.check_max_branch_scale, 2)]
    tried = 0
    for function in shown.values():
        n_args = len(inspect.signature(function).parameters)
        for check, arity in checks:
            if arity == n_args:
                tried += 1
                with pytest.raises(AssertionError):
                    check(function)
    assert tried >= 3, "nenhuma função mostrada tem a aridade de um exercício?"
