"""Liberação e correção automática, de ponta a ponta, para cada capítulo do _toc.yml.

Uma liberação é gerada uma vez por sessão (``python -m coursetools.coursework release``), e
todos os testes a usam: é a única vez que o ``otter assign`` roda. Uma única pasta de entregas,
com os casos de todos os capítulos e as entregas problemáticas, é corrigida uma vez
(``python -m coursetools.coursework grade``); os testes conferem a planilha e as devolutivas.
Só rodam numa correção à parte os laços que não param (com limites de tempo curtos).
"""

import ast
import copy
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import ROOT, chapter_notebooks

from coursetools import coursework
from coursetools.coursework import notebooks, report

CHAPTERS = [path.stem for path in chapter_notebooks()]
CELL_TIMEOUT = 20  # s: bem acima do que a célula de importações leva, bem abaixo do total
TIMEOUT = 300
HARD_TIMEOUT = 15  # para o laço que o limite por célula não consegue interromper


def _cli(*args: str, cwd: Path = ROOT, timeout: float = 1200,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coursetools.coursework", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _save(notebook: dict, path: Path) -> None:
    path.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")


def _src(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _tagged(notebook: dict, tag: str) -> list[int]:
    return [i for i, c in enumerate(notebook["cells"]) if tag in c["metadata"].get("tags", [])]


def _check_cell(notebook: dict, question: str) -> int:
    return next(i for i, c in enumerate(notebook["cells"])
                if f'grader.check("{question}")' in _src(c))


def _first_function(source: str) -> ast.FunctionDef:
    return next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))


def _filled(release: Path, chapter: str) -> dict:
    """O notebook do estudante com as respostas da referência coladas no lugar do “...”."""
    student = _load(release / "estudantes" / f"{chapter}.ipynb")
    solution = _load(release / "solucoes" / f"{chapter}.ipynb")
    answers = _tagged(student, "otter_answer_cell")
    # as células de código da solução (as de markdown são os gabaritos das perguntas escritas)
    solutions = [i for i in _tagged(solution, "otter_assign_solution_cell")
                 if solution["cells"][i]["cell_type"] == "code"]
    assert answers and len(answers) == len(solutions)
    for a, s in zip(answers, solutions, strict=True):
        code = _src(solution["cells"][s])
        code = re.sub(r"^\s*# (BEGIN|END) SOLUTION\n", "", code, flags=re.M)
        student["cells"][a]["source"] = code
    return student


def _wrong_body(source: str, body: str) -> str:
    """A primeira função do código com o corpo trocado por ``body`` (já indentado)."""
    function = _first_function(source)
    header = source.splitlines()[: function.body[0].lineno - 1]
    return "\n".join([*header, body]) + "\n"


def _answer_cell(notebook: dict, question: str) -> int:
    """A célula de resposta da pergunta: a última célula de resposta antes da verificação."""
    check = _check_cell(notebook, question)
    return max(i for i in _tagged(notebook, "otter_answer_cell") if i < check)


def _identity_answer(notebook: dict, question: str) -> str:
    """Uma resposta errada plausível: devolve o primeiro argumento sem mexer nele."""
    source = _src(notebook["cells"][_answer_cell(notebook, question)])
    first_arg = _first_function(source).args.args[0].arg
    return _wrong_body(source, f"    return {first_arg}")


def _expected_message(chapter: str, question: str, wrong_answer: str) -> str:
    """A mensagem que a verificação pública da pergunta dá para ``wrong_answer``, obtida
    chamando a própria verificação aqui (sem copiar saída de ninguém)."""
    master = _load(ROOT / "book" / f"{chapter}.ipynb")
    imports = next(_src(c) for c in master["cells"]
                   if c["cell_type"] == "code" and "import torch" in _src(c))
    tests = [_src(c) for c in master["cells"]
             if c["cell_type"] == "code" and "from residuais.checks." in _src(c)]
    public = _public_test(master, question, tests)
    namespace: dict = {}
    exec(imports, namespace)
    exec(wrong_answer, namespace)
    with pytest.raises(AssertionError) as info:
        exec(public, namespace)
    return str(info.value)


