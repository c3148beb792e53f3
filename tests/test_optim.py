"""residuais.optim contra torch.optim: os mesmos pesos, passo a passo, em float64."""

import subprocess
import sys

import pytest
import torch
from torch import nn

from residuais.optim import SGD, Adam

pytestmark = pytest.mark.unit

STEPS = 6


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)).double()


def _run(model: nn.Module, optimizer, schedule=None, skip_last_layer_at: int | None = None):
    """STEPS passos numa perda fixa; no passo ``skip_last_layer_at`` a última camada fica sem
    gradiente (como um peso que não entrou na conta)."""
    x = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for step in range(STEPS):
        optimizer.zero_grad()
        loss = model(x).pow(2).mean() + model[0].weight.abs().sum()
        loss.backward()
        if step == skip_last_layer_at:
            for p in model[2].parameters():
                p.grad = None
        optimizer.step()
        if schedule is not None:
            schedule.step()
    return [p.detach().clone() for p in model.parameters()]


def _warmup(optimizer, steps: int):
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: min(1.0, (k + 1) / steps) if steps else 1.0)


@pytest.mark.parametrize("momentum, weight_decay, warmup, skip", [
    (0.0, 0.0, 0, None), (0.9, 0.0, 0, None), (0.9, 0.01, 0, None), (0.9, 0.0, 4, None),
    (0.5, 0.1, 3, 0), (0.9, 0.0, 0, 2),
])
def test_sgd_matches_pytorch(momentum, weight_decay, warmup, skip):
    ours_model, ref_model = _model(), _model()
    ours = _run(ours_model, SGD(ours_model.parameters(), lr=0.1, momentum=momentum,
                                weight_decay=weight_decay, warmup_steps=warmup),
                skip_last_layer_at=skip)
    ref_optimizer = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=momentum,
                                    weight_decay=weight_decay, foreach=True)
    ref = _run(ref_model, ref_optimizer, _warmup(ref_optimizer, warmup), skip)
    start = [p.detach() for p in _model().parameters()]
    for a, b, p0 in zip(ours, ref, start, strict=True):
        assert not torch.equal(a, p0)  # os pesos andaram
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weight_decay, warmup, skip", [
    (0.0, 0, None), (0.01, 0, None), (0.0, 5, None), (0.1, 2, 1),
])
def test_adam_matches_pytorch(weight_decay, warmup, skip):
    ours_model, ref_model = _model(), _model()
    ours = _run(ours_model, Adam(ours_model.parameters(), lr=0.01, weight_decay=weight_decay,
                                 warmup_steps=warmup), skip_last_layer_at=skip)
    ref_optimizer = torch.optim.Adam(ref_model.parameters(), lr=0.01, weight_decay=weight_decay,
                                     foreach=True)
    ref = _run(ref_model, ref_optimizer, _warmup(ref_optimizer, warmup), skip)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


def test_warmup_rate_per_step():
    optimizer = SGD([nn.Parameter(torch.zeros(2))], lr=0.4, warmup_steps=4)
    rates = []
    for _ in range(6):
        rates.append(optimizer.lr)
        optimizer.step()  # sem gradiente: só conta o passo
    assert rates == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.0), lambda p: SGD(p, lr=0.1, momentum=1.0),
    lambda p: SGD(p, lr=0.1, weight_decay=-1.0), lambda p: Adam(p, betas=(0.9, 1.0)),
    lambda p: Adam(p, eps=0.0), lambda p: SGD([], lr=0.1),
])
def test_bad_settings_raise_in_portuguese(make):
    with pytest.raises(ValueError, match=r"deve|pede|vazia"):
        make([nn.Parameter(torch.zeros(2))])


def test_training_does_not_import_the_compiler():
    """A razão de existir do módulo: treinar não importa o torch._dynamo (1,6–2 s por
    capítulo). Em processo novo, porque outro teste pode já tê-lo importado."""
    code = (
        "import sys\n"
        "from residuais.data import load_mnist1d\n"
        "from residuais.models import PlainMLP\n"
        "from residuais.train import TrainConfig, fit, fit_seeds\n"
        "data = load_mnist1d()\n"
        "fit(PlainMLP(40, 8, 2, 10, batch_norm=True), data, TrainConfig(epochs=1))\n"
        "fit_seeds(lambda s: PlainMLP(40, 8, 2, 10), data, (0, 1), TrainConfig(epochs=1,"
        " optimizer='adam', lr=1e-3))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
