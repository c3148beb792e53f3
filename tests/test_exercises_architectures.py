"""Exercícios de programação do capítulo 5: as verificações aceitam a referência, recusam os
erros típicos com a dica certa, pegam os atalhos proibidos, e as constantes estão certas."""


import pytest
import torch
from conftest import hidden_module
from torch import nn

from residuais.checks import ForbiddenCall
from residuais.checks import architectures as public
from residuais.models import Bottleneck, UNet, center_crop, count_parameters

hidden = hidden_module("architectures")


def _both(check_name: str, answer) -> None:
    """A verificação pública e a oculta do exercício."""
    getattr(public, check_name)(answer)
    getattr(hidden, f"{check_name}_hidden")(answer)


# --------------------------------------------------------------------------------------------
# exercício 1: parâmetros do gargalo
# --------------------------------------------------------------------------------------------


def test_bottleneck_reference_passes_public_and_hidden():
    _both("check_bottleneck_params", hidden.reference_bottleneck_block_params)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda p: 17 * p * p, "γ e β"),
    (lambda p: 17 * p * p + 18 * p, "bias=False"),
    (lambda p: 17 * p * p + 24 * p, "buffers"),
    (lambda p: 4 * p * p + 9 * 4 * p * p + 4 * p * p + 12 * p, "planes para planes"),
    (lambda p: 4 * p * p + 9 * 16 * p * p + 4 * p * p + 12 * p, "planes para planes"),
], ids=["sem BN", "com viés", "buffers", "3x3 largo", "3x3 largo nos dois lados"])
def test_bottleneck_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_bottleneck_params(wrong)


def test_bottleneck_shortcuts_are_forbidden():
    def by_model(planes):
        return sum(p.numel() for p in Bottleneck(4 * planes, planes).parameters())

    def by_count(planes):
        return count_parameters(nn.Sequential())

    def by_layers(planes):
        layers = [nn.Conv2d(4 * planes, planes, 1, bias=False), nn.BatchNorm2d(planes)]
        return sum(p.numel() for layer in layers for p in layer.parameters())

    with pytest.raises(ForbiddenCall, match=r"`Bottleneck`.*não vale"):
        public.check_bottleneck_params(by_model)
    with pytest.raises(ForbiddenCall, match=r"`count_parameters`.*não vale"):
        public.check_bottleneck_params(by_count)
    with pytest.raises(ForbiddenCall, match=r"`Conv2d` \(torch\.nn\.Conv2d\)"):
        public.check_bottleneck_params(by_layers)
    assert count_parameters(Bottleneck(8, 2)) == 17 * 4 + 12 * 2  # restaurados


def test_bottleneck_constants_are_right():
    for planes, (expected, hints) in public.BOTTLENECK_CASES.items():
        assert expected == hidden.reference_bottleneck_block_params(planes)
        assert expected == count_parameters(Bottleneck(4 * planes, planes))
        p = planes
        assert hints == {
            17 * p * p: public.NO_BATCH_NORM,
            expected + 6 * p: public.CONV_BIAS,  # um viés por canal de saída das 3 convoluções
            expected + 12 * p: public.RUNNING_STATS,  # mais duas estatísticas por canal
            expected - 9 * p * p + 9 * 4 * p * p: public.WIDE_3X3,  # 3×3 de 4p para p
            expected - 9 * p * p + 9 * 16 * p * p: public.WIDE_3X3,  # 3×3 de 4p para 4p
        }


def test_bottleneck_trivial_answers_fail():
    for trivial in (lambda p: 0, lambda p: p, lambda p: "70400"):
        with pytest.raises(AssertionError):
            public.check_bottleneck_params(trivial)


# --------------------------------------------------------------------------------------------
# exercício 2: recortar e concatenar
# --------------------------------------------------------------------------------------------


def _crop(skip, height, width, round_up=False):
    top = (skip.shape[-2] - height + round_up) // 2
    left = (skip.shape[-1] - width + round_up) // 2
    return skip[..., top : top + height, left : left + width]


