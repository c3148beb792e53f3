"""Verificações públicas dos exercícios de programação 1 e 2 do capítulo 2: as representações
de uma rede residual, bloco a bloco, e o jacobiano do bloco original (pós-ativação).

Os valores esperados são constantes escritas aqui (com as dos erros típicos, que viram dicas)
ou vêm do autograd do PyTorch, calculado fora do bloco em que os atalhos ficam proibidos.
Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from residuais.checks.autograd_rules import RULES_AUTOGRAD
from residuais.checks.core import (
    Rule,
    as_table,
    call,
    expect_close,
    expect_tensor,
    fail,
    forbidden,
)

REASON_BLOCK = ("o exercício é escrever a soma do atalho; os blocos residuais do curso já a "
                "fazem.")
# uma regra por objeto: ela vale pelos dois caminhos (residuais.models e residuais.models.mlp)
RULES_RESIDUAL_FORWARD = (
    Rule("residuais.models.ResidualBlock", REASON_BLOCK),
    Rule("residuais.models.ResidualMLP", REASON_BLOCK),
)
RULES_BLOCK_JACOBIAN = RULES_AUTOGRAD


# --------------------------------------------------------------------------------------------
# exercício 1: as representações de uma rede residual, bloco a bloco
# --------------------------------------------------------------------------------------------

HINT_NO_SKIP = "faltou o atalho: h_k = h_{k−1} + f_k(h_{k−1}), não só f_k(h_{k−1})."
HINT_ONLY_FROM_INPUT = ("cada ramo recebe a representação anterior, h_{k−1}, e não a entrada "
                        "h_0.")
HINT_ALIASED = ("dois elementos da lista são o mesmo tensor: `h += …` altera o tensor no lugar "
                "(e os que já estão na lista com ele); escreva `h = h + …`.")
HINT_ONLY_LAST = ("parece que você devolveu só h_K; o pedido é a lista [h_0, h_1, …, h_K] "
                  "inteira.")
HINT_MISSING_INPUT = "a lista começa com h_0, a própria entrada: são K + 1 elementos."


def _half(h: torch.Tensor) -> torch.Tensor:
    return 0.5 * h


def _quarter_flipped(h: torch.Tensor) -> torch.Tensor:
    return 0.25 * h.flip(-1)


# (descrição, h_0, ramos) → ([h_0, …, h_K], {dica: lista de um erro típico})
FORWARD_CASES: list[tuple[str, Any, list[Callable[[torch.Tensor], torch.Tensor]], Any,
                          dict[str, Any]]] = [
    ("três ramos: 0,5·h, sen h e 0,25·(h invertido)", (1.0, -2.0, 0.5),
     [_half, torch.sin, _quarter_flipped],
     ((1.0, -2.0, 0.5), (1.5, -3.0, 0.75), (2.497495, -3.14112, 1.431639),
      (2.855405, -3.9264, 2.056013)), {
         HINT_NO_SKIP: ((1.0, -2.0, 0.5), (0.5, -1.0, 0.25), (0.479426, -0.841471, 0.247404),
                        (0.061851, -0.210368, 0.119856)),
         HINT_ONLY_FROM_INPUT: ((1.0, -2.0, 0.5), (1.5, -3.0, 0.75),
                                (2.341471, -3.909297, 1.229426),
                                (2.466471, -4.409297, 1.479426)),
     }),
    ("um ramo tanh, lote de forma (2, 3)", ((0.5, -1.0, 2.0), (0.0, 3.0, -0.25)), [torch.tanh],
     (((0.5, -1.0, 2.0), (0.0, 3.0, -0.25)),
      ((0.962117, -1.761594, 2.964028), (0.0, 3.995055, -0.494919))), {
         HINT_NO_SKIP: (((0.5, -1.0, 2.0), (0.0, 3.0, -0.25)),
                        ((0.462117, -0.761594, 0.964028), (0.0, 0.995055, -0.244919))),
     }),
]


def expect_states(got: Any, expected: Sequence[torch.Tensor], case: str,
                  hints: Mapping[str, Sequence[torch.Tensor]]) -> None:
    """Confere a lista [h_0, …, h_K]: tipo, tamanho, formas, tensores distintos e valores."""
    shape = tuple(expected[0].shape)
    if isinstance(got, torch.Tensor):
        hint = f" Dica: {HINT_ONLY_LAST}" if tuple(got.shape) == shape else ""
        fail(f"No caso “{case}” esperava uma lista com {len(expected)} tensores "
             f"[h_0, …, h_K]; recebeu um tensor de forma {tuple(got.shape)}.{hint}")
    if not isinstance(got, list | tuple):
        fail(f"No caso “{case}” esperava uma lista com {len(expected)} tensores [h_0, …, h_K]; "
             f"recebeu {type(got).__name__}.")
    for k, state in enumerate(got):
        if not isinstance(state, torch.Tensor):
            fail(f"No caso “{case}” esperava uma lista de tensores [h_0, …, h_K], mas o "
                 f"elemento {k} é {type(state).__name__}.")
    if len(got) != len(expected):
        hint = f" Dica: {HINT_MISSING_INPUT}" if len(got) == len(expected) - 1 else ""
        fail(f"No caso “{case}” esperava {len(expected)} tensores [h_0, …, h_K]; a lista tem "
             f"{len(got)}.{hint}")
    for k, state in enumerate(got):
        expect_tensor(state, shape, case, type_first=True,
                      expected=f"h_{k} deve ter a forma de h_0, {shape}")
    if len({id(state) for state in got}) < len(got):
        fail(f"No caso “{case}” a lista está errada. Dica: {HINT_ALIASED}")
    stacked = torch.stack([state.detach().to(torch.float64) for state in got])
    expect_close(stacked, torch.stack(list(expected)).to(torch.float64), case, tol=1e-5,
                 hints={text: torch.stack(list(wrong)).to(torch.float64)
                        for text, wrong in hints.items()})


def check_residual_forward(fn: Callable[..., Any]) -> None:
    """Confere ``fn(branches, h0)`` = [h_0, h_1, …, h_K], h_k = h_{k−1} + f_k(h_{k−1}), em
    dois casos com ramos e valores escritos."""
    for case, h0, branches, expected, hints in FORWARD_CASES:
        with torch.no_grad(), forbidden(fn, RULES_RESIDUAL_FORWARD):
            got = call(fn, case, list(branches), as_table(h0))
        expect_states(got, list(as_table(expected)), case,
                      {text: list(as_table(wrong)) for text, wrong in hints.items()})


# --------------------------------------------------------------------------------------------
# exercício 2: o jacobiano do bloco original (pós-ativação)
# --------------------------------------------------------------------------------------------

HINT_NO_IDENTITY = ("faltou o atalho: a derivada de h + W h + b em relação a h é I + W, não só "
                    "W.")
HINT_NO_POST_MASK = ("faltou a ReLU depois da soma: as linhas em que s = h + W h + b é ≤ 0 "
                     "devem ser zero.")
HINT_BRANCH_MASK = ("a ReLU age na soma s = h + W h + b, não só no ramo W h + b: a máscara vem "
                    "de s > 0.")
HINT_ZERO_SUM = ("na coordenada com s_i = 0 exatamente, a derivada da ReLU vale 0 (como no "
                 "autograd): use s > 0, não s ≥ 0.")


def post_block(weight: torch.Tensor, bias: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """O bloco original com um ramo linear: ReLU(h + W h + b)."""
    return torch.relu(h + weight @ h + bias)


def autograd_block_jacobian(weight: torch.Tensor, bias: torch.Tensor,
                            h: torch.Tensor) -> torch.Tensor:
    """O jacobiano de h ↦ ReLU(h + W h + b) pelo autograd do PyTorch; forma (d, d)."""
    return torch.autograd.functional.jacobian(lambda v: post_block(weight, bias, v), h)


# Os casos escritos: (caso, W, b, h) → (jacobiano esperado, {dica: resposta de um erro típico}).
# No primeiro, s = h + W h + b = (2; 3,5; −5) e o ramo W h + b = (0; 2,5; −4): as máscaras da
# soma e do ramo diferem na primeira linha. No segundo, s = (0; 2; −2) tem uma soma nula.
BLOCK_CASES: list[tuple[str, Any, Any, Any, Any, dict[str, Any]]] = [
    ("W, b e h escritos (d = 3)", ((0.5, -1.0, 0.0), (1.0, 0.5, -0.5), (-2.0, 0.0, 1.0)),
     (0.0, -0.5, 1.0), (2.0, 1.0, -1.0),
     ((1.5, -1.0, 0.0), (1.0, 1.5, -0.5), (0.0, 0.0, 0.0)), {
         HINT_NO_IDENTITY: ((0.5, -1.0, 0.0), (1.0, 0.5, -0.5), (0.0, 0.0, 0.0)),
         HINT_BRANCH_MASK: ((0.0, 0.0, 0.0), (1.0, 1.5, -0.5), (0.0, 0.0, 0.0)),
         HINT_NO_POST_MASK: ((1.5, -1.0, 0.0), (1.0, 1.5, -0.5), (-2.0, 0.0, 2.0)),
     }),
    ("W = I, b = 0 e h = (0; 1; −1): s = (0; 2; −2), a primeira soma é exatamente 0",
     ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)), (0.0, 0.0, 0.0), (0.0, 1.0, -1.0),
     ((0.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, 0.0, 0.0)), {
         HINT_ZERO_SUM: ((2.0, 0.0, 0.0), (0.0, 2.0, 0.0), (0.0, 0.0, 0.0)),
     }),
]


def expect_block_jacobian(fn: Callable[..., Any], weight: torch.Tensor, bias: torch.Tensor,
                          h: torch.Tensor, case: str,
                          hints: Mapping[str, torch.Tensor] | None = None) -> None:
    """Chama ``fn`` com o autograd proibido e compara com o jacobiano do autograd; sem dicas
    dadas, só a de esquecer a máscara (I + W, que não tem nada da resposta)."""
    expected = autograd_block_jacobian(weight.double(), bias.double(), h.double())
    if hints is None:
        eye = torch.eye(h.shape[0], dtype=torch.float64)
        hints = {HINT_NO_POST_MASK: eye + weight.double()}
    with forbidden(fn, RULES_BLOCK_JACOBIAN):
        got = call(fn, case, weight.clone(), bias.clone(), h.clone())
    d = h.shape[0]
    expect_tensor(got, (d, d), case, type_first=True,
                  expected=f"o jacobiano deve ter forma {(d, d)}")
    expect_close(got, expected, case, tol=1e-5, hints=hints)  # erros de máscara são O(1)


def check_post_block_jacobian(fn: Callable[..., Any]) -> None:
    """Confere ``fn(weight, bias, h)`` = ∂/∂h ReLU(h + W h + b), calculado sem o autograd, contra
    o jacobiano do autograd: dois casos escritos (com as dicas) e dois sorteados."""
    for case, weight, bias, h, expected, hints in BLOCK_CASES:
        expect_close(autograd_block_jacobian(as_table(weight), as_table(bias), as_table(h)),
                     as_table(expected), "constante escrita", tol=1e-12)  # sanidade
        expect_block_jacobian(fn, as_table(weight), as_table(bias), as_table(h), case,
                              {text: as_table(wrong) for text, wrong in hints.items()})
    gen = torch.Generator().manual_seed(8)
    for d in (4, 6):
        weight, bias, h = (torch.randn(d, d, generator=gen, dtype=torch.float64),
                           torch.randn(d, generator=gen, dtype=torch.float64),
                           torch.randn(d, generator=gen, dtype=torch.float64))
        expect_block_jacobian(fn, weight, bias, h, f"W, b e h sorteados (d = {d})")
