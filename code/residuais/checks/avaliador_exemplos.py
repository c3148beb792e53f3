"""Verificações de exemplo para os testes do avaliador (``tests/test_harness.py``,
``tests/test_wire.py``): a atenção e o bloco pré-LN, que foram exercícios do capítulo 6 até a
issue 29.

Não são mais exercícios: a página do capítulo 6 mostra esse código
(``scaled_dot_product_attention``, ``MultiHeadSelfAttention.forward``,
``TransformerBlock.sublayer_writes``), e nenhum exercício avaliado pode ser respondido copiando o
que a página mostra. Ficam aqui só porque os testes do
avaliador as usam para exercitar o fio (chamadas de volta para módulos que gravam as chamadas) e
as regras de atalhos; quando esses testes passarem a usar outras verificações, este módulo sai.
Os valores esperados vêm do próprio PyTorch.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from residuais.checks.core import Rule, call, expect_close, expect_tensor, fail, forbidden

_ATTENTION = "o exercício pede a atenção escrita por você."
RULES_ATTENTION = (
    Rule("torch.nn.functional.scaled_dot_product_attention", _ATTENTION),
    Rule("residuais.transformer.scaled_dot_product_attention", _ATTENTION),
    Rule("residuais.transformer.MultiHeadSelfAttention", _ATTENTION),
    Rule("torch.nn.MultiheadAttention", _ATTENTION),
    Rule("torch.nn.functional.multi_head_attention_forward", _ATTENTION),
)
_BLOCK = "o exercício pede o bloco pré-LN montado por você a partir dos quatro módulos."
RULES_PRE_LN = (
    Rule("residuais.transformer.TransformerBlock", _BLOCK),
    Rule("torch.nn.TransformerEncoderLayer", _BLOCK),
    Rule("torch.nn.TransformerEncoder", _BLOCK),
)

# --------------------------------------------------------------------------------------------
# a atenção
# --------------------------------------------------------------------------------------------

ATTENTION_SHAPES = [(5, 4), (2, 3, 6, 8)]


def attention_hints(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Os erros típicos da atenção, calculados pelo próprio PyTorch."""
    t = q.shape[-2]
    identity = torch.eye(t, dtype=q.dtype).expand(*q.shape[:-2], t, t)
    # softmax(K Qᵀ/√d), linha a linha, é o softmax de Q Kᵀ/√d por colunas, transposto
    by_columns = F.scaled_dot_product_attention(k, q, identity).transpose(-2, -1)
    return {
        "faltou dividir os escores por √d.": F.scaled_dot_product_attention(q, k, v, scale=1.0),
        "o softmax é sobre as chaves (último eixo): cada linha dos pesos deve somar 1.":
            by_columns @ v,
        "os escores são Q Kᵀ (consultas nas linhas), não K Qᵀ.":
            F.scaled_dot_product_attention(k, q, v),
    }


def expect_attention(fn: Callable[..., Any], q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     case: str, tol: float = 1e-6) -> None:
    """Falha se ``fn(q, k, v)`` não for a atenção de ``scaled_dot_product_attention``."""
    expected = F.scaled_dot_product_attention(q, k, v)
    hints = attention_hints(q, k, v)
    with forbidden(fn, RULES_ATTENTION):
        got = call(fn, case, q.clone(), k.clone(), v.clone())
    if isinstance(got, tuple):  # quem devolve (saída, pesos), como no módulo do curso
        got = got[0]
    expect_close(got, expected, case, tol=tol, hints=hints)


def check_attention(fn: Callable[..., Any]) -> None:
    """Confere ``fn(q, k, v)`` = softmax(Q Kᵀ / √d) V para tensores (..., T, d), contra
    ``torch.nn.functional.scaled_dot_product_attention``."""
    gen = torch.Generator().manual_seed(6)
    for shape in ATTENTION_SHAPES:
        q, k, v = (torch.randn(*shape, generator=gen, dtype=torch.float64) for _ in range(3))
        expect_attention(fn, q, k, v, f"Q, K, V de forma {shape}")


# --------------------------------------------------------------------------------------------
# o bloco pré-LN e as escritas no fluxo residual
# --------------------------------------------------------------------------------------------

PRE_LN_CASES = [(2, 5, 16, 2, 3)]  # (B, T, C, cabeças, blocos empilhados)


class Recorded(nn.Module):
    """Um módulo do bloco que guarda o que recebeu e o que devolveu em cada chamada."""

    def __init__(self, inner: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        self.calls.append((x.detach().clone(), out.detach().clone()))
        return out


def random_pre_ln_layer(c: int, n_heads: int, seed: int) -> nn.TransformerEncoderLayer:
    """Um ``nn.TransformerEncoderLayer`` pré-LN em float64, com γ, β não triviais nos LN (para
    distinguir as ordens das operações)."""
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(c, n_heads, 2 * c, dropout=0.0, batch_first=True,
                                       norm_first=True, dtype=torch.float64).eval()
    with torch.no_grad():
        for ln in (layer.norm1, layer.norm2):
            ln.weight.uniform_(0.5, 1.5)
            ln.bias.uniform_(-0.5, 0.5)
    return layer


def block_modules(layer: nn.TransformerEncoderLayer) -> dict[str, Recorded]:
    """Os quatro módulos do bloco (os mesmos pesos do ``layer``), cada um gravando as chamadas."""
    mha = layer.self_attn
    return {
        "ln1": Recorded(layer.norm1),
        "attn": Recorded(lambda h: mha(h, h, h, need_weights=False)[0]),
        "ln2": Recorded(layer.norm2),
        "ffn": Recorded(nn.Sequential(layer.linear1, nn.ReLU(), layer.linear2)),
    }


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-8)


