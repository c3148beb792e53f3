"""Verificações públicas do exercício de programação 2 do capítulo 5: o atalho de uma U-Net com
preenchimento, que completa com zeros o mapa que sobe e o concatena ao do codificador.

Os valores esperados são montados aqui, fora da resposta, escrevendo ``x`` num tensor de zeros;
as dicas comparam a saída com as de erros típicos.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.core import ForbiddenCall, Rule, call, expect_tensor, fail, forbidden

_PAD = ("o exercício pede o preenchimento escrito por você: center_crop só recorta, e o do "
        "torchvision completa sozinho.")
RULES_PAD = (
    Rule("residuais.models.center_crop", _PAD),
    Rule("torchvision.transforms.functional.center_crop", _PAD),
)

# --------------------------------------------------------------------------------------------
# exercício 2: completar com zeros e concatenar
# --------------------------------------------------------------------------------------------

# (forma de skip, forma de x, linhas e colunas de zeros: (acima, abaixo), (esquerda, direita))
PAD_CASES = [
    ((1, 2, 8, 8), (1, 2, 4, 4), ((2, 2), (2, 2))),
    ((2, 2, 5, 5), (2, 3, 4, 4), ((0, 1), (0, 1))),  # o lado ímpar de uma U-Net com padding=1
    ((2, 1, 9, 6), (2, 2, 6, 5), ((1, 2), (0, 1))),
    ((1, 3, 4, 7), (1, 1, 4, 4), ((0, 0), (1, 2))),
]
# (forma de skip, forma de x) em que x é maior que skip
PAD_TOO_LARGE = [((1, 2, 4, 4), (1, 2, 5, 4)), ((1, 1, 6, 6), (1, 1, 6, 8))]


def zero_pad(x: torch.Tensor, rows: tuple[int, int], cols: tuple[int, int]) -> torch.Tensor:
    """``x`` (B, C, H, W) com ``rows`` = (acima, abaixo) linhas e ``cols`` = (esquerda, direita)
    colunas de zeros."""
    b, c, h, w = x.shape
    out = x.new_zeros(b, c, h + sum(rows), w + sum(cols))
    out[..., rows[0] : rows[0] + h, cols[0] : cols[0] + w] = x
    return out


def pad_hint(got: torch.Tensor, skip: torch.Tensor, x: torch.Tensor,
             rows: tuple[int, int], cols: tuple[int, int]) -> str:
    """A dica para uma saída com a forma certa e os valores errados."""
    candidates = {
        "a ordem pedida é [skip, x completado].": torch.cat([zero_pad(x, rows, cols), skip], 1),
        "com diferença ímpar, o zero a mais vai embaixo e à direita, não em cima e à esquerda.":
            torch.cat([skip, zero_pad(x, rows[::-1], cols[::-1])], 1),
        "os zeros se dividem entre os dois lados (x fica no centro), não vão todos embaixo e à "
        "direita.": torch.cat([skip, zero_pad(x, (0, sum(rows)), (0, sum(cols)))], 1),
    }
    return next((f" Dica: {text}" for text, wrong in candidates.items()
                 if wrong.shape == got.shape and torch.equal(got, wrong)), "")


def pad_shape_hint(got: Any, skip_shape: tuple[int, ...]) -> str:
    """A dica para uma saída com a forma de uma concatenação noutro eixo (com canais iguais)."""
    shape = tuple(getattr(got, "shape", ()))
    for axis in (0, 2, 3):
        joined = list(skip_shape)
        joined[axis] *= 2
        if shape == tuple(joined):
            return f"; você concatenou no eixo {axis}, e os canais são o eixo 1 (dim=1)"
    return ""


def expect_padded(got: Any, skip: torch.Tensor, x: torch.Tensor, rows: tuple[int, int],
                  cols: tuple[int, int], case: str) -> None:
    """Falha se ``got`` não for [skip, x completado com ``rows`` e ``cols`` de zeros]."""
    expected = torch.cat([skip, zero_pad(x, rows, cols)], dim=1)
    shape = tuple(expected.shape)
    if tuple(getattr(got, "shape", ())) != shape:
        hint = pad_shape_hint(got, tuple(skip.shape))
        expect_tensor(got, shape, case, f"a saída deve ter forma {shape}{hint}")
    got = got.to(expected.dtype)
    if not torch.equal(got, expected):
        fail(f"No caso “{case}” os valores diferem de [skip, x completado com zeros em volta]."
             f"{pad_hint(got, skip, x, rows, cols)}")


def expect_pad_error(fn: Callable[..., Any], skip_shape: tuple[int, ...],
                     x_shape: tuple[int, ...]) -> None:
    """Falha se ``fn`` não levantar ``ValueError`` com um ``x`` maior que ``skip``."""
    case = f"skip {skip_shape}, x {x_shape}"
    with forbidden(fn, RULES_PAD):
        try:
            got = fn(torch.zeros(skip_shape), torch.zeros(x_shape))
        except ValueError:
            return
        except ForbiddenCall:
            raise
        except Exception as exc:  # o erro é do código do estudante: explicamos e repassamos
            raise AssertionError(f"Sua função levantou {type(exc).__name__} no caso “{case}”, "
                                 "mas devia levantar ValueError: x é maior que skip.") from exc
    fail(f"No caso “{case}” x é maior que skip e não há como completá-lo; sua função devolveu "
         f"{type(got).__name__}, mas devia levantar ValueError com uma mensagem em português.")


def check_pad_and_concat(fn: Callable[..., Any]) -> None:
    """Confere ``fn(skip, x)``: completa ``x`` com zeros, no centro, até a altura e a largura
    de ``skip`` e concatena [skip, x completado] nos canais; ``ValueError`` se ``x`` for maior
    que ``skip``."""
    gen = torch.Generator().manual_seed(5)
    for skip_shape, x_shape, (rows, cols) in PAD_CASES:
        case = f"skip {skip_shape}, x {x_shape}"
        skip = torch.randn(skip_shape, generator=gen)
        x = torch.randn(x_shape, generator=gen)
        with forbidden(fn, RULES_PAD):
            got = call(fn, case, skip.clone(), x.clone())
        expect_padded(got, skip, x, rows, cols, case)
    for skip_shape, x_shape in PAD_TOO_LARGE:
        expect_pad_error(fn, skip_shape, x_shape)
