"""Os diagramas do livro (``book/diagramas/*.dot``, pela diretiva ``graphviz``) como imagens
acessíveis, a partir do SVG guardado ao lado de cada ``.dot`` (``python -m coursetools.diagrams``
o desenha): a construção do site não precisa do Graphviz. Sem o SVG, o diagrama é desenhado na
hora, como no ``sphinx.ext.graphviz``.

O ``sphinx.ext.graphviz`` põe o SVG numa ``<object>`` e o texto alternativo num parágrafo de
reserva que um leitor de tela não lê quando a imagem carrega. Aqui o mesmo SVG (nítido em qualquer
tela) vira uma ``<img>`` com ``alt``, como as figuras dos capítulos. Os diagramas não têm links,
então nada se perde com a troca. Um diagrama sem ``:alt:`` é um aviso (e a construção estrita
falha).
"""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.ext import graphviz
from sphinx.util import logging
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)


def _visit_graphviz(self: HTML5Translator, node: graphviz.graphviz) -> None:
    alt = node.get("alt", "").strip()
    if not alt:
        logger.warning("diagrama sem texto alternativo (:alt:): %s", node.get("filename"),
                       location=node)
    try:
        fname = _stored_svg(self, node.get("filename")) or graphviz.render_dot(
            self, node["code"], node["options"], "svg", filename=node.get("filename"))[0]
    except graphviz.GraphvizError as exc:
        logger.warning("o diagrama %s não foi desenhado: %s", node.get("filename"), exc,
                       location=node)
        raise nodes.SkipNode from exc
    self.body.append(f'<div class="graphviz"><img src="{fname}" alt="{self.attval(alt)}" '
                     'class="graphviz diagrama" /></div>\n')
    raise nodes.SkipNode


def _stored_svg(self: HTML5Translator, filename: str | None) -> str | None:
    """O SVG guardado ao lado do ``.dot``, copiado para as imagens do site; ``None`` se não há."""
    if not filename:
        return None
    svg = (Path(self.builder.srcdir) / filename).with_suffix(".svg")
    if not svg.is_file():
        return None
    target = Path(self.builder.outdir) / self.builder.imagedir / svg.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(svg, target)
    return posixpath.join(self.builder.imgpath, svg.name)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.graphviz")
    app.add_node(graphviz.graphviz, override=True, html=(_visit_graphviz, None))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