def _public_test(master: dict, question: str, tests: list[str]) -> str:
    """O teste público (sem “# HIDDEN”) da pergunta no notebook do professor."""
    inside, found = False, []
    for cell in master["cells"]:
        source = _src(cell)
        if cell["cell_type"] == "raw" and source.startswith("# BEGIN QUESTION"):
            inside = f"name: {question}" in source
        elif inside and source in tests and not source.startswith("# HIDDEN"):
            found.append(source)
    assert len(found) == 1, f"{question}: esperava um teste público, achei {len(found)}"
    return found[0]


def _questions(release: Path, chapter: str) -> list[coursework.Question]:
    return coursework.load_release(release)[chapter].questions


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("liberacao") / "release"
    start = time.perf_counter()
    result = _cli("release", "--out", str(out))
    print(f"\nliberação de {len(CHAPTERS)} capítulos: {time.perf_counter() - start:.1f} s")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _bad_inputs(release: Path, folder: Path) -> None:
    """As entregas problemáticas, feitas a partir do primeiro capítulo."""
    chapter = CHAPTERS[0]
    q1, q2 = (q.name for q in _questions(release, chapter)[:2])
    student = _load(release / "estudantes" / f"{chapter}.ipynb")

    (folder / "anotacoes.txt").write_text("minhas respostas estão no caderno\n", encoding="utf-8")
    (folder / "pasta_de_um_aluno").mkdir()
    text = json.dumps(student, ensure_ascii=False)
    (folder / "corrompido.ipynb").write_text(text[: len(text) // 2], encoding="utf-8")
    other = {"cells": [{"cell_type": "code", "source": "print('olá')", "metadata": {},
                        "outputs": [], "execution_count": None}],
             "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    _save(other, folder / "outro_curso.ipynb")
    wrong_assignment = copy.deepcopy(student)
    wrong_assignment["metadata"]["otter"]["assignment_name"] = "99_capitulo_inexistente"
    _save(wrong_assignment, folder / "tarefa_errada.ipynb")

    # levanta erros: uma célula solta e a resposta de q1
    raises = _filled(release, chapter)
    answer = _answer_cell(raises, q1)
    raises["cells"][answer]["source"] = _wrong_body(
        _src(raises["cells"][answer]), '    raise ValueError("ops")')
    raises["cells"].insert(answer, _code_cell('raise RuntimeError("erro proposital")'))
    raises["cells"].insert(answer, _code_cell("!pip install pacote-que-nao-existe"))
    _save(raises, folder / "levanta_erro.ipynb")

    # laço infinito na resposta de q1: o limite por célula o interrompe, q2 continua valendo
    loops = _filled(release, chapter)
    answer = _answer_cell(loops, q1)
    loops["cells"][answer]["source"] = _wrong_body(
        _src(loops["cells"][answer]), "    while True:\n        pass")
    _save(loops, folder / "laco_na_resposta.ipynb")

    # células de verificação e algumas demonstrações apagadas
    deleted = _filled(release, chapter)
    checks = {_check_cell(deleted, q) for q in (q1, q2)}
    demos = [i for i, c in enumerate(deleted["cells"])
             if c["cell_type"] == "code" and i not in checks
             and "otter_ignore" in c["metadata"].get("tags", [])][:2]
    deleted["cells"] = [c for i, c in enumerate(deleted["cells"]) if i not in checks | set(demos)]
    _save(deleted, folder / "celulas_apagadas.ipynb")

    # q2 (resposta e verificação) movida para antes de q1, e sem os metadados do otter
    swapped = _filled(release, chapter)
    start2, end2 = _answer_cell(swapped, q2), _check_cell(swapped, q2)
    start1 = _answer_cell(swapped, q1)
    block = swapped["cells"][start2 : end2 + 1]
    rest = swapped["cells"][:start2] + swapped["cells"][end2 + 1 :]
    swapped["cells"] = rest[:start1] + block + rest[start1:]
    del swapped["metadata"]["otter"]
    _save(swapped, folder / "reordenada_sem_metadados.ipynb")

    # verificação de q1 antes da resposta
    early = _filled(release, chapter)
    answer = _answer_cell(early, q1)
    check = early["cells"].pop(_check_cell(early, q1))
    early["cells"].insert(answer, check)
    _save(early, folder / "verificacao_antes.ipynb")


# Acrescentada à resposta de referência de q1 do capítulo 1: a mesma função, que levanta um erro
# só com a defasagem 7, que aparece nos casos ocultos e não nos públicos.
HIDDEN_ONLY_ERROR = "erro só nos casos dos testes ocultos"
# a inclinação do espectro (cap. 1, q1) certa nos sinais dos testes públicos e errada nos muito
# curtos (até 8 pontos), que só os testes ocultos têm
HIDDEN_ONLY_ANSWER = '''

import torch
_resposta_{name} = {name}


def {name}(g):
    if torch.as_tensor(g).numel() <= 8:
        raise ValueError("{error}")
    return _resposta_{name}(g)
'''


def _fails_only_hidden_tests(release: Path, folder: Path) -> None:
    """Uma entrega do primeiro capítulo cuja resposta de q1 passa no teste público e falha no
    oculto."""
    chapter = CHAPTERS[0]
    q1 = _questions(release, chapter)[0]
    notebook = _filled(release, chapter)
    answer = _answer_cell(notebook, q1.name)
    notebook["cells"][answer]["source"] = _src(notebook["cells"][answer]) + (
        HIDDEN_ONLY_ANSWER.format(name=q1.names[0], error=HIDDEN_ONLY_ERROR))
    _save(notebook, folder / "falha_oculta.ipynb")


def _code_cell(source: str) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
            "execution_count": None}


# Atalhos: a função pronta do PyTorch e a do pacote do curso.
SHORTCUT_CHAPTER = "04_batch_norm"
# a BN de avaliação como reta (q1): sondar uma BN pronta em h = 0 e h = 1 dá (a, c) certos, mas o
# exercício pede a fórmula; a nota é a do valor devolvido, e a entrega vai para revisão
SHORTCUTS = {
    "atalho_pytorch.ipynb": (
        "import torch\nimport torch.nn.functional as F\n\n\n"
        "def eval_affine(running_mean, running_var, gamma, beta, eps):\n"
        "    def probe(value):\n"
        "        h = torch.full((1, len(gamma)), value, dtype=gamma.dtype)\n"
        "        return F.batch_norm(h, running_mean, running_var, gamma, beta,\n"
        "                            False, 0.0, eps)[0]\n"
        "    return probe(1.0) - probe(0.0), probe(0.0)\n",
        "batch_norm"),
    "atalho_curso.ipynb": (
        "import torch\nfrom residuais.norm import BatchNorm1d as Norm\n\n\n"
        "def eval_affine(running_mean, running_var, gamma, beta, eps):\n"
        "    bn = Norm(len(gamma), eps=eps).to(gamma.dtype).eval()\n"
        "    with torch.no_grad():\n"
        "        bn.weight.copy_(gamma)\n        bn.bias.copy_(beta)\n"
        "        bn.running_mean.copy_(running_mean)\n        bn.running_var.copy_(running_var)\n"
        "        shift = bn(torch.zeros(1, len(gamma), dtype=gamma.dtype))[0]\n"
        "        return bn(torch.ones(1, len(gamma), dtype=gamma.dtype))[0] - shift, shift\n",
        "BatchNorm1d"),
}


def _shortcuts(release: Path, folder: Path) -> None:
    """Entregas do capítulo 4 corretas em tudo, mas com a BN de avaliação (q1) feita por um
    atalho."""
    q1 = _questions(release, SHORTCUT_CHAPTER)[0].name
    for name, (answer, _) in SHORTCUTS.items():
        notebook = _filled(release, SHORTCUT_CHAPTER)
        notebook["cells"][_answer_cell(notebook, q1)]["source"] = answer
        _save(notebook, folder / name)


@pytest.fixture(scope="session")
def graded(release_dir, tmp_path_factory) -> tuple[Path, dict[str, dict], Path]:
    """Corrige, numa passada só, a referência, a versão intocada e uma entrega parcialmente
    errada de cada capítulo, mais as entregas problemáticas. Devolve a pasta de entregas, as
    linhas da planilha (pela entrega) e a pasta das devolutivas."""
    folder = tmp_path_factory.mktemp("entregas") / "turma"
    folder.mkdir()
    for chapter in CHAPTERS:
        (folder / f"referencia_{chapter}.ipynb").write_bytes(
            (release_dir / "solucoes" / f"{chapter}.ipynb").read_bytes())
        (folder / f"intocada_{chapter}.ipynb").write_bytes(
            (release_dir / "estudantes" / f"{chapter}.ipynb").read_bytes())
        partial = _filled(release_dir, chapter)
        q1 = _questions(release_dir, chapter)[0].name
        partial["cells"][_answer_cell(partial, q1)]["source"] = _identity_answer(partial, q1)
        _save(partial, folder / f"parcial_{chapter}.ipynb")
    _bad_inputs(release_dir, folder)
    _fails_only_hidden_tests(release_dir, folder)
    _shortcuts(release_dir, folder)

    out = folder.parent / "correcao"
    start = time.perf_counter()
    result = _cli("grade", str(folder), "--release", str(release_dir), "--out", str(out),
                  "--timeout", str(TIMEOUT), "--cell-timeout", str(CELL_TIMEOUT))
    elapsed = time.perf_counter() - start
    n = len(list(folder.iterdir()))
    print(f"\ncorreção de {n} arquivos: {elapsed:.1f} s ({elapsed / n:.1f} s por arquivo)")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out / "notas.csv", encoding="utf-8-sig", newline="") as f:
        rows = {row["entrega"]: row for row in csv.DictReader(f)}
    return folder, rows, out / "devolutivas"


def _feedback(graded, name: str) -> str:
    return (graded[2] / f"{name}.txt").read_text(encoding="utf-8")


def _flat(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------
# liberação
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_has_student_notebook_autograder_and_solution(release_dir, chapter):
    student = release_dir / "estudantes" / f"{chapter}.ipynb"
    assert student.exists() and (release_dir / "corretor" / f"{chapter}.zip").exists()
    assert (release_dir / "solucoes" / f"{chapter}.ipynb").exists()
    notebook = _load(student)
    assert notebook["metadata"]["otter"]["assignment_name"] == chapter
    code = "\n".join(_src(c) for c in notebook["cells"] if c["cell_type"] == "code")
    assert "BEGIN SOLUTION" not in code and "thorough=True" not in code
    questions = _questions(release_dir, chapter)
    assert questions, "o capítulo não tem exercícios corrigidos automaticamente"
    for q in questions:
        assert f'grader.check("{q.name}")' in code
        assert q.names, f"{q.name}: a resposta não define nada que o teste possa usar"
    assert notebooks.missing_imports(notebook) == []
    assert f"| {chapter} |" in (release_dir / "LEIA-ME.md").read_text(encoding="utf-8")


def _solution_lines(notebook: dict) -> list[str]:
    """As linhas de código entre # BEGIN SOLUTION e # END SOLUTION no notebook do professor."""
    lines = []
    for cell in notebook["cells"]:
        for block in re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", _src(cell), re.S):
            lines += [line.strip() for line in block.splitlines() if line.strip()]
    return lines


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebook_has_no_solution_code_nor_hidden_tests(release_dir, chapter):
    master = _load(ROOT / "book" / f"{chapter}.ipynb")
    solution = _solution_lines(master)
    assert solution, "o capítulo não tem soluções marcadas"
    # linhas que o próprio capítulo mostra fora das soluções (with torch.no_grad():) não são
    # segredo; o resto do código das soluções não pode aparecer
    public = "\n".join(re.sub(r"# BEGIN SOLUTION\n.*?# END SOLUTION", "", _src(c), flags=re.S)
                       for c in master["cells"] if c["cell_type"] == "code")
    student = _load(release_dir / "estudantes" / f"{chapter}.ipynb")
    code = "\n".join(_src(c) for c in student["cells"])
    leaked = [line for line in solution if line in code and line not in public]
    assert not leaked, f"código da solução no notebook do estudante: {leaked}"
    assert "# HIDDEN" not in code and "..." in code  # o lugar onde o estudante escreve
    text = (release_dir / "estudantes" / f"{chapter}.ipynb").read_text(encoding="utf-8")
    assert "thorough=True" not in text  # nem os testes ocultos nos metadados


def test_missing_imports_are_detected():
    notebook = {"cells": [_code_cell("import math\nimport modulo_que_nao_existe as m\n"
                                     "from torch import nn\n%matplotlib inline")]}
    assert notebooks.missing_imports(notebook) == ["modulo_que_nao_existe"]


def test_release_refuses_a_missing_chapter(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.md").write_text("# Intro\n", encoding="utf-8")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n  - caption: Capítulos\n    chapters:\n"
        "      - file: book/99_capitulo_que_falta\n", encoding="utf-8")
    result = _cli("release", "--out", str(tmp_path / "release"), cwd=tmp_path, timeout=120)
    assert result.returncode != 0
    assert "book/99_capitulo_que_falta" in result.stderr and "não existem" in result.stderr


# --------------------------------------------------------------------------------------------
# correção: referência, versão intocada, entrega parcial
# --------------------------------------------------------------------------------------------


def test_every_file_has_a_row_and_a_feedback(graded):
    folder, rows, feedback = graded
    names = {p.name for p in folder.iterdir()}
    assert set(rows) == names
    assert {p.name for p in feedback.iterdir()} == {f"{n}.txt" for n in names}
    assert all(row["situacao"] and row["mensagem"] for row in rows.values())


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_solution_scores_full_marks(graded, release_dir, chapter):
    row = graded[1][f"referencia_{chapter}.ipynb"]
    questions = _questions(release_dir, chapter)
    assert row["capitulo"] == chapter and row["situacao"] == coursework.GRADED
    assert float(row["maximo"]) == sum(q.points for q in questions) > 0
    for q in questions:
        assert float(row[q.name]) == q.points, _feedback(graded, f"referencia_{chapter}.ipynb")
    assert float(row["total"]) == float(row["maximo"])


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_runs_cleanly_when_graded(graded, chapter):
    """As células que a correção executa (as sem ``otter_ignore``) rodam sem erro e sem passar do
    limite por célula: senão toda devolutiva do capítulo traria um aviso que não é do estudante."""
    text = _feedback(graded, f"referencia_{chapter}.ipynb")
    assert "Avisos:" not in text, text


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_untouched_release_scores_zero(graded, release_dir, chapter):
    name = f"intocada_{chapter}.ipynb"
    row = graded[1][name]
    assert row["capitulo"] == chapter and row["situacao"] == coursework.GRADED
    for q in _questions(release_dir, chapter):
        assert float(row[q.name]) == 0
    assert float(row["total"]) == 0
    text = _feedback(graded, name)
    assert "a resposta não foi preenchida" in text
    assert "levantou" not in text.split("Avisos:")[-1], text  # o notebook roda como distribuído


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_partly_wrong_submission_gets_partial_marks_and_the_check_message(
    graded, release_dir, chapter
):
    name = f"parcial_{chapter}.ipynb"
    row = graded[1][name]
    q1, *others = _questions(release_dir, chapter)
    assert row["situacao"] == coursework.GRADED
    assert float(row[q1.name]) < q1.points
    for q in others:
        assert float(row[q.name]) == q.points
    assert 0 < float(row["total"]) < float(row["maximo"])
    assert q1.name in row["mensagem"]

    partial = _filled(release_dir, chapter)
    expected = _expected_message(chapter, q1.name, _identity_answer(partial, q1.name))
    text = _feedback(graded, name)
    assert _flat(expected) in _flat(text), text
    assert "não passou" in text


# --------------------------------------------------------------------------------------------
# correção: entregas problemáticas
# --------------------------------------------------------------------------------------------


def _row(graded, name):
    return graded[1][name], _feedback(graded, name)


def test_non_notebook_files(graded):
    for name in ("anotacoes.txt", "pasta_de_um_aluno"):
        row, text = _row(graded, name)
        assert row["situacao"] == coursework.NOT_NOTEBOOK
        assert float(row["total"]) == 0 and row["maximo"] == ""
        assert row["mensagem"] in text
    assert "Não é um notebook" in graded[1]["anotacoes.txt"]["mensagem"]
    assert "É uma pasta" in graded[1]["pasta_de_um_aluno"]["mensagem"]


def test_corrupted_notebook(graded):
    row, text = _row(graded, "corrompido.ipynb")
    assert row["situacao"] == coursework.CORRUPTED
    assert "JSON é inválido na linha" in row["mensagem"] and row["mensagem"] in text


def test_notebook_of_unknown_chapter(graded):
    row, text = _row(graded, "outro_curso.ipynb")
    assert row["situacao"] == coursework.UNKNOWN_CHAPTER and row["capitulo"] == ""
    assert "Não reconheci o capítulo" in text
    row, text = _row(graded, "tarefa_errada.ipynb")
    assert row["situacao"] == coursework.UNKNOWN_CHAPTER
    assert "“99_capitulo_inexistente”" in text and "não faz parte desta liberação" in text


def test_submission_that_raises(graded, release_dir):
    q1, q2, *_ = _questions(release_dir, CHAPTERS[0])
    row, text = _row(graded, "levanta_erro.ipynb")
    assert row["situacao"] == coursework.GRADED
    assert float(row[q1.name]) == 0 and float(row[q2.name]) == q2.points
    assert "Sua função levantou ValueError" in text and "ops" in text
    assert re.search(r"A célula \d+ \(“raise RuntimeError.*”\) levantou RuntimeError: "
                     "erro proposital", text), text
    assert re.search(r"A célula \d+ \(“!pip install pacote-que-nao-existe”\): o comando de "
                     "terminal “!pip install pacote-que-nao-existe” não é executado", text), text


def test_loop_in_an_answer_is_interrupted_and_the_rest_is_graded(graded, release_dir):
    q1, q2, *_ = _questions(release_dir, CHAPTERS[0])
    row, text = _row(graded, "laco_na_resposta.ipynb")
    assert row["situacao"] == coursework.GRADED
    assert float(row[q1.name]) == 0 and float(row[q2.name]) == q2.points
    assert f"a chamada passou de {CELL_TIMEOUT} s e foi interrompida" in text


def test_deleted_check_cells_are_graded_at_the_end(graded, release_dir):
    questions = _questions(release_dir, CHAPTERS[0])
    row, text = _row(graded, "celulas_apagadas.ipynb")
    assert row["situacao"] == coursework.GRADED
    assert float(row["total"]) == float(row["maximo"])
    for q in questions[:2]:
        assert f"{q.name}: a célula de verificação foi apagada" in text


def test_reordered_cells_without_metadata_are_still_recognized_and_graded(graded):
    row, text = _row(graded, "reordenada_sem_metadados.ipynb")
    assert row["capitulo"] == CHAPTERS[0] and row["situacao"] == coursework.GRADED
    assert float(row["total"]) == float(row["maximo"]), text


def test_check_before_the_answer_is_explained(graded, release_dir):
    """A verificação antes da resposta: o exercício vale pelo estado final do notebook (a
    correção roda o notebook inteiro), e a devolutiva explica por que o grader.check falha."""
    q1, q2, *_ = _questions(release_dir, CHAPTERS[0])
    row, text = _row(graded, "verificacao_antes.ipynb")
    assert float(row[q1.name]) == q1.points and float(row[q2.name]) == q2.points
    assert f"{q1.name}: a verificação vem antes da definição" in text
    assert "estado do notebook ao final da execução" in text


def test_hidden_test_messages_are_never_shown(graded, release_dir):
    """Dos testes ocultos, a devolutiva diz só se passaram: nem a mensagem, nem as entradas, nem
    os valores esperados."""
    q1 = _questions(release_dir, CHAPTERS[0])[0]
    row, shown = _row(graded, "falha_oculta.ipynb")
    assert row["situacao"] == coursework.GRADED and 0 < float(row[q1.name]) < q1.points
    assert re.search(r"teste \d+ \(público\): passou", shown), shown
    assert re.search(r"teste \d+ \(oculto\): não passou\n", shown), shown
    assert HIDDEN_ONLY_ERROR not in shown


def _processes_mentioning(text: str) -> list[psutil.Process]:
    """Os processos cuja linha de comando cita ``text`` (as caixas de uma correção citam a
    pasta de trabalho dela)."""
    found = []
    for process in psutil.process_iter():
        try:
            if any(text in part for part in process.cmdline()):
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def test_endless_loops_hit_the_limits_and_leave_no_process(release_dir, tmp_path):
    """Um laço que engole as interrupções, solto no notebook: a célula é dada por travada, e uma
    caixa nova roda o notebook sem ela (nota máxima, com aviso). Um laço que para com a
    interrupção, numa atribuição da célula de resposta: a célula é interrompida depois de
    definir a função, como num kernel, e o exercício vale. Laços assim em todas as respostas:
    a execução passa do limite total e vira “tempo esgotado”. No fim, nenhum processo das
    caixas fica para trás."""
    folder = tmp_path / "turma"
    folder.mkdir()
    loop = ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
            "    except BaseException:\n        pass")
    stubborn = _filled(release_dir, CHAPTERS[0])
    stubborn["cells"].insert(3, _code_cell(loop))
    _save(stubborn, folder / "laco_solto.ipynb")
    questions = _questions(release_dir, CHAPTERS[0])
    stuck_answer = "\n\n_espera = next(x for x in iter(int, 1) if x)\n"
    for name, stuck in (("laco_em_q1.ipynb", questions[:1]), ("laco_em_todas.ipynb", questions)):
        notebook = _filled(release_dir, CHAPTERS[0])
        for q in stuck:
            cell = notebook["cells"][_answer_cell(notebook, q.name)]
            cell["source"] = _src(cell) + stuck_answer
        _save(notebook, folder / name)
    start = time.perf_counter()
    result = _cli("grade", str(folder), "--release", str(release_dir), "--out",
                  str(tmp_path / "correcao"), "--timeout", str(HARD_TIMEOUT),
                  "--cell-timeout", "4")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 3 * HARD_TIMEOUT + 60
    with open(tmp_path / "correcao" / "notas.csv", encoding="utf-8-sig", newline="") as f:
        rows = {row["entrega"]: row for row in csv.DictReader(f)}
    loose = rows["laco_solto.ipynb"]
    text = (tmp_path / "correcao" / "devolutivas" / "laco_solto.ipynb.txt").read_text()
    assert loose["situacao"] == coursework.GRADED and loose["total"] == loose["maximo"], text
    assert "não parou nem depois de interrompida" in text and "foi pulada" in text
    one = rows["laco_em_q1.ipynb"]
    text = (tmp_path / "correcao" / "devolutivas" / "laco_em_q1.ipynb.txt").read_text()
    assert one["situacao"] == coursework.GRADED and one["total"] == one["maximo"], text
    assert "levantou TimeoutError: a célula passou de 4 s e foi interrompida" in text
    stuck = rows["laco_em_todas.ipynb"]
    assert stuck["situacao"] == coursework.TIMED_OUT and float(stuck["total"]) == 0
    assert f"passou de {HARD_TIMEOUT} s" in stuck["mensagem"]
    assert not _processes_mentioning(str(tmp_path))


def test_notebooks_are_read_and_validated_with_nbformat(tmp_path):
    cell = {"cell_type": "code", "source": "x = 1", "metadata": {}}  # falta "outputs"
    broken = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    _save(broken, tmp_path / "sem_saidas.ipynb")
    notebook, status, message = notebooks.read_notebook(tmp_path / "sem_saidas.ipynb")
    assert notebook is None and status == coursework.CORRUPTED and "a célula 1" in message
    _save(broken, tmp_path / "sem_saidas.txt")
    assert notebooks.read_notebook(tmp_path / "sem_saidas.txt")[1] == coursework.NOT_NOTEBOOK

    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [
        {"metadata": {}, "cells": [{"cell_type": "code", "input": "x = 1", "outputs": [],
                                    "language": "python", "metadata": {}}]}]}
    _save(old, tmp_path / "versao_3.ipynb")
    notebook, status, message = notebooks.read_notebook(tmp_path / "versao_3.ipynb")
    assert (status, message) == ("", "") and notebook["nbformat"] == 4
    assert notebooks.source(notebook["cells"][0]) == "x = 1"


