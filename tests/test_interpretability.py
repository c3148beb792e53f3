"""A leitura do fluxo residual (residuais.interpretability) contra o PyTorch e contra a própria
rede: pesos de atenção iguais aos de ``nn.MultiheadAttention``, escritas das cabeças que somam a
saída da atenção, parcelas que somam o fluxo final, atribuição que soma a margem do logit, e a
volta para ``nn.TransformerEncoderLayer``."""

import pytest
import torch
from torch import nn

from residuais.interpretability import (
    attention_heads,
    direct_logit_attribution,
    logit_margin,
    per_head_writes,
    stream_components,
    to_torch_layer,
    without_positions,
)
from residuais.transformer import (
    MultiHeadSelfAttention,
    TinyTransformer,
    TransformerBlock,
    causal_mask,
)


def _model(seed: int = 0) -> TinyTransformer:
    torch.manual_seed(seed)
    model = TinyTransformer(7, 6, d_model=16, n_heads=4, n_layers=3, d_ff=32).double()
    with torch.no_grad():  # LN com γ, β não triviais, para que o LN final conte
        for ln in model.modules():
            if isinstance(ln, nn.LayerNorm):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("masked", [False, True])
def test_attention_weights_match_pytorch_per_head(masked):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiHeadSelfAttention(16, 4).load_from_torch(reference)
    x = torch.randn(3, 5, 16)
    mask = causal_mask(5) if masked else None
    with torch.no_grad():
        _, expected = reference(x, x, x, attn_mask=mask, average_attn_weights=False)
        weights, heads = attention_heads(ours, x, mask)
    assert heads.shape == (3, 5, 4, 4)
    torch.testing.assert_close(weights, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("masked", [False, True])
def test_head_writes_plus_bias_are_the_attention_output(masked):
    torch.manual_seed(1)
    attn = MultiHeadSelfAttention(12, 3).double()
    x = torch.randn(2, 4, 12, dtype=torch.float64)
    mask = causal_mask(4) if masked else None
    with torch.no_grad():
        writes = per_head_writes(attn, x, mask)
        assert writes.shape == (3, 2, 4, 12)
        torch.testing.assert_close(writes.sum(0) + attn.out.bias, attn(x, mask))
        # a escrita da cabeça 2 é a saída da atenção com as outras cabeças zeradas (sem viés)
        _, heads = attention_heads(attn, x, mask)
        only_second = torch.zeros_like(heads)
        only_second[:, :, 1] = heads[:, :, 1]
        torch.testing.assert_close(writes[1], only_second.flatten(-2) @ attn.out.weight.T)


def test_components_add_up_to_the_final_stream():
    model = _model()
    tokens = torch.randint(0, 7, (5, 6))
    with torch.no_grad():
        parts = stream_components(model, tokens)
        x = model.embed(tokens)
        for block in model.blocks:
            x = block(x)
    assert list(parts)[:6] == ["incorporação", "atenção 1, cabeça 1", "atenção 1, cabeça 2",
                               "atenção 1, cabeça 3", "atenção 1, cabeça 4", "atenção 1, viés"]
    assert len(parts) == 1 + 3 * (4 + 2)
    torch.testing.assert_close(sum(parts.values()), x)


def test_direct_logit_attribution_adds_up_to_the_logit_margin():
    model = _model()
    tokens = torch.randint(0, 7, (5, 6))
    targets = tokens.flip(1)
    with torch.no_grad():
        parts = stream_components(model, tokens)
        contributions = direct_logit_attribution(model, parts, targets)
        margin = logit_margin(model, sum(parts.values()), targets)
        logits = model(tokens)
    assert set(contributions) == set(parts) | {"constante"}
    torch.testing.assert_close(sum(contributions.values()), margin)
    expected = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logits.mean(-1)
    torch.testing.assert_close(margin, expected)


def test_attribution_rejects_post_ln():
    torch.manual_seed(0)
    model = TinyTransformer(5, 4, d_model=8, n_heads=2, n_layers=1, d_ff=16, norm_first=False)
    with pytest.raises(ValueError, match="pré-LN"):
        direct_logit_attribution(model, {"x": torch.zeros(1, 4, 8)}, torch.zeros(1, 4).long())


@pytest.mark.parametrize("norm_first", [False, True])
def test_to_torch_layer_is_the_inverse_of_from_torch(norm_first):
    torch.manual_seed(0)
    block = TransformerBlock(16, 4, 32, norm_first=norm_first).eval()
    layer = to_torch_layer(block).eval()
    assert layer.norm_first == norm_first
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), block(x), atol=1e-5, rtol=1e-5)
        back = TransformerBlock.from_torch(layer)
        torch.testing.assert_close(back(x), block(x))


def test_to_torch_layer_keeps_float64():
    block = TransformerBlock(8, 2, 16).double()
    layer = to_torch_layer(block)
    assert layer.linear1.weight.dtype == torch.float64
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), block(x))


def test_without_positions_makes_the_network_permutation_equivariant():
    model = without_positions(_model())
    assert not model.position_embedding.weight.requires_grad
    tokens = torch.randint(0, 7, (4, 6))
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        torch.testing.assert_close(model(tokens[:, order]), model(tokens)[:, order])
        with_positions = _model()
        assert not torch.allclose(with_positions(tokens[:, order]),
                                  with_positions(tokens)[:, order])
