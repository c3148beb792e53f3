"""Testes de residuais.train."""

import pytest
import torch

from residuais.data import Dataset
from residuais.models import ResidualMLP
from residuais.train import TrainConfig, evaluate, fit


def _toy_dataset() -> Dataset:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 5, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    return Dataset(x[:300], y[:300], x[300:], y[300:], n_classes=2)


def test_fit_learns_a_separable_problem():
    torch.manual_seed(0)
    data = _toy_dataset()
    model = ResidualMLP(5, 16, 2, 2)
    history = fit(model, data, TrainConfig(epochs=8, lr=0.05, batch_size=50))
    assert len(history.train_loss) == 8 == len(history.test_acc)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.test_acc[-1] > 0.9
    loss, acc = evaluate(model, data.x_test, data.y_test)
    assert acc == pytest.approx(history.test_acc[-1])
    assert loss == pytest.approx(history.test_loss[-1])


def test_fit_is_reproducible():
    data = _toy_dataset()
    losses = []
    for _ in range(2):
        torch.manual_seed(1)
        losses.append(fit(ResidualMLP(5, 8, 1, 2), data, TrainConfig(epochs=2)).train_loss)
    assert losses[0] == losses[1]


def test_fit_stops_when_loss_diverges():
    torch.manual_seed(0)
    data = _toy_dataset()
    model = ResidualMLP(5, 16, 2, 2, batch_norm=False, init_scale=5.0)
    history = fit(model, data, TrainConfig(epochs=20, lr=1e6, momentum=0.0))
    assert len(history.train_loss) < 20


def test_bad_config_and_mismatched_evaluation():
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=1)
    with pytest.raises(ValueError, match="taxa de aprendizado"):
        TrainConfig(lr=0.0)
    with pytest.raises(ValueError, match="exemplos"):
        evaluate(ResidualMLP(5, 4, 1, 2), torch.randn(3, 5), torch.zeros(4, dtype=torch.long))
