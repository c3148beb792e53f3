"""Verificações públicas dos exercícios de programação do capítulo 4 (batch norm)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.checks.core import call, expect_tensor, fail


def check_batch_norm_train(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(x, gamma, beta, eps)``: batch norm em modo de treino de uma entrada (B, C),
    contra ``torch.nn.functional.batch_norm``."""
    import torch.nn.functional as F

    # (lote, canais, desvio-padrão dos dados): com desvio-padrão pequeno, onde ε entra importa
    cases = [(16, 4, 2.0)] + ([(2, 3, 2.0), (64, 1, 1e-3), (200, 10, 1.0)] if thorough else [])
    gen = torch.Generator().manual_seed(3)
    for batch, channels, scale in cases:
        case = f"x de forma ({batch}, {channels}) e desvio-padrão {scale}"
        x = scale * torch.randn(batch, channels, generator=gen, dtype=torch.float64) + 1
        gamma = torch.rand(channels, generator=gen, dtype=torch.float64) + 0.5
        beta = torch.randn(channels, generator=gen, dtype=torch.float64)
        eps = 1e-5
        got = call(fn, case, x.clone(), gamma.clone(), beta.clone(), eps)
        expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
        expect_tensor(got, x.shape, case)
        if not torch.allclose(got.double(), expected, atol=1e-5):
            mean, std = x.mean(0), x.std(0, unbiased=False)
            unbiased = gamma * (x - mean) / torch.sqrt(x.var(0) + eps) + beta
            lecture = gamma * (x - mean) / (std + eps) + beta
            hint = ""
            if torch.allclose(got.double(), unbiased, atol=1e-5):
                hint = (" Você usou a variância não viesada (divide por B − 1); para normalizar, "
                        "o batch norm usa a viesada: x.var(dim=0, unbiased=False).")
            elif torch.allclose(got.double(), lecture, atol=1e-5):
                hint = " Use √(σ² + ε), como o PyTorch, e não σ + ε."
            fail(f"No caso “{case}” a saída difere da do PyTorch (erro máximo "
                  f"{(got.double() - expected).abs().max().item():.3g}).{hint}")


def check_running_stats_update(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(running_mean, running_var, x, momentum) -> (mean, var)`` contra os buffers de
    ``torch.nn.BatchNorm1d`` depois de um passo de treino."""
    momenta = [0.1] + ([0.5, 1.0, 0.01] if thorough else [])
    gen = torch.Generator().manual_seed(4)
    for momentum in momenta:
        case = f"momentum = {momentum}"
        bn = nn.BatchNorm1d(3, momentum=momentum).double()
        with torch.no_grad():
            bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
            bn.running_var.copy_(torch.tensor([1.0, 4.0, 0.25]))
        start_mean, start_var = bn.running_mean.clone(), bn.running_var.clone()
        x = 3 * torch.randn(8, 3, generator=gen, dtype=torch.float64) + 1
        bn(x)
        got = call(fn, case, start_mean.clone(), start_var.clone(), x.clone(), momentum)
        if not (isinstance(got, tuple | list) and len(got) == 2):
            fail(f"No caso “{case}” esperava um par (média, variância); recebeu "
                  f"{type(got).__name__}.")
        mean, var = (torch.as_tensor(v, dtype=torch.float64) for v in got)
        if not torch.allclose(mean, bn.running_mean, atol=1e-6):
            swapped = momentum * start_mean + (1 - momentum) * x.mean(0)
            hint = ""
            if momentum != 0.5 and torch.allclose(mean, swapped, atol=1e-6):
                hint = (" No PyTorch, momentum é o peso da estatística *nova*: "
                        "(1 − momentum)·antiga + momentum·nova.")
            fail(f"No caso “{case}” a média móvel deveria ser {bn.running_mean.tolist()}; "
                  f"sua função devolveu {mean.tolist()}.{hint}")
        if not torch.allclose(var, bn.running_var, atol=1e-6):
            biased = (1 - momentum) * start_var + momentum * x.var(0, unbiased=False)
            hint = ""
            if torch.allclose(var, biased, atol=1e-6):
                hint = (" A média móvel do PyTorch usa a variância *não viesada* do lote "
                        "(divide por n − 1).")
            fail(f"No caso “{case}” a variância móvel deveria ser {bn.running_var.tolist()}; "
                  f"sua função devolveu {var.tolist()}.{hint}")

