"""A linha de comando dos trabalhos: ``release`` (liberar) e ``grade`` (corrigir), com a ajuda e
as mensagens em português, e o subcomando interno do subprocesso de correção."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coursetools.cli import PortugueseParser
from coursetools.coursework import worker
from coursetools.coursework.common import (
    COMMAND,
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_TIMEOUT,
    FEEDBACK_DIR,
    GRADEBOOK,
    README,
    STUDENT_DIR,
    WORKER_COMMAND,
    CourseworkError,
)
from coursetools.coursework.grading import grade
from coursetools.coursework.release import release


def parser() -> PortugueseParser:
    """O analisador dos comandos ``release`` e ``grade``."""
    main_parser = PortugueseParser(
        prog=COMMAND,
        description="Liberação dos trabalhos para os estudantes e correção automática.",
    )
    commands = main_parser.add_subparsers(dest="command", required=True, metavar="comando")
    rel = commands.add_parser("release", help="gera os notebooks dos estudantes e os corretores",
                              description="Roda o otter assign em cada capítulo do _toc.yml.")
    rel.add_argument("--out", type=Path, default=Path("release"), metavar="PASTA",
                     help="pasta da liberação (padrão: release)")
    gra = commands.add_parser("grade", help="corrige uma pasta de entregas",
                              description="Corrige cada arquivo da pasta com o otter run (sem "
                              "Docker) e escreve notas.csv e as devolutivas.")
    gra.add_argument("submissions", type=Path, metavar="ENTREGAS",
                     help="pasta com as entregas (.ipynb)")
    gra.add_argument("--release", type=Path, default=Path("release"), metavar="PASTA",
                     help="pasta da liberação (padrão: release)")
    gra.add_argument("--out", type=Path, default=None, metavar="PASTA",
                     help="pasta dos resultados (padrão: ENTREGAS-correcao, ao lado de ENTREGAS)")
    gra.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                     help=f"limite por entrega, em segundos (padrão: {DEFAULT_TIMEOUT:g})")
    gra.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="S",
                     help="limite por célula, em segundos; a célula é interrompida e a correção "
                     f"continua (padrão: {DEFAULT_CELL_TIMEOUT:g})")
    gra.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="entregas corrigidas ao mesmo tempo (padrão: até 2)")
    gra.add_argument("--hide-hidden", action="store_true",
                     help="não transcreve nas devolutivas as mensagens dos testes ocultos")
    return main_parser


def _release(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    print(f"Liberando os capítulos em {args.out}/ ...")
    chapters = release(args.out)
    print(f"Pronto: {len(chapters)} capítulos em {time.perf_counter() - start:.1f} s. "
          f"Distribua {args.out / STUDENT_DIR}/; leia {args.out / README}.")


def _grade(args: argparse.Namespace) -> None:
    if args.timeout <= 0 or args.cell_timeout <= 0:
        raise CourseworkError("Os limites de tempo devem ser positivos.")
    if args.jobs is not None and args.jobs < 1:
        raise CourseworkError("--jobs deve ser pelo menos 1.")
    start = time.perf_counter()
    print(f"Corrigindo {args.submissions}/ ...")
    results = grade(args.submissions, args.release, args.out, args.timeout,
                    args.cell_timeout, args.jobs, args.hide_hidden)
    elapsed = time.perf_counter() - start
    out = args.out or args.submissions.parent / f"{args.submissions.name}-correcao"
    per = elapsed / len(results) if results else 0.0
    print(f"Pronto: {len(results)} arquivos em {elapsed:.1f} s ({per:.1f} s por arquivo). "
          f"Notas em {out / GRADEBOOK}; devolutivas em {out / FEEDBACK_DIR}/.")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coursetools.coursework release|grade ...``; devolve o código de saída."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER_COMMAND]:  # interno: o subprocesso de uma correção
        return worker.main(argv[1:])
    args = parser().parse_args(argv)
    try:
        if args.command == "release":
            _release(args)
        else:
            _grade(args)
    except CourseworkError as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 2
    return 0
