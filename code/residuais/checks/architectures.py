"""Verificações públicas dos exercícios de programação do capítulo 5 (arquiteturas).

Os valores esperados são constantes escritas aqui ou medidos na ``UNet`` do curso, fora da
resposta; os tamanhos de erros típicos, que viram dicas, também são constantes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from residuais.checks.core import (
    ForbiddenCall,
    Rule,
    as_float,
    call,
    expect_tensor,
    fail,
    forbidden,
)

_FORMULA = "o exercício pede a contagem por uma fórmula, sem montar o bloco nem criar camadas."
RULES_BOTTLENECK = (
    Rule("residuais.models.Bottleneck", _FORMULA),
    Rule("residuais.models.count_parameters", _FORMULA),
    Rule("torch.nn.Conv2d", _FORMULA),
    Rule("torch.nn.BatchNorm2d", _FORMULA),
)
_CROP = "o exercício pede o recorte central escrito por você."
RULES_CROP = (
    Rule("residuais.models.center_crop", _CROP),
    Rule("torchvision.transforms.functional.center_crop", _CROP),
)
_SIZES = "o exercício pede os tamanhos calculados por você, sem rodar a rede."
_MEASURE = "o exercício pede os tamanhos calculados por você, não medidos em camadas."
RULES_UNET_SIZES = (
    Rule("residuais.models.UNet", _SIZES),
    Rule("torch.nn.Conv2d", _MEASURE),
    Rule("torch.nn.MaxPool2d", _MEASURE),
    Rule("torch.nn.functional.conv2d", _MEASURE),
    Rule("torch.nn.functional.max_pool2d", _MEASURE),
)

# --------------------------------------------------------------------------------------------
# exercício 1: parâmetros do bloco com gargalo
# --------------------------------------------------------------------------------------------

# planes → (parâmetros do bloco, {contagem errada típica: dica})
NO_BATCH_NORM = "faltaram os parâmetros γ e β das três normalizações em lote (BN)."
CONV_BIAS = ("as convoluções do bloco não têm viés (bias=False): o β do BN logo depois faz esse "
             "papel.")
RUNNING_STATS = "running_mean e running_var são buffers, não parâmetros: conte só γ e β."
WIDE_3X3 = "a convolução 3×3 opera no gargalo, de planes para planes canais."
BOTTLENECK_CASES: dict[int, tuple[int, dict[int, str]]] = {
    64: (70_400, {69_632: NO_BATCH_NORM, 70_784: CONV_BIAS, 71_168: RUNNING_STATS,
                  180_992: WIDE_3X3, 623_360: WIDE_3X3}),
    3: (189, {153: NO_BATCH_NORM, 207: CONV_BIAS, 225: RUNNING_STATS, 432: WIDE_3X3,
              1_404: WIDE_3X3}),
}


def expect_count(got: Any, expected: int, case: str, hints: Mapping[int, str]) -> None:
    """Falha se ``got`` não for o inteiro ``expected``, com a dica do erro típico, se houver."""
    value = as_float(got, case)
    if value == expected:
        return
    shown = int(value) if value.is_integer() else value
    hint = f" Dica: {hints[shown]}" if shown in hints else ""
    fail(f"No caso “{case}” o bloco tem {expected} parâmetros; sua função devolveu {shown}."
         f"{hint}")


def check_bottleneck_params(fn: Callable[[int], Any]) -> None:
    """Confere ``fn(planes)``: parâmetros de um bloco com gargalo com atalho identidade
    (entrada e saída com 4·planes canais), contando as convoluções e os γ, β dos três BN."""
    for planes, (expected, hints) in BOTTLENECK_CASES.items():
        case = f"planes = {planes}"
        with forbidden(fn, RULES_BOTTLENECK):
            got = call(fn, case, planes)
        expect_count(got, expected, case, hints)


# --------------------------------------------------------------------------------------------
# exercício 2: recortar e concatenar
# --------------------------------------------------------------------------------------------

# (forma de skip, forma de x, janela do recorte central: linhas, colunas)
CROP_CASES = [
    ((2, 2, 7, 7), (2, 2, 4, 4), (slice(1, 5), slice(1, 5))),
    ((2, 3, 8, 8), (2, 5, 4, 4), (slice(2, 6), slice(2, 6))),
    ((1, 2, 9, 7), (1, 3, 5, 4), (slice(2, 7), slice(1, 5))),
]


def _shifted(window: slice, odd: bool) -> slice:
    """A janela uma posição adiante se a diferença de tamanhos for ímpar (arredondar para cima)."""
    return slice(window.start + odd, window.stop + odd)


def crop_hint(got: torch.Tensor, skip: torch.Tensor, x: torch.Tensor,
              window: tuple[slice, slice]) -> str:
    """A dica para uma saída com a forma certa e os valores errados."""
    rows, cols = window
    (height, width), (skip_h, skip_w) = x.shape[-2:], skip.shape[-2:]
    cropped = skip[..., rows, cols]
    rounded_up = skip[..., _shifted(rows, (skip_h - height) % 2 == 1),
                      _shifted(cols, (skip_w - width) % 2 == 1)]
    candidates = {
        "a ordem pedida é [skip recortado, x].": torch.cat([x, cropped], dim=1),
        "o recorte deve ser no centro, não no canto superior esquerdo.":
            torch.cat([skip[..., :height, :width], x], dim=1),
        "com diferença ímpar, o deslocamento é arredondado para baixo: ⌊(W_s − W)/2⌋.":
            torch.cat([rounded_up, x], dim=1),
    }
    return next((f" Dica: {text}" for text, wrong in candidates.items()
                 if wrong.shape == got.shape and torch.equal(got, wrong)), "")


def concat_axis_hint(got: Any, cropped_shape: tuple[int, ...], x_shape: tuple[int, ...]) -> str:
    """A dica para uma saída com a forma de uma concatenação em outro eixo."""
    shape = tuple(getattr(got, "shape", ()))
    for axis in (0, 2, 3):
        joined = list(x_shape)
        joined[axis] += cropped_shape[axis]
        if shape == tuple(joined):
            return f" Dica: você concatenou no eixo {axis}; os canais são o eixo 1 (dim=1)."
    return ""


def check_crop_and_concat(fn: Callable[..., Any]) -> None:
    """Confere ``fn(skip, x)``: recorta o centro de ``skip`` para a altura e largura de ``x`` e
    concatena [skip recortado, x] nos canais, como na U-Net original."""
    gen = torch.Generator().manual_seed(5)
    for skip_shape, x_shape, (rows, cols) in CROP_CASES:
        case = f"skip {skip_shape}, x {x_shape}"
        skip = torch.randn(skip_shape, generator=gen)
        x = torch.randn(x_shape, generator=gen)
        expected = torch.cat([skip[..., rows, cols], x], dim=1)
        with forbidden(fn, RULES_CROP):
            got = call(fn, case, skip.clone(), x.clone())
        shape = tuple(expected.shape)
        hint = concat_axis_hint(got, (*skip_shape[:2], *x_shape[-2:]), x_shape)
        if hint and tuple(getattr(got, "shape", ())) != shape:
            fail(f"No caso “{case}” a saída deve ter forma {shape}.{hint}")
        expect_tensor(got, shape, case, f"a saída deve ter forma {shape}")
        got = got.to(expected.dtype)
        if not torch.equal(got, expected):
            fail(f"No caso “{case}” os valores diferem do recorte central seguido da "
                 f"concatenação.{crop_hint(got, skip, x, (rows, cols))}")


# --------------------------------------------------------------------------------------------
# exercício 3: o tamanho da saída da U-Net
# --------------------------------------------------------------------------------------------

# (tamanho da entrada, profundidade, tamanho da saída): 572 → 388 é o do artigo
UNET_SIZES = [(572, 4, 388), (188, 4, 4), (124, 3, 36), (18, 1, 2)]
# entradas em que a previsão é comparada com a UNet do curso, medida aqui, fora da sua função
UNET_MEASURED = [(60, 2), (140, 3), (332, 4)]
# (tamanho, profundidade, por que não serve)
UNET_INVALID = [
    (573, 4, "o primeiro max-pool recebe 569 pixels, um número ímpar"),
    (570, 4, "o segundo max-pool recebe 279 pixels, um número ímpar"),
    (172, 4, "no decodificador o tamanho chega a 0 pixels"),
]


def measured_unet_size(size: int, depth: int) -> int:
    """O lado da saída da ``UNet`` do curso (convoluções válidas) para uma entrada quadrada,
    medido numa rede com um canal na base (rápida na CPU)."""
    from residuais.models import UNet

    net = UNet(in_channels=1, num_classes=1, base_channels=1, depth=depth)
    with torch.no_grad():
        return int(net(torch.zeros(1, 1, size, size)).shape[-1])


def outcome(fn: Callable[..., Any], rules: Sequence[Rule], case: str,
            *args: Any) -> tuple[Any, ValueError | None]:
    """(valor devolvido, None) ou (None, o ValueError levantado) pela função do estudante; os
    outros erros viram uma mensagem que nomeia o caso."""
    with forbidden(fn, rules):
        try:
            return fn(*args), None
        except ValueError as exc:
            return None, exc
        except ForbiddenCall:
            raise
        except Exception as exc:  # o erro é do código do estudante: explicamos e repassamos
            raise AssertionError(
                f"Sua função levantou {type(exc).__name__} no caso “{case}”: {exc}") from exc


def unet_size_hint(got: float, expected: int, size: int, depth: int) -> str:
    """A dica para um tamanho de saída errado numa entrada válida."""
    if size - got == (size - expected) / 2:
        return " Dica: cada nível tem duas convoluções 3×3, e cada uma tira 2 pixels."
    if got == expected + 4 * 2**depth:
        return " Dica: faltaram as duas convoluções do fundo, entre o último max-pool e a subida."
    if got == expected + 4 * (2**depth - 1):
        return " Dica: faltaram as duas convoluções depois de cada concatenação no decodificador."
    if got == expected - 4 * (2**depth - 1):
        return " Dica: em cada nível, primeiro as duas convoluções, depois o max-pool."
    return ""


def expect_unet_size(fn: Callable[..., Any], size: int, depth: int, expected: int) -> None:
    """Falha se ``fn(size, depth)`` não devolver ``expected`` (uma entrada válida)."""
    case = f"input_size = {size}, depth = {depth}"
    got, error = outcome(fn, RULES_UNET_SIZES, case, size, depth)
    if error is not None:
        fail(f"Sua função levantou ValueError no caso “{case}” ({error}), mas esse tamanho é "
             f"válido e a saída tem {expected} pixels. Dica: as duas convoluções de cada nível "
             f"vêm antes do max-pool, e cada uma tira 2 pixels.")
    value = as_float(got, case)
    if value != expected:
        shown = int(value) if value.is_integer() else value
        fail(f"No caso “{case}” a saída tem {expected} pixels; sua função devolveu {shown}."
             f"{unet_size_hint(value, expected, size, depth)}")


def expect_unet_error(fn: Callable[..., Any], size: int, depth: int, why: str) -> None:
    """Falha se ``fn(size, depth)`` não levantar ``ValueError`` (uma entrada que não serve)."""
    case = f"input_size = {size}, depth = {depth}"
    got, error = outcome(fn, RULES_UNET_SIZES, case, size, depth)
    if error is None:
        fail(f"No caso “{case}” sua função devolveu {got!r}, mas devia levantar ValueError: "
             f"{why}.")


def check_unet_output_size(fn: Callable[[int, int], Any]) -> None:
    """Confere ``fn(input_size, depth)``: o lado da saída da U-Net original (convoluções
    válidas) para uma entrada quadrada, e ``ValueError`` quando o tamanho não serve.

    O experimento: além dos tamanhos do artigo, a previsão é comparada com a saída da ``UNet``
    do curso, medida aqui, para outras entradas e profundidades.
    """
    for size, depth, expected in UNET_SIZES:
        expect_unet_size(fn, size, depth, expected)
    for size, depth in UNET_MEASURED:
        expect_unet_size(fn, size, depth, measured_unet_size(size, depth))
    for size, depth, why in UNET_INVALID:
        expect_unet_error(fn, size, depth, why)


# --------------------------------------------------------------------------------------------
# exercício 4: a menor entrada válida
# --------------------------------------------------------------------------------------------

FORGOT_OUTPUT = ("a saída também precisa ter pelo menos 1 pixel, e o decodificador ainda tira "
                 "pixels depois do fundo.")
# (min_size, depth, resposta, {tamanho errado típico: dica})
SMALLEST_CASES: list[tuple[int, int, int, dict[int, str]]] = [
    (572, 4, 572, {}),
    (573, 4, 588, {}),
    (1, 4, 188, {140: FORGOT_OUTPUT, 76: FORGOT_OUTPUT}),
    (1, 1, 18, {14: FORGOT_OUTPUT, 6: FORGOT_OUTPUT}),
    (50, 2, 52, {}),
    (1000, 5, 1020, {}),
]


def smallest_hint(value: float, min_size: int, hints: Mapping[int, str]) -> str:
    """A dica para uma menor entrada válida errada."""
    if value in hints:
        return f" Dica: {hints[int(value)]}"
    if value < min_size:
        return " Dica: a resposta não pode ser menor que min_size."
    if value == min_size:
        return f" Dica: {min_size} não serve; confira cada max-pool e a saída."
    return ""


def check_smallest_valid_unet_input(fn: Callable[[int, int], Any]) -> None:
    """Confere ``fn(min_size, depth)``: o menor tamanho ≥ ``min_size`` em que todo max-pool da
    U-Net original recebe um tamanho par e a saída tem pelo menos 1 pixel."""
    for min_size, depth, expected, hints in SMALLEST_CASES:
        case = f"min_size = {min_size}, depth = {depth}"
        with forbidden(fn, RULES_UNET_SIZES):
            got = call(fn, case, min_size, depth)
        value = as_float(got, case)
        if value != expected:
            shown = int(value) if value.is_integer() else value
            fail(f"No caso “{case}” a resposta é {expected}; sua função devolveu {shown}."
                 f"{smallest_hint(value, min_size, hints)}")