def test_crop_reference_passes_public_and_hidden():
    _both("check_crop_and_concat", hidden.reference_crop_and_concat)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda s, x: torch.cat([x, _crop(s, *x.shape[-2:])], dim=1), "ordem"),
    (lambda s, x: torch.cat([s[..., : x.shape[-2], : x.shape[-1]], x], dim=1), "centro"),
    (lambda s, x: torch.cat([_crop(s, *x.shape[-2:], round_up=True), x], dim=1),
     "arredondado para baixo"),
    (lambda s, x: torch.cat([_crop(s, *x.shape[-2:]), x], dim=0), "eixo 0"),
    (lambda s, x: torch.cat([_crop(s, *x.shape[-2:]), x], dim=-1), "eixo 3"),
], ids=["ordem", "canto", "para cima", "eixo 0", "eixo da largura"])
def test_crop_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_crop_and_concat(wrong)


def test_crop_course_function_is_forbidden():
    def by_course(skip, x):
        return torch.cat([center_crop(skip, *x.shape[-2:]), x], dim=1)

    with pytest.raises(ForbiddenCall, match=r"`center_crop` \(residuais\.models\..*não vale"):
        public.check_crop_and_concat(by_course)
    # torchvision (a outra função proibida) não está instalado aqui: a regra é ignorada
    assert public.RULES_CROP[-1].resolve() is None


def test_crop_constants_are_right():
    gen = torch.Generator().manual_seed(0)
    for skip_shape, x_shape, window in public.CROP_CASES:
        skip, x = torch.randn(skip_shape, generator=gen), torch.randn(x_shape, generator=gen)
        assert torch.equal(torch.cat([skip[..., window[0], window[1]], x], dim=1),
                           hidden.reference_crop_and_concat(skip, x))


def test_crop_trivial_answers_fail():
    for trivial in (lambda s, x: x, lambda s, x: torch.zeros(x.shape[0], s.shape[1] + x.shape[1],
                                                             *x.shape[-2:])):
        with pytest.raises(AssertionError, match="caso"):
            public.check_crop_and_concat(trivial)


# --------------------------------------------------------------------------------------------
# exercício 3: tamanho da saída da U-Net
# --------------------------------------------------------------------------------------------


def _sizes(convs=4, bottom=True, decoder=True, halve_first=False, check=False):
    """Uma resposta com um erro típico (com divisão exata, sem arredondar)."""
    def answer(size, depth):
        for _ in range(depth):
            if halve_first:
                size = size / 2 - convs
            else:
                if check and (size - convs) % 2:
                    raise ValueError("ímpar")
                size = (size - convs) / 2
        size -= convs if bottom else 0
        for _ in range(depth):
            size = 2 * size - (convs if decoder else 0)
        return size
    return answer


def test_unet_size_reference_passes_public_and_hidden():
    _both("check_unet_output_size", hidden.reference_unet_output_size)


@pytest.mark.parametrize(("wrong", "hint"), [
    (_sizes(convs=2), "duas convoluções 3×3"),
    (_sizes(convs=2, check=True), "levantou ValueError.*válido.*antes do max-pool"),
    (_sizes(bottom=False), "convoluções do fundo"),
    (_sizes(decoder=False), "depois de cada concatenação"),
    (_sizes(halve_first=True), "primeiro as duas convoluções"),
    (_sizes(), "devia levantar ValueError: o primeiro max-pool recebe 569"),
], ids=["uma convolução", "uma convolução e ímpar", "sem fundo", "sem decodificador",
        "metade antes", "sem ValueError"])
def test_unet_size_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_unet_output_size(wrong)


def test_unet_size_shortcuts_are_forbidden():
    def by_network(size, depth):
        with torch.device("meta"):
            return UNet(depth=depth)(torch.empty(1, 1, size, size)).shape[-1]

    def by_layers(size, depth):
        conv = nn.Conv2d(1, 1, 3)
        return conv(torch.empty(1, 1, size, size)).shape[-1]

    with pytest.raises(ForbiddenCall, match=r"`UNet` \(residuais\.models\..*não vale"):
        public.check_unet_output_size(by_network)
    with pytest.raises(ForbiddenCall, match=r"`Conv2d`.*medidos em camadas"):
        public.check_unet_output_size(by_layers)


