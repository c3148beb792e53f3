"""Testes ocultos do capítulo 4 (normalização em lote): as respostas de referência e os casos
extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as peças das
verificações vêm das verificações públicas, em ``residuais.checks.batchnorm`` e
``residuais.checks.folding`` (nada é repetido aqui).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.checks.batchnorm import (
    RULES_BACKWARD,
    RULES_EVAL_AFFINE,
    affine_hints,
    backward_inputs,
    check_backward_case,
    eval_module,
    expect_tensors,
)
from residuais.checks.core import call, expect_close, fail, forbidden
from residuais.checks.folding import check_fold_case, fold_case

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_eval_affine(running_mean: torch.Tensor, running_var: torch.Tensor,
                          gamma: torch.Tensor, beta: torch.Tensor, eps: float
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """a = γ/√(σ̂² + ε) e c = β − a·μ̂."""
    scale = gamma / torch.sqrt(running_var + eps)
    return scale, beta - scale * running_mean


def reference_batch_norm_backward(grad_out: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor,
                                  eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """∂L/∂h = γ/√(σ² + ε)·(g − ḡ − ĥ·média(g ĥ)), ∂L/∂γ = Σ g ĥ, ∂L/∂β = Σ g, por unidade."""
    inv_std = 1 / torch.sqrt(x.var(dim=0, correction=0) + eps)
    x_hat = (x - x.mean(dim=0)) * inv_std
    projection = grad_out.mean(dim=0) + x_hat * (grad_out * x_hat).mean(dim=0)
    return (gamma * inv_std * (grad_out - projection), (grad_out * x_hat).sum(dim=0),
            grad_out.sum(dim=0))


def reference_batch_norm2d_backward(grad_out: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor,
                                    eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A mesma fórmula com as médias de cada canal sobre os eixos (0, 2, 3)."""
    axes = (0, 2, 3)
    inv_std = 1 / torch.sqrt(x.var(dim=axes, correction=0, keepdim=True) + eps)  # (1, C, 1, 1)
    x_hat = (x - x.mean(dim=axes, keepdim=True)) * inv_std
    projection = (grad_out.mean(dim=axes, keepdim=True)
                  + x_hat * (grad_out * x_hat).mean(dim=axes, keepdim=True))
    grad_x = gamma[:, None, None] * inv_std * (grad_out - projection)
    return grad_x, (grad_out * x_hat).sum(dim=axes), grad_out.sum(dim=axes)


def reference_fold_batch_norm_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """W'[o] = s_o W[o] e b' = s (b − μ̂) + β, com s = γ/√(σ̂² + ε); a mesma geometria."""
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                           stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                           dtype=conv.weight.dtype)
        folded.weight.copy_(scale.view(-1, 1, 1, 1) * conv.weight)
        folded.bias.copy_(scale * (bias - bn.running_mean) + bn.bias)
    return folded


def _expect_untouched(given: list[torch.Tensor], originals: list[torch.Tensor],
                      case: str) -> None:
    if not all(torch.equal(g, o) for g, o in zip(given, originals, strict=True)):
        fail(f"No caso “{case}” sua função alterou os tensores recebidos; calcule sem mudá-los "
             f"(sem operações in-place como sub_ ou mul_).")


# --------------------------------------------------------------------------------------------
# exercício 1
# --------------------------------------------------------------------------------------------


def check_eval_affine_hidden(fn: Callable[..., Any]) -> None:
    """Uma unidade só, ε grande, muitas unidades, float32 e as entradas intocadas."""
    gen = torch.Generator().manual_seed(42)
    for case, channels, eps, dtype in [("uma unidade, ε = 0,1", 1, 0.1, torch.float64),
                                       ("64 unidades", 64, 1e-5, torch.float64),
                                       ("ε = 1", 4, 1.0, torch.float64),
                                       ("float32, 6 unidades", 6, 1e-5, torch.float32)]:
        mean = torch.randn(channels, generator=gen, dtype=dtype)
        var = torch.rand(channels, generator=gen, dtype=dtype) + 0.1
        gamma = torch.rand(channels, generator=gen, dtype=dtype) + 0.5
        beta = torch.randn(channels, generator=gen, dtype=dtype)
        inputs = [mean, var, gamma, beta]
        wide = [t.double() for t in inputs]
        bn = eval_module(wide[2], wide[3], wide[0], wide[1], eps)
        with torch.no_grad():
            shift = bn(torch.zeros(1, channels, dtype=torch.float64))[0]
            scale = bn(torch.ones(1, channels, dtype=torch.float64))[0] - shift
        scale_hints, shift_hints = affine_hints(wide[2], wide[3], wide[0], wide[1], eps,
                                                (scale, shift))
        given = [t.clone() for t in inputs]
        with forbidden(fn, RULES_EVAL_AFFINE):
            got = call(fn, case, *given, eps)
        _expect_untouched(given, inputs, case)
        a, c = expect_tensors(got, 2, ("a", "c"), [(channels,), (channels,)], case)
        tol = 1e-4 if dtype == torch.float32 else 1e-6
        expect_close(a, scale, f"{case}, a", tol=tol, hints=scale_hints)
        expect_close(c, shift, f"{case}, c", tol=tol, hints=shift_hints)


