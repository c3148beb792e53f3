"""Testes ocultos do capítulo 4 (batch norm): as respostas de referência e os casos extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras e as dicas vêm das
verificações públicas, em ``residuais.checks.batchnorm``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from residuais.checks.batchnorm import (
    HINT_BATCH_STATS,
    HINT_BIASED_RUNNING,
    HINT_LECTURE_EPS,
    HINT_NO_EPS,
    HINT_SWAPPED,
    HINT_UNBIASED,
    HINT_WRONG_AXIS,
    RULES_BATCH_NORM_EVAL,
    RULES_BATCH_NORM_TRAIN,
    RULES_FOLD,
    RULES_RUNNING_STATS,
    batch_norm_module,
    expect_folded,
    expect_pair,
    fold_case,
    module_state,
    same_state,
)
from residuais.checks.core import call, expect_close, expect_tensor, fail, forbidden

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_batch_norm_eval(x: torch.Tensor, running_mean: torch.Tensor,
                              running_var: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                              eps: float) -> torch.Tensor:
    """y = γ (x − μ̂)/√(σ̂² + ε) + β, com as médias móveis μ̂ e σ̂²."""
    return gamma * (x - running_mean) / torch.sqrt(running_var + eps) + beta


def reference_batch_norm_train(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                               eps: float) -> torch.Tensor:
    """Batch norm de treino: média e variância viesada de cada unidade sobre o lote."""
    mean = x.mean(dim=0)
    var = x.var(dim=0, correction=0)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def reference_update_running_stats(running_mean: torch.Tensor, running_var: torch.Tensor,
                                   x: torch.Tensor, momentum: float
                                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(1 − m)·antiga + m·nova, com a variância não viesada do lote."""
    return ((1 - momentum) * running_mean + momentum * x.mean(dim=0),
            (1 - momentum) * running_var + momentum * x.var(dim=0, correction=1))


def reference_fold_batch_norm(linear: nn.Linear, bn: nn.BatchNorm1d) -> nn.Linear:
    """W' = diag(s) W e b' = s (b − μ̂) + β, com s = γ/√(σ̂² + ε)."""
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = linear.bias if linear.bias is not None else torch.zeros_like(bn.running_mean)
        folded = nn.Linear(linear.in_features, linear.out_features, dtype=linear.weight.dtype)
        folded.weight.copy_(scale[:, None] * linear.weight)
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


