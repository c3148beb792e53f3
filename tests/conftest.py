"""Peças comuns dos testes: a raiz do repositório, os capítulos do _toc.yml e o site construído."""

import subprocess
import sys
from pathlib import Path

import pytest

from residuais import book

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def toc_files() -> list[str]:
    """Os documentos do _toc.yml, na ordem (sem extensão), começando pela raiz."""
    return book.toc_files(ROOT)


def chapter_notebooks() -> list[Path]:
    """Os capítulos (notebooks) listados no _toc.yml."""
    return book.chapter_notebooks(ROOT)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> tuple[Path, str]:
    """Constrói o site numa pasta temporária, com avisos tratados como erros."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", str(out),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"A construção do site falhou:\n{log[-5000:]}"
    return out / "_build" / "html", log
