"""Testes ocultos do capítulo 6 (fluxo residual): as respostas de referência e os casos extras.

Só o professor tem este arquivo (vai no arquivo do corretor). Aqui ficam também as medidas que
as verificações públicas não podem trazer sem entregar a resposta: o efeito da máscara medido
pelo jacobiano de uma atenção e de uma pilha de blocos de verdade.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from residuais.checks.core import call, expect_close, fail
from residuais.checks.transformer import (
    check_to_torch_weights,
    expect_bool_matrix,
    lecture_multi_head,
    lecture_weights,
    local_mask_hint,
    reach_hint,
    rows_text,
    torch_attention,
)
from residuais.transformer import MultiHeadSelfAttention, TransformerBlock

# --------------------------------------------------------------------------------------------
# respostas de referência
# --------------------------------------------------------------------------------------------


def reference_local_causal_mask(n_positions: int, window: int) -> torch.Tensor:
    """(T, T), True = proibido: a posição i vê só j com i − window < j ≤ i."""
    i = torch.arange(n_positions)[:, None]
    j = torch.arange(n_positions)[None, :]
    return (j > i) | (j <= i - window)


def reference_mean_attention_distance(weights: torch.Tensor) -> torch.Tensor:
    """(B, h, T, T) → (h,): média, no lote e nas consultas, de Σ_j w_ij |i − j|."""
    t = weights.shape[-1]
    positions = torch.arange(t, dtype=weights.dtype)
    distance = (positions[:, None] - positions[None, :]).abs()  # (T, T)
    return (weights * distance).sum(-1).mean(dim=(0, 2))


def reference_to_torch_weights(w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor,
                               w_o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """W_i (h, C, d), que multiplicam à direita → as linhas (h·d, C) do ``in_proj_weight``."""
    rows = [w.transpose(1, 2).reshape(-1, w.shape[1]) for w in (w_q, w_k, w_v)]
    return torch.cat(rows), w_o.T


def reference_reach(mask: torch.Tensor, n_layers: int) -> torch.Tensor:
    """Quem alcança quem: um bloco liga i a j se a atenção deixa (máscara) ou se i = j (o
    atalho); ``n_layers`` blocos compõem essas ligações."""
    t = mask.shape[0]
    step = (~mask | torch.eye(t, dtype=torch.bool)).to(torch.int64)
    reach = torch.eye(t, dtype=torch.int64)
    for _ in range(n_layers):
        reach = (step @ reach).clamp(max=1)
    return reach.bool()


# --------------------------------------------------------------------------------------------
# medidas: o efeito da máscara numa atenção e numa pilha de blocos de verdade
# --------------------------------------------------------------------------------------------


def measured_dependence(layers: list[torch.nn.Module], mask: torch.Tensor,
                        channels: int = 8) -> torch.Tensor:
    """(T, T): True onde a saída i da pilha depende da entrada j — o gradiente de uma projeção
    aleatória da saída i em relação à entrada j não é nulo (uma passada para trás por saída)."""
    t = mask.shape[0]
    x = torch.randn(1, t, channels, dtype=torch.float64, requires_grad=True)
    out = x
    for layer in layers:
        out = layer(out, mask)
    probe = torch.randn_like(out)
    rows = []
    for i in range(t):
        (grad,) = torch.autograd.grad((out[0, i] * probe[0, i]).sum(), x, retain_graph=True)
        rows.append(grad[0].abs().sum(-1) > 0)  # (T,): de quais entradas a saída i depende
    return torch.stack(rows)


def random_mask(t: int, gen: torch.Generator) -> torch.Tensor:
    """Uma máscara qualquer (True = proibido) em que toda posição vê ao menos uma outra."""
    mask = torch.rand(t, t, generator=gen) < 0.6
    free = torch.randint(t, (t,), generator=gen)
    mask[torch.arange(t), free] = False
    return mask


# --------------------------------------------------------------------------------------------
# verificações ocultas
# --------------------------------------------------------------------------------------------


def check_local_causal_mask_hidden(fn: Callable[..., Any]) -> None:
    """Outros tamanhos (uma posição, janela 1, janela do tamanho da sequência) e o efeito
    medido: numa atenção com a máscara, a saída i depende da entrada j só onde ela deixa; e
    ``nn.MultiheadAttention`` com o mesmo attn_mask calcula o mesmo."""
    torch.manual_seed(6)
    for t, window in [(1, 1), (6, 1), (7, 3), (8, 8), (9, 4), (5, 2)]:
        case = f"T = {t}, janela {window}"
        got = expect_bool_matrix(call(fn, case, t, window), case, (t, t))
        expected = reference_local_causal_mask(t, window)
        if not torch.equal(got, expected):
            fail(f"No caso “{case}” a máscara está errada: {rows_text(got)}."
                 f"{local_mask_hint(got, window)}")
    t, window = 6, 3
    mask = reference_local_causal_mask(t, window)
    attn = MultiHeadSelfAttention(8, 2).double()
    if not torch.equal(measured_dependence([attn], mask), ~mask):
        fail("A atenção com a máscara de referência não respeitou a janela (erro do curso).")
    reference = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)
    attn.load_from_torch(reference)
    case = f"T = {t}, janela {window}, como attn_mask de nn.MultiheadAttention"
    got = call(fn, case, t, window)
    x = torch.randn(1, t, 8, dtype=torch.float64)
    with torch.no_grad():
        expected = reference(x, x, x, attn_mask=mask, need_weights=False)[0]
        expect_close(attn(x, got), expected, case, tol=1e-10)


def check_mean_attention_distance_hidden(fn: Callable[..., Any]) -> None:
    """Pesos de atenções de verdade (softmax de escores aleatórios), com e sem máscara causal,
    em várias formas."""
    gen = torch.Generator().manual_seed(66)
    for b, h, t, causal in [(3, 4, 6, False), (2, 2, 7, True), (1, 1, 1, False),
                            (4, 8, 3, True)]:
        scores = 2 * torch.randn(b, h, t, t, generator=gen, dtype=torch.float64)
        if causal:
            scores = scores.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1),
                                        float("-inf"))
        weights = scores.softmax(-1)
        case = f"softmax de escores aleatórios, lote {b}, {h} cabeças, T = {t}" + (
            ", com máscara causal" if causal else "")
        got = call(fn, case, weights.clone())
        expect_close(got, reference_mean_attention_distance(weights), case, tol=1e-6)


def check_to_torch_weights_hidden(fn: Callable[..., Any]) -> None:
    """Uma cabeça, cabeças de dimensão 1, muitas cabeças; e o curso: com os mesmos pesos, a
    ``MultiHeadSelfAttention`` do pacote (viés zero) calcula as equações da aula."""
    check_to_torch_weights(fn)
    gen = torch.Generator().manual_seed(76)
    for h, d, t in [(1, 5, 4), (6, 1, 3), (4, 3, 7)]:
        c = h * d
        case = f"{h} cabeças de dimensão {d} (C = {c}), {t} tokens"
        lecture = lecture_weights(h, d, gen)
        x = torch.randn(2, t, c, generator=gen, dtype=torch.float64)
        got = call(fn, case, *(w.clone() for w in lecture))
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(f"No caso “{case}” esperava um par (in_proj_weight, out_proj_weight).")
        in_proj, out_proj = (torch.as_tensor(w).double() for w in got)
        expected = lecture_multi_head(x, *lecture)
        with torch.no_grad():
            by_torch = torch_attention(in_proj, out_proj, h)(x, x, x, need_weights=False)[0]
            ours = MultiHeadSelfAttention(c, h).double()
            ours.qkv.weight.copy_(in_proj)
            ours.qkv.bias.zero_()
            ours.out.weight.copy_(out_proj)
            ours.out.bias.zero_()
            by_course = ours(x)
        expect_close(by_torch, expected, f"{case}, nn.MultiheadAttention", tol=1e-8)
        expect_close(by_course, expected, f"{case}, MultiHeadSelfAttention", tol=1e-8)


def check_reach_hidden(fn: Callable[..., Any]) -> None:
    """O alcance medido: o jacobiano de uma pilha de blocos pré-LN do curso com máscaras
    quaisquer; e casos maiores, contra a referência."""
    torch.manual_seed(86)
    gen = torch.Generator().manual_seed(86)
    for t, n_layers in [(5, 1), (6, 2), (7, 3), (4, 0)]:
        mask = random_mask(t, gen)
        case = f"máscara {rows_text(mask)}, {n_layers} blocos (medido numa pilha de blocos)"
        blocks = [TransformerBlock(8, 2, 16, norm_first=True).double() for _ in range(n_layers)]
        measured = measured_dependence(blocks, mask)
        got = expect_bool_matrix(call(fn, case, mask.clone(), n_layers), case, (t, t))
        if not torch.equal(got, measured):
            fail(f"No caso “{case}” o alcance medido é {rows_text(measured)}; recebeu "
                 f"{rows_text(got)}.{reach_hint(got, mask, n_layers, measured)}")
    for t, n_layers in [(12, 5), (10, 9), (1, 3)]:
        mask = random_mask(t, gen) | torch.ones(t, t, dtype=torch.bool).triu(1)
        mask[torch.arange(t), torch.arange(t)] = t % 2 == 0
        mask[:, 0] = False  # toda posição vê a primeira (nenhuma linha fica vazia)
        case = f"máscara {t} × {t}, {n_layers} blocos"
        got = expect_bool_matrix(call(fn, case, mask.clone(), n_layers), case, (t, t))
        expected = reference_reach(mask, n_layers)
        if not torch.equal(got, expected):
            fail(f"No caso “{case}” o alcance está errado: {rows_text(got)}."
                 f"{reach_hint(got, mask, n_layers, expected)}")
