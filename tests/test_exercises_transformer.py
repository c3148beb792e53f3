"""Exercícios de programação do capítulo 6: as verificações aceitam a referência e outras
respostas certas, recusam os erros típicos com a dica certa e medem o que o capítulo afirma (o
efeito da máscara numa atenção e numa pilha de blocos de verdade)."""

import pytest
import torch
from conftest import hidden_module

from residuais.checks import transformer as public
from residuais.transformer import MultiHeadSelfAttention, TransformerBlock, causal_mask

hidden = hidden_module("transformer")


def _both(name: str, answer) -> None:
    getattr(public, f"check_{name}")(answer)
    getattr(hidden, f"check_{name}_hidden")(answer)


# --------------------------------------------------------------------------------------------
# exercício 1: a máscara causal com janela
# --------------------------------------------------------------------------------------------


def _mask_by_loops(n_positions, window):
    mask = torch.ones(n_positions, n_positions, dtype=torch.bool)
    for i in range(n_positions):
        for j in range(max(0, i - window + 1), i + 1):
            mask[i, j] = False
    return mask


def test_local_mask_reference_and_a_loop_pass():
    _both("local_causal_mask", hidden.reference_local_causal_mask)
    _both("local_causal_mask", _mask_by_loops)
    # com a janela do tamanho da sequência, é a máscara causal do curso
    assert torch.equal(hidden.reference_local_causal_mask(7, 7), causal_mask(7))


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda t, w: ~hidden.reference_local_causal_mask(t, w), "convenção contrária"),
    (lambda t, w: hidden.reference_local_causal_mask(t, w).T, "o futuro, j > i"),
    (lambda t, w: hidden.reference_local_causal_mask(t, w + 1), "exatamente min"),
    (lambda t, w: hidden.reference_local_causal_mask(t, w).int(), "booleano"),
    (lambda t, w: hidden.reference_local_causal_mask(t, w)[:, :-1], "forma"),
], ids=["invertida", "transposta", "janela a mais", "inteiros", "forma"])
def test_local_mask_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_local_causal_mask(wrong)


def test_local_mask_effect_is_measured_by_the_hidden_check():
    # a medida: numa atenção do curso com a máscara, a saída i depende da entrada j só onde
    # a máscara deixa; sem máscara, de todas
    mask = hidden.reference_local_causal_mask(6, 2)
    attn = MultiHeadSelfAttention(8, 2).double()
    assert torch.equal(hidden.measured_dependence([attn], mask), ~mask)
    assert hidden.measured_dependence([attn], torch.zeros(6, 6, dtype=torch.bool)).all()


# --------------------------------------------------------------------------------------------
# exercício 2: a distância média de atenção de cada cabeça
# --------------------------------------------------------------------------------------------


def _distance_by_loops(weights):
    b, h, t, _ = weights.shape
    out = torch.zeros(h, dtype=weights.dtype)
    for head in range(h):
        total = 0.0
        for batch in range(b):
            for i in range(t):
                total += sum(weights[batch, head, i, j].item() * abs(i - j) for j in range(t))
        out[head] = total / (b * t)
    return out


def test_distance_reference_and_a_loop_pass():
    _both("mean_attention_distance", hidden.reference_mean_attention_distance)
    _both("mean_attention_distance", _distance_by_loops)


def _signed(weights):
    t = weights.shape[-1]
    p = torch.arange(t, dtype=weights.dtype)
    return (weights * (p[:, None] - p[None, :])).sum(-1).mean(dim=(0, 2))


def _unweighted(weights):
    t = weights.shape[-1]
    p = torch.arange(t, dtype=weights.dtype)
    mean = (p[:, None] - p[None, :]).abs().mean()
    return mean.expand(weights.shape[1]).clone()


@pytest.mark.parametrize(("wrong", "hint"), [
    (_signed, "sem sinal"),
    (_unweighted, "pondere"),
    (lambda w: hidden.reference_mean_attention_distance(w).mean(), "por cabeça"),
    (lambda w: torch.stack([hidden.reference_mean_attention_distance(w[b:b + 1])
                            for b in range(w.shape[0])]), "lote"),
], ids=["com sinal", "sem os pesos", "média nas cabeças", "sem a média no lote"])
def test_distance_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_mean_attention_distance(wrong)


# --------------------------------------------------------------------------------------------
# exercício 3: os pesos da aula no formato do PyTorch
# --------------------------------------------------------------------------------------------


def _weights_by_loops(w_q, w_k, w_v, w_o):
    h, c, d = w_q.shape
    in_proj = torch.zeros(3 * c, c, dtype=w_q.dtype)
    for block, w in enumerate((w_q, w_k, w_v)):
        for head in range(h):
            start = block * c + head * d
            in_proj[start:start + d] = w[head].T
    return in_proj, w_o.T.clone()


