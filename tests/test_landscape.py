"""Testes de residuais.landscape: a normalização por filtro de Li et al. (2018) e a fatia da
perda conferida com a rede do PyTorch de pesos alterados à mão."""

import copy

import pytest
import torch
import torch.nn.functional as F

from residuais.landscape import filter_normalized_direction, loss_surface, nonconvex_fraction
from residuais.models import BasicBlock, ResidualMLP


def test_each_filter_gets_the_norm_of_the_trained_filter():
    torch.manual_seed(0)
    for model in (ResidualMLP(5, 6, 2, 3), BasicBlock(4, 8, stride=2)):
        direction = filter_normalized_direction(model, torch.Generator().manual_seed(1))
        for name, weight in model.named_parameters():
            d = direction[name]
            assert d.shape == weight.shape
            if weight.dim() == 1:  # vieses e parâmetros do batch norm ficam fixos
                assert torch.count_nonzero(d) == 0
            else:  # uma linha (linear) ou um filtro (convolução) por unidade de saída
                torch.testing.assert_close(d.flatten(1).norm(dim=1),
                                           weight.detach().flatten(1).norm(dim=1))
                assert not torch.allclose(d, weight.detach())


def _model_and_data():
    torch.manual_seed(0)
    model = ResidualMLP(5, 6, 3, 3).double()
    model(torch.randn(64, 5, dtype=torch.float64))  # estatísticas guardadas não triviais
    model.eval()
    x = torch.randn(20, 5, dtype=torch.float64)
    return model, x, torch.randint(0, 3, (20,))


def test_surface_matches_the_model_with_shifted_weights():
    model, x, y = _model_and_data()
    gen = torch.Generator().manual_seed(2)
    d1 = filter_normalized_direction(model, gen)
    d2 = filter_normalized_direction(model, gen)
    coords = torch.tensor([-0.5, 0.0, 0.25], dtype=torch.float64)
    surface = loss_surface(model, x, y, (d1, d2), coords, chunk=4)
    assert surface.shape == (3, 3)
    with torch.no_grad():
        trained_loss = F.cross_entropy(model(x), y)
        torch.testing.assert_close(surface[1, 1], trained_loss)  # a origem são os pesos treinados
        for i, j in [(0, 2), (2, 0), (0, 0)]:
            shifted = copy.deepcopy(model)
            for name, p in shifted.named_parameters():
                p.add_(coords[i] * d1[name] + coords[j] * d2[name])
            torch.testing.assert_close(surface[i, j], F.cross_entropy(shifted(x), y))


def test_surface_refuses_training_mode():
    model, x, y = _model_and_data()
    d = filter_normalized_direction(model, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="avaliação"):
        loss_surface(model.train(), x, y, (d, d), torch.zeros(1))


def test_nonconvex_fraction_of_known_surfaces():
    c = torch.linspace(-1, 1, 9)
    a, b = torch.meshgrid(c, c, indexing="ij")
    assert nonconvex_fraction(a**2 + 3 * b**2 + a * b) == 0.0  # convexa
    assert nonconvex_fraction(a**2 - b**2) == 1.0  # sela
    assert nonconvex_fraction(-(a**2) - b**2) == 1.0  # máximo
    # poço duplo em a: com passo 0,25, a diferença finita em a é negativa para |a| ≤ 0,25, isto
    # é, em 3 das 7 linhas internas
    assert nonconvex_fraction(b**2 + (a**2 - 0.25) ** 2) == pytest.approx(3 / 7)


@pytest.mark.parametrize("cross, nonconvex", [(1.5, 0.0), (2.5, 1.0)])
def test_nonconvex_fraction_weighs_the_cross_curvature_exactly(cross, nonconvex):
    """a² + b² + c·ab tem hessiana [[2, c], [c, 2]], de autovalores 2 ± c: convexa com c = 1,5
    e sela com c = 2,5. As diferenças finitas centradas são exatas numa quadrática, então
    errar o termo cruzado por um fator 2 (para mais ou para menos) troca um dos dois lados."""
    c = torch.linspace(-1, 1, 9, dtype=torch.float64)
    a, b = torch.meshgrid(c, c, indexing="ij")
    assert nonconvex_fraction(a**2 + b**2 + cross * a * b) == nonconvex