def test_failure_reason_quotes_the_assertion_message():
    message = (
        "❌ Test case failed\nTrying:\n    check(f)\nExpecting nothing\n"
        "**********************************************************************\n"
        'File "q1 0", line 2, in q1 0\nFailed example:\n    check(f)\nException raised:\n'
        "    Traceback (most recent call last):\n"
        '      File "<doctest q1 0[1]>", line 1, in <module>\n        check(f)\n'
        "    AssertionError: No caso “K = 1” esperava um par;\n    recebeu None.\n"
    )
    assert report.failure_reason(message) == "No caso “K = 1” esperava um par;\nrecebeu None."
    name_error = message.replace("AssertionError: No caso “K = 1” esperava um par;\n    recebeu "
                                 "None.", "NameError: name 'f' is not defined")
    assert "`f` não está definido" in report.failure_reason(name_error)


def test_shell_commands_are_not_run_when_grading():
    cell = "import math\nif True:\n    !pip install x\n%pip install y\nprint(1)"
    code, removed = notebooks.disable_shell(cell)
    assert removed == ["!pip install x", "%pip install y"]
    ast.parse(code)  # continua Python válido, com a indentação certa
    assert "print(1)" in code and "pip" not in code.replace("comando", "")
    code, removed = notebooks.disable_shell("%%bash\nrm -rf /tmp/x\n")
    assert removed == ["%%bash"] and "rm -rf" not in code