def test_unet_size_constants_are_right():
    for size, depth, expected in public.UNET_SIZES:
        assert hidden.reference_unet_output_size(size, depth) == expected
    for size, depth in public.UNET_MEASURED:
        assert (public.measured_unet_size(size, depth)
                == hidden.reference_unet_output_size(size, depth))
    for size, depth, why in public.UNET_INVALID:
        with pytest.raises(ValueError) as info:
            hidden.reference_unet_output_size(size, depth)
        numbers = [word for word in why.split() if word.isdigit()]
        assert all(n in str(info.value) for n in numbers if "max-pool" in why)
    # 172 com 4 níveis: 168, 84, 80, 40, 36, 18, 14, 7; fundo 3; subida 2, depois 0
    assert 2 * (2 * (7 - 4) - 4) - 4 == 0


def test_the_paper_sizes_match_the_course_unet():
    assert public.measured_unet_size(572, 4) == 388


def test_unet_size_trivial_answers_fail():
    for trivial in (lambda size, depth: size, lambda size, depth: 0):
        with pytest.raises(AssertionError, match="572"):
            public.check_unet_output_size(trivial)


# --------------------------------------------------------------------------------------------
# exercício 4: a menor entrada válida
# --------------------------------------------------------------------------------------------


def _closed_form(smallest_bottom):
    def answer(min_size, depth):
        scale, offset = 2**depth, 4 * (2**depth - 1)
        bottom = max(smallest_bottom, -((offset - min_size) // scale))
        return scale * bottom + offset
    return answer


def _search(min_size, depth):
    size = min_size
    while True:
        try:
            hidden.reference_unet_output_size(size, depth)
            return size
        except ValueError:
            size += 1


def _round_down(min_size, depth):
    size = min_size
    while size > 0:
        try:
            hidden.reference_unet_output_size(size, depth)
            return size
        except ValueError:
            size -= 1
    return min_size


def test_smallest_reference_and_a_search_pass_public_and_hidden():
    _both("check_smallest_valid_unet_input", hidden.reference_smallest_valid_unet_input)
    _both("check_smallest_valid_unet_input", _search)


def test_smallest_reference_is_the_brute_force():
    for depth in range(1, 7):
        for min_size in range(1, 1200, 7):
            assert (hidden.reference_smallest_valid_unet_input(min_size, depth)
                    == hidden.brute_force_smallest(min_size, depth))


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda min_size, depth: min_size, "573 não serve"),
    (_closed_form(5), "pelo menos 1 pixel"),
    (_closed_form(1), "pelo menos 1 pixel"),
    (_round_down, "não pode ser menor que min_size"),
], ids=["min_size", "fundo positivo", "só pares", "arredonda para baixo"])
def test_smallest_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_smallest_valid_unet_input(wrong)


def test_smallest_shortcuts_are_forbidden():
    def by_network(min_size, depth):
        size = min_size
        with torch.device("meta"):
            UNet(depth=depth)
        return size

    def by_pooling(min_size, depth):
        torch.nn.functional.max_pool2d(torch.zeros(1, 1, 2, 2), 2)
        return min_size

    with pytest.raises(ForbiddenCall, match="`UNet`"):
        public.check_smallest_valid_unet_input(by_network)
    with pytest.raises(ForbiddenCall, match="`max_pool2d`"):
        public.check_smallest_valid_unet_input(by_pooling)


def test_smallest_constants_are_right():
    for min_size, depth, expected, hints in public.SMALLEST_CASES:
        assert hidden.reference_smallest_valid_unet_input(min_size, depth) == expected
        assert hidden.brute_force_smallest(min_size, depth) == expected
        for wrong in hints:  # as dicas são as das duas fórmulas que esquecem a saída
            assert wrong in {_closed_form(5)(min_size, depth), _closed_form(1)(min_size, depth)}
            assert wrong != expected


def test_smallest_trivial_answers_fail():
    for trivial in (lambda m, d: 0, lambda m, d: 188):
        with pytest.raises(AssertionError, match="caso"):
            public.check_smallest_valid_unet_input(trivial)
