"""As perguntas de autoavaliação reescritas para o Jupyter (coursetools.quiz_notebook): o
repositório dos estudantes não mostra a diretiva crua nem a marca da opção certa."""

import json

from test_autoavaliacao import CHOICE, NUMBER

from coursetools import quiz_notebook


def _notebook(*sources: str) -> bytes:
    cells = [{"cell_type": "markdown", "id": f"c{i}", "metadata": {}, "source": s}
             for i, s in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                       "nbformat_minor": 5}).encode()


def test_choice_and_number_questions_become_plain_markdown_with_a_collapsed_key():
    data = quiz_notebook.rewrite_file(_notebook("# Título\n\nTexto.", CHOICE, NUMBER),
                                          "03_variancia.ipynb")
    first, second, third = (c["source"].strip() for c in json.loads(data)["cells"])
    assert first == "# Título\n\nTexto."
    assert second.startswith("**Autoavaliação 3.1.** Se a soma é dividida por $\\sqrt{2}$")
    assert "- **(a)** Dobra a cada bloco." in second and "- **(b)** Fica igual." in second
    visible, key = second.split("<details><summary>Resposta comentada</summary>")
    assert ":correta:" not in second and "{opcao}" not in second and "certa" not in visible
    assert "**(a) errada.** Isso vale **sem** a divisão." in key
    assert "**(b) certa.** Cada bloco multiplica por $(1+1)/2 = 1$." in key
    assert key.rstrip().endswith("</details>")
    assert third.startswith("**Autoavaliação 3.2.** Quantos caminhos?")
    _, key = third.split("<details>")
    assert "**Resposta: 4096 (aceita-se ± 0,5).** São $2^{12} = 4096$." in key
    assert "**Se você respondeu 24:** Vinte e quatro conta as escolhas" in key


def test_a_notebook_without_questions_is_returned_byte_for_byte():
    data = _notebook("Só texto, sem perguntas.")
    assert quiz_notebook.rewrite_file(data, "01_x.ipynb") is data


def test_a_markdown_page_is_rewritten_as_text_and_other_files_are_left_alone():
    page = f"# Síntese\n\nTexto.\n{CHOICE}".encode()
    text = quiz_notebook.rewrite_file(page, "por_que_funcionam.md").decode()
    assert text.startswith("# Síntese\n\nTexto.\n") and "**Autoavaliação 1.**" in text
    assert "{autoavaliacao}" not in text and "<details>" in text
    script = b"# {autoavaliacao} num comentario\n"
    assert quiz_notebook.rewrite_file(script, "gerar.py") is script
