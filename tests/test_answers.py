"""A separação das respostas pela AST e a inspeção do que elas usam (``answers``)."""

import ast
import subprocess
import sys

import pytest

from coursetools.coursework.answers import answers, inspect_code
from coursetools.coursework.manifest import Chapter, Question


def _findings(code: str) -> list[str]:
    return inspect_code(ast.parse(code).body)


@pytest.mark.parametrize("code", [
    "import os",
    "from inspect import currentframe",
    "import residuais.checks.sequential as c",
    "from ocultos.sequential import reference_autocorrelation",
    "def f(x):\n    return open('/proc/1/environ').read()",
    "def f(x):\n    return x.__class__.__subclasses__()",
    "torch.allclose = lambda *a, **k: True",
    "def f(x):\n    torch.testing.assert_close = print\n    return x",
    "del torch.isclose",
    "def f(x):\n    return getattr(torch, 'load')(x)",
    "y = torch.load('pesos.pt')",
])
def test_what_an_answer_must_not_use_is_found(code):
    assert _findings(code), code


@pytest.mark.parametrize("code", [
    "import torch\nimport torch.nn.functional as F\nfrom torch import nn\nimport math",
    "class Block(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.linear = nn.Linear(2, 2)\n    def forward(self, x):\n"
    "        return x + self.linear(x)",
    "from residuais.models import PlainMLP",
    "import copy\n\ndef fold(conv, bn):\n    folded = copy.deepcopy(conv)\n"
    "    folded.weight.data = conv.weight * 2\n    return folded",
    "def f(g, lag):\n    c = g - g.mean()\n"
    "    return float((c[:-lag] * c[lag:]).sum() / (c * c).sum())",
])
def test_ordinary_answers_pass_the_inspection(code):
    assert _findings(code) == []


def _code(source: str) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": []}


def test_only_what_the_answer_needs_is_loaded_in_notebook_order():
    chapter = Chapter("c", "C", "", "", "", [Question("q1", 2, ["f"], ["def f(x):\n    ..."]),
                                            Question("q2", 2, ["g"], ["def g(x):\n    ..."])])
    cells = [_code("import torch\nimport sklearn"), _code("data = treina_por_uma_hora()"),
             _code("def helper(x):\n    return torch.relu(x)"),
             _code("def f(x):\n    return helper(x)"), _code('grader.check("q1")'),
             _code("import os\n\ndef g(x):\n    return os.getcwd()"), _code('grader.check("q2")')]
    found = answers({"cells": cells}, chapter, distributed=[])
    q1 = found["q1"]
    assert q1.source.split("\n\n") == ["import torch", "def helper(x):\n    return torch.relu(x)",
                                       "def f(x):\n    return helper(x)\n"]
    assert q1.findings == [] and q1.modules == ["torch"] and q1.fingerprint
    assert "sklearn" not in q1.source and "treina" not in q1.source
    assert found["q2"].findings == ["importa `os`"]


def test_an_alias_imported_in_another_cell_is_followed():
    """``from torch import serialization`` numa célula e ``serialization.os`` na resposta: a
    cadeia chega ao ``os`` do mesmo jeito (a importação de outra célula entra no código do
    avaliador)."""
    chapter = Chapter("c", "C", "", "", "", [Question("q1", 2, ["f"], ["def f(x):\n    ..."])])
    cells = [_code("from torch import serialization"),
             _code("def f(x):\n    serialization.os.write(1, b'')\n    return x"),
             _code('grader.check("q1")')]
    found = answers({"cells": cells}, chapter, distributed=[])["q1"]
    assert "from torch import serialization" in found.source
    assert "chega ao módulo `os` por `serialization.os`" in found.findings


def test_reaching_the_checks_is_flagged_even_before_they_are_imported():
    """``residuais.checks.core`` por atributos: a inspeção não pode depender de o corretor já
    ter importado ``residuais.checks`` (antes, só nesse caso o atributo existia e a cadeia era
    reconhecida). Num processo novo, em que ele não foi importado."""
    code = ("import sys, ast\n"
            "from coursetools.coursework.answers import inspect_code\n"
            "answer = 'import residuais\\ncore = residuais.checks.core\\n'\n"
            "found = inspect_code(ast.parse(answer).body)\n"
            "print('residuais.checks' in sys.modules, bool(found))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
