"""Exercícios de programação do capítulo 5: as verificações aceitam a referência, recusam os
erros típicos com a dica certa, pegam os atalhos proibidos, e as constantes estão certas."""


import pytest
import torch
import torch.nn.functional as F
from conftest import hidden_module
from torch import nn

from residuais.checks import ForbiddenCall
from residuais.checks import architectures as public
from residuais.checks import unet_skips as skips
from residuais.models import Bottleneck, UNet, center_crop, count_parameters

hidden = hidden_module("architectures")


def _both(check_name: str, answer, module=public) -> None:
    """A verificação pública e a oculta do exercício."""
    getattr(module, check_name)(answer)
    getattr(hidden, f"{check_name}_hidden")(answer)


# --------------------------------------------------------------------------------------------
# exercício 1: parâmetros do gargalo, com ou sem projeção
# --------------------------------------------------------------------------------------------


def _count(bias=False, batch_norm=True, running=False, wide=0, projection="certa"):
    """Uma resposta com um erro típico: ``wide`` 1 (3×3 de in para planes) ou 2 (de 4p para
    4p); ``projection`` "certa", "nunca", "sempre", "só canais" ou "sem BN"."""
    def answer(in_channels, planes, stride):
        p, out = planes, 4 * planes
        c3 = {0: p * p, 1: in_channels * p, 2: out * out}[wide]
        total = in_channels * p + 9 * c3 + p * out
        per_channel = 2 * batch_norm + 2 * running
        total += per_channel * (2 * p + out) + bias * (2 * p + out)
        project = {"certa": stride != 1 or in_channels != out, "nunca": False, "sempre": True,
                   "só canais": in_channels != out, "sem BN": stride != 1 or in_channels != out
                   }[projection]
        if project:
            total += in_channels * out + bias * out
            total += 0 if projection == "sem BN" else per_channel * out
        return total
    return answer


def test_bottleneck_reference_passes_public_and_hidden():
    _both("check_bottleneck_params", hidden.reference_bottleneck_block_params)
    _both("check_bottleneck_params", _count())


@pytest.mark.parametrize(("wrong", "hint"), [
    (_count(batch_norm=False), "γ e β"),
    (_count(bias=True), "bias=False"),
    (_count(running=True), "buffers"),
    (_count(wide=1), "planes para planes"),
    (_count(wide=2), "planes para planes"),
    (_count(projection="nunca"), "precisa de uma projeção"),
    (_count(projection="só canais"), "passo 2"),
    (_count(projection="sempre"), "identidade, sem parâmetros"),
    (_count(projection="sem BN"), "a projeção também tem o seu BN"),
], ids=["sem BN", "com viés", "buffers", "3x3 da entrada", "3x3 largo", "sem projeção",
        "projeção só por canais", "projeção sempre", "projeção sem BN"])
def test_bottleneck_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_bottleneck_params(wrong)
    with pytest.raises(AssertionError, match="Dica"):
        hidden.check_bottleneck_params_hidden(wrong)


def test_bottleneck_shortcuts_are_forbidden():
    def by_model(in_channels, planes, stride):
        return sum(p.numel() for p in Bottleneck(in_channels, planes, stride).parameters())

    def by_count(in_channels, planes, stride):
        return count_parameters(nn.Sequential())

    def by_layers(in_channels, planes, stride):
        layers = [nn.Conv2d(in_channels, planes, 1, bias=False), nn.BatchNorm2d(planes)]
        return sum(p.numel() for layer in layers for p in layer.parameters())

    with pytest.raises(ForbiddenCall, match=r"`Bottleneck`.*não vale"):
        public.check_bottleneck_params(by_model)
    with pytest.raises(ForbiddenCall, match=r"`count_parameters`.*não vale"):
        public.check_bottleneck_params(by_count)
    with pytest.raises(ForbiddenCall, match=r"`Conv2d` \(torch\.nn\.Conv2d\)"):
        hidden.check_bottleneck_params_hidden(by_layers)
    assert count_parameters(Bottleneck(8, 2)) == 17 * 4 + 12 * 2  # restaurados


def test_bottleneck_constants_are_the_course_blocks():
    for (in_channels, planes, stride), expected in public.BOTTLENECK_CASES.items():
        assert expected == count_parameters(Bottleneck(in_channels, planes, stride))
        assert expected == hidden.reference_bottleneck_block_params(in_channels, planes, stride)
        block = Bottleneck(in_channels, planes, stride)
        assert (block.downsample is not None) == public.needs_projection(in_channels, planes,
                                                                        stride)
    # os casos públicos cobrem os três atalhos: identidade, projeção por canais e só pelo passo
    kinds = {(stride != 1, in_channels != 4 * planes)
             for in_channels, planes, stride in public.BOTTLENECK_CASES}
    assert kinds == {(False, False), (False, True), (True, True), (True, False)}


def test_bottleneck_hints_never_name_the_right_count():
    for (in_channels, planes, stride), expected in public.BOTTLENECK_CASES.items():
        assert expected not in public.bottleneck_hints(in_channels, planes, stride, expected)


def test_bottleneck_trivial_answers_fail():
    for trivial in (lambda c, p, s: 0, lambda c, p, s: p, lambda c, p, s: "70400",
                    lambda c, p, s: 17 * p * p + 12 * p):
        with pytest.raises(AssertionError):
            public.check_bottleneck_params(trivial)


