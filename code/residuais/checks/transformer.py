"""Verificações públicas dos exercícios do capítulo 6 (fluxo residual em Transformers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.core import call, expect_tensor, fail


def check_attention(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(q, k, v)`` = softmax(Q Kᵀ / √d) V para tensores (..., T, d)."""
    from residuais.transformer import scaled_dot_product_attention

    shapes = [(5, 4)] + ([(1, 8), (3, 2, 7, 16), (2, 6, 1)] if thorough else [])
    gen = torch.Generator().manual_seed(6)
    for shape in shapes:
        d = shape[-1]
        case = f"Q, K, V de forma {tuple(shape)}"
        q, k, v = (torch.randn(*shape, generator=gen, dtype=torch.float64) for _ in range(3))
        expected, _ = scaled_dot_product_attention(q, k, v)
        got = call(fn, case, q.clone(), k.clone(), v.clone())
        if isinstance(got, tuple):
            got = got[0]
        expect_tensor(got, expected.shape, case,
                       f"a saída deve ter forma {tuple(expected.shape)}")
        if not torch.allclose(got.double(), expected, atol=1e-6):
            hint = ""
            no_scale = (q @ k.transpose(-2, -1)).softmax(-1) @ v
            wrong_axis = ((q @ k.transpose(-2, -1)) / d**0.5).softmax(-2) @ v
            if torch.allclose(got.double(), no_scale, atol=1e-6):
                hint = " Faltou dividir os escores por √d."
            elif torch.allclose(got.double(), wrong_axis, atol=1e-6):
                hint = " O softmax é sobre as chaves (último eixo): cada linha deve somar 1."
            fail(f"No caso “{case}” a saída difere da referência.{hint}")


def check_pre_ln_block(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(x, ln1, attn, ln2, ffn)``: o bloco pré-LN
    O = X + Atenção(LN₁(X)), H = O + FFN(LN₂(O)), contra ``TransformerBlock(norm_first=True)``."""
    from residuais.transformer import TransformerBlock

    sizes = [(2, 5, 16)] + ([(1, 1, 8), (3, 9, 32)] if thorough else [])
    for b, t, c in sizes:
        case = f"x de forma ({b}, {t}, {c})"
        torch.manual_seed(c + t)
        block = TransformerBlock(c, 2, 2 * c, norm_first=True)
        with torch.no_grad():  # LN com γ, β não triviais, para distinguir as ordens
            for ln in (block.ln1, block.ln2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)
        x = 3 * torch.randn(b, t, c)
        with torch.no_grad():
            expected = block(x)
            got = call(fn, case, x.clone(), block.ln1, block.attn, block.ln2, block.ffn)
        expect_tensor(got, x.shape, case, f"a saída deve ter a forma da entrada, {tuple(x.shape)}")
        if not torch.allclose(got, expected, atol=1e-5):
            hint = ""
            with torch.no_grad():
                block.norm_first = False
                post = block(x)
                block.norm_first = True
            if torch.allclose(got, post, atol=1e-5):
                hint = (" Isso é o bloco pós-LN (normaliza depois da soma); no pré-LN o LN vem "
                        "antes de cada subcamada e o fluxo residual não é normalizado.")
            fail(f"No caso “{case}” a saída difere da referência.{hint}")

