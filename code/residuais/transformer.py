"""O Transformer como pilha de blocos residuais, escrito do zero (capítulo 6).

Convenções de forma: ``B`` lote, ``T`` posições (tokens), ``C`` = d_model, ``h`` cabeças,
``d`` = C/h por cabeça. As classes carregam os pesos de ``torch.nn.MultiheadAttention`` e
``torch.nn.TransformerEncoderLayer`` (``from_torch``), e os testes conferem que calculam o mesmo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from residuais.shapes import check_tensor


def causal_mask(n_positions: int) -> torch.Tensor:
    """Máscara (T, T) com True onde a posição i *não* pode olhar a posição j (j > i)."""
    return torch.ones(n_positions, n_positions, dtype=torch.bool).triu(diagonal=1)


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Atenção(Q, K, V) = softmax(Q Kᵀ / √d) V. Devolve (saída, pesos de atenção).

    ``q``, ``k``, ``v``: (..., T, d); ``mask``: (T, T) booleana, True = proibido.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, T)
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # cada linha soma 1
    return weights @ v, weights  # (..., T, d), (..., T, T)


class MultiHeadSelfAttention(nn.Module):
    """Autoatenção com ``n_heads`` cabeças: cada cabeça projeta X em Q, K, V de dimensão
    d = C/h, aplica a atenção, e as saídas concatenadas passam por W^O."""

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) deve ser múltiplo de n_heads ({n_heads}).")
        self.d_model, self.n_heads = d_model, n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)  # [W^Q; W^K; W^V] de todas as cabeças
        self.out = nn.Linear(d_model, d_model)  # W^O

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(x, "MultiHeadSelfAttention", "(B, T, d_model)", d_model=self.d_model)
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)  # 3 × (B, T, C)
        q, k, v = (t.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for t in (q, k, v))
        heads, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, h, T, d)
        return self.out(heads.transpose(1, 2).reshape(B, T, C))  # concatena e aplica W^O

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> MultiHeadSelfAttention:
        """Copia os pesos de um ``nn.MultiheadAttention`` com as mesmas dimensões."""
        self.qkv.weight.copy_(mha.in_proj_weight)
        self.qkv.bias.copy_(mha.in_proj_bias)
        self.out.weight.copy_(mha.out_proj.weight)
        self.out.bias.copy_(mha.out_proj.bias)
        return self


class FeedForward(nn.Sequential):
    """A rede direta por posição (*position-wise feed-forward network*, FFN): duas camadas
    aplicadas a cada posição separadamente, linear → ReLU → linear."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))


class TransformerBlock(nn.Module):
    """Um bloco do codificador do Transformer: duas subcamadas residuais.

    Pós-LN (``norm_first=False``, Vaswani et al. 2017):
        O = LN(X + Atenção(X)),  H = LN(O + FFN(O)).
    Pré-LN (``norm_first=True``):
        O = X + Atenção(LN(X)),  H = O + FFN(LN(O)) — o fluxo residual nunca é normalizado.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, *, norm_first: bool = True
                 ) -> None:
        super().__init__()
        self.d_model = d_model
        self.norm_first = norm_first
        self.attn = MultiHeadSelfAttention(d_model, n_heads)
        self.ln1 = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, d_ff)
        self.ln2 = nn.LayerNorm(d_model)

    def sublayer_writes(
        self, x: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pré-LN: devolve (o que a atenção soma ao fluxo, o que a FFN soma, a saída do bloco)."""
        if not self.norm_first:
            raise ValueError("A decomposição em escritas só é exata no bloco pré-LN.")
        attn_write = self.attn(self.ln1(x), mask)  # (B, T, C)
        x = x + attn_write
        ffn_write = self.ffn(self.ln2(x))  # (B, T, C)
        return attn_write, ffn_write, x + ffn_write

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(x, "TransformerBlock", "(B, T, d_model)", d_model=self.d_model)
        if self.norm_first:
            return self.sublayer_writes(x, mask)[2]
        o = self.ln1(x + self.attn(x, mask))  # O = LN(X + Atenção(X))
        return self.ln2(o + self.ffn(o))  # H = LN(O + FFN(O))

    @classmethod
    @torch.no_grad()
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> TransformerBlock:
        """Um bloco com os pesos de um ``nn.TransformerEncoderLayer`` (ReLU, ``batch_first``)."""
        d_model = layer.linear1.in_features
        block = cls(d_model, layer.self_attn.num_heads, layer.linear1.out_features,
                    norm_first=layer.norm_first)
        block.attn.load_from_torch(layer.self_attn)
        block.ffn[0].load_state_dict(layer.linear1.state_dict())
        block.ffn[2].load_state_dict(layer.linear2.state_dict())
        block.ln1.load_state_dict(layer.norm1.state_dict())
        block.ln2.load_state_dict(layer.norm2.state_dict())
        return block


