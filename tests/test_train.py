"""Testes de residuais.train."""

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from residuais.data import Dataset
from residuais.models import PlainMLP, ResidualMLP
from residuais.optim import SGD
from residuais.train import TrainConfig, evaluate, fit, fit_copies, fit_seed_models, fit_seeds


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


# --------------------------------------------------------------------------------------------
# várias sementes juntas (fit_seeds)
# --------------------------------------------------------------------------------------------


def _double(data: Dataset) -> Dataset:
    return Dataset(data.x_train.double(), data.y_train, data.x_test.double(), data.y_test,
                   data.n_classes)


def _make(kind: str):
    def make(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        if kind == "plain":
            return PlainMLP(5, 12, 3, 2, batch_norm=True).double()
        return ResidualMLP(5, 12, 3, 2, batch_norm=True).double()
    return make


@pytest.mark.parametrize(("kind", "optimizer"), [("residual", "sgd"), ("plain", "adam")])
def test_fit_seeds_gives_the_numbers_of_separate_runs(kind, optimizer):
    """Em float64, a diferença para uma execução de ``fit`` por semente é só de arredondamento
    (em float32, um treino longo amplifica a diferença na ordem das somas)."""
    data, make = _double(_toy_dataset()), _make(kind)
    config = TrainConfig(epochs=3, lr=0.02, batch_size=50, optimizer=optimizer, eval_train=True)
    together = fit_seeds(make, data, [0, 1, 2], config)
    for seed, joint in zip([0, 1, 2], together, strict=True):
        alone = fit(make(seed), data, replace(config, seed=seed))
        for name in ("train_loss", "train_acc", "test_loss", "test_acc", "train_eval_loss",
                     "train_eval_acc"):
            assert getattr(joint, name) == pytest.approx(getattr(alone, name), rel=1e-9,
                                                         abs=1e-12), name
    assert together[0].test_loss != pytest.approx(together[1].test_loss)  # sementes diferentes


def test_train_eval_loss_is_the_full_training_set_in_eval_mode():
    torch.manual_seed(0)
    data = _toy_dataset()
    model = ResidualMLP(5, 8, 2, 2)
    history = fit(model, data, TrainConfig(epochs=2, eval_train=True))
    assert history.train_eval_loss[-1] == pytest.approx(
        evaluate(model, data.x_train, data.y_train)[0])
    assert fit(ResidualMLP(5, 8, 2, 2), data, TrainConfig(epochs=1)).train_eval_loss == []


def test_fit_seed_models_returns_the_models_of_separate_runs():
    """Os modelos devolvidos têm os pesos e as médias móveis da BN de um ``fit`` por semente."""
    data, make = _double(_toy_dataset()), _make("plain")
    config = TrainConfig(epochs=2, lr=0.02, batch_size=50)
    histories, models = fit_seed_models(make, data, [0, 1], config)
    for seed, joint in zip([0, 1], models, strict=True):
        alone = make(seed)
        fit(alone, data, replace(config, seed=seed))
        for (name, a), (_, b) in zip(joint.state_dict().items(), alone.state_dict().items(),
                                     strict=True):
            assert torch.allclose(a.double(), b.double(), rtol=1e-9, atol=1e-12), name
        assert evaluate(joint, data.x_test, data.y_test)[0] == pytest.approx(
            histories[seed].test_loss[-1], rel=1e-9)
    assert not torch.equal(models[0].head.weight, make(0).head.weight)  # treinou de fato


def test_fit_seed_models_with_one_rate_per_copy_matches_separate_runs():
    """``lrs``: cada cópia treina com a própria taxa, como um ``fit`` com essa taxa (também com
    decaimento de pesos e aquecimento); sementes repetidas, uma por taxa."""
    data, make = _double(_toy_dataset()), _make("plain")
    config = TrainConfig(epochs=2, batch_size=50, weight_decay=1e-3, warmup_steps=3)
    seeds, lrs = [0, 1, 0], [0.02, 0.05, 0.2]
    histories, models = fit_seed_models(make, data, seeds, config, lrs=lrs)
    for seed, lr, joint, model in zip(seeds, lrs, histories, models, strict=True):
        alone = make(seed)
        history = fit(alone, data, replace(config, seed=seed, lr=lr))
        assert joint.train_loss == pytest.approx(history.train_loss, rel=1e-9)
        assert joint.test_loss == pytest.approx(history.test_loss, rel=1e-9)
        for (name, a), (_, b) in zip(model.state_dict().items(), alone.state_dict().items(),
                                     strict=True):
            assert torch.allclose(a.double(), b.double(), rtol=1e-9, atol=1e-12), name
    assert histories[0].train_loss != pytest.approx(histories[2].train_loss)  # taxas diferentes
    for bad_config, bad_lrs in ((config, [0.1]), (replace(config, optimizer="adam"), lrs),
                                (config, [0.1, 0.0, 0.1])):
        with pytest.raises(ValueError, match="lrs"):
            fit_seed_models(make, data, seeds, bad_config, lrs=bad_lrs)


def test_train_eval_size_measures_the_first_examples_only():
    torch.manual_seed(0)
    data = _double(_toy_dataset())
    config = TrainConfig(epochs=2, eval_train=True, eval_train_size=40)
    model = ResidualMLP(5, 8, 2, 2).double()
    history = fit(model, data, config)
    first = evaluate(model, data.x_train[:40], data.y_train[:40])[0]
    everything = evaluate(model, data.x_train, data.y_train)[0]
    assert history.train_eval_loss[-1] == pytest.approx(first, rel=1e-12)
    assert first != pytest.approx(everything)  # não é o conjunto inteiro
    together = fit_seeds(_make("residual"), data, [0], config)[0]
    alone = fit(_make("residual")(0), data, config)
    assert together.train_eval_loss == pytest.approx(alone.train_eval_loss, rel=1e-9)
    with pytest.raises(ValueError, match="eval_train_size"):
        TrainConfig(eval_train=True, eval_train_size=0)


def test_fit_seeds_stops_only_the_copy_that_diverges():
    data = _toy_dataset()

    def make(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = torch.nn.Linear(5, 2)
        if seed == 1:  # logits de 1e38: a perda estoura já no primeiro passo
            torch.nn.init.constant_(model.weight, 1e38)
        return model

    healthy, exploded = fit_seeds(make, data, [0, 1], TrainConfig(epochs=6, lr=0.1))
    assert len(exploded.train_loss) < 6 == len(healthy.train_loss)
    with pytest.raises(ValueError, match="semente"):
        fit_seeds(make, data, [], TrainConfig())


class _Counting(torch.nn.Linear):
    """Uma camada linear que conta as passagens diretas (em modo de treino)."""

    calls = 0

    def forward(self, x):
        if self.training:
            type(self).calls += 1
        return super().forward(x)


@pytest.mark.parametrize("together", [False, True])
def test_a_diverged_run_stops_in_the_middle_of_the_epoch(together):
    """Depois que a perda (de todas as cópias) deixa de ser finita, o resto da época não roda."""
    data = _toy_dataset()

    def make(seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        model = _Counting(5, 2)
        torch.nn.init.constant_(model.weight, math.nan)  # a perda é NaN já no primeiro passo
        return model

    _Counting.calls = 0
    config = TrainConfig(epochs=3, lr=0.1, batch_size=10)  # 10 passos por época
    history = fit_seeds(make, data, [0, 1], config)[0] if together else fit(make(0), data, config)
    assert _Counting.calls == 1
    assert len(history.train_loss) == 1 and not math.isfinite(history.train_loss[0])


def test_warmup_raises_the_rate_linearly_then_holds_it():
    data = _toy_dataset()
    model = torch.nn.Linear(5, 2)
    rates = []
    original = SGD.step

    def spy(self, *args, **kwargs):
        rates.append(self.lr)
        return original(self, *args, **kwargs)

    SGD.step = spy
    try:
        fit(model, data, TrainConfig(epochs=2, lr=0.1, batch_size=50, warmup_steps=4))
    finally:
        SGD.step = original
    assert rates[:5] == pytest.approx([0.025, 0.05, 0.075, 0.1, 0.1])
    assert len(rates) == 12 and rates[-1] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="warmup_steps"):
        TrainConfig(warmup_steps=-1)


def test_fit_copies_trains_different_variants_like_separate_runs():
    """Variantes da ResidualMLP que só diferem nas escalas α e c (e na inicialização) treinam
    juntas como cada uma treinaria sozinha (float64)."""
    data = _double(_toy_dataset())
    variants = [dict(batch_norm=False), dict(batch_norm=False, output_scale=2**-0.5),
                dict(batch_norm=False, branch_scale=0.2), dict(batch_norm=False,
                                                               zero_init_last=True)]
    seeds = [0, 1, 0, 2]

    def build(options):
        torch.manual_seed(7)
        return ResidualMLP(5, 8, 3, 2, **options).double()

    config = TrainConfig(epochs=2, lr=0.05, batch_size=50)
    models = [build(v) for v in variants]
    together = fit_copies(models, data, seeds, config)
    for options, seed, joint, model in zip(variants, seeds, together, models, strict=True):
        alone = build(options)
        history = fit(alone, data, replace(config, seed=seed))
        assert joint.train_loss == pytest.approx(history.train_loss, rel=1e-9), options
        assert joint.test_acc == pytest.approx(history.test_acc, rel=1e-9), options
        for (name, a), (_, b) in zip(model.state_dict().items(), alone.state_dict().items(),
                                     strict=True):
            assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), name
    assert together[0].train_loss != pytest.approx(together[1].train_loss)  # escalas diferentes
    with pytest.raises(ValueError, match="uma semente por modelo"):
        fit_copies(models, data, seeds[:2], config)


def test_copies_that_differ_in_a_setting_are_refused():
    """Sem o lado a lado, o vmap usaria as escalas da primeira cópia para todas: erro claro."""
    data = _toy_dataset()
    dropouts = [torch.nn.Sequential(torch.nn.Linear(5, 2), torch.nn.Dropout(p)) for p in (0, .5)]
    with pytest.raises(ValueError, match=r"diferem em 1\.p"):
        fit_copies(dropouts, data, [0, 1], TrainConfig(epochs=1))
    orders = [ResidualMLP(5, 8, 2, 2, order=order) for order in ("pre", "relu_last")]
    with pytest.raises(ValueError, match="diferem em"):
        fit_copies(orders, data, [0, 1], TrainConfig(epochs=1))


def _constant_classifier() -> nn.Linear:
    """Logits zero para toda entrada: a perda de cada exemplo é log(3) e o palpite, a classe 0."""
    model = nn.Linear(5, 3)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return model


def test_training_means_divide_by_the_examples_seen_not_by_n():
    """50 exemplos em lotes de 20: o último lote incompleto fica de fora, e as médias da época
    são sobre os 40 vistos. Com logits zero, todo exemplo vale log(3) e acerta (rótulo 0); com
    uma taxa ínfima os pesos quase não saem do zero. Dividir por n daria 40/50 disso."""
    x = torch.randn(50, 5, generator=torch.Generator().manual_seed(0))
    data = Dataset(x, torch.zeros(50, dtype=torch.long), x[:10], torch.zeros(10, dtype=torch.long),
                   n_classes=3)
    config = TrainConfig(epochs=1, batch_size=20, lr=1e-9, momentum=0.0)
    single = fit(_constant_classifier(), data, config)
    together = fit_copies([_constant_classifier() for _ in range(2)], data, [0, 1], config)
    for history in [single, *together]:
        assert history.train_loss == pytest.approx([math.log(3)], rel=1e-6)
        assert history.train_acc == [1.0]
