"""Testes de residuais.shapes: a conferência das formas de entrada e dos argumentos."""

import re

import pytest
import torch

from residuais.shapes import check_positive, check_tensor


@pytest.mark.parametrize(
    "shape, names, sizes",
    [((2, 3, 5, 5), "(B, C, H, W)", {"C": 3}), ((4, 7), "(B, D)", {"D": 7}),
     ((1, 9, 16), "(B, T, d_model)", {"d_model": 16}), ((2, 3), "(B, C)", {})],
)
def test_accepts_matching_tensors(shape, names, sizes):
    assert check_tensor(torch.zeros(shape), "Rede", names, **sizes) is None


def test_wrong_size_names_axes_and_shapes():
    message = (
        "BasicBlock: esperava entrada de forma (B, C, H, W) com C = 8, isto é, (B, 8, H, W) "
        "— lote × canais × altura × largura —, mas recebeu forma (2, 7, 6, 6)."
    )
    with pytest.raises(ValueError) as error:
        check_tensor(torch.zeros(2, 7, 6, 6), "BasicBlock", "(B, C, H, W)", C=8)
    assert str(error.value) == message


def test_wrong_number_of_axes_and_unnamed_axes():
    with pytest.raises(ValueError, match=r"\(B, T, 16\) — lote × posições × d_model —.*\(2, 16\)"):
        check_tensor(torch.zeros(2, 16), "Bloco", "(B, T, d_model)", d_model=16)
    with pytest.raises(ValueError, match=r"\(B, C\) — lote × canais —, mas recebeu forma \(3,\)"):
        check_tensor(torch.zeros(3), "Norma", "(B, C)")


def test_non_tensor_is_a_type_error():
    with pytest.raises(TypeError, match=r"PlainMLP: esperava um torch\.Tensor, recebeu list"):
        check_tensor([[1.0, 2.0]], "PlainMLP", "(B, D)", D=2)


def test_misuse_of_the_helper_is_reported():
    with pytest.raises(ValueError, match="não são eixos"):
        check_tensor(torch.zeros(2, 3), "Rede", "(B, C)", W=3)
    with pytest.raises(ValueError, match="entre parênteses"):
        check_tensor(torch.zeros(2, 3), "Rede", "B, C")


def test_check_positive_accepts_positive_integers():
    assert check_positive(width=1, depth=12) is None


@pytest.mark.parametrize("bad", [0, -3, 2.0, "4"])
def test_check_positive_names_the_bad_argument(bad):
    message = f"O argumento depth deve ser um inteiro positivo; recebeu {bad!r}."
    with pytest.raises(ValueError, match=re.escape(message)):
        check_positive(width=4, depth=bad)
