"""O batch norm escrito do zero (residuais.norm) contra torch.nn.BatchNorm1d/2d."""

import pytest
import torch
from torch import nn

from residuais.norm import (
    BatchNorm1d,
    BatchNorm2d,
    lecture_normalize,
    lecture_running_update,
)

CASES = [
    (BatchNorm1d, nn.BatchNorm1d, (16, 5)),
    (BatchNorm2d, nn.BatchNorm2d, (4, 3, 6, 7)),
]
TOLERANCE = {torch.float64: 1e-6, torch.float32: 1e-5}


def _pair(ours_cls, ref_cls, num_features, dtype):
    ours = ours_cls(num_features).to(dtype)
    ref = ref_cls(num_features).to(dtype)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # γ e β diferentes de 1 e 0, iguais nas duas
        gamma = torch.rand(num_features, generator=gen, dtype=dtype) + 0.5
        beta = torch.randn(num_features, generator=gen, dtype=dtype)
        for module in (ours, ref):
            module.weight.copy_(gamma)
            module.bias.copy_(beta)
    return ours, ref


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("ours_cls, ref_cls, shape", CASES)
def test_training_forward_gradients_and_running_stats(ours_cls, ref_cls, shape, dtype):
    tol = TOLERANCE[dtype]
    ours, ref = _pair(ours_cls, ref_cls, shape[1], dtype)
    gen = torch.Generator().manual_seed(1)
    for step in range(5):  # vários passos: as médias móveis acumulam
        x = (3 * torch.randn(shape, generator=gen, dtype=dtype) + step).requires_grad_(True)
        x_ref = x.detach().clone().requires_grad_(True)
        upstream = torch.randn(shape, generator=gen, dtype=dtype)
        out, out_ref = ours(x), ref(x_ref)
        torch.testing.assert_close(out, out_ref, atol=tol, rtol=tol)
        (out * upstream).sum().backward()
        (out_ref * upstream).sum().backward()
        torch.testing.assert_close(x.grad, x_ref.grad, atol=tol, rtol=tol)
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad, atol=tol, rtol=tol)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad, atol=tol, rtol=tol)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, atol=tol, rtol=tol)
    torch.testing.assert_close(ours.running_var, ref.running_var, atol=tol, rtol=tol)

    ours.eval()
    ref.eval()
    x = torch.randn(shape, generator=gen, dtype=dtype)
    torch.testing.assert_close(ours(x), ref(x), atol=tol, rtol=tol)


def test_batch_of_one_in_training_mode():
    x = torch.randn(1, 4)
    with pytest.raises(ValueError, match="mais de um valor"):
        BatchNorm1d(4)(x)
    with pytest.raises(ValueError):  # o PyTorch também recusa
        nn.BatchNorm1d(4)(x)
    assert BatchNorm1d(4).eval()(x).shape == (1, 4)
    # em 2d, um único exemplo ainda tem H × W valores por canal
    x2 = torch.randn(1, 3, 4, 4)
    torch.testing.assert_close(BatchNorm2d(3)(x2), nn.BatchNorm2d(3)(x2), atol=1e-5, rtol=1e-5)


def test_wrong_shapes_give_portuguese_errors():
    with pytest.raises(ValueError, match=r"\(B, C\) com C = 4"):
        BatchNorm1d(4)(torch.randn(8, 5))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        BatchNorm2d(4)(torch.randn(8, 4))
    with pytest.raises(ValueError, match="inteiro positivo"):
        BatchNorm1d(0)


def test_lecture_conventions_differ_from_pytorch_as_documented():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=gen, dtype=torch.float64)
    std = x.std(dim=0, unbiased=False)
    torch.testing.assert_close(lecture_normalize(x, eps=0.1), (x - x.mean(0)) / (std + 0.1))
    ref = nn.functional.batch_norm(x, None, None, training=True, eps=0.1)
    assert not torch.allclose(lecture_normalize(x, eps=0.1), ref)  # ε entra em lugares diferentes
    mean, run_std = lecture_running_update(torch.zeros(3), torch.ones(3), x.float(), alpha=0.9)
    torch.testing.assert_close(mean, 0.1 * x.float().mean(0))
    torch.testing.assert_close(run_std, 0.9 + 0.1 * std.float())