@dataclass
class ResidualStream:
    """O que passa pelo fluxo residual de um ``TinyTransformer`` pré-LN, para um lote:
    ``embedding`` (B, T, C), e para cada bloco o que a atenção e a FFN escreveram nele."""

    embedding: torch.Tensor
    attn_writes: list[torch.Tensor] = field(default_factory=list)
    ffn_writes: list[torch.Tensor] = field(default_factory=list)

    def partial_sums(self) -> list[tuple[str, torch.Tensor]]:
        """O fluxo depois de cada escrita, em ordem: a incorporação, depois da atenção 1, depois
        da FFN 1, …; cada item é (rótulo em português, tensor (B, T, C))."""
        states = [("incorporação", self.embedding)]
        total = self.embedding
        for layer, (attn, ffn) in enumerate(zip(self.attn_writes, self.ffn_writes, strict=True), 1):
            total = total + attn
            states.append((f"atenção {layer}", total))
            total = total + ffn
            states.append((f"FFN {layer}", total))
        return states

    def after_layer(self, n_layers: int) -> torch.Tensor:
        """O fluxo depois de ``n_layers`` blocos: a incorporação mais tudo o que foi escrito."""
        total = self.embedding
        for attn, ffn in zip(self.attn_writes[:n_layers], self.ffn_writes[:n_layers], strict=True):
            total = total + attn + ffn
        return total


class TinyTransformer(nn.Module):
    """Um codificador pequeno para tarefas de sequência: incorporação dos tokens e das posições,
    ``n_layers`` blocos, (no pré-LN) um LN final, e a "desincorporação" linear para o
    vocabulário."""

    def __init__(self, vocab_size: int, n_positions: int, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, d_ff: int = 256, *, norm_first: bool = True) -> None:
        super().__init__()
        self.n_positions = n_positions
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(n_positions, d_model)
        self.blocks = nn.ModuleList(
            TransformerBlock(d_model, n_heads, d_ff, norm_first=norm_first) for _ in range(n_layers)
        )
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.unembed = nn.Linear(d_model, vocab_size)

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.dtype != torch.int64 or tokens.shape[1] > self.n_positions:
            raise ValueError(
                f"TinyTransformer: esperava tokens inteiros (int64) de forma (B, T) com "
                f"T ≤ {self.n_positions}; recebeu {tuple(tokens.shape)} ({tokens.dtype})."
            )
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.token_embedding(tokens) + self.position_embedding(positions)  # (B, T, C)

    def decode(self, stream: torch.Tensor) -> torch.Tensor:
        """Leva um estado do fluxo residual aos logits (o mesmo que a saída faz; é a "lente")."""
        return self.unembed(self.final_norm(stream))  # (B, T, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)  # (B, T, C)
        return self.decode(x)

    def residual_stream(self, tokens: torch.Tensor) -> ResidualStream:
        """Roda a rede (pré-LN) guardando o que cada subcamada escreve no fluxo residual."""
        x = self.embed(tokens)
        stream = ResidualStream(embedding=x)
        for block in self.blocks:
            attn_write, ffn_write, x = block.sublayer_writes(x)
            stream.attn_writes.append(attn_write)
            stream.ffn_writes.append(ffn_write)
        return stream


def sequence_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Entropia cruzada média sobre todas as posições: logits (B, T, V), alvos (B, T)."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
