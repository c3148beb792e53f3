"""A lógica de ``python -m coursetools.bench`` (tabela, orçamentos, código de saída), sem rodar
os capítulos de verdade: a medição completa é ``make bench``, fora de ``make test``."""

import math

import nbformat
import pytest
from conftest import ROOT, chapter_notebooks

from coursetools import bench
from coursetools.bench import Timing, budget_rows, format_table
from coursetools.cli import PortugueseParser


def test_rows_compare_each_chapter_the_total_and_the_build_with_their_budgets():
    rows = budget_rows({"01_a": 30.0, "02_b": 50.0}, build=20.0, cpu={"01_a": 40.0, "02_b": 60.0})
    assert [(r.label, r.budget, r.ok) for r in rows] == [
        ("01_a", 45.0, True),
        ("02_b", 45.0, False),
        ("total dos capítulos", 180.0, True),
        ("construção do site", 30.0, True),
    ]
    assert rows[2].seconds == pytest.approx(80.0) and rows[2].cpu == pytest.approx(100.0)
    assert rows[0].cpu == 40.0 and rows[3].cpu is None
    assert budget_rows({"01_a": 1.0}, build=None)[-1].label == "total dos capítulos"


def test_total_can_exceed_even_when_every_chapter_fits():
    rows = budget_rows({f"0{i}": 40.0 for i in range(1, 6)}, build=10.0)
    assert all(r.ok for r in rows[:5])
    assert rows[5].label == "total dos capítulos" and not rows[5].ok  # 200 s > 180 s


def test_table_is_aligned_and_shows_the_status():
    rows = [Timing("01_processamento_sequencial", 23.44, 45.0, cpu=30.06),
            Timing("02_b", 46.0, 45.0), Timing("03_c", math.inf, 45.0)]
    lines = format_table(rows).splitlines()
    assert lines[0].startswith("etapa") and "orçamento (s)" in lines[0]
    assert set(lines[1]) == {"-"}
    assert lines[2].split() == ["01_processamento_sequencial", "23.4", "30.1", "45", "ok"]
    assert lines[3].split() == ["02_b", "46.0", "—", "45", "ESTOUROU"]
    assert lines[4].split() == ["03_c", "—", "—", "45", "FALHOU"]
    # colunas alinhadas: a situação começa na mesma coluna em todas as linhas
    assert len({len(line) - len(line.split()[-1]) for line in [lines[0], *lines[2:]]}) == 1


def test_run_records_failures_and_main_exits_nonzero(monkeypatch, capsys):
    chapters = chapter_notebooks()[:2]
    assert len(chapters) == 2, "o _toc.yml deveria ter pelo menos dois capítulos"

    def fake_execute(notebook):
        if notebook == chapters[-1]:
            raise RuntimeError("célula com erro")
        return 12.0, 20.0

    rows = bench.run(chapters, ROOT, build=True, execute=fake_execute,
                     build_fn=lambda root: 5.0, log=lambda message: None)
    assert rows[0].ok and rows[1].failed
    assert rows[-1].label == "construção do site" and rows[-1].ok

    monkeypatch.setattr(bench, "execute_chapter", lambda nb: (12.0, 20.0))
    monkeypatch.setattr(bench, "time_site_build", lambda root: 5.0)
    monkeypatch.chdir(ROOT / "book")  # a raiz é achada subindo as pastas
    assert bench.main([]) == 0
    assert "Tudo dentro do orçamento" in capsys.readouterr().out

    monkeypatch.setattr(bench, "time_site_build", lambda root: 31.0)
    assert bench.main(["--chapter", chapters[0].stem]) == 1
    out = capsys.readouterr().out
    assert "ESTOUROU" in out and "construção do site" in out
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--chapter", "capitulo_que_nao_existe"])
    assert exit_info.value.code == 2
    assert "erro: capítulos desconhecidos: capitulo_que_nao_existe" in capsys.readouterr().err


def test_a_missing_chapter_stops_the_benchmark_with_a_clear_message(tmp_path, monkeypatch,
                                                                    capsys):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nparts:\n  - chapters:\n      - file: 01_sumido\n",
        encoding="utf-8")
    (tmp_path / "intro.md").write_text("# Introdução\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--no-build"])
    assert exit_info.value.code == 2
    assert "O _toc.yml lista documentos que não existem: 01_sumido" in capsys.readouterr().err


def test_execute_chapter_runs_a_notebook_in_a_fresh_kernel(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import residuais\nx = 1 + 1"),
                nbformat.v4.new_code_cell("assert x == 2"),
                # como os testes ocultos dos capítulos, que ficam em book/ocultos
                nbformat.v4.new_code_cell("from ocultos.mini import y\nassert y == 3")]
    (tmp_path / "ocultos").mkdir()
    (tmp_path / "ocultos" / "mini.py").write_text("y = 3\n", encoding="utf-8")
    path = tmp_path / "mini.ipynb"
    nbformat.write(nb, path)
    seconds, cpu = bench.execute_chapter(path, timeout=60)
    assert 0 < seconds < 60 and 0 < cpu < 60
    assert not list(tmp_path.glob("*.ipynb.*"))  # executou numa cópia; o original fica igual
    assert nbformat.read(path, as_version=4).cells[0].outputs == []

    nb.cells.append(nbformat.v4.new_code_cell("assert x == 3"))
    nbformat.write(nb, path)
    with pytest.raises(Exception, match="AssertionError"):
        bench.execute_chapter(path, timeout=60)


# --------------------------------------------------------------------------------------------
# a linha de comando em português (coursetools.cli), a do bench e a dos outros comandos
# --------------------------------------------------------------------------------------------


def _parser() -> PortugueseParser:
    parser = PortugueseParser(prog="ferramenta", description="Uma ferramenta de teste.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="comando")
    grade = commands.add_parser("grade", help="corrige")
    grade.add_argument("submissions", metavar="ENTREGAS", help="pasta com as entregas")
    grade.add_argument("--timeout", type=float, default=1.0, metavar="S", help="limite")
    grade.add_argument("--modo", choices=["rápido", "completo"])
    return parser


def test_portuguese_parser_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["grade", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert help_text.startswith("uso: ferramenta grade [-h] [--timeout S]")
    assert "\nargumentos:\n" in help_text and "\nopções:\n" in help_text
    assert "mostra esta ajuda e sai" in help_text
    assert "usage" not in help_text and "options" not in help_text


@pytest.mark.parametrize(("argv", "message"), [
    (["grade", "turma", "--bla"], "erro: argumentos não reconhecidos: --bla"),
    (["grade"], "erro: faltam os argumentos: ENTREGAS"),
    (["grade", "turma", "--timeout", "x"],
     "erro: argumento --timeout: valor inválido (float): 'x'"),
    (["corrige"], "erro: argumento comando: comando inválido: 'corrige' (escolha entre 'grade')"),
    (["grade", "turma", "--modo", "x"], "erro: argumento --modo: escolha inválida: 'x'"),
])
def test_portuguese_parser_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("uso: ferramenta") and message in err
    assert "error" not in err and "usage" not in err