def test_weights_reference_and_a_loop_pass():
    _both("to_torch_weights", hidden.reference_to_torch_weights)
    _both("to_torch_weights", _weights_by_loops)


def _not_transposed(w_q, w_k, w_v, w_o):
    in_proj, out = hidden.reference_to_torch_weights(w_q, w_k, w_v, w_o)
    c = w_o.shape[0]
    return torch.cat([block.T for block in in_proj.split(c)]), out


def _interleaved(w_q, w_k, w_v, w_o):
    # cada bloco como (C, h, d) → (C, C) sem separar as cabeças em faixas contíguas
    rows = [w.permute(2, 0, 1).reshape(-1, w.shape[1]) for w in (w_q, w_k, w_v)]
    return torch.cat(rows), w_o.T


@pytest.mark.parametrize(("wrong", "hint"), [
    (_not_transposed, "X Wᵀ"),
    (lambda q, k, v, o: hidden.reference_to_torch_weights(k, q, v, o), "nessa ordem"),
    (_interleaved, "faixas contíguas"),
    (lambda q, k, v, o: (hidden.reference_to_torch_weights(q, k, v, o)[0], o),
     "transposta de W\\^O"),
    (lambda q, k, v, o: hidden.reference_to_torch_weights(q, k, v, o)[0], "par"),
], ids=["sem transpor", "ordem QKV", "intercaladas", "W_O sem transpor", "sem o par"])
def test_weights_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_to_torch_weights(wrong)


def test_lecture_equations_are_what_the_course_module_computes():
    # a referência da verificação (as equações da aula, cabeça por cabeça) é a atenção do curso
    gen = torch.Generator().manual_seed(0)
    lecture = public.lecture_weights(4, 2, gen)
    in_proj, out = hidden.reference_to_torch_weights(*lecture)
    ours = MultiHeadSelfAttention(8, 4).double()
    with torch.no_grad():
        ours.qkv.weight.copy_(in_proj)
        ours.qkv.bias.zero_()
        ours.out.weight.copy_(out)
        ours.out.bias.zero_()
        x = torch.randn(3, 5, 8, dtype=torch.float64)
        assert torch.allclose(ours(x), public.lecture_multi_head(x, *lecture), atol=1e-10)


# --------------------------------------------------------------------------------------------
# exercício 4: o alcance depois de vários blocos
# --------------------------------------------------------------------------------------------


def _reach_by_sets(mask, n_layers):
    t = mask.shape[0]
    sees = [{j for j in range(t) if not mask[i, j]} | {i} for i in range(t)]
    reach = [{i} for i in range(t)]
    for _ in range(n_layers):
        reach = [set().union(*(reach[j] for j in sees[i])) for i in range(t)]
    return torch.tensor([[j in reach[i] for j in range(t)] for i in range(t)])


def test_reach_reference_and_sets_pass():
    _both("reach", hidden.reference_reach)
    _both("reach", _reach_by_sets)


def _without_shortcut(mask, n_layers):
    step = (~mask).to(torch.int64)
    reach = torch.eye(mask.shape[0], dtype=torch.int64)
    for _ in range(n_layers):
        reach = (step @ reach).clamp(max=1)
    return reach.bool()


@pytest.mark.parametrize(("wrong", "hint"), [
    (_without_shortcut, "atalho residual"),
    (lambda m, n: hidden.reference_reach(m, n).T, "nada vem do futuro"),
    (lambda m, n: hidden.reference_reach(m, min(n, 1)), "um bloco só"),
    (lambda m, n: hidden.reference_reach(m, n).int(), "booleano"),
], ids=["sem o atalho", "transposta", "um bloco", "inteiros"])
def test_reach_typical_mistakes_get_their_hint(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        public.check_reach(wrong)


def test_reach_is_what_a_stack_of_blocks_measures():
    # a afirmação do capítulo, medida: numa pilha de blocos pré-LN com janela 2, a saída i
    # depende das entradas i − L … i, e o alcance de referência diz o mesmo
    mask = hidden.reference_local_causal_mask(7, 2)
    for n_layers in (1, 3):
        blocks = [TransformerBlock(8, 2, 16, norm_first=True).double()
                  for _ in range(n_layers)]
        assert torch.equal(hidden.measured_dependence(blocks, mask),
                           hidden.reference_reach(mask, n_layers))


def test_reach_hidden_check_catches_the_missing_shortcut():
    with pytest.raises(AssertionError, match="atalho residual"):
        hidden.check_reach_hidden(_without_shortcut)


@pytest.mark.parametrize("name", ["local_causal_mask", "mean_attention_distance",
                                  "to_torch_weights", "reach"])
def test_trivial_answers_fail(name):
    for trivial in (lambda *args: None, lambda *args: torch.zeros(3)):
        with pytest.raises(AssertionError, match="caso"):
            getattr(public, f"check_{name}")(trivial)

