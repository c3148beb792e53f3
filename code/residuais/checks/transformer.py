"""Verificações públicas dos exercícios do capítulo 6 (fluxo residual em Transformers).

Casos fixos, com os valores esperados escritos (máscaras e alcances como linhas de 0 e 1,
distâncias por fórmulas fechadas de casos particulares) ou calculados pelo PyTorch
(``nn.MultiheadAttention`` contra as equações da aula, cabeça por cabeça). As dicas vêm de
propriedades da resposta (a diagonal, a convenção da máscara, a forma), não de uma resposta
certa calculada aqui.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from residuais.checks.core import call, expect_close, expect_tensor, fail


def bool_matrix(rows: Sequence[str]) -> torch.Tensor:
    """Uma matriz booleana escrita linha a linha: ``("01", "00")`` → [[False, True], ...]."""
    return torch.tensor([[char == "1" for char in row] for row in rows])


def rows_text(matrix: torch.Tensor) -> str:
    return " / ".join("".join("1" if v else "0" for v in row) for row in matrix.tolist())


def expect_bool_matrix(got: Any, case: str, shape: tuple[int, int]) -> torch.Tensor:
    """Falha se ``got`` não for um tensor booleano de forma ``shape``; devolve-o."""
    expect_tensor(got, shape, case, type_first=True)
    if got.dtype != torch.bool:
        fail(f"No caso “{case}” esperava um tensor booleano (dtype torch.bool); recebeu "
             f"{got.dtype}. Dica: comparações como a <= b já dão booleanos; ou use .bool().")
    return got


# --------------------------------------------------------------------------------------------
# exercício 1: a máscara causal com janela
# --------------------------------------------------------------------------------------------

# (T, janela, máscara esperada: 1 = proibido)
LOCAL_MASK_CASES = [
    (4, 2, ("0111", "0011", "1001", "1100")),
    (5, 3, ("01111", "00111", "00011", "10001", "11000")),
    (3, 5, ("011", "001", "000")),  # janela maior que a sequência: a máscara causal
]


def local_mask_hint(got: torch.Tensor, window: int) -> str:
    """A dica para uma máscara errada, a partir das propriedades dela."""
    t = got.shape[0]
    allowed = ~got
    if bool(got.diagonal().all()):
        return (" Dica: True marca o que a posição NÃO pode ver (a convenção do curso e do "
                "attn_mask booleano de nn.MultiheadAttention); o attn_mask booleano de "
                "F.scaled_dot_product_attention usa a convenção contrária.")
    if bool(allowed.triu(1).any()):
        return (" Dica: a linha i é a consulta (quem lê) e a coluna j a chave (quem é lida); "
                "o futuro, j > i, é sempre proibido.")
    counts = allowed.sum(1).tolist()
    if counts != [min(i + 1, window) for i in range(t)]:
        return (f" Dica: cada posição vê exatamente min(i + 1, janela) posições — ela mesma e as "
                f"janela − 1 anteriores; sua máscara deixa ver {counts} por linha.")
    return ""


def check_local_causal_mask(fn: Callable[..., Any]) -> None:
    """Confere ``fn(n_positions, window)``: a máscara (T, T), True = proibido, em que a posição
    i vê só as posições j com i − window < j ≤ i."""
    for t, window, rows in LOCAL_MASK_CASES:
        case = f"T = {t}, janela {window}"
        got = expect_bool_matrix(call(fn, case, t, window), case, (t, t))
        expected = bool_matrix(rows)
        if not torch.equal(got, expected):
            fail(f"No caso “{case}” esperava a máscara {rows_text(expected)} (1 = proibido); "
                 f"recebeu {rows_text(got)}.{local_mask_hint(got, window)}")


# --------------------------------------------------------------------------------------------
# exercício 2: a distância média de atenção de cada cabeça
# --------------------------------------------------------------------------------------------


def uniform_weights(b: int, h: int, t: int) -> torch.Tensor:
    """Pesos (B, h, T, T) em que toda consulta lê todas as chaves igualmente."""
    return torch.full((b, h, t, t), 1.0 / t, dtype=torch.float64)


def one_hot_weights(keys: Sequence[Sequence[int]]) -> torch.Tensor:
    """Pesos (1, h, T, T) em que a consulta i da cabeça c lê só a chave ``keys[c][i]``."""
    chosen = torch.tensor(keys)  # (h, T)
    return F.one_hot(chosen, chosen.shape[1]).to(torch.float64).unsqueeze(0)


def causal_uniform_weights(t: int) -> torch.Tensor:
    """Pesos (1, 1, T, T) com a máscara causal: a consulta i lê igualmente as chaves j ≤ i."""
    weights = torch.ones(t, t, dtype=torch.float64).tril()
    return (weights / weights.sum(-1, keepdim=True)).view(1, 1, t, t)


MIRROR = [7, 6, 5, 4, 3, 2, 1, 0]  # a inversão: a posição i lê a posição 7 − i (de 0 a 7)
SELF = list(range(8))
PREVIOUS = [0, 0, 1, 2, 3, 4, 5, 6]


def distance_cases() -> list[tuple[str, torch.Tensor, list[float]]]:
    """(caso, pesos, distância esperada por cabeça), com valores de fórmulas fechadas."""
    mixed = torch.cat([uniform_weights(1, 1, 8), one_hot_weights([MIRROR])])  # (2, 1, 8, 8)
    return [
        # uniforme: a média de |i − j| sobre todos os pares, (T² − 1)/(3T)
        ("pesos uniformes, T = 8, 3 cabeças, lote 2", uniform_weights(2, 3, 8), [63 / 24] * 3),
        # a posição espelhada, a própria posição, a anterior: média de |2i − 7|, 0, 7/8
        ("cabeças que leem uma posição só, T = 8", one_hot_weights([MIRROR, SELF, PREVIOUS]),
         [4.0, 0.0, 7 / 8]),
        # a consulta i lê igualmente as i + 1 chaves j ≤ i: distância i/2, em média (T − 1)/4
        ("máscara causal, pesos uniformes no passado, T = 5", causal_uniform_weights(5), [1.0]),
        # a média é também sobre o lote: (2,625 + 4)/2
        ("lote de 2: uma sequência uniforme e uma espelhada", mixed, [(63 / 24 + 4) / 2]),
    ]


def distance_hint(got: Any, b: int, h: int) -> str:
    if not isinstance(got, torch.Tensor):
        return ""
    shape = tuple(got.shape)
    if shape == (b, h):
        return " Dica: tire a média também no eixo do lote, além das consultas."
    if shape in ((), (1,)) and h > 1:
        return " Dica: é uma distância por cabeça; não tire a média no eixo das cabeças."
    return ""


def check_mean_attention_distance(fn: Callable[..., Any]) -> None:
    """Confere ``fn(weights)``: para pesos (B, h, T, T), a distância média de atenção de cada
    cabeça, (h,): a média, no lote e nas consultas i, de Σ_j w_ij |i − j|."""
    for case, weights, expected in distance_cases():
        b, h = weights.shape[:2]
        got = call(fn, case, weights.clone())
        hint = distance_hint(got, b, h)
        if hint:
            fail(f"No caso “{case}” esperava um tensor de forma ({h},); recebeu "
                 f"{tuple(got.shape)}.{hint}")
        hints = {"a distância é |i − j|, sem sinal: para trás e para a frente contam igual.":
                 torch.zeros(h)} if "uniformes, T = 8" in case else {}
        if "uma posição só" in case:
            hints["pondere cada |i − j| pelo peso w_ij que a consulta i dá à chave j."] = (
                torch.full((h,), 63 / 24))
        expect_close(got, torch.tensor(expected, dtype=torch.float64), case, tol=1e-6,
                     hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 3: os pesos da aula no formato do PyTorch
# --------------------------------------------------------------------------------------------

WEIGHT_CASES = [(2, 4, 3), (3, 6, 2)]  # (cabeças h, d por cabeça, tokens T); C = h·d


def lecture_weights(h: int, d: int,
                    gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """W_i^Q, W_i^K, W_i^V, cada um (h, C, d), e W^O (C, C), na convenção da aula."""
    c = h * d
    per_head = [torch.randn(h, c, d, generator=gen, dtype=torch.float64) / c**0.5
                for _ in range(3)]
    return (*per_head, torch.randn(c, c, generator=gen, dtype=torch.float64) / c**0.5)


def lecture_multi_head(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor,
                       w_v: torch.Tensor, w_o: torch.Tensor) -> torch.Tensor:
    """As equações da aula, cabeça por cabeça: [Atenção(X W_i^Q, X W_i^K, X W_i^V)]_i W^O."""
    heads = [F.scaled_dot_product_attention(x @ q, x @ k, x @ v)
             for q, k, v in zip(w_q, w_k, w_v, strict=True)]
    return torch.cat(heads, dim=-1) @ w_o


def torch_attention(in_proj: torch.Tensor, out_proj: torch.Tensor,
                    n_heads: int) -> nn.MultiheadAttention:
    """``nn.MultiheadAttention`` sem vieses, com estes dois pesos."""
    c = out_proj.shape[0]
    mha = nn.MultiheadAttention(c, n_heads, bias=False, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(in_proj)
        mha.out_proj.weight.copy_(out_proj)
    return mha


def _heads_match(z: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> bool:
    """As colunas i·d … (i+1)·d − 1 de ``z`` (T, C) são X W_i, para toda cabeça i?"""
    d = w.shape[-1]
    return all(torch.allclose(z[:, i * d:(i + 1) * d], x @ w_i, atol=1e-8)
               for i, w_i in enumerate(w))


def projection_hint(x: torch.Tensor, in_proj: torch.Tensor,
                    lecture: Sequence[torch.Tensor]) -> str:
    """Confere, bloco a bloco, as projeções que o PyTorch calcularia com ``in_proj``."""
    c = x.shape[-1]
    names = ("consultas", "chaves", "valores")
    for block, (name, w) in enumerate(zip(names, lecture, strict=True)):
        rows = in_proj[block * c:(block + 1) * c]
        if _heads_match(x @ rows.T, x, w):
            continue
        if _heads_match(x @ rows, x, w):
            return (f"as {name} saem de X Wᵀ: nn.Linear e nn.MultiheadAttention multiplicam "
                    f"pela transposta do weight, de forma (saída, entrada).")
        for other_name, other in zip(names, lecture, strict=True):
            if other is not w and _heads_match(x @ rows.T, x, other):
                return (f"o bloco das {name} tem as {other_name}: in_proj_weight empilha "
                        f"[W^Q; W^K; W^V], nessa ordem, cada bloco com C linhas.")
        return (f"as {name} da cabeça i devem ser X W_i, nas linhas i·d … (i+1)·d − 1 do "
                f"bloco delas (as cabeças ficam em faixas contíguas, na ordem).")
    return ""


def check_to_torch_weights(fn: Callable[..., Any]) -> None:
    """Confere ``fn(w_q, w_k, w_v, w_o)`` → (in_proj_weight, out_proj_weight): com eles,
    ``nn.MultiheadAttention(bias=False)`` calcula as equações da aula."""
    gen = torch.Generator().manual_seed(36)
    for h, d, t in WEIGHT_CASES:
        c = h * d
        case = f"{h} cabeças de dimensão {d} (C = {c}), {t} tokens"
        lecture = lecture_weights(h, d, gen)
        x = torch.randn(t, c, generator=gen, dtype=torch.float64)
        got = call(fn, case, *(w.clone() for w in lecture))
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(f"No caso “{case}” esperava um par (in_proj_weight, out_proj_weight); recebeu "
                 f"{type(got).__name__}.")
        in_proj, out_proj = got
        expect_tensor(in_proj, (3 * c, c), f"{case}, in_proj_weight", type_first=True)
        expect_tensor(out_proj, (c, c), f"{case}, out_proj_weight", type_first=True)
        in_proj, out_proj = in_proj.double(), out_proj.double()
        hint = projection_hint(x, in_proj, lecture[:3])
        if not hint and torch.allclose(out_proj, lecture[3], atol=1e-8):
            hint = ("a aula multiplica à direita, [cabeças] W^O; nn.Linear calcula z Wᵀ, então "
                    "out_proj_weight é a transposta de W^O.")
        with torch.no_grad():
            got_out = torch_attention(in_proj, out_proj, h)(x[None], x[None], x[None],
                                                            need_weights=False)[0][0]
        expected = lecture_multi_head(x, *lecture)
        error = (got_out - expected).abs().max().item()
        if hint or error > 1e-8:
            extra = f" Dica: {hint}" if hint else ""
            fail(f"No caso “{case}” nn.MultiheadAttention com os seus pesos não calcula as "
                 f"equações da aula (maior diferença {error:.2e}).{extra}")


# --------------------------------------------------------------------------------------------
# exercício 4: o alcance de cada posição depois de vários blocos
# --------------------------------------------------------------------------------------------

# (caso, máscara (1 = proibido), blocos, alcance esperado (1 = a saída i depende da entrada j))
REACH_CASES = [
    ("máscara causal, 1 bloco", ("01111", "00111", "00011", "00001", "00000"), 1,
     ("10000", "11000", "11100", "11110", "11111")),
    ("máscara causal, 0 blocos", ("0111", "0011", "0001", "0000"), 0,
     ("1000", "0100", "0010", "0001")),
    ("janela 2, 3 blocos", ("011111", "001111", "100111", "110011", "111001", "111100"), 3,
     ("100000", "110000", "111000", "111100", "011110", "001111")),
    ("só os vizinhos i − 1 e i + 1 (sem a própria posição), 1 bloco",
     ("10111", "01011", "10101", "11010", "11101"), 1,
     ("11000", "11100", "01110", "00111", "00011")),
    ("só os vizinhos i − 1 e i + 1 (sem a própria posição), 2 blocos",
     ("10111", "01011", "10101", "11010", "11101"), 2,
     ("11100", "11110", "11111", "01111", "00111")),
]


def reach_hint(got: torch.Tensor, mask: torch.Tensor, n_layers: int,
               expected: torch.Tensor) -> str:
    if not bool(got.diagonal().all()):
        return (" Dica: o atalho residual leva x_i adiante em todo bloco, então a saída i "
                "sempre depende da entrada i, mesmo que a máscara proíba a diagonal.")
    if torch.equal(got, expected.T):
        return (" Dica: a linha i é a saída (quem recebe) e a coluna j a entrada (quem é "
                "lida); com a máscara causal, nada vem do futuro.")
    if n_layers > 1 and torch.equal(got, ~mask | torch.eye(len(mask), dtype=torch.bool)):
        return (" Dica: isso é o alcance de um bloco só; cada bloco lê o fluxo que os blocos "
                "anteriores já misturaram.")
    return ""


def check_reach(fn: Callable[..., Any]) -> None:
    """Confere ``fn(mask, n_layers)`` → (T, T) booleana: True onde a saída i de ``n_layers``
    blocos pré-LN com essa máscara de atenção pode depender do token de entrada j."""
    for case, mask_rows, n_layers, reach_rows in REACH_CASES:
        mask, expected = bool_matrix(mask_rows), bool_matrix(reach_rows)
        got = expect_bool_matrix(call(fn, case, mask.clone(), n_layers), case, mask.shape)
        if not torch.equal(got, expected):
            fail(f"No caso “{case}” esperava o alcance {rows_text(expected)}; recebeu "
                 f"{rows_text(got)}.{reach_hint(got, mask, n_layers, expected)}")
