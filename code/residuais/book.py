"""A estrutura do livro: a pasta raiz (a que tem o ``_toc.yml``) e os documentos na ordem do
sumário. Usado pela liberação dos trabalhos, pelo cronômetro dos capítulos e pelos testes."""

from __future__ import annotations

from pathlib import Path

import yaml


def find_root(start: Path | None = None) -> Path:
    """A raiz do livro: a primeira pasta, subindo a partir de ``start``, que tem ``_toc.yml``.

    Se nenhuma tiver (por exemplo, ao rodar de outra pasta), tenta a do próprio pacote, que fica
    em ``code/residuais`` dentro do repositório.
    """
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").exists():
            return folder
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "_toc.yml").exists():
        return package_root
    raise FileNotFoundError(f"Não achei o _toc.yml a partir de {start}.")


def toc_files(root: Path) -> list[str]:
    """Os documentos do ``_toc.yml`` (sem extensão, relativos à raiz), começando pela página
    inicial, na ordem do livro."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    files += [entry["file"] for entry in toc.get("chapters", [])]
    return files


def chapter_notebooks(root: Path) -> list[Path]:
    """Os notebooks do ``_toc.yml``, na ordem do livro.

    Levanta ``FileNotFoundError`` se algum documento listado não existe (nem ``.ipynb`` nem
    ``.md``): um capítulo que falta não pode passar em silêncio.
    """
    notebooks, missing = [], []
    for name in toc_files(root):
        stem = root / name
        if stem.with_suffix(".ipynb").exists():
            notebooks.append(stem.with_suffix(".ipynb"))
        elif not stem.with_suffix(".md").exists():
            missing.append(name)
    if missing:
        raise FileNotFoundError(
            "O _toc.yml lista documentos que não existem: "
            + ", ".join(f"{name} (.ipynb ou .md)" for name in missing) + "."
        )
    return notebooks
