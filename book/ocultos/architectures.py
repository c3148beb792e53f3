"""Testes ocultos do capítulo 5 (arquiteturas): as respostas de referência e os casos extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as
constantes vêm das verificações públicas, em ``residuais.checks.architectures``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.architectures import (
    RULES_BOTTLENECK,
    RULES_CROP,
    RULES_UNET_SIZES,
    concat_axis_hint,
    crop_hint,
    expect_count,
    expect_unet_error,
    expect_unet_size,
    measured_unet_size,
    smallest_hint,
)
from residuais.checks.core import as_float, call, expect_tensor, fail, forbidden

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_bottleneck_block_params(planes: int) -> int:
    """Parâmetros do bloco com gargalo com atalho identidade (4·planes → planes → 4·planes)."""
    convs = 4 * planes * planes + 9 * planes * planes + planes * 4 * planes
    return convs + 2 * (planes + planes + 4 * planes)


def reference_crop_and_concat(skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """[centro de skip recortado para H × W de x, x] no eixo dos canais."""
    height, width = x.shape[-2:]
    top, left = (skip.shape[-2] - height) // 2, (skip.shape[-1] - width) // 2
    return torch.cat([skip[..., top : top + height, left : left + width], x], dim=1)


def reference_unet_output_size(input_size: int, depth: int) -> int:
    """Lado da saída da U-Net original para uma entrada quadrada; ``ValueError`` se um max-pool
    receber um tamanho ímpar ou se algum tamanho ficar menor que 1."""
    size = input_size
    for level in range(1, depth + 1):
        size -= 4  # duas convoluções 3×3 válidas
        if size < 1 or size % 2:
            raise ValueError(f"O max-pool do nível {level} receberia {size} pixels.")
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


def check_bottleneck_params_hidden(fn: Callable[[int], Any]) -> None:
    """Mais larguras, contra a contagem do ``Bottleneck`` do curso."""
    from residuais.models import Bottleneck, count_parameters

    for planes in (1, 2, 16, 128, 256):
        case = f"planes = {planes}"
        expected = count_parameters(Bottleneck(4 * planes, planes))
        with forbidden(fn, RULES_BOTTLENECK):
            got = call(fn, case, planes)
        hints = {
            17 * planes**2: "faltaram os parâmetros γ e β das três normalizações em lote (BN).",
            expected + 6 * planes: "as convoluções do bloco não têm viés (bias=False).",
            expected + 12 * planes: "running_mean e running_var são buffers, não parâmetros.",
        }
        expect_count(got, expected, case, hints)


CROP_HIDDEN = [
    ((1, 4, 64, 64), (1, 4, 56, 56)),
    ((2, 1, 9, 7), (2, 2, 5, 3)),
    ((1, 2, 6, 6), (1, 2, 6, 6)),
    ((3, 5, 10, 13), (3, 1, 3, 8)),
    ((1, 3, 136, 136), (1, 2, 104, 104)),
]


def check_crop_and_concat_hidden(fn: Callable[..., Any]) -> None:
    """Outras formas: tamanhos iguais, diferenças ímpares, retângulos, lote maior, float64."""
    gen = torch.Generator().manual_seed(55)
    for i, (skip_shape, x_shape) in enumerate(CROP_HIDDEN):
        dtype = torch.float64 if i % 2 else torch.float32
        case = f"skip {skip_shape}, x {x_shape}"
        skip = torch.randn(skip_shape, generator=gen, dtype=dtype)
        x = torch.randn(x_shape, generator=gen, dtype=dtype)
        expected = reference_crop_and_concat(skip, x)
        with forbidden(fn, RULES_CROP):
            got = call(fn, case, skip.clone(), x.clone())
        shape = tuple(expected.shape)
        hint = concat_axis_hint(got, (*skip_shape[:2], *x_shape[-2:]), x_shape)
        if hint and tuple(getattr(got, "shape", ())) != shape:
            fail(f"No caso “{case}” a saída deve ter forma {shape}.{hint}")
        expect_tensor(got, shape, case, f"a saída deve ter forma {shape}")
        if not torch.equal(got.to(dtype), expected):
            top = (skip_shape[-2] - x_shape[-2]) // 2
            left = (skip_shape[-1] - x_shape[-1]) // 2
            window = (slice(top, top + x_shape[-2]), slice(left, left + x_shape[-1]))
            fail(f"No caso “{case}” os valores diferem do recorte central seguido da "
                 f"concatenação.{crop_hint(got.to(dtype), skip, x, window)}")


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
