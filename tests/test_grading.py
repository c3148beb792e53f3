"""A correção nos caminhos que a correção de ponta a ponta dos capítulos não exercita: a entrega
ou a liberação alterada durante a correção, o tempo esgotado, a correção sem isolamento, a
interrupção com uma fila de entregas, a mesclagem numa pasta de resultados existente, o resumo
da turma, a planilha do Moodle, a devolutiva em português, o ``.gitignore`` e o guia do
professor.

Para ser rápida, a correção usa uma liberação mínima feita aqui: um capítulo com um exercício
(``dobro``), um teste público e um oculto, sem importar o PyTorch.
"""

import csv
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from coursetools.coursework import cli, common, graders, grading, report, sandbox
from coursetools.coursework.classreport import MOODLE_HEADERS, write_moodle, write_summary
from coursetools.coursework.common import Result
from coursetools.coursework.manifest import Chapter, Question

CHAPTER = "99_mini"
ANSWER = "def dobro(x):\n    ...\n"
RIGHT = "def dobro(x):\n    return 2 * x\n"
WRONG = "def dobro(x):\n    return x\n"
TEST = {"name": "q1", "points": 2, "suites": [{
    "cases": [{"code": ">>> dobro(2)\n4\n", "hidden": False, "points": 1},
              {"code": ">>> dobro(3)\n6\n", "hidden": True, "points": 1}],
    "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}


def _cell(source: str, tags: tuple[str, ...] = ()) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {"tags": list(tags)},
            "outputs": [], "execution_count": None}


def _notebook(answer: str) -> dict:
    return {"cells": [_cell("x = 1"), _cell(answer, ("otter_answer_cell",)),
                      _cell('grader.check("q1")')],
            "metadata": {"otter": {"assignment_name": CHAPTER}}, "nbformat": 4,
            "nbformat_minor": 5}


def _save(path: Path, answer: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_notebook(answer)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mini_release(tmp_path_factory) -> Path:
    """Uma liberação mínima, no formato da de verdade: manifesto, notebooks e o .zip do
    corretor com os testes e a pasta ``ocultos``."""
    root = tmp_path_factory.mktemp("mini") / "release"
    for folder in ("estudantes", "solucoes", "corretor"):
        (root / folder).mkdir(parents=True)
    _save(root / "estudantes" / f"{CHAPTER}.ipynb", ANSWER)
    _save(root / "solucoes" / f"{CHAPTER}.ipynb", RIGHT)
    with zipfile.ZipFile(root / "corretor" / f"{CHAPTER}.zip", "w") as zf:
        zf.writestr("files/ocultos/vazio.py", "")
        zf.writestr("tests/q1.py", f"OK_FORMAT = True\ntest = {TEST!r}\n")
    question = {"name": "q1", "points": 2.0, "names": ["dobro"], "answers": [ANSWER]}
    manifest = {"chapters": [{"name": CHAPTER, "title": "Mini", "questions": [question],
                              "student": f"estudantes/{CHAPTER}.ipynb",
                              "autograder": f"corretor/{CHAPTER}.zip",
                              "solution": f"solucoes/{CHAPTER}.ipynb"}]}
    (root / common.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return root


def _options(**changes) -> grading.Options:
    return grading.Options(**{"isolated": sandbox.bwrap_works(), "jobs": 1, **changes})


def _rows(out: Path) -> dict[str, dict]:
    with open(out / common.GRADEBOOK, encoding="utf-8-sig", newline="") as f:
        return {row["entrega"]: row for row in csv.DictReader(f)}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"(pasta)"
            for p in sorted(folder.rglob("*"))}


def _quiet(_: str) -> None:
    pass


# --------------------------------------------------------------------------------------------
# correções da liberação mínima
# --------------------------------------------------------------------------------------------


def test_a_submission_changed_after_reading_is_not_graded(mini_release, tmp_path, monkeypatch):
    """O arquivo muda entre a leitura (o resumo do início) e a correção: a entrega fica com
    “entrega alterada durante a correção”, sem nota, e nenhuma caixa roda o arquivo mudado."""
    folder = tmp_path / "turma"
    changed = _save(folder / "muda.ipynb", WRONG)
    real_collect = grading.collect

    def collect_then_change(*args, **kwargs):
        found = real_collect(*args, **kwargs)
        _save(changed, RIGHT)  # a versão nova passaria em tudo
        return found

    monkeypatch.setattr(grading, "collect", collect_then_change)
    out = tmp_path / "correcao"
    [result] = grading.grade(folder, mini_release, out, _options(), log=_quiet)
    assert result.status == common.TAMPERED == "entrega alterada durante a correção"
    assert result.possible is None and result.total == 0 and not result.scores
    assert "avaliador" not in result.log and "diagnóstico" not in result.log
    row = _rows(out)["muda.ipynb"]
    assert (row["situacao"], row["total"]) == (common.TAMPERED, "0")
    feedback = (out / common.FEEDBACK_DIR / "muda.ipynb.txt").read_text(encoding="utf-8")
    assert "não foi corrigido" in feedback
    assert not (out / common.WORK_DIR).exists()


def test_a_release_changed_after_loading_stops_and_is_never_used(mini_release, tmp_path,
                                                                monkeypatch):
    """O .zip do corretor muda depois de lido: a correção para com a mensagem, nenhuma entrega
    é corrigida com ele (nem com o lido antes), a fila é abandonada e a pasta de trabalho some."""
    release = tmp_path / "release"
    shutil.copytree(mini_release, release)
    folder = tmp_path / "turma"
    for index in range(4):
        _save(folder / f"e{index}.ipynb", RIGHT)
    real_load = graders.load

    def load_then_change(*args, **kwargs):
        loaded = real_load(*args, **kwargs)
        (release / "corretor" / f"{CHAPTER}.zip").write_bytes(b"corretor trocado")
        return loaded

    monkeypatch.setattr(grading.graders, "load", load_then_change)
    out = tmp_path / "correcao"
    start = time.perf_counter()
    with pytest.raises(common.CourseworkError, match="mudou durante a correção"):
        grading.grade(folder, release, out, _options(jobs=2), log=_quiet)
    assert time.perf_counter() - start < 60
    assert not (out / common.GRADEBOOK).exists()  # nenhuma linha: nada foi corrigido
    assert not (out / common.FEEDBACK_DIR).exists()
    assert not (out / common.WORK_DIR).exists()


def test_a_timed_out_submission_leaves_no_work_folder(mini_release, tmp_path):
    folder = tmp_path / "turma"
    _save(folder / "laco.ipynb", RIGHT + "\n_espera = next(x for x in iter(int, 1) if x)\n")
    out = tmp_path / "correcao"
    [result] = grading.grade(folder, mini_release, out, _options(timeout=3), log=_quiet)
    assert result.status == common.TIMED_OUT and result.total == 0
    assert _rows(out)["laco.ipynb"]["situacao"] == common.TIMED_OUT
    assert not (out / common.WORK_DIR).exists()


def test_regrading_one_file_into_an_existing_output_keeps_the_others(mini_release, tmp_path):
    """Corrigir de novo um arquivo só, com ``--out`` na pasta de resultados da turma, atualiza a
    linha e a devolutiva dele e mantém as dos outros estudantes."""
    folder = tmp_path / "turma"
    _save(folder / "ana.ipynb", WRONG)
    _save(folder / "bruno.ipynb", RIGHT)
    out = tmp_path / "resultado"
    grading.grade(folder, mini_release, out, _options(), log=_quiet)
    feedback = out / common.FEEDBACK_DIR
    bruno_before = (feedback / "bruno.ipynb.txt").read_text(encoding="utf-8")
    assert _rows(out)["ana.ipynb"]["total"] == "0"

    _save(folder / "ana.ipynb", RIGHT)  # a Ana entregou de novo
    [result] = grading.grade(folder / "ana.ipynb", mini_release, out, _options(redo=True),
                             log=_quiet)
    assert result.total == 2
    rows = _rows(out)
    assert set(rows) == {"ana.ipynb", "bruno.ipynb"}
    assert (rows["ana.ipynb"]["total"], rows["bruno.ipynb"]["total"]) == ("2", "2")
    assert (feedback / "bruno.ipynb.txt").read_text(encoding="utf-8") == bruno_before
    assert "Nota: 2 de 2 pontos" in (feedback / "ana.ipynb.txt").read_text(encoding="utf-8")
    with zipfile.ZipFile(out / common.FEEDBACK_ZIP) as zf:
        assert sorted(zf.namelist()) == ["ana.ipynb.txt", "bruno.ipynb.txt"]


def test_grading_without_isolation_writes_nothing_in_home(mini_release, tmp_path, monkeypatch):
    """Sem isolamento, com um ``HOME`` que já tem a pasta de inicialização do IPython: a
    execução de diagnóstico funciona e nada aparece nem muda no ``HOME`` nem na pasta atual."""
    home = tmp_path / "casa"
    (home / ".ipython" / "profile_default" / "startup").mkdir(parents=True)
    (home / ".ipython" / "profile_default" / "startup" / "50-meu.py").write_text("y = 2\n")
    here = tmp_path / "aqui"
    here.mkdir()
    before = _files(home)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(here)
    folder = tmp_path / "turma"
    _save(folder / "certa.ipynb", RIGHT)
    out = tmp_path / "correcao"
    [result] = grading.grade(folder, mini_release, out, _options(isolated=False), log=_quiet)
    assert result.status == common.GRADED and result.total == 2, result.log
    assert result.warnings == [], result.log  # a execução de diagnóstico rodou sem erro
    assert _files(home) == before
    assert list(here.iterdir()) == []
    assert not (out / common.WORK_DIR).exists()


def test_sigterm_stops_the_grading_without_the_queue(mini_release, tmp_path):
    """SIGTERM com entregas na fila: a correção sai em poucos segundos, sem corrigir a fila,
    com as linhas do que já terminou na planilha e sem a pasta de trabalho."""
    folder = tmp_path / "turma"
    total = 10
    for index in range(total):
        _save(folder / f"e{index:02d}.ipynb", RIGHT)
    out = tmp_path / "correcao"
    command = [sys.executable, "-m", "coursetools.coursework", "grade", str(folder), "--release",
               str(mini_release), "--out", str(out), "--jobs", "1"]
    if not sandbox.bwrap_works():
        command.append("--sem-isolamento")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and not (out / common.GRADEBOOK).exists():
            time.sleep(0.1)
        assert (out / common.GRADEBOOK).exists(), "a primeira entrega não terminou"
        process.send_signal(signal.SIGTERM)
        start = time.perf_counter()
        process.wait(timeout=60)
        elapsed = time.perf_counter() - start
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert elapsed < 8, f"a correção levou {elapsed:.1f} s para parar"
    rows = _rows(out)
    assert 1 <= len(rows) < total
    assert all(r["situacao"] == common.GRADED and r["total"] == "2" for r in rows.values())
    assert not (out / common.WORK_DIR).exists()


# --------------------------------------------------------------------------------------------
# o que a correção escreve
# --------------------------------------------------------------------------------------------


def _chapter() -> Chapter:
    return Chapter("cap", "Capítulo", "e.ipynb", "c.zip", "s.ipynb",
                   [Question("q1", 2.0, ["f"], []), Question("q2", 3.0, ["g"], [])])


def test_class_summary_has_the_mean_and_the_most_common_failure(tmp_path):
    def graded(key: str, q1: float, q2: float, failures: dict[str, str]) -> Result:
        return Result(key, common.GRADED, "", chapter="cap", possible=5.0,
                      scores={"q1": q1, "q2": q2}, failures=failures)

    rows = [graded("a", 2, 0, {"q2": "esqueceu a raiz"}),
            graded("b", 1, 0, {"q1": "sinal trocado", "q2": "esqueceu a raiz"}),
            graded("c", 0, 3, {"q1": "forma errada"}),
            graded("d", 0, 1.5, {"q1": "forma errada", "q2": "divide por n"}),
            Result("e", common.TIMED_OUT, "", chapter="cap", possible=5.0,
                   failures={"q1": "não conta"})]  # só as corrigidas entram no resumo
    rows[2].review.append("q2: a resposta menciona `torch.sqrt`, que o exercício pede para não "
                          "usar; a nota calculada (3) foi mantida — confira.")
    write_summary(rows, {"cap": _chapter()}, tmp_path / common.SUMMARY)
    with open(tmp_path / common.SUMMARY, encoding="utf-8-sig", newline="") as f:
        summary = {r["exercicio"]: r for r in csv.DictReader(f)}
    assert summary["q1"] == {"capitulo": "cap", "exercicio": "q1", "entregas": "4",
                             "media": "0.75", "maximo": "2", "fracao_nota_maxima": "0.25",
                             "falha_mais_comum": "forma errada", "vezes": "2",
                             "em_revisao": "0"}
    assert summary["q2"]["em_revisao"] == "1"  # a revisão de q2 não conta em q1
    assert summary["q2"]["media"] == "1.12"  # (0 + 0 + 3 + 1,5) / 4 = 1,125
    assert (summary["q2"]["falha_mais_comum"], summary["q2"]["vezes"]) == ("esqueceu a raiz", "2")
    assert summary["q2"]["fracao_nota_maxima"] == "0.25"


@pytest.mark.parametrize("language", sorted(MOODLE_HEADERS))
def test_moodle_sheet_date_is_unambiguous_for_strtotime(tmp_path, language):
    """O importador do Moodle lê a data com o ``strtotime`` do PHP, que lê “05/03/2025” como
    3 de maio: a data sai em ISO, ``AAAA-MM-DD HH:MM``, que ele lê certo."""
    row = Result("Ana_101_assignsubmission_file_/a.ipynb", common.GRADED, "ok", chapter="cap",
                 possible=5.0, scores={"q1": 2.0}, participant="101", student="Ana")
    before = time.time()
    write_moodle([row], tmp_path / "moodle.csv", language)
    with open(tmp_path / "moodle.csv", encoding="utf-8-sig", newline="") as f:
        [line] = list(csv.DictReader(f))
    written = line[MOODLE_HEADERS[language]["modified"]]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", written), written
    stamp = time.mktime(time.strptime(written, "%Y-%m-%d %H:%M"))
    assert before - 120 <= stamp <= time.time()


# --------------------------------------------------------------------------------------------
# a devolutiva em português
# --------------------------------------------------------------------------------------------


def test_an_unrecognized_failure_is_explained_in_portuguese():
    """Um caso que falhou sem exceção nem saída esperada reconhecível (a saída cortada, por
    exemplo): a devolutiva diz em português que falhou e mostra o que interessa, sem o
    cabeçalho em inglês do otter nem o passo a passo do doctest."""
    message = ("❌ Test case failed\nTrying:\n    dobro(2)\nExpecting:\n    4\n"
               "**********************************************************************\n"
               "Line 1, in q1 0\nFailed example:\n    dobro(2)\nGot nothing\n")
    reason = report.failure_reason(message)
    assert reason.startswith("O caso de teste falhou")
    assert "dobro(2)" in reason and "obtido: nada" in reason
    for english in ("Test case failed", "Trying", "Expecting", "Failed example", "Got", "Line 1"):
        assert english not in reason, reason
    assert report.failure_reason("❌ Test case failed\n") == "O caso de teste falhou."


def test_an_answer_that_fails_to_load_is_explained_in_portuguese():
    text = report.load_error_text("NameError: name 'np' is not defined")
    assert text.startswith("erro ao carregar a resposta")
    assert "`np` não está definido" in text and "is not defined" not in text
    text = report.load_error_text("ZeroDivisionError: division by zero")
    assert text.startswith("erro ao carregar a resposta") and "ZeroDivisionError" in text


# --------------------------------------------------------------------------------------------
# .gitignore e o guia do professor
# --------------------------------------------------------------------------------------------


def test_gitignore_keeps_student_data_out_of_git():
    """Os arquivos com dados de estudantes são ignorados onde estiverem: as entregas e as pastas
    e os arquivos soltos do Moodle, e tudo o que a correção escreve, também numa pasta de
    resultados sem “-correcao” no nome."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("sem git aqui")
    moodle = "Ana Souza_101_assign{}_file_"
    out = "resultado"
    paths = [
        "entregas/ana.ipynb", "turma-correcao/qualquer.txt", "tarefa.zip",
        f"{moodle.format('submission')}/cap1.ipynb", f"{moodle.format('submission')}cap1.ipynb",
        f"baixado/{moodle.format('submission')}cap1.ipynb",
        f"{moodle.format('feedback')}/cap1.ipynb.txt", f"{moodle.format('feedback')}cap1.txt",
        *(f"{out}/{name}" for name in (
            common.GRADEBOOK, common.MOODLE_SHEET, common.ADJUSTMENTS, common.SUMMARY,
            common.DUPLICATES, common.STATE, common.FEEDBACK_ZIP, f"{common.FEEDBACK_DIR}/a.txt",
            f"{common.FEEDBACK_DIR}/{moodle.format('submission')}/a.ipynb.txt",
            f"{common.LOG_DIR}/a.ipynb.log", f"{common.BACKUP_DIR}/notas-20250101-120000.csv",
            f"{common.WORK_DIR}/entregas/a.ipynb")),
    ]
    checked = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=ROOT,
                             input="\n".join(paths) + "\n", capture_output=True, text=True,
                             timeout=60)
    ignored = set(checked.stdout.splitlines())
    assert [p for p in paths if p not in ignored] == []
    kept = ["book/guia_do_professor.md", "code/coursetools/coursework/gradebook.py",
            "tests/test_grading.py"]
    checked = subprocess.run(["git", "check-ignore", "--no-index", *kept], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert checked.stdout == ""


GUIDE = ROOT / "book" / "guia_do_professor.md"


def _guide_section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(title)
    return text[start:text.index("\n## ", start)]


def test_teacher_guide_lists_every_status_and_every_grading_option():
    """A seção “Corrigir” do passo a passo tem uma linha para cada situação que a correção
    produz e para cada opção de ``grade`` (lidas do analisador da linha de comando)."""
    section = _guide_section("### 4. Corrigir")
    statuses = set(re.findall(r"^\| `([^`]+)` \|", section, flags=re.M))
    assert set(common.STATUSES) <= statuses
    assert {common.TAMPERED, common.TIMED_OUT, common.GRADER_ERROR} <= set(common.STATUSES)
    commands = next(a for a in cli.parser()._actions if a.dest == "command")
    options = {o for action in commands.choices["grade"]._actions for o in action.option_strings
               if o.startswith("--") and o != "--help"}
    assert {"--refazer", "--sem-isolamento", "--moodle-idioma"} <= options
    listed = set(re.findall(r"^\| `(--[\w-]+)", section, flags=re.M))
    assert options <= listed, f"faltam no guia: {sorted(options - listed)}"
    assert "otter run" not in section and "TEMPO_POR_ENTREGA" not in section
    assert re.search(r"\d+,\d s por entrega", section)  # o tempo medido, não um marcador

