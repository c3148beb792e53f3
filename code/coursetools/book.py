"""A estrutura do livro: a pasta raiz (a que tem o ``_toc.yml``) e os documentos na ordem do
sumário, lidos com o próprio analisador do ``sphinx-external-toc`` (o que o Jupyter Book usa).
Usado pela liberação dos trabalhos, pelo cronômetro dos capítulos, pela construção do site e
pelos testes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import yaml
from sphinx_external_toc.api import SiteMap
from sphinx_external_toc.parsing import MalformedError, parse_toc_yaml

TOC = "_toc.yml"
SUFFIXES = (".ipynb", ".md")  # os formatos de documento do livro


def find_root(start: Path | None = None) -> Path:
    """A raiz do livro: a primeira pasta, subindo a partir de ``start``, que tem ``_toc.yml``.

    Se nenhuma tiver (por exemplo, ao rodar de outra pasta), tenta a do repositório onde está
    este pacote (``code/coursetools`` dentro do repositório).
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / TOC).exists():
            return folder
    repository = Path(__file__).resolve().parents[2]
    if (repository / TOC).exists():
        return repository
    raise FileNotFoundError(f"Não achei o {TOC} a partir de {start}.")


def toc_files(root: Path) -> list[str]:
    """Os documentos do ``_toc.yml`` (sem extensão, relativos à raiz), começando pela página
    inicial, na ordem do livro (cada documento seguido das suas seções).

    Levanta ``ValueError`` se o ``_toc.yml`` não estiver no formato do Jupyter Book.
    """
    try:
        site = parse_toc_yaml(Path(root) / TOC)
    except (MalformedError, yaml.YAMLError) as exc:
        raise ValueError(f"O {TOC} de {root} não está no formato do Jupyter Book: {exc}") from exc
    return [_without_suffix(name) for name in _in_order(site, site.root.docname)]


def _in_order(site: SiteMap, docname: str) -> Iterator[str]:
    """O documento e, depois dele, os seus filhos, em profundidade (a ordem de leitura)."""
    yield docname
    for child in site[docname].child_files():
        yield from _in_order(site, child)


def _without_suffix(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def chapter_notebooks(root: Path) -> list[Path]:
    """Os notebooks do ``_toc.yml``, na ordem do livro.

    Levanta ``FileNotFoundError`` se algum documento listado não existe (nem ``.ipynb`` nem
    ``.md``): um capítulo que falta não pode passar em silêncio.
    """
    notebooks, missing = [], []
    for name in toc_files(root):
        notebook, markdown = root / f"{name}.ipynb", root / f"{name}.md"
        if notebook.exists():
            notebooks.append(notebook)
        elif not markdown.exists():
            missing.append(name)
    if missing:
        raise FileNotFoundError(
            f"O {TOC} lista documentos que não existem: "
            + ", ".join(f"{name} (.ipynb ou .md)" for name in missing) + "."
        )
    return notebooks
