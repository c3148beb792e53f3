"""A construção do site com o Jupyter Book, num lugar só, com avisos tratados como erros.

``make book``, o deploy no GitHub Pages, os testes do site e o cronômetro (``make bench``)
constroem o site por aqui, sempre com as mesmas opções::

    python -m coursetools.build                  # o livro desta pasta, em _build/html
    python -m coursetools.build --out PASTA      # em PASTA/_build/html

Sai com código 1 se a construção falhar (qualquer aviso do Sphinx conta como erro).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from coursetools import book
from coursetools.cli import PortugueseParser

# avisos contam como erros, referências quebradas também, e todos aparecem de uma vez
OPTIONS = ("--warningiserror", "--nitpick", "--keep-going")
LOG_TAIL = 3000  # caracteres do fim do registro na mensagem de erro


class BuildError(RuntimeError):
    """A construção do site falhou; ``log`` tem o registro inteiro do Jupyter Book."""

    def __init__(self, log: str, returncode: int | None = None) -> None:
        problems = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        listed = "\n".join(problems) + "\n" if problems else ""
        super().__init__(f"a construção do site falhou:\n{listed}...\n{log[-LOG_TAIL:]}")
        self.log = log
        self.returncode = returncode


def command(root: Path, out: Path | None = None) -> list[str]:
    """O comando do Jupyter Book que constrói o livro de ``root`` (em ``out``, se dada)."""
    path_output = ["--path-output", str(out)] if out is not None else []
    # o jupyter-book sem custos que não mudam o site (coursetools.jupyterbook): mesmo HTML, ~5 s
    return [sys.executable, "-m", "coursetools.jupyterbook", "build", str(root), *path_output,
            *OPTIONS]


def build_site(root: Path, out: Path | None = None, *, timeout: float | None = None,
               echo: Callable[[str], None] | None = None) -> tuple[float, str]:
    """Constrói o site do livro de ``root`` em ``out/_build/html`` (sem ``out``, na própria
    raiz). Devolve os segundos gastos e o registro do Jupyter Book (saída e erros juntos).

    Com ``echo``, cada linha do registro lhe é passada assim que sai (para acompanhar a
    construção no terminal). Levanta ``BuildError``, com o registro, se a construção falhar, e
    ``subprocess.TimeoutExpired`` se passar de ``timeout`` segundos (o processo é encerrado).
    """
    start = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(command(root, out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                          errors="replace") as process:
        reader = threading.Thread(target=_collect, args=(process.stdout, lines, echo),
                                  daemon=True)
        reader.start()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            reader.join()
    log = "".join(lines)
    if process.returncode != 0:
        raise BuildError(log, process.returncode)
    return time.perf_counter() - start, log


def _collect(stream: IO[str], lines: list[str], echo: Callable[[str], None] | None) -> None:
    """Guarda (e, com ``echo``, mostra) cada linha da saída do Jupyter Book, até o fim."""
    for line in stream:
        lines.append(line)
        if echo is not None:
            echo(line)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coursetools.build``: constrói o site e diz onde ele ficou."""
    parser = PortugueseParser(
        prog="python -m coursetools.build",
        description="Constrói o site do livro com o Jupyter Book; avisos contam como erros.")
    parser.add_argument("root", type=Path, nargs="?", default=None, metavar="LIVRO",
                        help="pasta do livro, a do _toc.yml (padrão: a achada subindo a partir "
                             "da pasta atual)")
    parser.add_argument("--out", type=Path, default=None, metavar="PASTA",
                        help="constrói em PASTA/_build/html (padrão: na pasta do livro)")
    args = parser.parse_args(argv)
    try:
        root = args.root or book.find_root()
    except FileNotFoundError as exc:
        parser.error(str(exc))
    try:
        seconds, _ = build_site(root, args.out, echo=lambda line: print(line, end="", flush=True))
    except BuildError:
        print("\nA construção do site falhou (veja os avisos acima).", file=sys.stderr)
        return 1
    html = (args.out or root).resolve() / "_build" / "html"
    print(f"Site pronto em {seconds:.1f} s: abra {html / 'index.html'}")
    print(f"ou sirva com: {sys.executable} -m http.server -d {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