def _reads_hint(x: torch.Tensor, modules: dict[str, Recorded]) -> str:
    """Dica a partir do que cada módulo leu (a última chamada de cada um)."""
    (ln1_in, ln1_out), (attn_in, attn_out) = modules["ln1"].calls[-1], modules["attn"].calls[-1]
    (ln2_in, ln2_out), (ffn_in, _) = modules["ln2"].calls[-1], modules["ffn"].calls[-1]
    if not _same(ln1_in, x):
        return ("o LN₁ lê o fluxo x como ele chega, antes de qualquer soma; normalizar depois "
                "da soma é o pós-LN.")
    if not _same(attn_in, ln1_out):
        return "a atenção lê LN₁(x)."
    if _same(ln2_in, attn_out):
        return "faltou o primeiro atalho: o LN₂ lê x + a escrita da atenção, não só a escrita."
    if not _same(ln2_in, x + attn_out):
        return "o LN₂ lê o fluxo depois da atenção, x + a escrita da atenção."
    if not _same(ffn_in, ln2_out):
        return "a FFN lê LN₂(x + a escrita da atenção)."
    return ""


def pre_ln_hint(got: torch.Tensor, x: torch.Tensor, modules: dict[str, Recorded],
                post_ln: torch.Tensor) -> str:
    """A dica para uma saída errada do bloco, a partir das chamadas gravadas."""
    if _same(got, post_ln):
        return (" Dica: isso é o bloco pós-LN (normaliza depois da soma); no pré-LN o LN vem "
                "antes de cada subcamada e o fluxo residual não é normalizado.")
    missing = [name for name, module in modules.items() if not module.calls]
    if missing:
        return f" Dica: sua função não chamou {', '.join(missing)}."
    norm_outputs = [out for name in ("ln1", "ln2") for _, out in modules[name].calls]
    if any(_same(got, out) for out in norm_outputs):
        return (" Dica: não normalize a saída do bloco: no pré-LN o fluxo residual nunca passa "
                "por um LN.")
    hint = _reads_hint(x, modules)
    if not hint and _same(got, modules["ffn"].calls[-1][1]):
        hint = "faltou o segundo atalho: a saída é o fluxo mais a escrita da FFN."
    return f" Dica: {hint}" if hint else ""


def expect_writes_add_up(got: torch.Tensor, x: torch.Tensor, writes: Sequence[torch.Tensor],
                         case: str) -> None:
    """O que o capítulo afirma: a saída é a entrada mais a soma das escritas (a última saída
    de cada ``attn`` e de cada ``ffn``), sem nada mais no caminho."""
    gap = (got.double() - x.double() - sum(w.double() for w in writes)).abs().max().item()
    if gap > 1e-8:
        fail(f"No caso “{case}” a saída não é a entrada mais as escritas da atenção e da FFN "
             f"(diferença {gap:.2e}). Dica: chame attn e ffn uma vez cada e some o que elas "
             f"devolvem ao fluxo.")


def run_pre_ln_stack(fn: Callable[..., Any], b: int, t: int, c: int, n_heads: int,
                     n_blocks: int) -> None:
    """O experimento: ``n_blocks`` blocos pré-LN empilhados com a função do estudante, cada um
    comparado com ``nn.TransformerEncoderLayer(norm_first=True)``; no fim, o fluxo é a entrada
    mais a soma de todas as escritas, como o capítulo afirma."""
    gen = torch.Generator().manual_seed(c + t)
    x0 = 3 * torch.randn(b, t, c, generator=gen, dtype=torch.float64)
    x, writes = x0, []
    for i in range(n_blocks):
        case = f"x de forma ({b}, {t}, {c}), bloco {i + 1} de {n_blocks}"
        layer = random_pre_ln_layer(c, n_heads, seed=100 * c + i)
        post = copy.deepcopy(layer)
        post.norm_first = False
        with torch.no_grad():
            expected, post_ln = layer(x), post(x)
        modules = block_modules(layer)
        with torch.no_grad(), forbidden(fn, RULES_PRE_LN):
            got = call(fn, case, x.clone(), *modules.values())
        expect_tensor(got, x.shape, case, f"a saída deve ter a forma da entrada, {tuple(x.shape)}")
        if not _same(got, expected):
            error = (got.double() - expected).abs().max().item()
            fail(f"No caso “{case}” a saída difere da de nn.TransformerEncoderLayer"
                 f"(norm_first=True) (maior diferença {error:.2e})."
                 f"{pre_ln_hint(got, x, modules, post_ln)}")
        block_writes = [modules["attn"].calls[-1][1], modules["ffn"].calls[-1][1]]
        expect_writes_add_up(got, x, block_writes, case)
        x, writes = got.double(), writes + block_writes
    expect_writes_add_up(x, x0, writes, f"x de forma ({b}, {t}, {c}), {n_blocks} blocos")


def check_pre_ln_block(fn: Callable[..., Any]) -> None:
    """Confere ``fn(x, ln1, attn, ln2, ffn)``: o bloco pré-LN
    O = X + Atenção(LN₁(X)), H = O + FFN(LN₂(O)), contra ``nn.TransformerEncoderLayer`` com os
    mesmos pesos, e o fluxo residual de vários blocos empilhados: a saída é a entrada mais a
    soma do que cada atenção e cada FFN escreveu."""
    for b, t, c, n_heads, n_blocks in PRE_LN_CASES:
        run_pre_ln_stack(fn, b, t, c, n_heads, n_blocks)


