"""Testes de residuais.lesion: as remontagens conferidas com a passagem direta do PyTorch, com
``without_block`` e com composições escritas à mão."""

import pytest
import torch

from residuais.analysis import without_block
from residuais.lesion import (
    adjacent_swaps,
    lesion_accuracies,
    random_removals,
    reassemble,
    removable_blocks,
)
from residuais.models import PlainMLP, ResidualMLP
from residuais.train import evaluate


@pytest.fixture
def nets():
    torch.manual_seed(0)
    residual = ResidualMLP(5, 6, 4, 3).eval()
    plain = PlainMLP(5, 6, 4, 3, batch_norm=True).eval()
    return residual, plain, torch.randn(10, 5)


def test_intact_order_is_the_model(nets):
    residual, plain, x = nets
    for model in (residual, plain):
        torch.testing.assert_close(reassemble(model, [1, 2, 3, 4])(x), model(x))


def test_removing_one_block_matches_without_block(nets):
    residual, plain, x = nets
    torch.testing.assert_close(reassemble(residual, [1, 2, 4])(x), without_block(residual, 3)(x))
    torch.testing.assert_close(reassemble(plain, [1, 3, 4])(x), without_block(plain, 2)(x))


def test_swapped_blocks_are_composed_in_the_new_order(nets):
    residual, _, x = nets
    b = residual.blocks
    by_hand = residual.head(b[3](b[1](b[2](b[0](residual.stem(x))))))
    torch.testing.assert_close(reassemble(residual, [1, 3, 2, 4])(x), by_hand)


def test_reassembly_shares_the_weights_and_the_mode(nets):
    residual, _, _ = nets
    view = reassemble(residual, [2, 1])
    assert view[1] is residual.blocks[1] and not view.training
    assert reassemble(residual.train(), [1]).training


def test_invalid_orders_are_refused(nets):
    residual, plain, _ = nets
    with pytest.raises(ValueError, match="distintos"):
        reassemble(residual, [1, 1])
    with pytest.raises(ValueError, match="distintos"):
        reassemble(residual, [0, 2])
    with pytest.raises(ValueError, match="camada 1"):
        reassemble(plain, [2, 1, 3])
    with pytest.raises(TypeError):
        reassemble(torch.nn.Linear(2, 2), [1])


def test_random_removals_and_swaps(nets):
    residual, plain, _ = nets
    assert removable_blocks(residual) == [1, 2, 3, 4]
    assert removable_blocks(plain) == [2, 3, 4]
    gen = torch.Generator().manual_seed(0)
    for model in (residual, plain):
        for k in range(len(removable_blocks(model)) + 1):
            for order in random_removals(model, k, 5, gen):
                assert len(order) == 4 - k and order == sorted(order)
                if model is plain:
                    assert order[0] == 1  # a camada 1 nunca sai
    with pytest.raises(ValueError, match="n_removed"):
        random_removals(plain, 4, 1, gen)
    assert adjacent_swaps(residual) == [[2, 1, 3, 4], [1, 3, 2, 4], [1, 2, 4, 3]]
    assert adjacent_swaps(plain) == [[1, 3, 2, 4], [1, 2, 4, 3]]


def test_lesion_accuracies_use_evaluation_mode(nets):
    residual, _, x = nets
    y = torch.randint(0, 3, (10,))
    residual.train()
    got = lesion_accuracies(residual, [[1, 2, 3, 4], [2, 3]], x, y)
    assert got[0] == evaluate(residual, x, y)[1]
    assert got[1] == evaluate(without_block(without_block(residual, 1), 4), x, y)[1]
    assert residual.training and residual.blocks[0].training  # o modo volta ao que era
