"""Testes ocultos do capítulo 6 (fluxo residual): as respostas de referência e os casos extras.

Só o professor tem este arquivo (vai no arquivo do corretor); as regras, as dicas e as
comparações com o PyTorch vêm das verificações públicas, em ``residuais.checks.transformer``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.checks.core import call, expect_close, expect_tensor, fail, forbidden
from residuais.checks.transformer import (
    RULES_ATTENTION,
    RULES_HEAD_WRITES,
    expect_attention,
    expect_head_writes,
    expect_multi_head,
    random_multi_head_case,
    run_pre_ln_stack,
)

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(Q Kᵀ / √d) V para tensores (..., T, d)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, T)
    return scores.softmax(dim=-1) @ v


def reference_multi_head_attention(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor,
                                   w_v: torch.Tensor, w_o: torch.Tensor,
                                   n_heads: int) -> torch.Tensor:
    """Atenção com ``n_heads`` cabeças, sem vieses; os pesos são os de ``nn.Linear`` (X Wᵀ)."""
    b, t, c = x.shape
    d = c // n_heads
    q, k, v = ((x @ w.T).view(b, t, n_heads, d).transpose(1, 2) for w in (w_q, w_k, w_v))
    heads = reference_attention(q, k, v)  # (B, H, T, d)
    return heads.transpose(1, 2).reshape(b, t, c) @ w_o.T


def reference_pre_ln_block(x: torch.Tensor, ln1: nn.Module, attn: nn.Module, ln2: nn.Module,
                           ffn: nn.Module) -> torch.Tensor:
    """O = X + Atenção(LN₁(X)), H = O + FFN(LN₂(O))."""
    stream = x + attn(ln1(x))
    return stream + ffn(ln2(stream))


def reference_head_writes(head_outputs: torch.Tensor, w_o: torch.Tensor) -> torch.Tensor:
    """(B, T, H, d_h) e W_O (C × C, como ``nn.Linear``) → as escritas (H, B, T, C): a cabeça
    h usa as colunas h·d_h … (h+1)·d_h − 1 de W_O."""
    n_heads, d = head_outputs.shape[-2:]
    blocks = w_o.view(w_o.shape[0], n_heads, d)  # (C, H, d_h)
    return torch.einsum("bthd,chd->hbtc", head_outputs, blocks)


# --------------------------------------------------------------------------------------------
# verificações ocultas
# --------------------------------------------------------------------------------------------


def check_attention_hidden(fn: Callable[..., Any]) -> None:
    """Mais formas (um token, d = 1, lote e cabeças), float32, e escores grandes (o softmax
    deve ser estável)."""
    gen = torch.Generator().manual_seed(66)
    for shape in [(1, 8), (3, 2, 7, 16), (2, 6, 1), (4, 3)]:
        q, k, v = (torch.randn(*shape, generator=gen, dtype=torch.float64) for _ in range(3))
        expect_attention(fn, q, k, v, f"Q, K, V de forma {shape}")
    q, k, v = (torch.randn(2, 5, 8, generator=gen) for _ in range(3))
    expect_attention(fn, q, k, v, "Q, K, V de forma (2, 5, 8) em float32", tol=1e-5)
    case = "escores grandes (Q e K multiplicados por 30, float32)"
    q, k, v = (torch.randn(6, 4, generator=gen) for _ in range(3))
    with forbidden(fn, RULES_ATTENTION):
        got = call(fn, case, 30 * q, 30 * k, v.clone())
    if isinstance(got, torch.Tensor) and not torch.isfinite(got).all():
        fail(f"No caso “{case}” sua resposta tem valores infinitos ou NaN. Dica: use "
             f".softmax(dim=-1), ou subtraia o máximo de cada linha antes da exponencial.")
    expect_attention(fn, 30 * q, 30 * k, v, case, tol=1e-4)


def check_multi_head_attention_hidden(fn: Callable[..., Any]) -> None:
    """Mais formas: uma cabeça, cabeças de dimensão 1, um token, muitas cabeças."""
    gen = torch.Generator().manual_seed(76)
    for b, t, c, n_heads in [(3, 7, 16, 4), (1, 1, 8, 8), (2, 4, 6, 1), (2, 9, 12, 6)]:
        x, weights = random_multi_head_case(b, t, c, gen)
        expect_multi_head(fn, x, weights, n_heads, f"x de forma ({b}, {t}, {c}) e {n_heads} "
                          f"cabeças")


def check_pre_ln_block_hidden(fn: Callable[..., Any]) -> None:
    """Outros tamanhos: um token, muitas cabeças, pilhas de 1 a 4 blocos."""
    for b, t, c, n_heads, n_blocks in [(1, 1, 8, 2, 2), (3, 9, 32, 4, 4), (2, 4, 12, 3, 1)]:
        run_pre_ln_stack(fn, b, t, c, n_heads, n_blocks)


def check_head_writes_hidden(fn: Callable[..., Any]) -> None:
    """Mais formas e o experimento com uma atenção de verdade: as escritas das cabeças de um
    ``nn.MultiheadAttention`` somadas (mais o viés de W_O) dão a saída dele."""
    gen = torch.Generator().manual_seed(86)
    for b, t, n_heads, d in [(1, 1, 1, 3), (2, 4, 8, 2), (3, 2, 3, 7)]:
        heads = torch.randn(b, t, n_heads, d, generator=gen, dtype=torch.float64)
        w_o = torch.randn(n_heads * d, n_heads * d, generator=gen, dtype=torch.float64)
        expect_head_writes(fn, heads, w_o, f"{n_heads} cabeças de dimensão {d}, lote {b}, "
                           f"{t} tokens")
    torch.manual_seed(0)
    b, t, c, n_heads = 2, 5, 16, 4
    mha = nn.MultiheadAttention(c, n_heads, batch_first=True, dtype=torch.float64)
    x = torch.randn(b, t, c, dtype=torch.float64)
    with torch.no_grad():
        expected = mha(x, x, x, need_weights=False)[0]
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
        b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
        q, k, v = ((x @ w.T + bias).view(b, t, n_heads, -1).transpose(1, 2)
                   for w, bias in ((w_q, b_q), (w_k, b_k), (w_v, b_v)))
        heads = reference_attention(q, k, v).transpose(1, 2)  # (B, T, H, d_h)
        case = "cabeças de um nn.MultiheadAttention com 4 cabeças"
        with forbidden(fn, RULES_HEAD_WRITES):
            got = call(fn, case, heads.clone(), mha.out_proj.weight.clone())
    expect_tensor(got, (n_heads, b, t, c), case, type_first=True)
    expect_close(got.sum(0) + mha.out_proj.bias.detach(), expected, case, tol=1e-6)
