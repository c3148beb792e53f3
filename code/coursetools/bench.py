"""Tempo de execução dos capítulos e da construção do site, contra os orçamentos do curso.

Cada capítulo do ``_toc.yml`` é executado do início ao fim num kernel novo (nbclient), numa
cópia temporária, como um estudante o rodaria; depois o site é construído do zero numa pasta
temporária, com as mesmas opções de ``make book`` (``coursetools.build``). Os capítulos rodam
um de cada vez, para que um não roube CPU do outro.

Uso::

    python -m coursetools.bench                 # tudo
    python -m coursetools.bench --no-build      # só os capítulos
    python -m coursetools.bench --chapter 03_variancia

Sai com código 1 se algum orçamento estourar ou algum capítulo falhar.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from coursetools.book import chapter_notebooks, find_root
from coursetools.build import build_site
from coursetools.cli import PortugueseParser

# orçamentos de tempo (s) numa CPU de 2 núcleos, a máquina da CI (os mesmos do README)
CHAPTER_BUDGET = 45.0
BOOK_BUDGET = 180.0
BUILD_BUDGET = 30.0


@dataclass(frozen=True)
class Timing:
    """Uma linha da tabela: o que foi medido, em quantos segundos de relógio, o orçamento e,
    para os capítulos, o tempo de CPU do kernel (menos sensível a outros processos na máquina).

    ``seconds`` é ``math.inf`` quando a etapa falhou.
    """

    label: str
    seconds: float
    budget: float
    cpu: float | None = None

    @property
    def failed(self) -> bool:
        return math.isinf(self.seconds)

    @property
    def ok(self) -> bool:
        return self.seconds <= self.budget

    @property
    def status(self) -> str:
        if self.failed:
            return "FALHOU"
        return "ok" if self.ok else "ESTOUROU"


# última célula acrescentada à cópia do capítulo: o tempo de CPU do kernel (todas as threads)
_CPU_CELL = """\
try:
    import resource as _resource
    _usage = _resource.getrusage(_resource.RUSAGE_SELF)
    print(f"cpu={_usage.ru_utime + _usage.ru_stime:.3f}")
except ImportError:
    print("cpu=nan")
