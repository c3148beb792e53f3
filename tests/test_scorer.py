"""O avaliador (``scorer.py``) contra respostas que atacam a própria correção.

Aqui o avaliador roda fora da caixa de areia (a caixa tem os seus testes em test_sandbox.py e
test_hostile.py): o que se confere é a defesa que ele mesmo tem, dentro do processo em que o
código do estudante roda — o filtro seccomp e a conferência do ambiente depois dos casos — e a
inspeção das respostas (``answers``), que nem deixa chegar a ele o que já se reconhece no código.
"""

import json
import subprocess
import sys

import pytest
from conftest import ATTACKS, ROOT, RUNTIME_ATTACKS

from coursetools.coursework import answers, graders, notebooks
from coursetools.editions import ensure_release

CHAPTER = "01_processamento_sequencial"
SCORER = ROOT / "code" / "coursetools" / "coursework" / "scorer.py"
@pytest.fixture(scope="module")
def grader(tmp_path_factory) -> graders.ChapterGrader:
    base = tmp_path_factory.mktemp("avaliador")
    release = ensure_release(ROOT, base / "liberacao", log=lambda _: 0)
    return graders.load(release, base / "trabalho").graders[CHAPTER]


def _notebook(grader: graders.ChapterGrader, q1_answer: str) -> dict:
    """O notebook distribuído com ``q1_answer`` na célula de resposta do exercício 1."""
    cells = [{"cell_type": "code", "source": code, "metadata": {}, "outputs": []}
             for code in grader.distributed]
    check = next(i for i, c in enumerate(cells) if "q1_autocorrelacao" in
                 notebooks.CHECK_CALL.findall(c["source"]))
    cells[check - 1]["source"] = q1_answer
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _score(grader: graders.ChapterGrader, q1_answer: str) -> tuple[dict, list[str]]:
    """O resultado do exercício 1 no avaliador e o que a inspeção achou na resposta."""
    found = answers.answers(_notebook(grader, q1_answer), grader.chapter, grader.distributed)
    answer = found["q1_autocorrelacao"]
    job = {"paths": [str(grader.hidden_dir)], "timeout": 60, "warm": list(grader.warm),
           "questions": [{"name": "q1_autocorrelacao", "source": answer.source,
                          "cases": [c.code for c in grader.tests["q1_autocorrelacao"]]}]}
    done = subprocess.run([sys.executable, "-I", str(SCORER)], input=json.dumps(job).encode(),
                          capture_output=True, timeout=300,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert lines[-1] == {"fim": True}, done.stderr.decode()[-2000:]
    return lines[0], answer.findings


def _passed(entry: dict) -> bool:
    return not entry.get("error") and all(c["passed"] for c in entry["cases"])


REFERENCE = '''
import torch


def autocorrelation(g, lag):
    flat = g.flatten().double()
    centered = flat - flat.mean()
    if lag == 0:
        return 1.0
    num = (centered[:-lag] * centered[lag:]).sum()
    return (num / (centered * centered).sum()).item()
'''


def test_a_correct_answer_passes_under_the_lock(grader):
    """O filtro e a conferência não atrapalham uma resposta honesta."""
    entry, findings = _score(grader, REFERENCE)
    assert findings == []
    assert _passed(entry), entry


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_the_inspection_recognises_are_flagged(grader, name):
    _, findings = _score(grader, ATTACKS[name])
    assert findings, name


@pytest.mark.parametrize("name", ["desliga_fail", *sorted(RUNTIME_ATTACKS)])
def test_no_attack_passes_in_the_scorer_even_uninspected(grader, name, monkeypatch):
    """Mesmo que a inspeção deixasse passar (aqui desligada), o avaliador não dá os pontos.
    (Escrever direto no cano com ``os.write`` o avaliador não impede: quem barra é a inspeção,
    que recusa chegar ao ``os`` por qualquer caminho.)"""
    monkeypatch.setattr(answers, "inspect_code", lambda nodes, bindings=None: [])
    entry, _ = _score(grader, (ATTACKS | RUNTIME_ATTACKS)[name])
    assert not _passed(entry), entry


def test_the_lock_refuses_to_write_files_and_run_programs(grader, tmp_path):
    target = tmp_path / "escrito.txt"
    entry, _ = _score(grader, f'''
import numpy as np
import torch
def autocorrelation(g, lag):
    np.savetxt({str(target)!r}, [1.0])
    return 0.0
''')
    assert "Permission denied" in json.dumps(entry, ensure_ascii=False), entry
    assert not target.exists()


@pytest.mark.parametrize(("code", "expected"), [
    ("import torch\nT = torch\n", "usa o módulo `torch` como valor"),
    ("from torch.serialization import os\n", "importa `os`"),
    ("from residuais import checks\n", "importa `residuais.checks`"),
    ("import torch.nn.functional as F\nx = F.torch.serialization.os\n", "chega ao módulo `os`"),
    ("import torch\nx = torch.serialization.sys.modules\n", "chega ao módulo `sys`"),
    # a raiz da cadeia é um apelido que a própria importação criou
    ("from torch import serialization\nx = serialization.os\n", "chega ao módulo `os`"),
    ("import torch.nn.functional as G\nx = G.torch.serialization.os\n", "chega ao módulo `os`"),
    ("from residuais import train\nx = train.F.torch.serialization.os\n",
     "chega ao módulo `os`"),
    ("from torch import serialization as s\nT = s\n", "usa o módulo `s` como valor"),
])
def test_the_inspection_follows_attribute_chains_and_aliases(code, expected):
    import ast
    findings = answers.inspect_code([ast.parse(code)])
    assert any(expected in f for f in findings), findings


def test_the_inspection_leaves_ordinary_answers_alone():
    import ast
    code = """
import torch
import torch.nn.functional as F
from torch import nn
def f(x, layer: nn.Linear):
    y = F.relu(layer(x)) + torch.nn.functional.gelu(x)
    z = torch.linalg.norm(y) * torch.float64.itemsize
    return torch.cat([y, x], dim=1), z, isinstance(layer, nn.Linear)
"""
    assert answers.inspect_code([ast.parse(code)]) == []


def test_a_changed_environment_is_reported_by_name(grader):
    entry, _ = _score(grader, RUNTIME_ATTACKS["remenda_tensor"])
    assert entry.get("error") == "alterou"
    assert any(name.endswith("Tensor.item") for name in entry["changed"]), entry
