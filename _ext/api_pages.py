"""Extensão local do Sphinx: a referência do pacote ``residuais``, agrupada pelo capítulo que
usa cada classe ou função.

A diretiva ``{referencia-por-capitulo}`` (em ``book/api.md``) lê, na hora da construção, as
importações ``from residuais... import ...`` de cada capítulo do sumário e escreve, para cada
capítulo, as entradas do ``autodoc`` (assinatura e docstring em português, com o link para o
código-fonte do ``viewcode``) das que ele usa pela primeira vez, e os links para as que já
apareceram. Cada entrada diz em que capítulos é usada, com links. Assim a página nunca fica
desatualizada em relação aos capítulos (``tests/test_site.py`` confere).

As docstrings escrevem as fórmulas em texto, como ``h_k = h_{k-1} + f_k[h_{k-1}]``; nesta página,
os índices e expoentes (``_k``, ``_{k-1}``, ``^O``, ``^(h)``) viram índices e expoentes de verdade
(``<sub>``, ``<sup>``), no site e no PDF; o código (``literal``) fica como está.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

SKIPPED = ("residuais.checks", "residuais.plotting", "residuais.interactive")  # verificações,
# estilo e a maquinaria das figuras interativas: não são o conteúdo


def chapter_imports(notebook: Path) -> list[str]:
    """Os nomes completos (``residuais.modulo.Nome``) que um capítulo importa, na ordem."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    found: list[str] = []
    for cell in data.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        code = "\n".join(line for line in source.splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("residuais"):
                if node.module.startswith(SKIPPED):
                    continue
                found += [f"{node.module}.{alias.name}" for alias in node.names
                          if f"{node.module}.{alias.name}" not in found]
    return found


def _kind(name: str) -> str:
    import importlib

    module, _, attribute = name.rpartition(".")
    obj = getattr(importlib.import_module(module), attribute)
    if isinstance(obj, type):
        return "autoclass"
    return "autofunction" if callable(obj) else "autodata"


class ReferenceByChapter(SphinxDirective):
    """Escreve a referência do pacote, capítulo a capítulo."""

    def run(self) -> list[nodes.Node]:
        chapters = sorted((Path(self.env.srcdir) / "book").glob("[0-9][0-9]_*.ipynb"))
        uses: dict[str, list[str]] = {}
        per_chapter = {c.stem: chapter_imports(c) for c in chapters}
        for stem, names in per_chapter.items():
            for name in names:
                uses.setdefault(name, []).append(stem)
        lines: list[str] = []
        documented: set[str] = set()
        for stem, names in per_chapter.items():
            number = int(stem[:2])
            lines += [f"## Capítulo {number}", "",
                      f"Usado em {{doc}}`{stem}`.", ""]
            again = [n for n in names if n in documented]
            for name in (n for n in names if n not in documented):
                documented.add(name)
                # o autodoc produz reStructuredText: dentro de uma página MyST, vai num eval-rst
                lines += ["```{eval-rst}", f".. {_kind(name)}:: {name}", "```", "",
                          _used_in(uses[name]), ""]
            if again:
                lines += ["Também usados aqui, descritos acima: "
                          + ", ".join(f"{{py:obj}}`{n.rsplit('.', 1)[1]} <{n}>`" for n in again)
                          + ".", ""]
        container = nodes.section()
        container.document = self.state.document
        self.state.nested_parse(StringList(lines, source="referencia-por-capitulo"),
                                self.content_offset, container, match_titles=True)
        return container.children


# uma letra (não precedida de letra, dígito, _ ou \\) seguida de índices/expoentes: _k, _{k-1},
# _{k_m}, ^O, ^(h); um índice sem chaves tem 1 ou 2 caracteres e não continua num identificador
# (x_train, lag1_autocorrelation e n_blocks ficam como estão)
_GROUP = r"\{(?:[^{}]|\{[^{}]*\})*\}|\([^()]*\)|[A-Za-z0-9ℓ]{1,2}(?![A-Za-z0-9(])"
SCRIPTS = re.compile(rf"(?<![\w\\])[A-Za-zα-ωΑ-Ωℓ](?:[_^](?:{_GROUP}))+")
MARK = re.compile(rf"([_^])({_GROUP})")


def scripted(text: str) -> list[nodes.Node]:
    """``text`` com os índices (``_``) e os expoentes (``^``) como nós ``subscript`` e
    ``superscript``."""
    result: list[nodes.Node] = []
    position = 0
    for match in SCRIPTS.finditer(text):
        result.append(nodes.Text(text[position:match.start()]))
        token = match.group(0)
        result.append(nodes.Text(token[0]))
        for mark in MARK.finditer(token, 1):
            inner = mark.group(2)
            inner = inner[1:-1] if inner.startswith("{") else inner
            node = nodes.subscript() if mark.group(1) == "_" else nodes.superscript()
            node += scripted(inner)
            result.append(node)
        position = match.end()
    result.append(nodes.Text(text[position:]))
    return [n for n in result if not (isinstance(n, nodes.Text) and not n.astext())]


def _typeset_docstrings(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Na página da referência, os índices e expoentes das docstrings viram ``<sub>``/``<sup>``."""
    if not docname.endswith("api"):
        return
    skip = (nodes.literal, nodes.literal_block, nodes.FixedTextElement, nodes.math)
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or any(isinstance(a, skip) for a in _ancestors(parent)):
            continue
        if "desc_signature" in {type(a).__name__ for a in _ancestors(parent)}:
            continue
        if not SCRIPTS.search(text.astext()):
            continue
        parent.replace(text, scripted(text.astext()))


def _ancestors(node: nodes.Node):
    while node is not None:
        yield node
        node = node.parent


def _used_in(stems: list[str]) -> str:
    """“Usado no capítulo 1.” ou “Usado nos capítulos 1, 2 e 4.”, com links."""
    links = [f"{{doc}}`{int(s[:2])} <{s}>`" for s in stems]
    if len(links) == 1:
        return f"*Usado no capítulo {links[0]}.*"
    return f"*Usado nos capítulos {', '.join(links[:-1])} e {links[-1]}.*"


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("referencia-por-capitulo", ReferenceByChapter)
    app.connect("doctree-resolved", _typeset_docstrings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
