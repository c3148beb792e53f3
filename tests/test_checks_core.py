"""As ferramentas das verificações: comparação com dicas e a proibição de atalhos."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.functional import scaled_dot_product_attention as apelido

from residuais.checks import ForbiddenCall, Rule, core, expect_close, forbidden, reading

SDPA = Rule("torch.nn.functional.scaled_dot_product_attention",
            "o exercício pede a atenção escrita por você.")
BACKWARD = Rule("torch.Tensor.backward", "o exercício pede o gradiente sem o autograd.")


def _qkv():
    gen = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, 4, generator=gen) for _ in range(3)]


def honest(q, k, v):
    return (q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5).softmax(-1) @ v


def by_attribute(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def by_alias(q, k, v):
    return apelido(q, k, v)


def through_helper(q, k, v):
    return by_attribute(q, k, v)


def through_the_c_binding(q, k, v):
    return torch._C._nn.scaled_dot_product_attention(q, k, v)


def swallowing(q, k, v):
    try:
        return F.scaled_dot_product_attention(q, k, v)
    except Exception:
        return honest(q, k, v)


def swallowing_a_name_built_at_run_time(q, k, v):
    """Nem o código-fonte nem os globais nomeiam a função: só a troca durante a chamada a pega,
    e a resposta captura o ForbiddenCall da troca."""
    name = "scaled_dot_product" + "_attention"
    try:
        return getattr(F, name)(q, k, v)
    except Exception:
        return honest(q, k, v)


def test_honest_answer_runs_and_the_builtin_is_restored():
    q, k, v = _qkv()
    original = F.scaled_dot_product_attention
    with forbidden(honest, [SDPA]):
        got = honest(q, k, v)
    assert F.scaled_dot_product_attention is original
    assert torch.allclose(got, F.scaled_dot_product_attention(q, k, v), atol=1e-6)


@pytest.mark.parametrize("answer", [by_attribute, by_alias, through_helper,
                                    through_the_c_binding, swallowing],
                         ids=lambda f: f.__name__)
def test_every_way_of_calling_the_builtin_is_caught(answer):
    q, k, v = _qkv()
    with (pytest.raises(ForbiddenCall, match=r"scaled_dot_product_attention.*não vale") as info,
          forbidden(answer, [SDPA])):
        answer(q, k, v)
    assert "escrita por você" in str(info.value)
    assert F.scaled_dot_product_attention(q, k, v).shape == (2, 3, 4)  # restaurada


def test_methods_can_be_forbidden_too():
    def uses_autograd(x):
        y = (x**2).sum()
        y.backward()
        return x.grad

    x = torch.ones(3, requires_grad=True)
    with pytest.raises(ForbiddenCall, match="backward"), forbidden(uses_autograd, [BACKWARD]):
        uses_autograd(x)
    (x**2).sum().backward()  # restaurado
    assert torch.equal(x.grad, 2 * torch.ones(3))


def test_an_inherited_method_is_restored_to_the_base_class():
    """``torch.Tensor.corrcoef`` mora em ``TensorBase``: depois do bloco, ``torch.Tensor`` não
    fica com uma cópia própria (o avaliador confere que nenhuma classe ganhou métodos)."""
    rule = Rule("torch.Tensor.corrcoef", "—")
    assert "corrcoef" not in vars(torch.Tensor)
    with forbidden(honest, [rule]):
        assert "corrcoef" in vars(torch.Tensor)
    assert "corrcoef" not in vars(torch.Tensor)
    assert torch.Tensor.corrcoef is torch._C.TensorBase.corrcoef


def test_a_rule_for_something_missing_is_ignored():
    rule = Rule("torch.nao_existe", "—")
    with forbidden(honest, [rule]):
        honest(*_qkv())


def test_expect_close_gives_the_hint_of_a_typical_mistake():
    expected = torch.tensor([1.0, 2.0])
    expect_close(expected + 1e-6, expected, "ok")
    with pytest.raises(AssertionError, match=r"caso “c”.*Dica: esqueceu o 2\?"):
        expect_close(expected / 2, expected, "c", hints={"esqueceu o 2?": expected / 2})
    with pytest.raises(AssertionError, match="forma"):
        expect_close(torch.zeros(3), expected, "forma errada")
    with pytest.raises(AssertionError, match="devolveu 3, mas o valor correto é 2"):
        expect_close(3.0, 2.0, "número")


def test_the_same_name_in_two_modules_is_reported_once():
    twin = Rule("residuais.transformer.scaled_dot_product_attention", "a do curso também não.")
    with pytest.raises(ForbiddenCall) as info, forbidden(by_attribute, [SDPA, twin]):
        by_attribute(*_qkv())
    assert str(info.value).count("`scaled_dot_product_attention`") == 1
    assert "que não vale neste exercício" in str(info.value)


def test_source_is_analysed_once_per_code_object_and_a_redefinition_is_analysed_again(
        monkeypatch):
    """Ler e analisar a fonte custa ~1 ms; uma verificação chama a resposta até 1.600 vezes.
    O cache é por objeto de código: redefinir a função (outro código, mesmo nome) não esconde
    um atalho novo."""
    analysed = []
    real = reading._source_chains
    monkeypatch.setattr(reading, "_CHAINS_BY_CODE", {})
    monkeypatch.setattr(reading, "_source_chains", lambda fn: analysed.append(fn) or real(fn))
    q, k, v = _qkv()
    for _ in range(3):
        with forbidden(honest, [SDPA]):
            honest(q, k, v)
    assert analysed == [honest]
    redefined = _redefined_honest()
    with pytest.raises(ForbiddenCall, match="scaled_dot_product_attention"), \
            forbidden(redefined, [SDPA]):
        redefined(q, k, v)
    assert analysed == [honest, redefined]


def _redefined_honest():
    def honest(q, k, v):  # o mesmo nome, agora pela ligação em C
        return torch._C._nn.scaled_dot_product_attention(q, k, v)

    return honest


def test_a_caught_forbidden_call_still_fails_when_the_block_ends():
    q, k, v = _qkv()
    answer = swallowing_a_name_built_at_run_time
    with (pytest.raises(ForbiddenCall, match=r"`scaled_dot_product_attention`.*escrita por você"),
          forbidden(answer, [SDPA])):
        got = answer(q, k, v)
        torch.testing.assert_close(got, honest(q, k, v))  # a resposta seguiu como se nada fosse
    assert F.scaled_dot_product_attention(q, k, v).shape == (2, 3, 4)  # restaurada


def test_a_course_function_is_written_once_and_replaced_on_both_import_paths():
    """Uma regra por objeto do curso: ``residuais.models.Bottleneck`` também troca
    ``residuais.models.resnet.Bottleneck`` (quem a importa pelo módulo que a define), e
    vice-versa; a mensagem nomeia a regra escrita."""
    import importlib

    import residuais.models

    home = importlib.import_module("residuais.models.resnet")  # o atributo resnet é a função
    original = residuais.models.Bottleneck
    for written in ("residuais.models.Bottleneck", "residuais.models.resnet.Bottleneck"):
        rule = Rule(written, "o exercício pede a contagem por uma fórmula.")
        places = {(owner.__name__, name) for owner, name, _ in rule.bindings()}
        assert places == {("residuais.models", "Bottleneck"),
                          ("residuais.models.resnet", "Bottleneck")}
        by_home = _module_attribute("residuais.models.resnet", "Bott" + "leneck")
        with pytest.raises(ForbiddenCall, match=f"`Bottleneck` \\({written}\\)"), \
                forbidden(by_home, [rule]):
            by_home(8, 2)
        assert home.Bottleneck is original is residuais.models.Bottleneck
    assert Rule("torch.nn.Conv2d", "—").bindings()[0][1] == "Conv2d"  # fora do curso: um lugar


def _module_attribute(module: str, name: str):
    """Uma resposta que chega à classe só em tempo de execução (nada para a leitura pegar)."""
    import importlib

    def answer(*args):
        return getattr(importlib.import_module(module), name)(*args)

    return answer


def test_call_lets_a_forbidden_call_through_instead_of_explaining_it_as_an_error():
    """``call`` explica os erros da resposta como AssertionError; o ForbiddenCall de uma
    função trocada tem de chegar como ForbiddenCall (a nota zero da questão depende dele)."""
    def by_name_built_at_run_time(q, k, v):
        return getattr(F, "scaled_dot_product" + "_attention")(q, k, v)

    with pytest.raises(ForbiddenCall, match="não vale"), \
            forbidden(by_name_built_at_run_time, [SDPA]):
        core.call(by_name_built_at_run_time, "caso", *_qkv())
    with pytest.raises(AssertionError, match=r"levantou ZeroDivisionError no caso “c”"):
        core.call(lambda: 1 / 0, "c")


def test_a_function_that_returns_nothing_hears_it_is_missing_a_return():
    """Revisão S7.3: “esperava um número, mas recebeu NoneType” vira a causa provável — no
    call(), onde se sabe que foi a função inteira que não devolveu nada (um None dentro de uma
    tupla devolvida continua sendo “recebeu NoneType”)."""
    from residuais.checks.core import as_float, call

    def no_return(x):
        x + 1

    with pytest.raises(AssertionError, match=r"não devolveu nada \(falta `return`\?\)"):
        call(no_return, "caso 1", 1)
    with pytest.raises(AssertionError, match="recebeu NoneType"):
        as_float(None, "caso 1")
