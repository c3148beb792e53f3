"""O notebook do estudante: o que a liberação do otter gera, acertado para o curso.

A partir do notebook do estudante do ``otter assign`` (soluções trocadas por ``...``, testes
ocultos fora, testes públicos nos metadados):

- a primeira célula instala o pacote do curso quando ele falta (Colab, Binder), a partir do
  repositório dos estudantes na etiqueta da versão, sem trocar o PyTorch que o serviço já tem;
- a célula do otter passa a usar ``residuais.checks.display.Notebook``, que mostra o resultado de
  cada verificação numa frase em português;
- para o site, as saídas das células que não mudaram são copiadas do notebook do professor.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from coursetools.coursework import notebooks

SETUP_TAG = "preparacao"
# a variável de ambiente que troca a origem do pacote (um caminho local, nos testes sem rede)
SOURCE_VARIABLE = "RESIDUAIS_FONTE"

SETUP_CELL = '''\
# Preparação: no Colab, no Binder ou em outro Jupyter sem o pacote do curso, instala o pacote
# `residuais` (e o otter-grader, das verificações). No ambiente do curso (`make lab`), não faz nada.
# O PyTorch que já estiver instalado é mantido.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("residuais") is None or importlib.util.find_spec("otter") is None:
    fonte = os.environ.get("{variable}", "{source}")
    print(f"Instalando o pacote do curso de {{fonte}} ...")
    comando = [sys.executable, "-m", "pip", "install", "--quiet", "--retries", "1",
               "--timeout", "20", f"residuais[checks] @ {{fonte}}"]
    saida = subprocess.run(comando, capture_output=True, text=True)
    if saida.returncode != 0:
        texto = saida.stdout + saida.stderr
        motivos = [  # (o que o pip ou o git escrevem, o que fazer)
            (["Cannot find command 'git'"], "o git não está instalado. Instale-o e execute esta "
             "célula de novo (no Windows, prefira o Colab ou o WSL)."),
            (["did not match any", "Remote branch", "couldn't find remote ref"],
             "a versão pedida (a etiqueta depois do @) não existe no repositório. Avise o "
             "professor: falta criar a etiqueta da versão do curso."),
            (["Repository not found", "repository '", "does not appear to be a git repository",
              "Authentication failed", "could not read Username"],
             "o repositório não foi encontrado (endereço errado, ou repositório privado). Avise "
             "o professor."),
            (["Could not resolve host", "Temporary failure in name resolution",
              "Failed to establish", "Network is unreachable", "Connection refused",
              "timed out"], "sem conexão com a internet. Conecte-se e execute esta célula de "
             "novo, ou rode o capítulo no ambiente do curso (git clone e make lab)."),
        ]
        motivo = next((o_que for sinais, o_que in motivos if any(s in texto for s in sinais)),
                      "o pip falhou; as últimas linhas da saída dele estão abaixo.")
        ultimas = "\\n".join(texto.strip().splitlines()[-6:])
        raise RuntimeError(f"Não consegui instalar o pacote do curso (residuais): {{motivo}}"
                           f"\\n{{ultimas}}")
    importlib.invalidate_caches()
'''

CHECKER_CELL = '''\
# Verificações automáticas dos exercícios (otter-grader), com o resultado em português
from residuais.checks.display import Notebook

grader = Notebook("{notebook}")
'''

OTTER_INIT_CELL = re.compile(r"^# Initialize Otter\s*\nimport otter\s*\ngrader = otter\.Notebook")


def package_source(root: Path, version: str) -> str:
    """De onde a célula de preparação instala o pacote: o repositório dos estudantes (a chave
    ``repository.url`` do ``_config.yml``) na etiqueta ``v<versão>``."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = (config.get("repository") or {}).get("url")
    if not url:
        raise ValueError("O _config.yml não diz o repositório dos estudantes (repository: url:).")
    return f"git+{url.rstrip('/')}.git@v{version}"


def _code_cell(source: str, cell_id: str, tags: list[str]) -> dict[str, Any]:
    return {"cell_type": "code", "id": cell_id, "metadata": {"tags": tags},
            "execution_count": None, "outputs": [], "source": source}


def adapt(student: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    """O notebook do estudante do otter com a célula de preparação e as mensagens em português."""
    student = copy.deepcopy(student)
    cells = student["cells"]
    for cell in cells:
        if OTTER_INIT_CELL.match(notebooks.source(cell)):
            cell["source"] = CHECKER_CELL.format(notebook=f"{name}.ipynb")
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            tags.append("remove-cell")  # no notebook baixado, sim; na página e no PDF, não
            break
    else:
        raise ValueError(f"{name}: o notebook do estudante não tem a célula do otter.")
    setup = SETUP_CELL.format(variable=SOURCE_VARIABLE, source=source)
    # a preparação roda no notebook (Colab, Binder), mas não aparece na página nem no PDF: o
    # capítulo abre com o título
    cells.insert(0, _code_cell(setup, "preparacao", [SETUP_TAG, "remove-cell"]))
    return student


def with_outputs(student: dict[str, Any], master: dict[str, Any],
                 solutions: bool = False) -> dict[str, Any]:
    """O notebook do estudante com as saídas do notebook do professor nas células que são iguais
    nos dois (as respostas em branco ficam sem saída). Com ``solutions``, as células de resposta
    recebem a solução de referência (sem os marcadores do otter) e a sua saída."""
    student = copy.deepcopy(student)
    by_id = {cell.get("id"): cell for cell in master["cells"]}
    for cell in student["cells"]:
        original = by_id.get(cell.get("id"))
        if original is None or cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        answer = "otter_answer_cell" in tags
        if answer and solutions:
            cell["source"] = _without_markers(notebooks.source(original))
        elif answer:  # a resposta em branco fica à vista, não num bloco recolhido
            cell["metadata"]["tags"] = [t for t in tags if t != "hide-input"]
        # a mesma célula, a menos do espaço no fim (o otter não guarda a última quebra de linha)
        if notebooks.source(cell).rstrip() == _without_markers(notebooks.source(original)).rstrip():
            cell["outputs"] = copy.deepcopy(original.get("outputs", []))
            cell["execution_count"] = original.get("execution_count")
    if solutions:  # os gabaritos das perguntas escritas, logo depois da resposta de cada uma
        keys = _answer_keys(master)
        student["cells"] = [added for cell in student["cells"]
                            for added in (cell, *keys.get(cell.get("id"), []))]
    return student


def _answer_keys(master: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """As células de markdown dentro de um bloco de solução do otter (o gabarito de uma pergunta
    escrita, que o otter tira do notebook do estudante), pelo ``id`` da célula de código que vem
    antes delas no bloco."""
    keys: dict[str, list[dict[str, Any]]] = {}
    inside, last_code = False, None
    for cell in master["cells"]:
        text = notebooks.source(cell).strip()
        if cell["cell_type"] == "raw" and text in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside, last_code = text == "# BEGIN SOLUTION", None
        elif inside and cell["cell_type"] == "code":
            last_code = cell.get("id")
        elif inside and cell["cell_type"] == "markdown" and last_code is not None:
            keys.setdefault(last_code, []).append(copy.deepcopy(cell))
    return keys


def _without_markers(source: str) -> str:
    """O código sem as linhas ``# BEGIN SOLUTION`` / ``# END SOLUTION`` do otter."""
    return "".join(line for line in source.splitlines(keepends=True)
                   if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))
