"""O Transformer escrito do zero (residuais.transformer) contra os módulos do PyTorch."""

import pytest
import torch
from torch import nn

from residuais.data import Dataset, make_reversal
from residuais.train import TrainConfig, fit
from residuais.transformer import (
    MultiHeadSelfAttention,
    TinyTransformer,
    TransformerBlock,
    causal_mask,
    scaled_dot_product_attention,
    sequence_loss,
)


def test_attention_weights_are_a_softmax_and_mask_blocks_the_future():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 5, 4).unbind(0)
    out, weights = scaled_dot_product_attention(q, k, v, causal_mask(5))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    assert torch.all(weights.triu(diagonal=1) == 0)
    torch.testing.assert_close(out[:, 0], v[:, 0])  # a 1ª posição só vê a si mesma


@pytest.mark.parametrize("masked", [False, True])
def test_multi_head_attention_matches_pytorch(masked):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiHeadSelfAttention(16, 4).load_from_torch(ref)
    x = torch.randn(3, 6, 16)
    mask = causal_mask(6) if masked else None
    expected, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(ours(x, mask), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_block_matches_transformer_encoder_layer(norm_first, training):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True,
                                     norm_first=norm_first)
    ours = TransformerBlock.from_torch(ref)
    assert ours.norm_first == norm_first
    ref.train(training)
    ours.train(training)
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
        mask = causal_mask(7)
        torch.testing.assert_close(ours(x, mask), ref(x, src_mask=mask), atol=1e-5, rtol=1e-5)


def test_residual_stream_decomposition_is_exact():
    torch.manual_seed(0)
    model = TinyTransformer(10, 8, d_model=16, n_heads=2, n_layers=3, d_ff=32).double()
    tokens = torch.randint(0, 10, (4, 8))
    stream = model.residual_stream(tokens)
    x = model.embed(tokens)
    for block in model.blocks:
        x = block(x)
    torch.testing.assert_close(stream.after_layer(3), x, atol=1e-12, rtol=0)
    torch.testing.assert_close(model.decode(stream.after_layer(3)), model(tokens))
    states = stream.partial_sums()
    assert [name for name, _ in states][:3] == ["incorporação", "atenção 1", "FFN 1"]
    assert len(states) == 1 + 2 * 3
    torch.testing.assert_close(states[-1][1], stream.after_layer(3))
    torch.testing.assert_close(states[2][1], stream.after_layer(1))
    with pytest.raises(ValueError, match="pré-LN"):
        TransformerBlock(16, 2, 32, norm_first=False).sublayer_writes(torch.randn(1, 2, 16))


def test_shape_and_token_errors_are_explained():
    with pytest.raises(ValueError, match=r"\(B, T, 16\)"):
        MultiHeadSelfAttention(16, 4)(torch.randn(2, 16))
    with pytest.raises(ValueError, match="múltiplo"):
        MultiHeadSelfAttention(10, 4)
    model = TinyTransformer(10, 8, d_model=16, n_heads=2, n_layers=1, d_ff=32)
    with pytest.raises(ValueError, match="int64"):
        model(torch.zeros(2, 8))
    with pytest.raises(ValueError, match="T ≤ 8"):
        model(torch.zeros(2, 9, dtype=torch.int64))


def test_tiny_transformer_learns_to_copy_with_fit():
    x, _ = make_reversal(2048, length=4, vocab_size=5, seed=0)
    x_test, _ = make_reversal(256, length=4, vocab_size=5, seed=1)
    data = Dataset(x, x.clone(), x_test, x_test.clone(), n_classes=5)  # tarefa de cópia
    torch.manual_seed(0)
    model = TinyTransformer(5, 4, d_model=16, n_heads=2, n_layers=1, d_ff=32)
    history = fit(model, data, TrainConfig(epochs=2, lr=1e-2, batch_size=64, optimizer="adam"))
    assert history.test_acc[-1] > 0.95
    assert sequence_loss(model(x_test), x_test).item() == pytest.approx(history.test_loss[-1])


def test_reversal_data():
    x, y = make_reversal(5, length=6, vocab_size=3, seed=2)
    assert x.shape == y.shape == (5, 6) and x.dtype == torch.int64
    torch.testing.assert_close(y, x.flip(1))
    with pytest.raises(ValueError):
        make_reversal(0)
