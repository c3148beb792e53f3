"""Extensão local do Sphinx: uma correção para o site não ter erros no console do navegador.

O Sphinx 7.4 repete os scripts *inline* (sem arquivo) que uma extensão registra depois de o
construtor HTML começar: a cópia registrada com nome ``None`` não é reconhecida como igual à
cópia com nome ``''``. O sphinx-thebe registra assim ``const THEBE_JS_URL = ...``, e a segunda
declaração vira ``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`` em todas
as páginas. Aqui cada script aparece uma vez só.

``tests/test_browser.py`` confere que nenhuma página tem erros no console.
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


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _unique_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