# --------------------------------------------------------------------------------------------
# exercício 2: completar com zeros e concatenar
# --------------------------------------------------------------------------------------------


def _pads(skip, x, extra_first=False):
    """(esquerda, direita, acima, abaixo) para o F.pad; com ``extra_first``, o zero a mais vai
    em cima e à esquerda."""
    dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
    split = (lambda d: (d - d // 2, d // 2)) if extra_first else (lambda d: (d // 2, d - d // 2))
    return (*split(dw), *split(dh))


def test_pad_reference_passes_public_and_hidden():
    _both("check_pad_and_concat", hidden.reference_pad_and_concat, skips)


def test_pad_an_answer_without_f_pad_passes():
    def by_slicing(skip, x):
        (h_s, w_s), (h, w) = skip.shape[-2:], x.shape[-2:]
        if h > h_s or w > w_s:
            raise ValueError("x é maior que skip")
        out = x.new_zeros(*x.shape[:2], h_s, w_s)
        top, left = (h_s - h) // 2, (w_s - w) // 2
        out[..., top : top + h, left : left + w] = x
        return torch.cat((skip, out), 1)

    _both("check_pad_and_concat", by_slicing, skips)


def _checked(answer):
    def checked(skip, x):
        if any(a < b for a, b in zip(skip.shape[-2:], x.shape[-2:], strict=True)):
            raise ValueError("x é maior que skip")
        return answer(skip, x)
    return checked


@pytest.mark.parametrize(("wrong", "hint"), [
    (_checked(lambda s, x: torch.cat([F.pad(x, _pads(s, x)), s], dim=1)), "ordem"),
    (_checked(lambda s, x: torch.cat([s, F.pad(x, _pads(s, x, extra_first=True))], dim=1)),
     "embaixo e à direita"),
    (_checked(lambda s, x: torch.cat([s, F.pad(x, (0, s.shape[-1] - x.shape[-1], 0,
                                                   s.shape[-2] - x.shape[-2]))], dim=1)),
     "se dividem entre os dois lados"),
    (_checked(lambda s, x: torch.cat([s, F.pad(x, _pads(s, x))], dim=0)), "eixo 0"),
    (_checked(lambda s, x: torch.cat([s, F.pad(x, _pads(s, x))], dim=-1)), "eixo 3"),
    (lambda s, x: torch.cat([s, F.pad(x, _pads(s, x))], dim=1), "devia levantar ValueError"),
], ids=["ordem", "zero a mais em cima", "tudo embaixo", "eixo 0", "eixo da largura",
        "sem ValueError"])
def test_pad_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        skips.check_pad_and_concat(wrong)


def test_pad_course_crop_is_forbidden():
    def by_course(skip, x):
        return torch.cat([skip, center_crop(x, *skip.shape[-2:])], dim=1)

    with pytest.raises(ForbiddenCall, match=r"`center_crop` \(residuais\.models\..*não vale"):
        skips.check_pad_and_concat(by_course)
    # torchvision (que completa sozinho) não está instalado aqui: a regra é ignorada
    assert skips.RULES_PAD[-1].resolve() is None


def test_pad_constants_are_right():
    for skip_shape, x_shape, (rows, cols) in skips.PAD_CASES:
        skip, x = torch.randn(skip_shape), torch.randn(x_shape)
        expected = hidden.reference_pad_and_concat(skip, x)
        assert torch.equal(expected, torch.cat([skip, skips.zero_pad(x, rows, cols)], dim=1))
        inner = expected[:, skip_shape[1]:, rows[0] : skip_shape[2] - rows[1],
                         cols[0] : skip_shape[3] - cols[1]]
        assert torch.equal(inner, x)
    for skip_shape, x_shape in skips.PAD_TOO_LARGE:
        with pytest.raises(ValueError):
            hidden.reference_pad_and_concat(torch.zeros(skip_shape), torch.zeros(x_shape))


def test_pad_odd_side_is_what_the_course_unet_loses():
    # com padding=1 e lado 5, o agrupamento por máximo dá 2 e a convolução transposta, 4:
    # uma linha a menos
    net = UNet(1, 1, base_channels=1, depth=1, padding=1)
    with torch.no_grad():
        assert net(torch.zeros(1, 1, 5, 5)).shape[-1] == 4
    assert skips.PAD_CASES[1][0][-1] == 5 and skips.PAD_CASES[1][1][-1] == 4


def test_pad_trivial_answers_fail():
    for trivial in (lambda s, x: x, lambda s, x: torch.cat([s, torch.zeros_like(s)], dim=1)):
        with pytest.raises(AssertionError, match="caso"):
            skips.check_pad_and_concat(trivial)


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
    (_sizes(convs=2, check=True), "levantou ValueError.*válido.*antes do agrupamento por máximo"),
    (_sizes(bottom=False), "convoluções do fundo"),
    (_sizes(decoder=False), "depois de cada concatenação"),
    (_sizes(halve_first=True), "primeiro as duas convoluções"),
    (_sizes(), "devia levantar ValueError: o primeiro agrupamento por máximo recebe 569"),
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
        assert all(n in str(info.value) for n in numbers if "agrupamento por máximo" in why)
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
