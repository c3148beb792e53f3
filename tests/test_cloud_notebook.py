"""A primeira célula do notebook do estudante (Colab, Binder): num ambiente novo, sem o pacote do
curso, ela o instala da origem configurada — aqui, sem rede, um wheel local indicado pela
variável ``RESIDUAIS_FONTE`` — sem reinstalar o PyTorch; depois disso as verificações públicas do
notebook funcionam. Sem a origem, ela para com uma mensagem clara em português."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT

from coursetools import editions
from coursetools import student as student_notebook

CHAPTER = "06_fluxo_residual"


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def new_venv(folder: Path) -> Path:
    """Um ambiente virtual novo que enxerga as bibliotecas do curso (PyTorch, otter...) mas não o
    pacote ``residuais``; devolve o Python dele."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    # as bibliotecas já instaladas (como o PyTorch de um serviço de nuvem); o pip vem junto.
    # Os .pth do ambiente do curso não são lidos, então o ``residuais`` editável não aparece.
    Path(site.stdout.strip(), "bibliotecas.pth").write_text(sysconfig.get_paths()["purelib"])
    return python


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Um ambiente virtual novo (``new_venv``), o wheel do pacote e a liberação. Um teste que
    instala o pacote muda esse ambiente: quem precisa dele intocado cria o seu."""
    tmp = tmp_path_factory.mktemp("nuvem")
    python = new_venv(tmp / "venv")
    wheels = tmp / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, timeout=300)
    (wheel,) = wheels.glob("residuais-*.whl")
    release = editions.ensure_release(ROOT, tmp / "liberacao", log=lambda _: None)
    return python, wheel, release


def _run(python: Path, code: str, source: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, student_notebook.SOURCE_VARIABLE: source, "PIP_NO_INDEX": "1",
           "PYTHONNOUSERSITE": "1"}
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def _setup_cell(release: Path) -> str:
    notebook = json.loads((release / "estudantes" / f"{CHAPTER}.ipynb").read_text("utf-8"))
    first = notebook["cells"][0]
    assert student_notebook.SETUP_TAG in first["metadata"]["tags"]
    return _source(first)


def test_without_the_source_the_setup_cell_stops_with_a_portuguese_message(fresh_env, tmp_path):
    python, _, release = fresh_env
    result = _run(python, _setup_cell(release), "file:///nao/existe.whl", tmp_path)
    assert result.returncode != 0
    assert "RuntimeError: Não consegui instalar o pacote do curso" in result.stderr


def test_setup_cell_installs_the_package_and_the_public_checks_work(fresh_env, tmp_path):
    python, wheel, release = fresh_env
    before = _run(python, "import importlib.util, torch; "
                  "print(importlib.util.find_spec('residuais') is None, torch.__file__)",
                  "", tmp_path)
    assert before.returncode == 0, before.stderr
    missing, torch_before = before.stdout.split()
    assert missing == "True", "o ambiente novo não devia ter o pacote do curso"

    notebook_path = tmp_path / f"{CHAPTER}.ipynb"
    notebook_path.write_text((release / "estudantes" / f"{CHAPTER}.ipynb").read_text("utf-8"))
    master = json.loads((ROOT / "book" / f"{CHAPTER}.ipynb").read_text(encoding="utf-8"))
    imports = next(_source(c) for c in master["cells"]
                   if c["cell_type"] == "code" and "import torch" in _source(c))
    answers = "\n\n".join(_source(c) for c in master["cells"]
                          if c["cell_type"] == "code" and "# BEGIN SOLUTION" in _source(c))
    questions = [q.name for q in editions_questions(release)]
    check = textwrap.dedent(f"""
        exec({_setup_cell(release)!r})
        import torch
        from residuais.checks.display import Notebook
        grader = Notebook({notebook_path.name!r})
        blank = {{}}
        exec({imports!r}, blank)
        print(grader.check({questions[0]!r}, blank))
        namespace = {{}}
        exec({imports!r}, namespace)
        exec({answers!r}, namespace)
        for question in {questions!r}:
            print(grader.check(question, namespace))
        print("torch:", torch.__file__)
    """)
    result = _run(python, check, wheel.as_uri(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    # a resposta em branco: uma frase em português, sem traceback nem doctest em inglês
    blank_line = next(line for line in lines if line.startswith("❌"))
    assert questions[0] in blank_line and "Traceback" not in result.stdout
    assert "Expected" not in result.stdout and "Trying" not in result.stdout
    passed = [line for line in lines if line.startswith("✅")]
    assert len(passed) == len(questions), result.stdout
    assert lines[-1] == f"torch: {torch_before}", "o PyTorch do ambiente foi trocado"


def editions_questions(release: Path, chapter: str = CHAPTER):
    from coursetools.coursework import load_release

    return load_release(release)[chapter].questions


COLAB = '''
import json, os, sys
from IPython.core.interactiveshell import InteractiveShell

class Shell(InteractiveShell):  # como o Colab: get_ipython() diz google.colab
    pass

Shell.__module__ = "google.colab._shell"
shell = Shell.instance()
assert "google.colab" in str(shell) and not [f for f in os.listdir() if f.endswith(".ipynb")]
for chapter, cells in json.loads(sys.stdin.read()):
    for source in cells:
        result = shell.run_cell(source)
        if result.error_in_exec or result.error_before_exec:
            print(chapter, "ERRO", repr(result.error_in_exec or result.error_before_exec))
        elif source.lstrip().startswith("grader.check"):
            print(chapter, repr(result.result))
'''


def test_every_check_of_every_chapter_works_as_colab_runs_it(fresh_env, tmp_path):
    """Como no Colab: ``get_ipython()`` diz ``google.colab``, a pasta de trabalho não tem o
    notebook, e só a célula de preparação instala algo. Cada ``grader.check`` de cada capítulo,
    com as respostas de referência, dá o veredito em português."""
    _, wheel, release = fresh_env
    python = new_venv(tmp_path / "venv")  # sem o pacote, como um Colab novo
    chapters = []
    for path in sorted((release / "estudantes").glob("*.ipynb")):
        student = json.loads(path.read_text("utf-8"))
        solution = json.loads((release / "solucoes" / path.name).read_text("utf-8"))
        answers = iter(_source(c) for c in solution["cells"]
                       if "otter_assign_solution_cell" in c["metadata"].get("tags", []))
        cells = []
        for cell in student["cells"]:
            tags = cell["metadata"].get("tags", [])
            if cell["cell_type"] != "code" or "otter_ignore" in tags:
                continue
            cells.append(next(answers) if "otter_answer_cell" in tags else _source(cell))
        chapters.append((path.stem, cells))
    env = {**os.environ, student_notebook.SOURCE_VARIABLE: wheel.as_uri(), "PIP_NO_INDEX": "1",
           "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg"}
    workdir = tmp_path / "content"  # a pasta de trabalho, sem notebook nenhum
    workdir.mkdir()
    result = subprocess.run([str(python), "-c", COLAB], input=json.dumps(chapters), env=env,
                            capture_output=True, text=True, cwd=workdir, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert not [line for line in lines if " ERRO " in line], result.stdout
    names = {chapter for chapter, _ in chapters}
    verdicts = [line for line in lines if line.split(" ", 1)[0] in names]
    expected = sum(len(editions_questions(release, c)) for c, _ in chapters)
    assert len(verdicts) == expected and all("✅" in v for v in verdicts), result.stdout
    assert "Instalando o pacote do curso" in result.stdout  # a preparação instalou, uma vez
    assert result.stdout.count("Instalando o pacote do curso") == 1


def _git_repository(folder: Path) -> Path:
    """Um repositório git local, sem etiqueta nenhuma."""
    folder.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(folder)]
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "LEIA-ME").write_text("x")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    return folder


@pytest.mark.parametrize(("case", "expected"), [
    ("sem_etiqueta", "a versão pedida (a etiqueta depois do @) não existe"),
    ("sem_repositorio", "o repositório não foi encontrado"),
    ("sem_git", "o git não está instalado"),
    ("sem_rede", "sem conexão com a internet"),
    ("outro", "o pip falhou; as últimas linhas"),
])
def test_the_setup_cell_says_what_went_wrong(fresh_env, tmp_path, case, expected):
    """Cada falha da instalação com a sua explicação (antes, toda falha era “sem internet”)."""
    _, _, release = fresh_env
    python = new_venv(tmp_path / "venv")  # sem o pacote: a preparação tenta instalar
    repo = _git_repository(tmp_path / "repo")
    sources = {"sem_etiqueta": f"git+file://localhost{repo}@v9.9.9",
               "sem_repositorio": f"git+file://localhost{tmp_path / 'nao-existe'}@v0.2.0",
               "sem_git": f"git+file://localhost{repo}@v0.2.0",
               "sem_rede": "git+https://github.invalid/curso.git@v0.2.0",
               "outro": "file:///nao/existe.whl"}
    env = {**os.environ, student_notebook.SOURCE_VARIABLE: sources[case], "PIP_NO_INDEX": "1",
           "PYTHONNOUSERSITE": "1"}
    if case == "sem_git":
        env["PATH"] = str(tmp_path / "sem-programas")
    result = subprocess.run([str(python), "-c", _setup_cell(release)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    assert "RuntimeError: Não consegui instalar o pacote do curso" in result.stderr
    assert expected in result.stderr, result.stderr[-2000:]
