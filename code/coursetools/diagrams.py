"""Os diagramas do livro, desenhados uma vez: ``python -m coursetools.diagrams``.

Cada ``book/diagramas/<nome>.dot`` é desenhado pelo Graphviz (``dot``), com as opções do
``_config.yml`` (``graphviz_dot_args``), em ``<nome>.svg`` ao lado, e o SVG vai para o
repositório: a construção do site usa o SVG guardado (``_ext/diagrams.py``) e não precisa do
Graphviz. Depois de mudar um ``.dot``, rode este comando; ``tests/test_book.py`` confere, onde o
Graphviz existe, que cada SVG é o que o seu ``.dot`` desenha.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from coursetools import book

FOLDER = Path("book") / "diagramas"


def dot_args(root: Path) -> list[str]:
    """As opções do ``dot`` que o livro usa (as do ``_config.yml``)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return list(config["sphinx"]["config"].get("graphviz_dot_args", []))


def render(dot_file: Path, args: list[str]) -> bytes:
    """O SVG que o Graphviz desenha para ``dot_file``."""
    if shutil.which("dot") is None:
        raise RuntimeError("Falta o Graphviz (dot): sudo apt-get install graphviz "
                           "(ou make sysdeps).")
    result = subprocess.run(["dot", *args, "-Tsvg", dot_file.name], capture_output=True,
                            cwd=dot_file.parent, check=True)
    return result.stdout


def main() -> int:
    root = book.find_root()
    args = dot_args(root)
    for dot_file in sorted((root / FOLDER).glob("*.dot")):
        svg = dot_file.with_suffix(".svg")
        drawn = render(dot_file, args)
        if not svg.exists() or svg.read_bytes() != drawn:
            svg.write_bytes(drawn)
            print(f"desenhado: {svg.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
