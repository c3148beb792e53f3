"""Testes de residuais.copies: as cópias lado a lado dão os números das cópias com vmap."""

import pytest
import torch
from torch import nn

from residuais.copies import FoldedCopies, VmappedCopies, stack_copies
from residuais.folding import FoldedLinear, fold
from residuais.models import BasicBlock, ConvNet, PlainMLP, ResidualMLP

D_IN, N_CLASSES = 5, 3

MAKERS = {
    "sequencial com BN": lambda: PlainMLP(D_IN, 8, 3, N_CLASSES, batch_norm=True),
    "sequencial sem BN": lambda: PlainMLP(D_IN, 8, 2, N_CLASSES),
    "residual pré-ativação": lambda: ResidualMLP(D_IN, 8, 3, N_CLASSES, layers_per_block=2),
    "residual pós-ativação, soma ÷ √2": lambda: ResidualMLP(
        D_IN, 8, 2, N_CLASSES, order="post", output_scale=2**-0.5),
    "residual, ramo × 0,2 sem BN": lambda: ResidualMLP(
        D_IN, 8, 2, N_CLASSES, batch_norm=False, branch_scale=0.2),
    "residual, ramo zerado, relu_last": lambda: ResidualMLP(
        D_IN, 8, 2, N_CLASSES, order="relu_last", zero_init_last=True),
    "uma camada linear": lambda: nn.Linear(D_IN, N_CLASSES),
}
CONV_MAKERS = {  # entradas (B, 64) (dígitos achatados) e (B, 2, 8, 8)
    "ConvNet residual": lambda: ConvNet(2, width=4, num_classes=N_CLASSES),
    "ConvNet sequencial": lambda: ConvNet(1, width=4, num_classes=N_CLASSES, residual=False),
    "bloco com projeção": lambda: nn.Sequential(
        BasicBlock(2, 4, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4, N_CLASSES)),
}


def _models(make, seeds=(0, 1, 2)):
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(make().double())
    return models


def _batch(n_copies: int, b: int = 16, example: tuple[int, ...] = (D_IN,)):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(n_copies, b, *example, generator=gen, dtype=torch.float64)  # (S, B, ...)
    y = torch.randint(0, N_CLASSES, (n_copies, b), generator=gen)  # (S, B)
    return x, y


@pytest.mark.parametrize("name", [*MAKERS, *CONV_MAKERS])
def test_folded_copies_match_vmapped_copies_through_training_steps(name):
    """Três passos de SGD com momento nas duas formas: mesmas perdas, acertos, avaliação,
    gradientes e, no fim, os mesmos pesos e médias móveis em cada modelo (float64)."""
    make = MAKERS.get(name) or CONV_MAKERS[name]
    example = {"ConvNet residual": (64,), "ConvNet sequencial": (64,),
               "bloco com projeção": (2, 8, 8)}.get(name, (D_IN,))
    folded_models, vmapped_models = _models(make), _models(make)
    folded, vmapped = FoldedCopies(folded_models), VmappedCopies(vmapped_models)
    optimizers = [torch.optim.SGD(c.parameters, lr=0.1, momentum=0.9) for c in (folded, vmapped)]
    x, y = _batch(3, example=example)
    for step in range(3):
        results = []
        for copies, optimizer in zip((folded, vmapped), optimizers, strict=True):
            losses, hits = copies.losses(x + step, y)
            optimizer.zero_grad()
            losses.sum().backward()
            optimizer.step()
            results.append((losses.detach(), hits))
        (loss_f, hits_f), (loss_v, hits_v) = results
        assert torch.allclose(loss_f, loss_v, rtol=1e-10), step
        assert torch.equal(hits_f, hits_v)
    assert loss_f[0] != pytest.approx(loss_f[1].item())  # cópias diferentes
    eval_f, eval_v = folded.evaluate(x[0], y[0]), vmapped.evaluate(x[0], y[0])
    assert eval_f[0] == pytest.approx(eval_v[0], rel=1e-10) and eval_f[1] == eval_v[1]
    folded.unstack_into(folded_models)
    vmapped.unstack_into(vmapped_models)
    for a, b in zip(folded_models, vmapped_models, strict=True):
        for (key, ta), (_, tb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert torch.allclose(ta.double(), tb.double(), rtol=1e-9, atol=1e-12), key


def test_folded_linear_is_one_linear_per_copy():
    layers = _models(lambda: nn.Linear(4, 6))
    folded = FoldedLinear(layers)
    x = torch.randn(10, 3, 4, dtype=torch.float64)  # (B, S, d_in)
    out = folded(x.reshape(10, 12)).view(10, 3, 6)  # (B, S, d_out)
    for s, layer in enumerate(layers):
        assert torch.allclose(out[:, s], layer(x[:, s]))


def test_stack_copies_folds_only_what_it_knows():
    labels, sequences = torch.zeros(4, dtype=torch.long), torch.zeros(4, 7, dtype=torch.long)
    assert isinstance(stack_copies(_models(MAKERS["sequencial com BN"]), labels), FoldedCopies)
    convnets = [ConvNet(1, width=4) for _ in range(2)]
    assert isinstance(stack_copies(convnets, labels), FoldedCopies)
    assert isinstance(stack_copies(convnets, sequences), VmappedCopies)  # um rótulo por posição
    pooled = [nn.Sequential(nn.Linear(D_IN, 4), nn.AdaptiveAvgPool1d(2)) for _ in range(2)]
    assert isinstance(stack_copies(pooled, labels), VmappedCopies)  # peça desconhecida
    flat = [nn.Sequential(nn.Flatten(0), nn.Linear(D_IN, 2)) for _ in range(2)]
    assert isinstance(stack_copies(flat, labels), VmappedCopies)  # achata o eixo do lote

    class Doubling(nn.Linear):  # subclasse com outro forward: não pode virar FoldedLinear
        def forward(self, x):
            return 2 * super().forward(x)

    assert isinstance(stack_copies([Doubling(D_IN, 2), Doubling(D_IN, 2)], labels),
                      VmappedCopies)
    mixed = [PlainMLP(D_IN, 8, 2, 2), PlainMLP(D_IN, 8, 3, 2)]
    with pytest.raises(Exception, match="estrutura"):
        fold(mixed)
