"""Ler um Transformer pré-LN treinado pelo fluxo residual (capítulo 6).

O fluxo residual de um ``TinyTransformer`` pré-LN é uma soma: a incorporação mais o que cada
subcamada escreveu. Aqui essa soma é aberta em parcelas menores — a escrita de cada cabeça de
atenção (Elhage et al. 2021), o viés de W^O, a escrita de cada FFN — e cada parcela é levada
aos logits pela saída da rede, com a escala do LN final congelada (atribuição direta aos
logits). Para conferir a decomposição contra uma implementação independente, ``to_torch_layer``
devolve o ``torch.nn.TransformerEncoderLayer`` com os pesos de um bloco nosso.

Convenções de forma: ``B`` lote, ``T`` posições, ``C`` = d_model, ``h`` cabeças, ``d`` = C/h,
``V`` vocabulário.
"""

from __future__ import annotations

import torch
from torch import nn

from residuais.shapes import check_tensor
from residuais.transformer import (
    MultiHeadSelfAttention,
    TinyTransformer,
    TransformerBlock,
    scaled_dot_product_attention,
)


def attention_heads(
    attn: MultiHeadSelfAttention, x: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Os pesos de atenção (B, h, T, T) de cada cabeça e a saída de cada cabeça antes de W^O,
    (B, T, h, d), para a entrada ``x`` (B, T, C) — as contas de ``attn.forward`` até a
    concatenação."""
    check_tensor(x, "attention_heads", "(B, T, d_model)", d_model=attn.d_model)
    B, T, C = x.shape
    q, k, v = attn.qkv(x).split(C, dim=-1)  # 3 × (B, T, C)
    q, k, v = (t.view(B, T, attn.n_heads, C // attn.n_heads).transpose(1, 2) for t in (q, k, v))
    heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (B, h, T, d), (B, h, T, T)
    return weights, heads.transpose(1, 2)  # (B, h, T, T), (B, T, h, d)


def per_head_writes(
    attn: MultiHeadSelfAttention, x: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """O que cada cabeça escreve no fluxo, (h, B, T, C): a^(h) = (saída da cabeça h) · W^O_h,
    com W^O_h o bloco de colunas de W^O que recebe essa cabeça. A saída da atenção é a soma
    das escritas mais o viés de W^O, ``attn.out.bias``."""
    _, heads = attention_heads(attn, x, mask)  # (B, T, h, d)
    n_heads, head_dim = heads.shape[-2:]
    w_o = attn.out.weight.unflatten(1, (n_heads, head_dim))  # (C, h, d)
    return torch.einsum("bthd,chd->hbtc", heads, w_o)


def stream_components(model: TinyTransformer, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """As parcelas do fluxo residual final de um ``TinyTransformer`` pré-LN, em ordem, cada uma
    (B, T, C): "incorporação", e para cada bloco ℓ "atenção ℓ, cabeça i" (i = 1 … h), "atenção
    ℓ, viés" e "FFN ℓ". A soma de todas é o fluxo depois do último bloco."""
    x = model.embed(tokens)  # (B, T, C)
    parts = {"incorporação": x}
    for layer, block in enumerate(model.blocks, 1):
        attn_write, ffn_write, next_x = block.sublayer_writes(x)
        for head, write in enumerate(per_head_writes(block.attn, block.ln1(x)), 1):
            parts[f"atenção {layer}, cabeça {head}"] = write
        parts[f"atenção {layer}, viés"] = block.attn.out.bias.expand_as(attn_write)
        parts[f"FFN {layer}"] = ffn_write
        x = next_x
    return parts


def _centered_unembedding(model: TinyTransformer) -> tuple[torch.Tensor, torch.Tensor]:
    """W_U e o viés com a média sobre o vocabulário subtraída: somar a mesma constante a todos
    os logits não muda o softmax, então só o logit relativo à média importa."""
    weight, bias = model.unembed.weight, model.unembed.bias  # (V, C), (V,)
    return weight - weight.mean(0), bias - bias.mean()


def logit_margin(model: TinyTransformer, stream: torch.Tensor,
                 targets: torch.Tensor) -> torch.Tensor:
    """O logit do token correto menos a média dos logits, (B, T), lendo ``stream`` com a saída
    da rede (LN final e W_U), como a lente de logits."""
    logits = model.decode(stream)  # (B, T, V)
    centered = logits - logits.mean(-1, keepdim=True)
    return centered.gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def direct_logit_attribution(model: TinyTransformer, parts: dict[str, torch.Tensor],
                             targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """A contribuição de cada parcela do fluxo para ``logit_margin`` do fluxo final, (B, T).

    O LN final, γ ⊙ (x − média(x)) / σ(x) + β, é linear em x se σ for mantido fixo: congelamos
    σ no valor do fluxo final inteiro, token a token. Então a margem é exatamente a soma das
    contribuições, mais a parcela "constante" (β e o viés de W_U). Não é exato ler uma
    contribuição como o efeito de remover aquela parcela: sem ela, σ mudaria.
    """
    if not isinstance(model.final_norm, nn.LayerNorm):
        raise ValueError("A atribuição direta aos logits é para o TinyTransformer pré-LN.")
    ln = model.final_norm
    stream = sum(parts.values())  # (B, T, C)
    scale = (stream.var(-1, unbiased=False, keepdim=True) + ln.eps).sqrt()  # σ congelado
    weight, bias = _centered_unembedding(model)  # (V, C), (V,)
    readout = weight[targets] * ln.weight  # (B, T, C): o que a saída lê do token correto

    def through_output(part: torch.Tensor) -> torch.Tensor:  # (B, T, C) → (B, T)
        centered = part - part.mean(-1, keepdim=True)
        return (centered / scale * readout).sum(-1)

    contributions = {name: through_output(part) for name, part in parts.items()}
    contributions["constante"] = weight[targets] @ ln.bias + bias[targets]
    return contributions


@torch.no_grad()
def to_torch_layer(block: TransformerBlock) -> nn.TransformerEncoderLayer:
    """O ``nn.TransformerEncoderLayer`` (ReLU, sem dropout, ``batch_first``) com os pesos de
    ``block``: o caminho inverso de ``TransformerBlock.from_torch``."""
    d_model, d_ff = block.ffn[0].in_features, block.ffn[0].out_features
    layer = nn.TransformerEncoderLayer(d_model, block.attn.n_heads, d_ff, dropout=0.0,
                                       batch_first=True, norm_first=block.norm_first)
    layer.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
    layer.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
    layer.self_attn.out_proj.load_state_dict(block.attn.out.state_dict())
    layer.linear1.load_state_dict(block.ffn[0].state_dict())
    layer.linear2.load_state_dict(block.ffn[2].state_dict())
    layer.norm1.load_state_dict(block.ln1.state_dict())
    layer.norm2.load_state_dict(block.ln2.state_dict())
    return layer.to(block.ln1.weight.dtype)


def without_positions(model: TinyTransformer) -> TinyTransformer:
    """Zera e congela a incorporação de posição: a rede não sabe mais onde está cada token."""
    with torch.no_grad():
        model.position_embedding.weight.zero_()
    model.position_embedding.weight.requires_grad_(False)
    return model
