"""Exercícios de programação do capítulo 6: as verificações aceitam a referência, recusam os
erros típicos com a dica certa e pegam os atalhos proibidos; as dicas calculadas pelo PyTorch
com pesos trocados coincidem com os erros escritos à mão."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import hidden_module
from torch import nn

from residuais.checks import ForbiddenCall
from residuais.checks import transformer as public
from residuais.interpretability import per_head_writes
from residuais.transformer import (
    MultiHeadSelfAttention,
    TransformerBlock,
    scaled_dot_product_attention,
)

hidden = hidden_module("transformer")


def _both(check_name: str, answer) -> None:
    getattr(public, check_name)(answer)
    getattr(hidden, f"{check_name}_hidden")(answer)


# --------------------------------------------------------------------------------------------
# exercício 1: atenção
# --------------------------------------------------------------------------------------------


def _scores(q, k):
    return q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5


def test_attention_reference_passes_public_and_hidden():
    _both("check_attention", hidden.reference_attention)


def test_attention_returning_output_and_weights_is_accepted():
    def with_weights(q, k, v):
        weights = _scores(q, k).softmax(-1)
        return weights @ v, weights

    public.check_attention(with_weights)


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda q, k, v: (q @ k.transpose(-2, -1)).softmax(-1) @ v, "√d"),
    (lambda q, k, v: _scores(q, k).softmax(-2) @ v, "último eixo"),
    (lambda q, k, v: _scores(k, q).softmax(-1) @ v, "Q Kᵀ"),
], ids=["sem escala", "eixo do softmax", "K Qᵀ"])
def test_attention_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_attention(wrong)


def test_attention_hints_computed_by_pytorch_are_the_handwritten_mistakes():
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, 6, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    hints = list(public.attention_hints(q, k, v).values())
    handwritten = [(q @ k.transpose(-2, -1)).softmax(-1) @ v, _scores(q, k).softmax(-2) @ v,
                   _scores(k, q).softmax(-1) @ v]
    for by_torch, by_hand in zip(hints, handwritten, strict=True):
        assert torch.allclose(by_torch, by_hand, atol=1e-12)


@pytest.mark.parametrize(("answer", "name"), [
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), "scaled_dot_product_attention"),
    (lambda q, k, v: scaled_dot_product_attention(q, k, v)[0], "scaled_dot_product_attention"),
], ids=["PyTorch", "curso"])
def test_attention_shortcuts_are_forbidden(answer, name):
    with pytest.raises(ForbiddenCall, match=rf"`{name}`.*escrita por você"):
        public.check_attention(answer)


def test_attention_course_function_message_names_the_course_module():
    with pytest.raises(ForbiddenCall, match=r"residuais\.transformer\.scaled_dot_product"):
        public.check_attention(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0])


def test_attention_trivial_answers_fail():
    for trivial in (lambda q, k, v: v, lambda q, k, v: torch.zeros_like(v)):
        with pytest.raises(AssertionError, match="caso"):
            public.check_attention(trivial)


def test_attention_unstable_softmax_fails_only_the_hidden_check():
    def naive(q, k, v):
        weights = _scores(q, k).exp()
        return weights / weights.sum(-1, keepdim=True) @ v

    public.check_attention(naive)  # em float64, com escores pequenos, ainda funciona
    with pytest.raises(AssertionError, match="máximo de cada linha"):
        hidden.check_attention_hidden(naive)


# --------------------------------------------------------------------------------------------
# exercício 2: atenção com várias cabeças
# --------------------------------------------------------------------------------------------


def attention(q, k, v):  # a resposta do estudante ao exercício 1, que o exercício 2 pode usar
    return _scores(q, k).softmax(-1) @ v


def _mha(split="right", scale="head", project=True, transpose=True):
    """Uma resposta ao exercício 2 com um erro típico."""
    def answer(x, w_q, w_k, w_v, w_o, n_heads):
        b, t, c = x.shape
        d = c // n_heads

        def heads(w):
            y = x @ w.T if transpose else x @ w
            if split == "right":
                return y.view(b, t, n_heads, d).transpose(1, 2)
            if split == "no transpose":
                return y.reshape(b, n_heads, t, d)
            return y.view(b, t, d, n_heads).permute(0, 3, 1, 2)  # intercaladas

        q, k, v = heads(w_q), heads(w_k), heads(w_v)
        divisor = {"head": math.sqrt(d), "model": math.sqrt(c), "none": 1.0}[scale]
        out = (q @ k.transpose(-2, -1) / divisor).softmax(-1) @ v  # (B, H, T, d)
        if split == "right":
            out = out.transpose(1, 2).reshape(b, t, c)
        elif split == "no transpose":
            out = out.reshape(b, t, c)
        else:
            out = out.permute(0, 2, 3, 1).reshape(b, t, c)
        if not project:
            return out
        return out @ (w_o.T if transpose else w_o)
    return answer


def test_multi_head_reference_and_one_using_attention_pass():
    _both("check_multi_head_attention", hidden.reference_multi_head_attention)
    _both("check_multi_head_attention", _mha())

    def with_own_attention(x, w_q, w_k, w_v, w_o, n_heads):
        b, t, c = x.shape
        q, k, v = ((x @ w.T).view(b, t, n_heads, -1).transpose(1, 2) for w in (w_q, w_k, w_v))
        return attention(q, k, v).transpose(1, 2).reshape(b, t, c) @ w_o.T

    _both("check_multi_head_attention", with_own_attention)


@pytest.mark.parametrize(("wrong", "hint"), [
    (_mha(split="no transpose"), "transpose\\(1, 2\\).*mistura os tokens"),
    (_mha(split="interleaved"), "canais contíguos"),
    (_mha(scale="model"), "e não por √C"),
    (_mha(scale="none"), "faltou dividir os escores"),
    (_mha(project=False), "W_O"),
    (_mha(transpose=False), "X Wᵀ"),
], ids=["sem transpor", "intercaladas", "√C", "sem escala", "sem W_O", "X W"])
def test_multi_head_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_multi_head_attention(wrong)


@pytest.mark.parametrize(("answer", "name"), [
    (lambda x, q, k, v, o, h: nn.MultiheadAttention(x.shape[-1], h)(x, x, x)[0],
     "MultiheadAttention"),
    (lambda x, q, k, v, o, h: MultiHeadSelfAttention(x.shape[-1], h)(x),
     "MultiHeadSelfAttention"),
    (lambda x, q, k, v, o, h: F.scaled_dot_product_attention(x @ q.T, x @ k.T, x @ v.T) @ o.T,
     "scaled_dot_product_attention"),
], ids=["PyTorch", "curso", "atenção do PyTorch"])
def test_multi_head_shortcuts_are_forbidden(answer, name):
    with pytest.raises(ForbiddenCall, match=rf"`{name}`"):
        public.check_multi_head_attention(answer)


def test_multi_head_trivial_answers_fail():
    for trivial in (lambda x, *rest: x, lambda x, *rest: torch.zeros_like(x)):
        with pytest.raises(AssertionError, match="caso"):
            public.check_multi_head_attention(trivial)


# --------------------------------------------------------------------------------------------
# exercício 3: o bloco pré-LN
# --------------------------------------------------------------------------------------------


def _post_ln(x, ln1, attn, ln2, ffn):
    x = ln1(x + attn(x))
    return ln2(x + ffn(x))


def _no_first_residual(x, ln1, attn, ln2, ffn):
    write = attn(ln1(x))
    return write + ffn(ln2(write))


def _no_second_residual(x, ln1, attn, ln2, ffn):
    stream = x + attn(ln1(x))
    return ffn(ln2(stream))


def _normalized_output(x, ln1, attn, ln2, ffn):
    stream = x + attn(ln1(x))
    return ln2(stream + ffn(ln2(stream)))


def _one_norm(x, ln1, attn, ln2, ffn):
    stream = x + attn(ln1(x))
    return stream + ffn(ln1(stream))


def test_pre_ln_reference_passes_public_and_hidden():
    _both("check_pre_ln_block", hidden.reference_pre_ln_block)


@pytest.mark.parametrize(("wrong", "hint"), [
    (_post_ln, "pós-LN"),
    (_no_first_residual, "primeiro atalho"),
    (_no_second_residual, "segundo atalho"),
    (_normalized_output, "não normalize a saída"),
    (_one_norm, "não chamou ln2"),
    (lambda x, ln1, attn, ln2, ffn: x[:, :1], "forma"),
], ids=["pós-LN", "sem o primeiro atalho", "sem o segundo", "LN na saída", "um LN só",
        "forma"])
def test_pre_ln_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_pre_ln_block(wrong)


def test_pre_ln_writes_must_add_up():
    def calls_attention_twice(x, ln1, attn, ln2, ffn):
        stream = x + attn(ln1(x))
        attn(x)  # uma chamada a mais, descartada: a última escrita gravada não é a somada
        return stream + ffn(ln2(stream))

    with pytest.raises(AssertionError, match="não é a entrada mais as escritas"):
        public.check_pre_ln_block(calls_attention_twice)


def test_pre_ln_shortcuts_are_forbidden():
    def by_course(x, ln1, attn, ln2, ffn):
        return TransformerBlock(x.shape[-1], 2, 4 * x.shape[-1])(x)

    def by_torch(x, ln1, attn, ln2, ffn):
        return nn.TransformerEncoderLayer(x.shape[-1], 2, batch_first=True)(x)

    with pytest.raises(ForbiddenCall, match=r"`TransformerBlock`.*montado por você"):
        public.check_pre_ln_block(by_course)
    with pytest.raises(ForbiddenCall, match=r"`TransformerEncoderLayer`"):
        public.check_pre_ln_block(by_torch)


def test_pre_ln_trivial_answers_fail():
    for trivial in (lambda x, *modules: x, lambda x, *modules: torch.zeros_like(x)):
        with pytest.raises(AssertionError, match="TransformerEncoderLayer"):
            public.check_pre_ln_block(trivial)


# --------------------------------------------------------------------------------------------
# exercício 4: a escrita de cada cabeça
# --------------------------------------------------------------------------------------------


def _by_rows(heads, w_o):
    d = heads.shape[-1]
    return torch.stack([heads[:, :, h] @ w_o[h * d : (h + 1) * d]
                        for h in range(heads.shape[2])])


def _by_columns_and_loop(heads, w_o):
    d = heads.shape[-1]
    return torch.stack([heads[:, :, h] @ w_o[:, h * d : (h + 1) * d].T
                        for h in range(heads.shape[2])])


def test_head_writes_reference_and_a_loop_pass_public_and_hidden():
    _both("check_head_writes", hidden.reference_head_writes)
    _both("check_head_writes", _by_columns_and_loop)


@pytest.mark.parametrize(("wrong", "hint"), [
    (_by_rows, "colunas de W_O"),
    (lambda heads, w_o: _by_columns_and_loop(heads, w_o).permute(1, 2, 0, 3),
     "eixo das cabeças vem primeiro"),
    (lambda heads, w_o: (heads.flatten(-2) @ w_o.T / heads.shape[2]).expand(
        heads.shape[2], *heads.shape[:2], -1), "só da saída da cabeça h"),
], ids=["linhas", "eixos", "divide igualmente"])
def test_head_writes_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_head_writes(wrong)


def test_head_writes_trivial_answers_fail():
    def zeros(heads, w_o):
        return torch.zeros(heads.shape[2], *heads.shape[:2], w_o.shape[0], dtype=heads.dtype)

    for trivial in (zeros, lambda heads, w_o: heads):
        with pytest.raises(AssertionError, match="caso"):
            public.check_head_writes(trivial)


def test_head_writes_add_up_to_a_real_attention_output():
    # o que a verificação oculta usa: cabeças de um nn.MultiheadAttention de verdade
    hidden.check_head_writes_hidden(hidden.reference_head_writes)


def test_head_writes_course_functions_are_forbidden():
    # o capítulo separa as cabeças com residuais.interpretability; no exercício, não vale
    def by_course(heads, w_o):
        n_heads, d = heads.shape[-2:]
        attn = MultiHeadSelfAttention(n_heads * d, n_heads).double()
        with torch.no_grad():
            attn.out.weight.copy_(w_o)
        return per_head_writes(attn, heads.flatten(-2))

    with pytest.raises(ForbiddenCall, match=r"`per_head_writes`.*separação das cabeças"):
        public.check_head_writes(by_course)
    targets = {rule.target for rule in public.RULES_HEAD_WRITES}
    assert targets == {"residuais.interpretability.per_head_writes",
                       "residuais.interpretability.stream_components"}
    assert all(rule.resolve() is not None for rule in public.RULES_HEAD_WRITES)
