"""Verificações públicas dos exercícios de programação do capítulo 5 (arquiteturas)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.core import as_float, call, expect_tensor, fail


def check_bottleneck_params(fn: Callable[[int], Any], thorough: bool = False) -> None:
    """Confere ``fn(planes)``: parâmetros de um bloco com gargalo com atalho identidade
    (entrada e saída com 4·planes canais), contando as convoluções e os γ, β dos três BN."""
    from residuais.models import Bottleneck, count_parameters

    for planes in [64] + ([1, 128, 256, 512] if thorough else []):
        case = f"planes = {planes}"
        got = as_float(call(fn, case, planes), case)
        expected = count_parameters(Bottleneck(4 * planes, planes))
        if got != expected:
            convs = 4 * planes * planes + 9 * planes * planes + 4 * planes * planes
            hint = ""
            if got == convs:
                hint = " Faltaram os parâmetros γ e β dos três batch norms."
            fail(f"No caso “{case}” o bloco tem {expected} parâmetros; sua função devolveu "
                  f"{int(got)}.{hint}")


def check_crop_and_concat(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(skip, x)``: recorta o centro de ``skip`` para a altura e largura de ``x`` e
    concatena [skip recortado, x] nos canais, como na U-Net original."""
    from residuais.models import center_crop

    cases = [((2, 3, 8, 8), (2, 5, 4, 4))]
    if thorough:
        cases += [((1, 4, 64, 64), (1, 4, 56, 56)), ((2, 1, 9, 7), (2, 2, 5, 3)),
                  ((1, 2, 6, 6), (1, 2, 6, 6))]
    gen = torch.Generator().manual_seed(5)
    for skip_shape, x_shape in cases:
        case = f"skip {skip_shape}, x {x_shape}"
        skip = torch.randn(skip_shape, generator=gen)
        x = torch.randn(x_shape, generator=gen)
        expected = torch.cat([center_crop(skip, *x_shape[-2:]), x], dim=1)
        got = call(fn, case, skip.clone(), x.clone())
        expect_tensor(got, expected.shape, case,
                       f"a saída deve ter forma {tuple(expected.shape)}")
        if not torch.equal(got, expected):
            hint = ""
            if torch.equal(got, torch.cat([x, center_crop(skip, *x_shape[-2:])], dim=1)):
                hint = " A ordem pedida é [skip, x]."
            elif torch.equal(got[:, : skip_shape[1]], skip[..., : x_shape[-2], : x_shape[-1]]):
                hint = " O recorte deve ser no centro, não no canto superior esquerdo."
            fail(f"No caso “{case}” os valores diferem da referência.{hint}")

