"""Testes de residuais.paths: o gradiente por caminho conferido com o autograd do PyTorch."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from residuais.models import ResidualMLP
from residuais.paths import path_gradients, sample_paths


def _net_and_batch():
    torch.manual_seed(0)
    net = ResidualMLP(5, 4, 3, 3).double()
    net.train()
    net(torch.randn(32, 5, dtype=torch.float64))  # estatísticas guardadas não triviais
    x = torch.randn(6, 5, dtype=torch.float64)
    return net.eval(), x, torch.randint(0, 3, (6,))


def _grad_at_h0(net, x, y):
    h0 = net.stem(x).detach().requires_grad_(True)
    h = h0
    for block in net.blocks:
        h = block(h)
    (grad,) = torch.autograd.grad(F.cross_entropy(net.head(h), y), h0)
    return grad


def test_sum_over_all_paths_is_the_autograd_gradient():
    net, x, y = _net_and_batch()
    every_path = [p for n in range(4) for p in itertools.combinations((1, 2, 3), n)]
    grads = path_gradients(net, x, y, every_path)
    assert grads.shape == (8, 6, 4)
    torch.testing.assert_close(grads.sum(dim=0), _grad_at_h0(net, x, y))


def test_single_paths_are_products_of_branch_jacobians():
    net, x, y = _net_and_batch()
    h0 = net.stem(x).detach()
    with torch.no_grad():
        h1 = net.blocks[0](h0)
        h2 = net.blocks[1](h1)
        h3 = net.blocks[2](h2).requires_grad_(True)
    (g3,) = torch.autograd.grad(F.cross_entropy(net.head(h3), y), h3)
    # caminho {1, 3}: ramo 3, atalho no bloco 2, ramo 1
    _, pull3 = torch.func.vjp(net.blocks[2].branch, h2)
    _, pull1 = torch.func.vjp(net.blocks[0].branch, h0)
    expected = pull1(pull3(g3)[0])[0]
    grads = path_gradients(net, x, y, [(), (1, 3)])
    torch.testing.assert_close(grads[0], g3)  # só atalhos: o gradiente da saída, intacto
    torch.testing.assert_close(grads[1], expected)


def test_refuses_training_mode_and_blocks_without_identity_shortcut():
    net, x, y = _net_and_batch()
    with pytest.raises(ValueError, match="avaliação"):
        path_gradients(net.train(), x, y, [()])
    post = ResidualMLP(5, 4, 2, 3, order="post").double().eval()
    with pytest.raises(ValueError, match="order"):
        path_gradients(post, x, y, [()])
    with pytest.raises(ValueError, match="1 a 3"):
        path_gradients(net.eval(), x, y, [(4,)])


def test_sample_paths_enumerates_or_samples_distinct_subsets():
    gen = torch.Generator().manual_seed(0)
    assert sample_paths(4, 2, 10, gen) == list(itertools.combinations((1, 2, 3, 4), 2))
    assert sample_paths(4, 0, 10, gen) == [()]
    paths = sample_paths(12, 6, 20, gen)
    assert len(paths) == len(set(paths)) == 20 < math.comb(12, 6)
    assert all(len(p) == 6 and list(p) == sorted(p) and 1 <= p[0] <= p[-1] <= 12
               for p in paths)
    with pytest.raises(ValueError, match="length"):
        sample_paths(3, 4, 1, gen)
