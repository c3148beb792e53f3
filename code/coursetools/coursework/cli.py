"""A linha de comando dos trabalhos: ``release`` (liberar) e ``grade`` (corrigir), com a ajuda e
as mensagens em português."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coursetools.cli import PortugueseParser
from coursetools.coursework.common import (
    ADJUSTMENTS,
    COMMAND,
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_TIMEOUT,
    FEEDBACK_DIR,
    GRADEBOOK,
    README,
    STUDENT_DIR,
    CourseworkError,
)
from coursetools.coursework.grading import Options, grade
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
    gra = commands.add_parser(
        "grade", help="corrige as entregas",
        description="Corrige cada entrega isolada numa caixa de areia (bubblewrap) e escreve "
        "notas.csv, as devolutivas, o resumo da turma e a planilha do Moodle. Rodar de novo "
        "retoma o que faltou e corrige de novo só o que mudou (entrega ou liberação).")
    gra.add_argument("submissions", type=Path, metavar="ENTREGAS",
                     help="um notebook, uma pasta de entregas ou o .zip (ou a pasta) do "
                     "“Baixar todas as tarefas enviadas” do Moodle")
    gra.add_argument("--release", type=Path, default=Path("release"), metavar="PASTA",
                     help="pasta da liberação (padrão: release)")
    gra.add_argument("--out", type=Path, default=None, metavar="PASTA",
                     help="pasta dos resultados; se já existe, as linhas são mescladas "
                     "(padrão: ENTREGAS-correcao, ao lado de ENTREGAS)")
    gra.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                     help=f"limite por entrega, em segundos (padrão: {DEFAULT_TIMEOUT:g})")
    gra.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="S",
                     help="limite por célula, em segundos; a célula é interrompida e a correção "
                     f"continua (padrão: {DEFAULT_CELL_TIMEOUT:g})")
    gra.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="entregas corrigidas ao mesmo tempo (padrão: até 2)")
    gra.add_argument("--refazer", action="store_true",
                     help="corrige de novo também as entregas já corrigidas sem mudança")
    gra.add_argument("--moodle-idioma", choices=["pt_br", "en"], default="pt_br",
                     help="idioma da interface do Moodle em que moodle.csv será importada "
                     "(padrão: pt_br)")
    gra.add_argument("--sem-isolamento", action="store_true",
                     help="PERIGOSO: roda o código das entregas sem caixa de areia, com o seu "
                     "usuário e acesso aos seus arquivos; só para entregas de confiança, onde "
                     "não houver bubblewrap")
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
    if args.sem_isolamento:
        print("Atenção: correção SEM isolamento (--sem-isolamento): o código das entregas roda "
              "com o seu usuário.", file=sys.stderr)
    print(f"Corrigindo {args.submissions} ...")
    options = Options(args.timeout, args.cell_timeout, args.jobs, not args.sem_isolamento,
                      args.refazer, args.moodle_idioma)
    results = grade(args.submissions, args.release, args.out, options)
    elapsed = time.perf_counter() - start
    out = args.out or args.submissions.parent / f"{args.submissions.stem}-correcao"
    per = elapsed / len(results) if results else 0.0
    print(f"Pronto: {len(results)} arquivos em {elapsed:.1f} s ({per:.1f} s por arquivo). "
          f"Notas em {out / GRADEBOOK}; devolutivas em {out / FEEDBACK_DIR}/; ajustes manuais "
          f"em {out / ADJUSTMENTS}.")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coursetools.coursework release|grade ...``; devolve o código de saída."""
    argv = list(sys.argv[1:] if argv is None else argv)
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
