"""A revisão do professor (``coursetools.coursework.review``): a resposta que menciona uma
função proibida é apontada, por qualquer caminho que a leve até ela, e a nota não muda; o
código comum não é apontado."""

import pytest

from coursetools.coursework import review
from coursetools.coursework.manifest import Chapter, Question

RULES = {"q1": {"torch.nn.functional.scaled_dot_product_attention": "escreva a atenção",
                "torch.nn.MultiheadAttention": "escreva a atenção"}}
SETUP = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
CHAPTER = Chapter("cap", "Capítulo", "e.ipynb", "c.zip", "s.ipynb",
                  [Question("q1", 2, ["attention"], ["def attention(q, k, v):\n    ..."])])


def _notebook(*cells: str) -> dict:
    return {"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": []}
                      for c in cells]}


@pytest.mark.parametrize("answer", [
    # direto, com o apelido convencional
    "def attention(q, k, v):\n    return F.scaled_dot_product_attention(q, k, v)",
    # um valor padrão de argumento ligado à função proibida (escapava do forbidden antigo)
    "_a = F.scaled_dot_product_attention\ndef attention(q, k, v, _f=_a):\n    return _f(q, k, v)",
    # importada com outro nome, noutra célula
    "from torch.nn.functional import scaled_dot_product_attention as s\n"
    "def attention(q, k, v):\n    return s(q, k, v)",
    # pelo nome num texto (getattr)
    "def attention(q, k, v):\n    return getattr(F, 'scaled_dot_product_attention')(q, k, v)",
    # por uma função auxiliar do estudante
    "def helper(q, k, v):\n    m = nn.MultiheadAttention(4, 1)\n    return m(q, k, v)[0]\n"
    "def attention(q, k, v):\n    return helper(q, k, v)",
])
def test_every_path_to_a_forbidden_function_is_flagged(answer):
    flags = review.flags(_notebook(SETUP, answer), CHAPTER, RULES)
    assert list(flags) == ["q1"] and flags["q1"]


def test_honest_code_and_unrelated_cells_are_not_flagged():
    honest = ("def attention(q, k, v):\n    x = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5\n"
              "    return x.softmax(-1) @ v")
    # uma célula de rascunho que compara com a função pronta não é a resposta, e o ``x`` local
    # da resposta não é o ``x`` da célula do rascunho
    scratch = "t = torch.randn(2, 3)\nx = F.scaled_dot_product_attention(t, t, t)\nprint(x)"
    assert review.flags(_notebook(SETUP, honest, scratch), CHAPTER, RULES) == {}


def test_fingerprints_ignore_comments_and_the_distributed_cells():
    a = "def attention(q, k, v):\n    return q  # rascunho\n"
    b = "def attention(q, k, v):\n\n    return q\n"
    first = review.fingerprints(_notebook(SETUP, a), CHAPTER, [SETUP])
    second = review.fingerprints(_notebook(SETUP, b), CHAPTER, [SETUP])
    assert first == second and first["q1"]
    untouched = review.fingerprints(_notebook(SETUP, CHAPTER.questions[0].answers[0]), CHAPTER,
                                    [SETUP, CHAPTER.questions[0].answers[0]])
    assert untouched == {"q1": ""}
