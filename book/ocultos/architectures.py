"""Testes ocultos do capítulo 5 (arquiteturas): as respostas de referência e os casos extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as
constantes vêm das verificações públicas, em ``residuais.checks.architectures`` e
``residuais.checks.unet_skips``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from residuais.checks.architectures import (
    RULES_UNET_SIZES,
    expect_bottleneck,
    expect_unet_error,
    expect_unet_size,
    measured_unet_size,
    smallest_hint,
)
from residuais.checks.core import as_float, call, fail, forbidden
from residuais.checks.unet_skips import RULES_PAD, expect_pad_error, expect_padded

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_bottleneck_block_params(in_channels: int, planes: int, stride: int) -> int:
    """Parâmetros do bloco com gargalo in_channels → planes → planes → 4·planes: três
    convoluções sem viés, um BN (γ, β) depois de cada uma e, se a forma muda (canais ou passo),
    a projeção 1×1 com o seu BN no atalho."""
    out = 4 * planes
    total = in_channels * planes + 9 * planes * planes + planes * out + 2 * (2 * planes + out)
    if stride != 1 or in_channels != out:
        total += in_channels * out + 2 * out
    return total


def reference_pad_and_concat(skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[skip, x completado com zeros até H_s × W_s, no centro (o zero a mais embaixo e à
    direita)] no eixo dos canais."""
    extra_h, extra_w = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
    if extra_h < 0 or extra_w < 0:
        raise ValueError(f"x ({tuple(x.shape)}) é maior que skip ({tuple(skip.shape)}).")
    pads = (extra_w // 2, extra_w - extra_w // 2, extra_h // 2, extra_h - extra_h // 2)
    return torch.cat([skip, F.pad(x, pads)], dim=1)


def reference_unet_output_size(input_size: int, depth: int) -> int:
    """Lado da saída da U-Net original para uma entrada quadrada; ``ValueError`` se um
    agrupamento por máximo receber um tamanho ímpar ou se algum tamanho ficar menor que 1."""
    size = input_size
    for level in range(1, depth + 1):
        size -= 4  # duas convoluções 3×3 válidas
        if size < 1 or size % 2:
            raise ValueError(f"O agrupamento por máximo do nível {level} receberia {size} pixels.")
        size //= 2
    size -= 4  # o fundo
    for _ in range(depth):
        size = 2 * size - 4  # convolução transposta 2×2 e duas convoluções 3×3
        if size < 1:
            break
    if size < 1:
        raise ValueError(f"A entrada {input_size} não chega à saída com pelo menos 1 pixel.")
    return size


def reference_smallest_valid_unet_input(min_size: int, depth: int) -> int:
    """Menor entrada ≥ ``min_size`` válida: n = 2^D·s + 4(2^D − 1), com s a entrada do fundo,
    s ≥ 8 (s ≥ 7 com um nível) para a saída ter pelo menos 1 pixel."""
    scale = 2**depth
    offset = 4 * (scale - 1)
    smallest_bottom = 7 if depth == 1 else 8
    bottom = max(smallest_bottom, -((offset - min_size) // scale))  # teto de (min − offset)/2^D
    return scale * bottom + offset


def brute_force_smallest(min_size: int, depth: int) -> int:
    """O mesmo que a referência, testando tamanho a tamanho (para conferir a fórmula)."""
    size = min_size
    while True:
        try:
            reference_unet_output_size(size, depth)
        except ValueError:
            size += 1
        else:
            return size


# --------------------------------------------------------------------------------------------
# verificações ocultas
# --------------------------------------------------------------------------------------------


def check_bottleneck_params_hidden(fn: Callable[[int, int, int], Any]) -> None:
    """Outras larguras e passos, contra a contagem do ``Bottleneck`` do curso (no dispositivo
    ``meta``, sem alocar os pesos)."""
    from residuais.models import Bottleneck, count_parameters

    for in_channels, planes, stride in [(4, 1, 1), (4, 1, 2), (1, 2, 1), (128, 32, 1),
                                        (512, 256, 2), (1024, 256, 1), (1024, 256, 2),
                                        (2048, 512, 1), (1024, 512, 2), (6, 5, 3)]:
        with torch.device("meta"):
            expected = count_parameters(Bottleneck(in_channels, planes, stride))
        expect_bottleneck(fn, in_channels, planes, stride, expected)


# (forma de skip, forma de x): tamanhos iguais, diferenças ímpares, retângulos, lote maior
PAD_HIDDEN = [
    ((1, 4, 17, 17), (1, 4, 16, 16)),
    ((2, 1, 9, 7), (2, 2, 5, 3)),
    ((1, 2, 6, 6), (1, 2, 6, 6)),
    ((3, 5, 10, 13), (3, 1, 3, 8)),
    ((1, 3, 25, 25), (1, 2, 24, 24)),
    ((2, 2, 8, 5), (2, 2, 7, 5)),
]
PAD_TOO_LARGE_HIDDEN = [((1, 1, 5, 5), (1, 1, 6, 6)), ((2, 2, 9, 4), (2, 2, 3, 5))]


def check_pad_and_concat_hidden(fn: Callable[..., Any]) -> None:
    """Outras formas, em float32 e float64, e mais entradas em que ``x`` é maior que ``skip``."""
    gen = torch.Generator().manual_seed(55)
    for i, (skip_shape, x_shape) in enumerate(PAD_HIDDEN):
        dtype = torch.float64 if i % 2 else torch.float32
        case = f"skip {skip_shape}, x {x_shape}"
        skip = torch.randn(skip_shape, generator=gen, dtype=dtype)
        x = torch.randn(x_shape, generator=gen, dtype=dtype)
        extra_h, extra_w = skip_shape[-2] - x_shape[-2], skip_shape[-1] - x_shape[-1]
        rows, cols = (extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)
        with forbidden(fn, RULES_PAD):
            got = call(fn, case, skip.clone(), x.clone())
        expect_padded(got, skip, x, rows, cols, case)
    for skip_shape, x_shape in PAD_TOO_LARGE_HIDDEN:
        expect_pad_error(fn, skip_shape, x_shape)


def check_unet_output_size_hidden(fn: Callable[[int, int], Any]) -> None:
    """Todas as entradas de 1 a 400 com 1 a 4 níveis, contra a referência (saída ou
    ``ValueError``), e mais medições na ``UNet`` do curso, com até 5 níveis."""
    for depth in range(1, 5):
        for size in range(1, 401):
            try:
                expected = reference_unet_output_size(size, depth)
            except ValueError as exc:
                expect_unet_error(fn, size, depth, str(exc).rstrip(".").lower())
            else:
                expect_unet_size(fn, size, depth, expected)
    for size, depth in [(22, 1), (96, 2), (252, 3), (204, 4), (380, 5)]:
        expect_unet_size(fn, size, depth, measured_unet_size(size, depth))


def check_smallest_valid_unet_input_hidden(fn: Callable[[int, int], Any]) -> None:
    """Muitos ``min_size`` e profundidades de 1 a 6, contra a busca tamanho a tamanho."""
    sizes = [*range(1, 80, 7), 187, 188, 189, 204, 205, 570, 571, 572, 573, 1021, 4097]
    for depth in range(1, 7):
        for min_size in sizes:
            case = f"min_size = {min_size}, depth = {depth}"
            expected = brute_force_smallest(min_size, depth)
            with forbidden(fn, RULES_UNET_SIZES):
                got = call(fn, case, min_size, depth)
            value = as_float(got, case)
            if value != expected:
                shown = int(value) if value.is_integer() else value
                fail(f"No caso “{case}” a resposta é {expected}; sua função devolveu {shown}."
                     f"{smallest_hint(value, min_size, {})}")
