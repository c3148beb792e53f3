"""Os diagramas do livro, desenhados uma vez: ``python -m coursetools.diagrams``.

Cada ``book/diagramas/<nome>.dot`` é desenhado pelo Graphviz (``dot``), com as opções do
``_config.yml`` (``graphviz_dot_args``), em ``<nome>.svg`` ao lado, e o SVG vai para o
repositório: a construção do site usa o SVG guardado (``_ext/diagrams.py``) e não precisa do
Graphviz. Depois de mudar um ``.dot``, rode este comando; ``tests/test_book.py`` confere, onde o
Graphviz existe, que cada SVG é o que o seu ``.dot`` desenha.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from coursetools import book

FOLDER = Path("book") / "diagramas"
TEXT = re.compile(r'<text text-anchor="start" x="(?P<x>[-\d.]+)" y="(?P<y>[-\d.]+)"'
                  r'(?P<attrs>[^>]*?)>(?P<body>[^<]*)</text>')
SMALL = 0.7  # tamanho do índice e do expoente, em relação ao texto
SHIFT = {"sub": 0.3, "super": -0.35}  # deslocamento vertical, em tamanhos de fonte
CHAR_WIDTH = 0.55  # largura média de um caractere (em tamanhos de fonte), para centrar a linha


def dot_args(root: Path) -> list[str]:
    """As opções do ``dot`` que o livro usa (as do ``_config.yml``)."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return list(config["sphinx"]["config"].get("graphviz_dot_args", []))


def _attributes(text: str) -> dict[str, str]:
    return dict(re.findall(r'([\w-]+)="([^"]*)"', text))


def _merged(run: list[re.Match]) -> str:
    """Uma linha de rótulo em pedaços (texto, índice, texto...) como um só ``<text>`` centrado,
    com ``<tspan>`` deslocados por ``dy`` para os índices e expoentes."""
    first = _attributes(run[0]["attrs"])
    size = float(first.get("font-size", "14"))
    start, last = float(run[0]["x"]), run[-1]
    width = float(last["x"]) - start + CHAR_WIDTH * size * len(last["body"])
    common = " ".join(f'{k}="{v}"' for k, v in first.items()
                      if k not in ("baseline-shift", "font-size"))
    spans, level = [], 0.0
    for piece in run:
        attrs = _attributes(piece["attrs"])
        shift = SHIFT.get(attrs.get("baseline-shift", ""), 0.0) * size
        fill = f' fill="{attrs["fill"]}"' if "fill" in attrs and "fill" not in first else ""
        small = f' font-size="{SMALL * size:.2f}"' if shift else ""
        spans.append(f'<tspan dy="{shift - level:.2f}"{small}{fill}>{piece["body"]}</tspan>')
        level = shift
    return (f'<text text-anchor="middle" x="{start + width / 2:.2f}" y="{run[0]["y"]}" {common}'
            f' font-size="{size:.2f}">{"".join(spans)}</text>')


def tidy_subscripts(svg: str) -> str:
    """Índices e expoentes legíveis em qualquer navegador. O Graphviz escreve cada pedaço de um
    rótulo HTML com ``<sub>``/``<sup>`` como um ``<text>`` à parte, com ``baseline-shift`` e a
    posição calculada pela largura que ele estima para a fonte: no navegador, os índices saem do
    tamanho do texto e os pedaços se sobrepõem ("hk= f k[hk−1]"). Aqui cada linha vira um só
    ``<text>`` que o navegador compõe, com os índices menores."""
    lines, out, run = svg.splitlines(keepends=True), [], []

    def flush() -> None:
        if len(run) > 1 and any("baseline-shift" in m["attrs"] for m in run):
            out.append(_merged(run) + "\n")
        else:
            out.extend(m.string for m in run)
        run.clear()

    for line in lines:
        match = TEXT.fullmatch(line.rstrip("\n"))
        if match and (not run or match["y"] == run[0]["y"]):
            run.append(match)
            continue
        flush()
        if match:
            run.append(match)
        else:
            out.append(line)
    flush()
    return "".join(out)


def render(dot_file: Path, args: list[str]) -> bytes:
    """O SVG que o Graphviz desenha para ``dot_file``, com os índices arrumados."""
    if shutil.which("dot") is None:
        raise RuntimeError("Falta o Graphviz (dot): sudo apt-get install graphviz "
                           "(ou make sysdeps).")
    result = subprocess.run(["dot", *args, "-Tsvg", dot_file.name], capture_output=True,
                            cwd=dot_file.parent, check=True)
    return tidy_subscripts(result.stdout.decode("utf-8")).encode("utf-8")


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
