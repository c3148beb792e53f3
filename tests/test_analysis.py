"""Testes de residuais.analysis, comparados com o autograd do PyTorch."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from residuais.analysis import (
    activation_gradient_norms,
    enumerate_paths,
    expand_linear_residual,
    forward_variances,
    freeze_batch_statistics,
    input_gradient,
    input_grid,
    lag1_autocorrelation,
    layer_gradient_norms,
    sequential_jacobians,
    without_block,
)
from residuais.models import PlainMLP, ResidualBlock, ResidualMLP, linear_layers


def test_layer_gradient_norms_match_autograd():
    torch.manual_seed(0)
    model = PlainMLP(6, 8, 3, 4)
    x, y = torch.randn(10, 6), torch.randint(0, 4, (10,))
    norms = layer_gradient_norms(model, x, y)
    F.cross_entropy(model(x), y).backward()
    expected = [layer.weight.grad.norm().item() for layer in linear_layers(model)]
    assert norms == pytest.approx(expected, rel=1e-6)


def test_product_of_layer_jacobians_is_the_network_jacobian():
    torch.manual_seed(0)
    model = PlainMLP(5, 7, 4, 3).double()
    layers = [*model.hidden, model.head]
    x = torch.randn(5, dtype=torch.float64)
    jacobians = sequential_jacobians(layers, x)
    assert [tuple(j.shape) for j in jacobians] == [(7, 5), (7, 7), (7, 7), (7, 7), (3, 7)]
    product = jacobians[0]
    for jac in jacobians[1:]:
        product = jac @ product
    full = torch.autograd.functional.jacobian(lambda v: model(v.unsqueeze(0)).squeeze(0), x)
    torch.testing.assert_close(product, full)
    with pytest.raises(ValueError, match="único exemplo"):
        sequential_jacobians(layers, x.unsqueeze(0))


def test_lag1_autocorrelation_known_values():
    # média 2,5; desvios −1,5 −0,5 0,5 1,5: numerador 1,25, denominador 5
    assert lag1_autocorrelation(torch.tensor([1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.25)
    assert lag1_autocorrelation(torch.tensor([1.0, -1.0] * 50)) == pytest.approx(-0.99)
    gen = torch.Generator().manual_seed(0)
    white = torch.randn(20000, generator=gen)
    assert abs(lag1_autocorrelation(white)) < 0.03
    assert lag1_autocorrelation(white.cumsum(0)) > 0.99
    with pytest.raises(ValueError, match="constante"):
        lag1_autocorrelation(torch.ones(5))


def test_input_gradient_of_known_function():
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    with torch.no_grad():
        model[0].weight.fill_(3.0)
    model.eval()
    x = input_grid(11)
    torch.testing.assert_close(input_gradient(model, x), torch.full((11,), 3.0))
    with pytest.raises(ValueError, match="modo de avaliação"):
        input_gradient(model.train(), x)
    with pytest.raises(ValueError, match=r"\(N, 1\)"):
        input_gradient(model.eval(), torch.zeros(4, 2))


def test_frozen_batch_statistics_are_the_grid_statistics():
    torch.manual_seed(0)
    model = ResidualMLP(1, 6, 2, 1)
    x = input_grid(64)
    freeze_batch_statistics(model, x)
    assert not model.training
    stem_out = model.stem(x)
    bn = model.blocks[0].branch[0]
    torch.testing.assert_close(bn.running_mean, stem_out.mean(0).detach())
    torch.testing.assert_close(bn.running_var, stem_out.var(0).detach())  # variância não viesada
    # cada saída depende só da sua entrada: o gradiente de um ponto não muda com os vizinhos
    g_all = input_gradient(model, x)
    g_one = input_gradient(model, x[10:11])
    torch.testing.assert_close(g_all[10:11], g_one)


def test_activation_gradient_norms_match_manual_backprop():
    torch.manual_seed(0)
    model = PlainMLP(6, 8, 3, 4)
    x, y = torch.randn(10, 6), torch.randint(0, 4, (10,))
    norms = activation_gradient_norms(model, model.hidden, x, y)
    assert all(p.grad is None for p in model.parameters())  # não deixa gradientes no modelo
    hidden = []
    h = x
    for layer in model.hidden:
        h = layer(h)
        h.retain_grad()
        hidden.append(h)
    F.cross_entropy(model.head(h), y).backward()
    assert norms == pytest.approx([t.grad.norm().item() for t in hidden], rel=1e-6)


def test_backward_signal_scales_by_init_scale_per_layer():
    """Com pesos N(0, s²·2/fan_in) numa rede ReLU larga, ∂L/∂h encolhe ~s por camada."""
    torch.manual_seed(0)
    x, y = torch.randn(256, 40), torch.randint(0, 10, (256,))
    for scale in (0.85, 1.15):
        model = PlainMLP(40, 256, 30, 10, init_scale=scale)
        norms = activation_gradient_norms(model, model.hidden, x, y)
        predicted = scale ** (len(norms) - 1)
        assert 0.2 < (norms[0] / norms[-1]) / predicted < 5


def test_paths_count_and_membership():
    from math import comb

    for n_blocks in range(0, 7):
        paths = enumerate_paths(n_blocks)
        assert len(paths) == 2**n_blocks == len(set(paths))
        for k in range(1, n_blocks + 1):
            assert sum(k in p for p in paths) == 2 ** (n_blocks - 1)
        for length in range(n_blocks + 1):
            assert sum(len(p) == length for p in paths) == comb(n_blocks, length)
    with pytest.raises(ValueError, match="inteiro"):
        enumerate_paths(-1)


def test_linear_residual_expansion_sums_to_the_network_output():
    gen = torch.Generator().manual_seed(0)
    mats = [0.3 * torch.randn(5, 5, generator=gen, dtype=torch.float64) for _ in range(4)]
    x = torch.randn(5, generator=gen, dtype=torch.float64)
    y = x
    for a in mats:
        y = y + a @ y  # h_k = h_{k-1} + A_k h_{k-1}
    terms = expand_linear_residual(mats, x)
    assert len(terms) == 16
    torch.testing.assert_close(sum(terms.values()), y)
    torch.testing.assert_close(terms[(1, 3)], mats[2] @ mats[0] @ x)


def test_without_block_replaces_only_the_chosen_block():
    torch.manual_seed(0)
    res = ResidualMLP(4, 6, 3, 2).eval()
    lesioned = without_block(res, 2)
    x = torch.randn(5, 4)
    h = res.stem(x)
    h = res.blocks[0](h)
    h = res.blocks[2](h)  # o bloco 2 some: h_2 = h_1
    torch.testing.assert_close(lesioned(x), res.head(h))
    assert isinstance(res.blocks[1], ResidualBlock)  # o original fica intacto
    plain = PlainMLP(4, 6, 3, 2)
    with pytest.raises(ValueError, match="entre 2 e 3"):
        without_block(plain, 1)
    with pytest.raises(TypeError):
        without_block(torch.nn.Linear(2, 2), 1)


def test_forward_variances_match_manual_forward():
    torch.manual_seed(0)
    model = PlainMLP(6, 8, 3, 4)
    x = torch.randn(50, 6)
    variances = forward_variances(model, linear_layers(model), x)
    h, expected = x, []
    for layer in model.hidden:
        expected.append(layer[0](h).double().var().item())
        h = layer(h)
    expected.append(model.head(h).double().var().item())
    assert variances == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="exatamente uma vez"):
        forward_variances(model, [torch.nn.Linear(2, 2)], x)


@pytest.mark.parametrize(
    "options, factor", [({}, 2.0), ({"branch_scale": 0.5}, 1.25), ({"output_scale": 2**-0.5}, 1.0)]
)
def test_residual_variance_grows_by_one_plus_alpha_squared(options, factor):
    """Sem BN e com ramos He, Var[h_k] ≈ c²(1 + α²) Var[h_{k-1}] (covariância ≈ 0)."""
    torch.manual_seed(0)
    model = ResidualMLP(10, 512, 12, 2, batch_norm=False, **options)
    variances = forward_variances(model, model.blocks, torch.randn(512, 10))
    ratios = [b / a for a, b in itertools.pairwise(variances)]
    assert abs(sum(ratios) / len(ratios) - factor) < 0.1 * factor


def test_zero_init_last_makes_every_block_the_identity():
    torch.manual_seed(0)
    model = ResidualMLP(10, 16, 5, 2, batch_norm=False, zero_init_last=True)
    x = torch.randn(8, 10)
    h = model.stem(x)
    for block in model.blocks:
        torch.testing.assert_close(block(h), h)