def check_batch_norm_eval_hidden(fn: Callable[..., Any]) -> None:
    """Uma unidade só, lote grande, ε grande, variância móvel zero, float32 e as entradas
    intocadas."""
    gen = torch.Generator().manual_seed(42)
    cases = [("uma unidade, um exemplo, ε = 0,1", 1, 1, 0.1, torch.float64),
             ("lote de 64 com 10 unidades", 64, 10, 1e-5, torch.float64),
             ("ε = 1", 7, 4, 1.0, torch.float64),
             ("float32, lote de 32 com 6 unidades", 32, 6, 1e-5, torch.float32)]
    for case, batch, channels, eps, dtype in cases:
        running_mean = torch.randn(channels, generator=gen, dtype=dtype)
        running_var = torch.rand(channels, generator=gen, dtype=dtype) + 0.1
        gamma = torch.rand(channels, generator=gen, dtype=dtype) + 0.5
        beta = torch.randn(channels, generator=gen, dtype=dtype)
        x = 3 * torch.randn(batch, channels, generator=gen, dtype=dtype) + 1
        inputs = [x, running_mean, running_var, gamma, beta]
        x64, mean64, var64, g64, b64 = (t.double() for t in inputs)
        with torch.no_grad():
            expected = batch_norm_module(g64, b64, mean64, var64, eps)(x64)
            hints = {
                HINT_LECTURE_EPS: batch_norm_module(g64, b64, mean64,
                                                    (var64.sqrt() + eps) ** 2 - eps, eps)(x64),
                HINT_NO_EPS: batch_norm_module(g64, b64, mean64, var64, 0.0)(x64),
            }
            hints[HINT_BATCH_STATS] = (F.batch_norm(x64, None, None, g64, b64, training=True,
                                                    eps=eps) if batch > 1 else b64.expand(1, -1))
        given = [t.clone() for t in inputs]
        with forbidden(fn, RULES_BATCH_NORM_EVAL):
            got = call(fn, case, *given, eps)
        _expect_untouched(given, inputs, case)
        expect_tensor(got, x.shape, case, f"a saída deve ter a forma de x, {tuple(x.shape)}",
                      type_first=True)
        expect_close(got, expected, case, tol=1e-4 if dtype == torch.float32 else 1e-6,
                     hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 2
# --------------------------------------------------------------------------------------------


def check_batch_norm_train_hidden(fn: Callable[..., Any]) -> None:
    """Lote de 2, uma unidade quase constante, lote grande, média longe de zero, float32 e as
    entradas intocadas."""
    gen = torch.Generator().manual_seed(43)
    cases = [((2, 3), 2.0, 1.0, torch.float64), ((64, 1), 1e-3, 1.0, torch.float64),
             ((200, 10), 1.0, 1.0, torch.float64), ((16, 5), 1.0, 1000.0, torch.float64),
             ((32, 6), 2.0, 1.0, torch.float32)]
    eps = 1e-5
    for (batch, channels), scale, offset, dtype in cases:
        case = (f"x de forma ({batch}, {channels}), desvio-padrão {scale:g}, média {offset:g}, "
                f"{str(dtype).removeprefix('torch.')}")
        x = scale * torch.randn(batch, channels, generator=gen, dtype=dtype) + offset
        gamma = torch.rand(channels, generator=gen, dtype=dtype) + 0.5
        beta = torch.randn(channels, generator=gen, dtype=dtype)
        x64, g64, b64 = x.double(), gamma.double(), beta.double()
        with torch.no_grad():
            expected = F.batch_norm(x64, None, None, g64, b64, training=True, eps=eps)
            center, spread = x64.mean(0), x64.var(0, correction=0)
            hints = {
                HINT_LECTURE_EPS: F.batch_norm(x64, center, (spread.sqrt() + eps) ** 2 - eps,
                                               g64, b64, training=False, eps=eps),
                HINT_NO_EPS: F.batch_norm(x64, center, spread, g64, b64, training=False,
                                          eps=0.0),
                HINT_WRONG_AXIS: F.layer_norm(x64, (channels,), eps=eps) * g64 + b64,
                HINT_UNBIASED: F.batch_norm(x64, center, x64.var(0, correction=1), g64, b64,
                                            training=False, eps=eps),
            }
        inputs = [x, gamma, beta]
        given = [t.clone() for t in inputs]
        with forbidden(fn, RULES_BATCH_NORM_TRAIN):
            got = call(fn, case, *given, eps)
        _expect_untouched(given, inputs, case)
        expect_tensor(got, x.shape, case, f"a saída deve ter a forma de x, {tuple(x.shape)}",
                      type_first=True)
        expect_close(got, expected, case, tol=1e-4 if dtype == torch.float32 else 1e-5,
                     hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 3
# --------------------------------------------------------------------------------------------


def _buffers_after(start_mean: torch.Tensor, start_var: torch.Tensor, x: torch.Tensor,
                   momentum: float) -> tuple[torch.Tensor, torch.Tensor]:
    bn = nn.BatchNorm1d(x.shape[1], momentum=momentum).double()
    with torch.no_grad():
        bn.running_mean.copy_(start_mean)
        bn.running_var.copy_(start_var)
        bn(x)
    return bn.running_mean.clone(), bn.running_var.clone()


def check_running_stats_update_hidden(fn: Callable[..., Any]) -> None:
    """Outros momentos (0,5, 1 e 0,01), lote de 2, uma unidade e 100 lotes seguidos com
    momentum 0,05."""
    gen = torch.Generator().manual_seed(44)
    for momentum, batch, channels in [(0.5, 8, 3), (1.0, 8, 3), (0.01, 8, 3), (0.1, 2, 4),
                                      (0.2, 16, 1)]:
        case = f"lote de {batch} com {channels} unidade(s), momentum = {momentum}"
        start_mean = torch.randn(channels, generator=gen, dtype=torch.float64)
        start_var = torch.rand(channels, generator=gen, dtype=torch.float64) + 0.5
        x = 3 * torch.randn(batch, channels, generator=gen, dtype=torch.float64) + 1
        expected_mean, expected_var = _buffers_after(start_mean, start_var, x, momentum)
        _, biased_var = _buffers_after(start_mean, start_var, x * math.sqrt((batch - 1) / batch),
                                       momentum)
        mean_hints, var_hints = {}, {HINT_BIASED_RUNNING: biased_var}
        if momentum != 0.5:
            swapped_mean, swapped_var = _buffers_after(start_mean, start_var, x, 1 - momentum)
            mean_hints[HINT_SWAPPED] = swapped_mean
            var_hints[HINT_SWAPPED] = swapped_var
        given = [start_mean.clone(), start_var.clone(), x.clone()]
        with forbidden(fn, RULES_RUNNING_STATS):
            got = call(fn, case, *given, momentum)
        mean, var = expect_pair(got, case, channels)
        expect_close(mean, expected_mean, f"{case}, média móvel", tol=1e-6, hints=mean_hints)
        expect_close(var, expected_var, f"{case}, variância móvel", tol=1e-6, hints=var_hints)

    momentum, bn = 0.05, nn.BatchNorm1d(5, momentum=0.05).double()
    mean, var = torch.zeros(5, dtype=torch.float64), torch.ones(5, dtype=torch.float64)
    for step in range(1, 101):
        case = f"100 lotes seguidos com momentum 0,05, passo {step}"
        x = 0.5 * torch.randn(12, 5, generator=gen, dtype=torch.float64) - 2
        with torch.no_grad():
            bn(x)
        with forbidden(fn, RULES_RUNNING_STATS):
            mean, var = expect_pair(call(fn, case, mean, var, x.clone(), momentum), case, 5)
        expect_close(torch.cat([mean, var]), torch.cat([bn.running_mean, bn.running_var]), case,
                     tol=1e-6)


# --------------------------------------------------------------------------------------------
# exercício 4
# --------------------------------------------------------------------------------------------


def check_fold_batch_norm_hidden(fn: Callable[..., Any]) -> None:
    """Tamanhos 1 × 1, 16 → 8 e 3 → 6, ε grande e variâncias móveis todas pequenas."""
    cases = [("Linear(1, 1) com viés", 1, 1, True, 1e-5, (0.3,)),
             ("Linear(16, 8) com viés e ε = 0,1", 16, 8, True, 0.1, tuple([0.05, 3.0] * 4)),
             ("Linear(3, 6) sem viés, variâncias móveis pequenas", 3, 6, False, 1e-5,
              (1e-4, 2e-4, 5e-4, 1e-3, 1e-4, 3e-4))]
    for seed, (case, inputs, outputs, bias, eps, running_var) in enumerate(cases, start=10):
        linear, bn = fold_case(inputs, outputs, bias, eps, running_var, seed)
        x = torch.randn(64, inputs, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            expected = copy.deepcopy(bn).eval()(linear(x))
        before = module_state(linear, bn)
        with forbidden(fn, RULES_FOLD):
            folded = call(fn, case, linear, bn)
        if not same_state(before, module_state(linear, bn)):
            fail(f"No caso “{case}” sua função alterou o linear ou o bn recebidos; crie um "
                 f"nn.Linear novo.")
        expect_folded(folded, linear, bn, x, expected, case)
