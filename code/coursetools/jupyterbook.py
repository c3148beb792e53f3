"""O ``jupyter-book`` de linha de comando, sem quatro custos que não mudam o site.

    python -m coursetools.jupyterbook build PASTA [opções do jupyter-book]

Medido nesta máquina (2 núcleos); juntos, os atalhos tiram 8–9 s de uma construção do zero
de 29–32 s:

- O ``jsonschema`` (com que o Jupyter Book valida o ``_config.yml``) importa, se estiver
  instalado, o ``rfc3987_syntax``, que monta um analisador Lark na importação: 2,4 s. Ele só
  serve para validar o formato ``iri``, que o esquema do Jupyter Book não usa. O pacote vem
  no ambiente pelo ``jupyter-events`` (do JupyterLab); aqui a importação falha com
  ``ImportError``, que o ``jsonschema`` trata como "pacote ausente" (o mesmo
  ``skip_slow_import`` que a liberação e a correção usam).
- O ``pybtex`` (bibliografia) procura cada um de seus ~90 plugins nos metadados de todos os
  pacotes instalados (``importlib.metadata.entry_points``), uma varredura completa por busca:
  ~2 s com os ~250 pacotes do ambiente. A busca é a mesma a cada vez; aqui ela é memorizada.
- Cada referência numerada a uma figura (``{numref}``) relê do disco e desserializa o
  documento inteiro em que a figura está, só para achar o nó dela (numa construção medida, 38
  vezes; cada capítulo tem ~250 KB serializado). Aqui essas consultas guardam o
  documento já lido, numa cópia só delas; o documento que vai ser escrito continua vindo do
  disco. Sozinho, este atalho tirou 3–4 s (23,4–23,5 s contra 26,5–27,5 s).
- O índice da busca do site reduz cada ocorrência de cada palavra ao radical (o stemmer
  português do Snowball): 13.131 chamadas para 5.568 palavras distintas (2,8 s sob o
  cProfile). O radical de uma palavra é sempre o mesmo; aqui ele é memorizado.

O HTML gerado é idêntico, byte a byte, ao do ``jupyter-book`` sem esses atalhos (conferido com
``diff -r``); ``tests/test_book.py`` confere que os atalhos continuam valendo.
"""

from __future__ import annotations

import functools
import sys

from coursetools.coursework.common import skip_slow_import


def skip_slow_imports() -> None:
    """Os atalhos acima; chame antes de importar o Jupyter Book."""
    skip_slow_import()  # o rfc3987_syntax, como na liberação e na correção
    import pybtex.plugin

    if not hasattr(pybtex.plugin.entry_points, "cache_info"):
        pybtex.plugin.entry_points = functools.cache(pybtex.plugin.entry_points)
    from sphinx.domains.std import StandardDomain

    if not hasattr(StandardDomain._resolve_numref_xref, "doctrees"):
        StandardDomain._resolve_numref_xref = _reading_each_doctree_once(
            StandardDomain._resolve_numref_xref)
    from sphinx.search.pt import SearchPortuguese

    if not hasattr(SearchPortuguese.stem, "stems"):
        SearchPortuguese.stem = _remembered(SearchPortuguese.stem)


def _reading_each_doctree_once(resolve):
    """``resolve(self, env, ...)`` com ``env.get_doctree`` servido de uma cópia guardada (em
    ``.doctrees``), lida uma vez por documento. A cópia é só das consultas de ``resolve``, que a
    leem sem alterar; os doctrees não mudam no disco durante a escrita."""
    doctrees: dict[str, object] = {}

    @functools.wraps(resolve)
    def reading_once(self, env, *args, **kwargs):
        read = env.get_doctree

        def get_doctree(docname: str):
            if docname not in doctrees:
                doctrees[docname] = read(docname)
            return doctrees[docname]

        env.get_doctree = get_doctree  # só durante esta chamada
        try:
            return resolve(self, env, *args, **kwargs)
        finally:
            del env.get_doctree

    reading_once.doctrees = doctrees
    return reading_once


def _remembered(stem):
    """``stem(self, palavra)`` com os radicais já calculados guardados (em ``.stems``)."""
    stems: dict[str, str] = {}

    @functools.wraps(stem)
    def remembered(self, word: str) -> str:
        if word not in stems:
            stems[word] = stem(self, word)
        return stems[word]

    remembered.stems = stems
    return remembered


def main() -> int:
    skip_slow_imports()
    from jupyter_book.cli.main import main as jupyter_book

    sys.argv[0] = "jupyter-book"
    return jupyter_book()


if __name__ == "__main__":
    sys.exit(main())
