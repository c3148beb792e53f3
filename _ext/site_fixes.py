"""Extensão local do Sphinx: três correções do site.

**Console sem erros.**
O Sphinx 7.4 repete os scripts *inline* (sem arquivo) que uma extensão registra depois de o
construtor HTML começar: a cópia registrada com nome ``None`` não é reconhecida como igual à
cópia com nome ``''``. O sphinx-thebe registra assim ``const THEBE_JS_URL = ...``, e a segunda
declaração vira ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` em todas
as páginas. Aqui cada script aparece uma vez só.

``tests/test_browser.py`` confere que nenhuma página tem erros no console.

**Interface em português.** O myst-nb escreve o rótulo de acessibilidade das células recolhidas
(“Toggle hidden content”) direto no HTML, sem passar pela tradução: aqui o nó é registrado de
novo com o mesmo HTML e o rótulo em português. (Os demais textos do tema vêm de ``locale/`` e de
``_templates/``; ``tests/test_site.py`` confere que nenhum texto em inglês da interface sobra.)

**Botões de abrir o capítulo.** O texto da caixa de busca (“Pesquisar neste livro...”) é uma
opção do tema; posta em ``sphinx: config: html_theme_options`` no ``_config.yml``, ela
*substituía* as opções que o Jupyter Book gera (botões Colab e Binder, o endereço do
repositório), e os botões sumiam. Aqui o texto é acrescentado às opções geradas.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _unique_scripts(app: Sphinx, pagename: str, templatename: str, context: dict,
                    doctree: Any) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = (script.filename or "", script.priority, tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def _visit_hidden_input(self: Any, node: Any) -> None:
    """Como ``myst_nb.sphinx_.visit_HideCellInput``, com o rótulo em português."""
    from html import escape

    classes = " ".join(node["classes"])
    self.body.append(f'<details class="admonition hide {classes}">\n')
    self.body.append('<summary aria-label="Mostrar ou esconder o conteúdo recolhido">\n')
    self.body.append(f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n')
    self.body.append(f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n')
    self.body.append("</summary>\n")


def _portuguese_hidden_input(app: Sphinx) -> None:
    from myst_nb.sphinx_ import HideCodeCellNode, depart_HideCellInput

    app.add_node(HideCodeCellNode, override=True,
                 html=(_visit_hidden_input, depart_HideCellInput))


SEARCH_TEXT = "Pesquisar neste livro..."


def _portuguese_search_text(app: Sphinx, config: Any) -> None:
    config.html_theme_options = {**config.html_theme_options, "search_bar_text": SEARCH_TEXT}


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _portuguese_search_text)
    app.connect("html-page-context", _unique_scripts)
    app.connect("builder-inited", _portuguese_hidden_input)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
