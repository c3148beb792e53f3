"""Verificações públicas dos exercícios de programação 1, 3 e 4 do capítulo 5 (arquiteturas):
contar os parâmetros do bloco com gargalo e seguir os tamanhos da U-Net. O exercício 2 (o atalho
com preenchimento) está em ``residuais.checks.unet_skips``.

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
# exercício 1: parâmetros do bloco com gargalo, com ou sem projeção
# --------------------------------------------------------------------------------------------

NO_BATCH_NORM = "faltaram os parâmetros γ e β das normalizações em lote (BN)."
CONV_BIAS = ("as convoluções do bloco não têm viés (bias=False): o β do BN logo depois faz esse "
             "papel.")
RUNNING_STATS = "running_mean e running_var são buffers, não parâmetros: conte só γ e β."
WIDE_3X3 = "a convolução 3×3 opera no gargalo, de planes para planes canais."
MISSING_PROJECTION = ("a entrada tem in_channels canais e a saída 4·planes: para somar, o atalho "
                      "precisa de uma projeção (convolução 1×1 sem viés, seguida de BN).")
STRIDE_PROJECTION = ("com passo 2 a resolução cai à metade, e a forma da saída muda mesmo com "
                     "in_channels = 4·planes: o atalho também precisa de projeção.")
EXTRA_PROJECTION = ("com a mesma forma na entrada e na saída, o atalho é a identidade, sem "
                    "parâmetros.")
PROJECTION_NO_BN = "a projeção também tem o seu BN (γ e β para os 4·planes canais)."
# (in_channels, planes, stride) → parâmetros (conferidos com Bottleneck nos testes do curso)
BOTTLENECK_CASES: dict[tuple[int, int, int], int] = {
    (256, 64, 1): 70_400,  # bloco identidade do 1.º estágio da ResNet-50
    (64, 64, 1): 75_008,  # 1.º bloco do 1.º estágio: 64 → 256 canais, com projeção
    (256, 128, 2): 379_392,  # 1.º bloco do 2.º estágio: canais e resolução mudam
    (512, 128, 2): 543_232,  # só a resolução muda: projeção por causa do passo
    (12, 3, 1): 189,
}


def needs_projection(in_channels: int, planes: int, stride: int) -> bool:
    """O atalho precisa de projeção quando a forma muda: canais (in → 4·planes) ou resolução."""
    return stride != 1 or in_channels != 4 * planes


def bottleneck_hints(in_channels: int, planes: int, stride: int, expected: int
                     ) -> dict[int, str]:
    """{contagem errada típica: dica} para um caso; a primeira dica de cada contagem vale."""
    p, out = planes, 4 * planes
    projection = in_channels * out + 2 * out  # conv 1×1 e o seu BN
    has_projection = needs_projection(in_channels, planes, stride)
    wrong: list[tuple[int, str]] = []
    if has_projection:
        shape_hint = MISSING_PROJECTION if in_channels != out else STRIDE_PROJECTION
        wrong += [(expected - projection, shape_hint), (expected - 2 * out, PROJECTION_NO_BN)]
    else:
        wrong.append((expected + projection, EXTRA_PROJECTION))
    bn = 12 * p + (2 * out if has_projection else 0)
    conv_outputs = 6 * p + (out if has_projection else 0)
    wrong += [
        (expected - bn, NO_BATCH_NORM),
        (expected + conv_outputs, CONV_BIAS),
        (expected + bn, RUNNING_STATS),
        (expected - 9 * p * p + 9 * in_channels * p, WIDE_3X3),
        (expected - 9 * p * p + 9 * out * out, WIDE_3X3),
    ]
    hints: dict[int, str] = {}
    for count, text in wrong:
        if count != expected:
            hints.setdefault(count, text)
    return hints


def expect_count(got: Any, expected: int, case: str, hints: Mapping[int, str]) -> None:
    """Falha se ``got`` não for o inteiro ``expected``, com a dica do erro típico, se houver."""
    value = as_float(got, case)
    if value == expected:
        return
    shown = int(value) if value.is_integer() else value
    hint = f" Dica: {hints[shown]}" if shown in hints else ""
    fail(f"No caso “{case}” o bloco tem {expected} parâmetros; sua função devolveu {shown}."
         f"{hint}")


def expect_bottleneck(fn: Callable[..., Any], in_channels: int, planes: int, stride: int,
                      expected: int) -> None:
    """Falha se ``fn(in_channels, planes, stride)`` não devolver ``expected``."""
    case = f"in_channels = {in_channels}, planes = {planes}, stride = {stride}"
    with forbidden(fn, RULES_BOTTLENECK):
        got = call(fn, case, in_channels, planes, stride)
    expect_count(got, expected, case, bottleneck_hints(in_channels, planes, stride, expected))


def check_bottleneck_params(fn: Callable[[int, int, int], Any]) -> None:
    """Confere ``fn(in_channels, planes, stride)``: parâmetros de um bloco com gargalo
    (in_channels → planes → planes → 4·planes), com projeção no atalho quando a forma muda."""
    for (in_channels, planes, stride), expected in BOTTLENECK_CASES.items():
        expect_bottleneck(fn, in_channels, planes, stride, expected)


# --------------------------------------------------------------------------------------------
# exercício 3: o tamanho da saída da U-Net
# --------------------------------------------------------------------------------------------

# (tamanho da entrada, profundidade, tamanho da saída): 572 → 388 é o do artigo
UNET_SIZES = [(572, 4, 388), (188, 4, 4), (124, 3, 36), (18, 1, 2)]
# entradas em que a previsão é comparada com a UNet do curso, medida aqui, fora da sua função
UNET_MEASURED = [(60, 2), (140, 3), (332, 4)]
# (tamanho, profundidade, por que não serve)
UNET_INVALID = [
    (573, 4, "o primeiro agrupamento por máximo recebe 569 pixels, um número ímpar"),
    (570, 4, "o segundo agrupamento por máximo recebe 279 pixels, um número ímpar"),
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
        return (" Dica: faltaram as duas convoluções do fundo, entre o último agrupamento por "
                "máximo e a subida.")
    if got == expected + 4 * (2**depth - 1):
        return " Dica: faltaram as duas convoluções depois de cada concatenação no decodificador."
    if got == expected - 4 * (2**depth - 1):
        return (" Dica: em cada nível, primeiro as duas convoluções, depois o agrupamento por "
                "máximo.")
    return ""


def expect_unet_size(fn: Callable[..., Any], size: int, depth: int, expected: int) -> None:
    """Falha se ``fn(size, depth)`` não devolver ``expected`` (uma entrada válida)."""
    case = f"input_size = {size}, depth = {depth}"
    got, error = outcome(fn, RULES_UNET_SIZES, case, size, depth)
    if error is not None:
        fail(f"Sua função levantou ValueError no caso “{case}” ({error}), mas esse tamanho é "
             f"válido e a saída tem {expected} pixels. Dica: as duas convoluções de cada nível "
             f"vêm antes do agrupamento por máximo, e cada uma tira 2 pixels.")
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
        return f" Dica: {min_size} não serve; confira cada agrupamento por máximo e a saída."
    return ""


def check_smallest_valid_unet_input(fn: Callable[[int, int], Any]) -> None:
    """Confere ``fn(min_size, depth)``: o menor tamanho ≥ ``min_size`` em que todo agrupamento
    por máximo da U-Net original recebe um tamanho par e a saída tem pelo menos 1 pixel."""
    for min_size, depth, expected, hints in SMALLEST_CASES:
        case = f"min_size = {min_size}, depth = {depth}"
        with forbidden(fn, RULES_UNET_SIZES):
            got = call(fn, case, min_size, depth)
        value = as_float(got, case)
        if value != expected:
            shown = int(value) if value.is_integer() else value
            fail(f"No caso “{case}” a resposta é {expected}; sua função devolveu {shown}."
                 f"{smallest_hint(value, min_size, hints)}")
