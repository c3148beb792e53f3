"""Testes de residuais.lesion_subsets: cada subconjunto conferido com a remontagem de
``residuais.lesion`` avaliada sozinha."""

from itertools import combinations

import pytest
import torch

from residuais.lesion import lesion_accuracies
from residuais.lesion_subsets import subset_lesion_accuracies
from residuais.models import PlainMLP, ResidualMLP


def _all_subsets(blocks):
    return [frozenset(c) for r in range(len(blocks) + 1) for c in combinations(blocks, r)]


@pytest.fixture
def data():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(600, 5, generator=gen), torch.randint(0, 4, (600,), generator=gen)


@pytest.mark.parametrize(("make", "choosable"), [
    (lambda: ResidualMLP(5, 8, 5, 4), (1, 3, 4)),
    (lambda: ResidualMLP(5, 8, 5, 4, order="post"), (5, 2)),
    (lambda: PlainMLP(5, 8, 5, 4, batch_norm=True), (2, 4, 5)),
])
def test_every_subset_matches_its_reassembly(data, make, choosable):
    x, y = data
    torch.manual_seed(1)
    model = make().eval()
    n_blocks = 5
    subsets = _all_subsets(choosable)
    orders = [[k for k in range(1, n_blocks + 1) if k not in s] for s in subsets]
    expected = dict(zip(subsets, lesion_accuracies(model, orders, x, y), strict=True))
    # pré-condição: acurácias distintas, para que trocar os rótulos dos subconjuntos apareça
    assert len(set(expected.values())) > len(subsets) // 2

    got = subset_lesion_accuracies(model, choosable, x, y)
    assert set(got) == set(subsets)
    for subset in subsets:
        assert got[subset] == pytest.approx(expected[subset], abs=1e-6), sorted(subset)


def test_refuses_training_mode_and_bad_blocks(data):
    x, y = data
    residual, plain = ResidualMLP(5, 8, 3, 4), PlainMLP(5, 8, 3, 4)
    with pytest.raises(ValueError, match="modo de avaliação"):
        subset_lesion_accuracies(residual, [1], x, y)
    with pytest.raises(ValueError, match="removíveis"):
        subset_lesion_accuracies(plain.eval(), [1, 2], x, y)  # a camada 1 não se remove
    with pytest.raises(ValueError, match="removíveis"):
        subset_lesion_accuracies(residual.eval(), [2, 2], x, y)
    with pytest.raises(ValueError, match="removíveis"):
        subset_lesion_accuracies(residual.eval(), [4], x, y)
