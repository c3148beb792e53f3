"""A diretiva das perguntas de autoavaliação (_ext/autoavaliacao.py) num livro mínimo do Sphinx
com o MyST: o HTML que ela gera e os erros de autoria, em português. O comportamento na página
(conferir pelo teclado, sem JavaScript) é testado em tests/test_browser.py."""

from __future__ import annotations

import io

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT

CONF = f"""
import sys
sys.path.insert(0, {str(ROOT / "_ext")!r})
extensions = ["myst_parser", "autoavaliacao"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
"""

CHOICE = """
::::{autoavaliacao}
:label: aa-3-soma
Se a soma é dividida por $\\sqrt{2}$, o que acontece com a variância?

:::{opcao} Dobra a cada bloco.
Isso vale **sem** a divisão.
:::

:::{opcao} Fica igual.
:correta:
Cada bloco multiplica por $(1+1)/2 = 1$.
:::
::::
"""

NUMBER = """
::::{autoavaliacao}
:label: aa-2-caminhos
:resposta: 4096
:tolerancia: 0,5
Quantos caminhos?

:::{explicacao}
São $2^{12} = 4096$.
:::

:::{erro-comum} 24
Vinte e quatro conta as escolhas, que se multiplicam.
:::
::::
"""


def _build(tmp_path, body: str) -> tuple[BeautifulSoup, str]:
    from sphinx.application import Sphinx

    (tmp_path / "conf.py").write_text(CONF, encoding="utf-8")
    (tmp_path / "index.md").write_text(f"# Página\n\n{body}\n", encoding="utf-8")
    warnings = io.StringIO()
    app = Sphinx(str(tmp_path), str(tmp_path), str(tmp_path / "_build"),
                 str(tmp_path / "_doctrees"), "html", status=io.StringIO(), warning=warnings,
                 freshenv=True)
    app.build()
    html = (tmp_path / "_build" / "index.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser"), warnings.getvalue()


def test_a_choice_question_is_a_native_form_with_the_key_collapsed(tmp_path):
    soup, warnings = _build(tmp_path, CHOICE + "\nTexto.\n" + NUMBER)
    assert "ERROR" not in warnings and "WARNING" not in warnings, warnings
    first, second = soup.select("section.autoavaliacao")
    assert first["id"] == "aa-3-soma" and first["data-tipo"] == "escolha"
    assert [t.get_text() for t in soup.select(".aa-titulo")] == ["Autoavaliação 1",
                                                                  "Autoavaliação 2"]
    radios = first.select("input[type=radio]")
    assert [r["value"] for r in radios] == ["a", "b"]
    assert all(first.select_one(f'label[for="{r["id"]}"]') for r in radios)
    assert first.select_one("fieldset")["aria-labelledby"] == "aa-3-soma-enunciado"
    assert "divisão" not in first.select_one("form").get_text()  # a explicação não fica à vista
    key = first.select("details.aa-resposta .aa-explicacao")
    assert [k["data-correta"] for k in key] == ["nao", "sim"]
    assert "sem a divisão" in key[0].get_text() and key[1].select(".math")
    assert first.select_one(".aa-retorno")["role"] == "status"
    # a numérica: resposta com vírgula, campo com rótulo, erro comum com o seu valor
    assert second["data-tipo"] == "numero" and float(second["data-resposta"]) == 4096
    assert float(second["data-tolerancia"]) == 0.5
    field = second.select_one("input.aa-valor")
    assert second.select_one(f'label[for="{field["id"]}"]').get_text() == "Sua resposta:"
    mistake = second.select_one('[data-papel="erro-comum"]')
    assert float(mistake["data-valor"]) == 24 and "multiplicam" in mistake.get_text()
    assert "Resposta: 4096 (aceita-se ± 0,5)" in second.select_one("details").get_text()


@pytest.mark.parametrize("body, message", [
    (CHOICE.replace(":label: aa-3-soma", ":label: Soma"), "aa-<capítulo>-<assunto>"),
    (CHOICE.replace(":correta:\n", ""), "exatamente uma com :correta:"),
    (CHOICE.replace("Isso vale **sem** a divisão.\n", ""), "precisa de uma explicação"),
    (CHOICE.replace("Se a soma é dividida por $\\sqrt{2}$, o que acontece com a variância?\n",
                    ""), "falta o enunciado"),
    (NUMBER.replace(":::{explicacao}\nSão $2^{12} = 4096$.\n:::\n", ""),
     "precisa de uma {explicacao}"),
    (NUMBER.replace(":resposta: 4096", ":resposta: muitos"), "esperava um número"),
    (NUMBER.replace("{erro-comum} 24", "{erro-comum}"), "precisa do valor errado"),
])
def test_authoring_mistakes_are_reported_in_portuguese(tmp_path, body, message):
    _, warnings = _build(tmp_path, body)
    assert message in warnings, warnings