"""


def execute_chapter(notebook: Path, timeout: int = 600) -> tuple[float, float]:
    """Executa o notebook num kernel novo, numa pasta temporária. Devolve (segundos de relógio,
    segundos de CPU do kernel); o relógio inclui a partida do kernel, como para quem abre o
    capítulo."""
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        copy = Path(folder) / notebook.name
        shutil.copy2(notebook, copy)
        # os testes ocultos que o notebook do professor importa (como o corretor, ao lado dele)
        hidden = notebook.parent / "ocultos"
        if hidden.is_dir():
            shutil.copytree(hidden, Path(folder) / "ocultos")
        nb = nbformat.read(copy, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(_CPU_CELL))
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": folder}})
        start = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - start
    output = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    match = re.search(r"cpu=([\d.]+|nan)", output)
    return wall, float(match.group(1)) if match else math.nan


def time_site_build(root: Path) -> float:
    """Constrói o site do zero numa pasta temporária, como ``make book``; devolve os segundos.

    Levanta ``coursetools.build.BuildError`` se a construção falhar.
    """
    with tempfile.TemporaryDirectory(prefix="bench-site-") as folder:
        seconds, _ = build_site(root, Path(folder))
    return seconds


def budget_rows(chapters: dict[str, float], build: float | None,
                cpu: dict[str, float] | None = None) -> list[Timing]:
    """As linhas da tabela: cada capítulo, o total dos capítulos e, se medida, a construção."""
    cpu = cpu or {}
    rows = [Timing(name, seconds, CHAPTER_BUDGET, cpu.get(name))
            for name, seconds in chapters.items()]
    total_cpu = sum(cpu.values()) if cpu and len(cpu) == len(chapters) else None
    rows.append(Timing("total dos capítulos", sum(chapters.values()), BOOK_BUDGET, total_cpu))
    if build is not None:
        rows.append(Timing("construção do site", build, BUILD_BUDGET))
    return rows


def format_table(rows: Sequence[Timing]) -> str:
    """A tabela em texto, alinhada, com a situação de cada linha."""
    width = max([len("etapa"), *(len(row.label) for row in rows)])
    header = (f"{'etapa':<{width}}  {'tempo (s)':>9}  {'CPU (s)':>7}  {'orçamento (s)':>13}  "
              "situação")
    lines = [header, "-" * len(header)]
    for row in rows:
        seconds = "—" if row.failed else f"{row.seconds:.1f}"
        cpu = "—" if row.cpu is None or math.isnan(row.cpu) else f"{row.cpu:.1f}"
        lines.append(f"{row.label:<{width}}  {seconds:>9}  {cpu:>7}  {row.budget:>13.0f}  "
                     f"{row.status}")
    return "\n".join(lines)


def run(chapters: Sequence[Path], root: Path, build: bool,
        execute: Callable[[Path], tuple[float, float]] | None = None,
        build_fn: Callable[[Path], float] | None = None,
        log: Callable[[str], None] = print) -> list[Timing]:
    """Mede os capítulos (um de cada vez) e, se ``build``, a construção do site."""
    execute = execute or execute_chapter
    build_fn = build_fn or time_site_build
    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for notebook in chapters:
        log(f"executando {notebook.name} ...")
        try:
            times[notebook.stem], cpu[notebook.stem] = execute(notebook)
        except Exception as error:  # o capítulo falhou: a tabela mostra, o código de saída diz
            log(f"  {notebook.stem} falhou: {type(error).__name__}: {str(error)[-2000:]}")
            times[notebook.stem] = math.inf
    build_seconds = None
    if build:
        log("construindo o site ...")
        try:
            build_seconds = build_fn(root)
        except Exception as error:
            log(f"  {error}")
            build_seconds = math.inf
    return budget_rows(times, build_seconds, cpu)


def _load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except (AttributeError, OSError):  # sem getloadavg (Windows)
        return "?"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coursetools.bench``: mede, imprime a tabela e devolve o código de saída."""
    parser = PortugueseParser(
        prog="python -m coursetools.bench",
        description="Mede o tempo de cada capítulo e da construção do site contra os "
                    "orçamentos do curso (README).")
    parser.add_argument("--chapter", action="append", default=[], metavar="NOME",
                        help="só este capítulo (nome do arquivo sem .ipynb); pode repetir")
    parser.add_argument("--no-build", action="store_true", help="não constrói o site")
    args = parser.parse_args(argv)

    try:
        root = find_root()
        chapters = chapter_notebooks(root)
    except (FileNotFoundError, ValueError) as exc:
        # sem _toc.yml, _toc.yml fora do formato ou um capítulo listado que não existe
        parser.error(str(exc))
    if args.chapter:
        unknown = set(args.chapter) - {nb.stem for nb in chapters}
        if unknown:
            parser.error(f"capítulos desconhecidos: {', '.join(sorted(unknown))}")
        chapters = [nb for nb in chapters if nb.stem in args.chapter]

    load_before = _load_average()
    rows = run(chapters, root, build=not args.no_build)
    print()
    print(f"Carga média da máquina (1 min) no início e no fim: {load_before} e {_load_average()} "
          f"em {os.cpu_count()} núcleos; acima do número de núcleos, outros processos "
          "disputaram a CPU e os tempos saem maiores.")
    print(f"Orçamentos do curso, em tempo de relógio: capítulo ≤ {CHAPTER_BUDGET:.0f} s, "
          f"livro ≤ {BOOK_BUDGET:.0f} s, construção do site ≤ {BUILD_BUDGET:.0f} s. "
          "CPU = tempo de CPU do kernel (todas as threads).")
    print(format_table(rows))
    bad = [row.label for row in rows if not row.ok]
    if bad:
        print(f"\nFora do orçamento ou com falha: {', '.join(bad)}")
        return 1
    print("\nTudo dentro do orçamento.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
