"""Cada capítulo roda do começo ao fim com as respostas em branco, e cada verificação responde
com uma frase em português (“❌ q…: motivo”), sem pilha de erros do Python.

``CAPITULOS=01,02 pytest`` roda só esses capítulos.
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
CHOSEN = [c for c in os.environ.get("CAPITULOS", "").split(",") if c]
SELECTED = [p for p in CHAPTERS if not CHOSEN or p.name[:2] in CHOSEN]


def _text(output: dict) -> str:
    if "text" in output:
        return output["text"]
    return str(output.get("data", {}).get("text/plain", ""))


def test_ha_capitulos():
    assert len(CHAPTERS) >= 6 and SELECTED


@pytest.mark.parametrize("path", SELECTED, ids=lambda p: p.stem)
def test_capitulo_roda_com_respostas_em_branco_e_verificacoes_respondem_com_frase(path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # qualquer célula com erro faz o teste falhar, com a célula na mensagem
    checks = [c for c in notebook.cells if c.cell_type == "code" and "grader.check(" in c.source]
    assert len(checks) >= 4, "cada capítulo tem quatro exercícios com verificação"
    for cell in checks:
        text = "".join(_text(o) for o in cell.outputs).strip()
        assert text.startswith("❌ q"), f"a verificação deveria falhar com uma frase: {text!r}"
        assert len(text.splitlines()) <= 3 and "Traceback" not in text, text