# --------------------------------------------------------------------------------------------
# exercícios 2 e 3
# --------------------------------------------------------------------------------------------


def _backward_hidden(fn: Callable[..., Any], cases: list[tuple[tuple[int, ...], float, float,
                                                              torch.dtype]], seed: int) -> None:
    for index, (shape, scale, offset, dtype) in enumerate(cases, start=seed):
        case = (f"x de forma {shape}, desvio-padrão {scale:g}, média {offset:g}, "
                f"{str(dtype).removeprefix('torch.')}")
        x, gamma, grad_out = backward_inputs(shape, scale, index, dtype)
        x = x + (offset - 1)
        check_backward_case(fn, case, x, gamma, 1e-5, grad_out,
                            tol=1e-4 if dtype == torch.float32 else 1e-7)
        given = [grad_out.clone(), x.clone(), gamma.clone()]
        with forbidden(fn, RULES_BACKWARD):
            call(fn, case, *given, 1e-5)
        _expect_untouched(given, [grad_out, x, gamma], case)


def check_batch_norm_backward_hidden(fn: Callable[..., Any]) -> None:
    """Lote de 2, uma unidade quase constante, lote grande, média longe de zero, float32 e as
    entradas intocadas."""
    _backward_hidden(fn, [((2, 3), 2.0, 1.0, torch.float64), ((64, 1), 1e-3, 1.0, torch.float64),
                          ((200, 10), 1.0, 1.0, torch.float64),
                          ((16, 5), 1.0, 1000.0, torch.float64),
                          ((32, 6), 2.0, 1.0, torch.float32)], seed=43)


def check_batch_norm2d_backward_hidden(fn: Callable[..., Any]) -> None:
    """Imagens maiores, um canal só, largura 1, float32 e as entradas intocadas."""
    _backward_hidden(fn, [((8, 4, 6, 6), 1.0, 1.0, torch.float64),
                          ((1, 1, 7, 7), 3.0, -2.0, torch.float64),
                          ((3, 2, 5, 1), 1.0, 1.0, torch.float64),
                          ((4, 3, 4, 4), 2.0, 1.0, torch.float32)], seed=53)


# --------------------------------------------------------------------------------------------
# exercício 4
# --------------------------------------------------------------------------------------------


def check_fold_batch_norm_conv_hidden(fn: Callable[..., Any]) -> None:
    """Núcleo 1 × 1, núcleo 5 com preenchimento, ε grande, sem viés com variâncias pequenas e
    uma convolução dilatada."""
    cases = [("Conv2d(1, 1, 1) com viés", 1, 1, 1, 1, 0, True, 1e-5, (0.3,)),
             ("Conv2d(4, 8, 5, padding=2) com viés e ε = 0,1", 4, 8, 5, 1, 2, True, 0.1,
              tuple([0.05, 3.0] * 4)),
             ("Conv2d(3, 6, 3, stride=2, padding=1) sem viés, variâncias pequenas", 3, 6, 3, 2,
              1, False, 1e-5, (1e-4, 2e-4, 5e-4, 1e-3, 1e-4, 3e-4))]
    for seed, (case, *sizes) in enumerate(cases, start=10):
        conv, bn = fold_case(*sizes, seed=seed)
        x = torch.randn(3, conv.in_channels, 9, 9, generator=torch.Generator().manual_seed(seed))
        check_fold_case(fn, case, conv, bn, x)
    conv, bn = fold_case(2, 2, 3, 1, 2, True, 1e-5, (0.5, 2.0), seed=20)
    conv.dilation = (2, 2)
    x = torch.randn(2, 2, 9, 9, generator=torch.Generator().manual_seed(20))
    check_fold_case(fn, "Conv2d(2, 2, 3, padding=2, dilation=2)", conv, bn, x)