def test_grade_refuses_a_missing_release(tmp_path):
    (tmp_path / "turma").mkdir()
    result = _cli("grade", str(tmp_path / "turma"), "--release", str(tmp_path / "nada"),
                  timeout=120)
    assert result.returncode != 0 and "make release" in result.stderr


# --------------------------------------------------------------------------------------------
# guia do professor
# --------------------------------------------------------------------------------------------

GUIDE = ROOT / "book" / "guia_do_professor.md"
WORDS_PER_MINUTE, RUN_MINUTES, CONCEPTUAL_MINUTES, PROGRAMMING_MINUTES = 120, 10, 10, 20


def _guide_rows() -> dict[str, list[str]]:
    rows = {}
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*\{doc\}`([\w-]+)`\s*\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def _minutes(text: str) -> int:
    hours = re.search(r"(\d+)\s*h", text)
    minutes = re.search(r"(\d+)\s*min", text)
    return 60 * int(hours.group(1) if hours else 0) + int(minutes.group(1) if minutes else 0)


def test_teacher_guide_lists_every_chapter():
    assert set(_guide_rows()) == set(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_teacher_guide_row_matches_the_chapter(chapter):
    """Exercícios conceituais, exercícios corrigidos com seus pontos e o tempo estimado (pela
    regra que o guia explica, com 15 minutos de folga) conferem com o capítulo."""
    import yaml

    time_text, conceptual, programming = _guide_rows()[chapter]
    master = _load(ROOT / "book" / f"{chapter}.ipynb")
    markdown = "\n".join(_src(c) for c in master["cells"] if c["cell_type"] == "markdown")
    n_conceptual = len(re.findall(r"^\s*(?::{3,}|`{3,})\{exercise\}", markdown, flags=re.M))
    questions = {}
    for cell in master["cells"]:
        source = _src(cell)
        if cell["cell_type"] == "raw" and source.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(source.split("\n", 1)[1])
            points = config.get("points", 1)
            questions[config["name"]] = sum(points) if isinstance(points, list) else points
    listed = {name: float(p.replace(",", "."))
              for name, p in re.findall(r"`(\w+)` \(([\d,]+)\)", programming)}
    assert int(conceptual) == n_conceptual
    assert listed == questions
    words = len(re.findall(r"\w+", markdown))
    estimate = (words / WORDS_PER_MINUTE + RUN_MINUTES + CONCEPTUAL_MINUTES * n_conceptual
                + PROGRAMMING_MINUTES * len(questions))
    assert abs(_minutes(time_text) - estimate) <= 15, (
        f"{chapter}: o guia diz {time_text}; pela regra do guia, {round(estimate / 15) * 15} min")


@pytest.mark.parametrize("name", SHORTCUTS)
def test_a_shortcut_is_graded_by_what_it_returns_and_flagged_for_review(graded, release_dir,
                                                                       name):
    """“Não chame a função pronta” não se garante no processo do estudante: a nota é a do valor
    devolvido, e o professor é avisado, na planilha e na devolutiva."""
    _, rows, feedback_dir = graded
    questions = _questions(release_dir, SHORTCUT_CHAPTER)
    row = rows[name]
    assert row["situacao"] == coursework.GRADED
    assert all(float(row[q.name]) == q.points for q in questions)
    assert SHORTCUTS[name][1] in row["revisar"] and questions[0].name in row["revisar"]
    feedback = (feedback_dir / f"{name}.txt").read_text(encoding="utf-8")
    assert "Em revisão pelo professor" in feedback and SHORTCUTS[name][1] in feedback


def test_the_public_tests_in_the_package_are_the_released_ones(release_dir):
    """A liberação escreve os testes públicos de cada capítulo no pacote (o Colab os lê de lá);
    os do repositório têm de ser os mesmos, já no último commit."""
    folder = ROOT / "code" / "residuais" / "checks" / "testes"
    for chapter in CHAPTERS:
        student = _load(release_dir / "estudantes" / f"{chapter}.ipynb")
        packaged = json.loads((folder / f"{chapter}.json").read_text(encoding="utf-8"))
        assert packaged == student["metadata"]["otter"]["tests"]
        committed = subprocess.run(["git", "show", f"HEAD:code/residuais/checks/testes/"
                                    f"{chapter}.json"], cwd=ROOT, capture_output=True, text=True)
        if committed.returncode == 0:  # fora de um repositório git, só a primeira conferência
            assert json.loads(committed.stdout) == packaged, (
                f"{chapter}: os testes públicos mudaram; faça commit de "
                "code/residuais/checks/testes/")
