"""A edição do estudante não entrega nenhuma resposta: nem a solução de um exercício de
programação nem um teste oculto, em nenhum arquivo que o estudante recebe — o site inteiro (HTML,
índice de busca, ``_sources``, downloads), os notebooks do estudante da liberação, o pacote
``residuais`` que ele instala (o wheel) e o repositório dos estudantes gerado. E nenhum exercício
se responde copiando e renomeando código que o estudante vê ou instala (``renamed_code``)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import renamed_code
from conftest import ROOT, chapter_notebooks

from coursetools import studentrepo

MIN_LINE = 20  # linhas mais curtas que isso são genéricas demais (``return x``) para acusar


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _solution_blocks(master: dict) -> list[list[str]]:
    """As linhas de cada solução (entre ``# BEGIN SOLUTION`` e ``# END SOLUTION``)."""
    blocks = []
    for cell in master["cells"]:
        if cell["cell_type"] != "code":
            continue
        found = re.findall(r"# BEGIN SOLUTION\n(.*?)\n\s*# END SOLUTION", _source(cell), re.S)
        blocks += [[line.strip() for line in block.splitlines() if line.strip()]
                   for block in found]
    return blocks


def _tests(master: dict, hidden: bool) -> list[str]:
    """As células de teste, ocultas (começam com ``# HIDDEN``) ou públicas."""
    return [_source(c) for c in master["cells"] if c["cell_type"] == "code"
            and "remove-cell" in c.get("metadata", {}).get("tags", [])
            and _source(c).lstrip().startswith("# HIDDEN") == hidden]


def _public_text(master: dict) -> str:
    """O que o notebook do professor tem de público: tudo menos soluções e testes."""
    parts = []
    for cell in master["cells"]:
        source = _source(cell)
        if cell["cell_type"] == "raw" or "# BEGIN SOLUTION" in source:
            continue
        if "remove-cell" in cell.get("metadata", {}).get("tags", []):
            continue
        parts.append(source)
    return "\n".join(parts)


def _hidden_module_names() -> list[str]:
    """Os nomes definidos nos módulos dos testes ocultos (``book/ocultos``)."""
    names = []
    for path in sorted((ROOT / "book" / "ocultos").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names += [node.name for node in tree.body
                  if isinstance(node, ast.FunctionDef | ast.ClassDef)]
    return names


def _needles() -> dict[str, str]:
    """Texto que não pode aparecer → de onde ele vem."""
    masters = {nb.name: json.loads(nb.read_text(encoding="utf-8")) for nb in chapter_notebooks()}
    # o que é público em qualquer capítulo (texto, demonstrações) e os testes públicos, que vão
    # de propósito nos metadados do notebook do estudante
    public = "\n".join(_public_text(m) + "\n" + "\n".join(_tests(m, hidden=False))
                       for m in masters.values())
    # o pacote residuais é público (o site mostra o código dele, na referência): uma linha que
    # também esteja nele não acusa nada; corpos inteiros de soluções no pacote, sim (_package_leaks)
    public += "\n".join(p.read_text(encoding="utf-8")
                        for p in sorted((ROOT / "code" / "residuais").rglob("*.py")))
    needles = {}
    for name, master in masters.items():
        for block in _solution_blocks(master):
            for line in block:
                if len(line) >= MIN_LINE and not line.startswith("#") and line not in public:
                    needles[line] = f"solução em {name}"
        for test in _tests(master, hidden=True):
            for line in test.splitlines()[1:]:
                if line.strip() and line.strip() not in public:
                    needles[line.strip()] = f"teste oculto em {name}"
    for name in _hidden_module_names():
        needles[name] = "book/ocultos"
    for marker in ("thorough=True", "from ocultos"):
        needles[marker] = "marcador do notebook do professor"
    return needles


def _normalized(code: str) -> str:
    """O código sem comentários e sem espaços, para comparar corpos inteiros."""
    return re.sub(r"\s+", "", re.sub(r"#[^\n]*", "", code))


def _scan(files: list[Path], needles: dict[str, str], base: Path) -> list[str]:
    leaks = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        if path.suffix == ".ipynb":  # o JSON escapa aspas e quebras de linha
            text += "\n" + "\n".join(_source(c) for c in json.loads(text).get("cells", []))
        leaks += [f"{path.relative_to(base)}: {origin}: “{needle}”"
                  for needle, origin in needles.items() if needle in text]
    return leaks


def test_the_needles_are_real():
    """Sem agulhas o teste não acusaria nada: cada capítulo tem soluções e testes ocultos."""
    needles = _needles()
    for notebook in chapter_notebooks():
        origins = {origin for origin in needles.values() if notebook.name in origin}
        assert f"solução em {notebook.name}" in origins, notebook.name
        assert f"teste oculto em {notebook.name}" in origins, notebook.name


def test_student_site_has_no_solution_and_no_hidden_test(built_site):
    html, _ = built_site
    files = [p for p in html.rglob("*") if p.is_file()
             and p.suffix in (".html", ".js", ".ipynb", ".txt", ".md", ".json", ".py")]
    assert any(p.suffix == ".ipynb" for p in files), "o site não tem os notebooks para baixar"
    leaks = _scan(files, _needles(), html)
    assert not leaks, "a edição do estudante vaza respostas:\n" + "\n".join(leaks[:20])


def test_download_button_gives_the_student_notebook(built_site):
    html, _ = built_site
    for notebook in chapter_notebooks():
        page = (html / "book" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert f"_sources/book/{notebook.name}" in page
        downloaded = json.loads((html / "_sources" / "book" / notebook.name).read_text("utf-8"))
        code = "\n".join(_source(c) for c in downloaded["cells"])
        assert "grader = Notebook(" in code and "residuais[checks]" in code
        assert "..." in code  # o lugar das respostas


def test_student_release_notebooks_have_no_solution_and_no_hidden_test(built_site):
    html, _ = built_site
    release = html.parents[1] / "liberacao"
    files = sorted((release / "estudantes").glob("*.ipynb"))
    assert len(files) == len(chapter_notebooks())
    leaks = _scan(files, _needles(), release)
    assert not leaks, "os notebooks do estudante vazam respostas:\n" + "\n".join(leaks[:20])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("residuais-*.whl")
    return path


def _package_leaks(sources: dict[str, str]) -> list[str]:
    """Testes ocultos ou corpos inteiros de soluções no código do pacote ``residuais`` (as
    linhas soltas não contam: o pacote tem, de propósito, linhas que uma solução também tem)."""
    leaks = [f"{file}: teste oculto {name}" for name in _hidden_module_names()
             for file, text in sources.items() if name in text]
    bodies = {}
    for notebook in chapter_notebooks():
        for block in _solution_blocks(json.loads(notebook.read_text(encoding="utf-8"))):
            body = _normalized("\n".join(block))
            if len(body) >= MIN_LINE:
                bodies[body] = notebook.name
    return leaks + [f"{file}: solução de {origin}" for body, origin in bodies.items()
                    for file, text in sources.items() if body in _normalized(text)]


def test_the_student_package_has_no_hidden_test_and_no_solution_body(wheel):
    with zipfile.ZipFile(wheel) as archive:
        sources = {name: archive.read(name).decode("utf-8") for name in archive.namelist()
                   if name.endswith(".py")}
    assert "residuais/checks/core.py" in sources
    assert not any(name.startswith(("coursetools", "ocultos")) for name in sources)
    leaks = _package_leaks(sources)
    assert not leaks, "o pacote residuais contém soluções ou testes ocultos:\n" + "\n".join(leaks)


def test_the_scan_catches_the_instructor_edition(tmp_path):
    """O mesmo exame acusa a edição do professor, que tem as soluções e os testes ocultos."""
    from coursetools import editions

    html, _ = editions.build_professor_edition(ROOT, tmp_path)
    leaks = _scan(sorted(html.rglob("*.ipynb")), _needles(), html)
    assert any("solução em" in leak for leak in leaks)
    assert any("teste oculto em" in leak for leak in leaks)


def test_the_solutions_switch_publishes_solutions_but_never_hidden_tests(built_site, tmp_path):
    """``make book SOLUCOES=1``: as soluções de programação aparecem, os testes ocultos não."""
    from coursetools import editions

    html, _ = built_site
    release = html.parents[1] / "liberacao"
    with_solutions, _ = editions.build_student_edition(ROOT, tmp_path, solutions=True,
                                                       release_dir=release, log=lambda _: None)
    files = sorted(with_solutions.rglob("*.ipynb"))
    leaks = _scan(files, _needles(), with_solutions)
    assert any("solução em" in leak for leak in leaks)
    assert not [leak for leak in leaks if "solução em" not in leak], leaks[:5]


# --------------------------------------------------------------------------------------------
# o repositório dos estudantes (make repositorio-estudante)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def student_repo(built_site, tmp_path_factory) -> tuple[Path, float]:
    """O repositório dos estudantes gerado da mesma liberação do site; e quanto levou."""
    release = built_site[0].parent.parent / "liberacao"
    dest = tmp_path_factory.mktemp("repositorio") / "estudantes"
    start = time.perf_counter()
    studentrepo.generate(ROOT, dest, release_dir=release, log=lambda _: None)
    return dest, time.perf_counter() - start


def test_student_repository_has_no_solution_hidden_test_nor_instructor_path(student_repo):
    dest, seconds = student_repo
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert len(files) > 20 and seconds <= 60
    package = [p for p in files if p.is_relative_to(dest / "code")]
    assert _package_leaks({str(p.relative_to(dest)): p.read_text(encoding="utf-8") for p in package
                           if p.suffix == ".py"}) == []
    assert _scan([p for p in files if p not in package], _needles(), dest) == []
    assert not (dest / "book" / "ocultos").exists() and not (dest / "code" / "coursetools").exists()
    assert "-e ./code" not in (dest / "requirements.txt").read_text(encoding="utf-8")
    for path in files:  # nenhum caminho desta máquina (nem de uma pasta temporária)
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for machine_path in (str(ROOT), "/root/", "/opt/", "/tmp/", "/home/"):
            assert machine_path not in text, (path, machine_path)
    listed = (dest / studentrepo.MANIFEST).read_text(encoding="utf-8").splitlines()
    assert sorted(p.relative_to(dest).as_posix() for p in files
                  if p.name != studentrepo.MANIFEST) == [n for n in listed if n[0] != "#"]
    binder = (dest / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "-r ../requirements.txt" in binder and (dest / "requirements.txt").is_file()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder
    assert (dest / "binder" / "runtime.txt").read_text(encoding="utf-8") == "python-3.11\n"
    readme = (dest / "README.md").read_text(encoding="utf-8")
    for needed in ("make instalar", "make lab", "Colab", "## Entregar", "make test",
                   "Source: GitHub Actions", ".venv\\Scripts\\python -m pip install"):
        assert needed in readme


def _git(folder: Path, *args: str) -> str:
    command = ["git", "-c", "user.email=curso@exemplo", "-c", "user.name=curso", *args]
    return subprocess.run(command, cwd=folder, check=True, capture_output=True,
                          text=True).stdout


def test_regenerating_the_student_repository_changes_nothing(student_repo, built_site):
    dest, _ = student_repo
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-qm", "versão gerada")
    counts = studentrepo.generate(ROOT, dest, release_dir=built_site[0].parent.parent /
                                  "liberacao", log=lambda _: None)
    assert counts["escritos"] == counts["apagados"] == 0
    assert _git(dest, "status", "--porcelain") == ""


def test_student_repository_passes_its_own_tests_on_a_fresh_clone(student_repo, tmp_path):
    """Num clone: os seis capítulos rodam com as respostas em branco e as verificações falham
    com uma frase (o teste do próprio repositório), e o site constrói sem avisos. O pacote
    importado é o do clone (PYTHONPATH), não o deste repositório."""
    dest, _ = student_repo
    if not (dest / ".git").exists():  # rodando sozinho, sem o teste de regeneração antes
        _git(dest, "init", "-q")
        _git(dest, "add", "-A")
        _git(dest, "commit", "-qm", "versão gerada")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(dest), str(clone)], check=True)
    (clone / "_build").mkdir()
    (clone / "_build" / "static").symlink_to(ROOT / "_build" / "static")
    env = {**os.environ, "PYTHONPATH": str(clone / "code")}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=900)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "7 passed" in tests.stdout  # os seis capítulos e a lista deles
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    site = subprocess.run([str(jupyter_book), "build", ".", "--warningiserror", "--nitpick",
                           "--keep-going"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    assert site.returncode == 0, site.stdout[-3000:] + site.stderr[-2000:]
    assert (clone / "_build" / "html" / "book" / "01_processamento_sequencial.html").exists()


# --------------------------------------------------------------------------------------------
# exercícios que se respondem copiando e renomeando o que o estudante vê ou instala
# --------------------------------------------------------------------------------------------

# capítulos com uma cópia conhecida, enquanto são redesenhados (xfail estrito: quando a cópia some,
# o teste avisa para tirar o capítulo daqui). Na issue 29 estiveram aqui os caps. 1, 4, 5 e 6.
RENAMED_COPY_KNOWN: dict[str, str] = {}


def _shown_code(masters: dict[str, dict]) -> list[renamed_code.Unit]:
    """Todo código que o estudante vê ou instala: as células públicas de todos os capítulos
    (demonstrações; o que o site esconde atrás de um botão também está na página), os blocos de
    código do texto, os arquivos que um ``literalinclude`` mostra e o pacote ``residuais``
    inteiro (o wheel, e as páginas de código-fonte do site vêm dele)."""
    units, included = [], set()
    for name, master in masters.items():
        for index, cell in enumerate(master["cells"]):
            source, origin = _source(cell), f"{name}, célula {index}"
            if cell["cell_type"] == "markdown":
                for block in re.findall(r"```(?:python|py)\n(.*?)```", source, re.S):
                    units += renamed_code.shown_units(block, origin)
                included |= set(re.findall(r"```\{literalinclude\}\s+(\S+)", source))
            elif cell["cell_type"] == "code" and "# BEGIN SOLUTION" not in source \
                    and "remove-cell" not in cell.get("metadata", {}).get("tags", []):
                units += renamed_code.shown_units(source, origin)
    package = ROOT / "code" / "residuais"
    files = set(package.rglob("*.py")) | {(ROOT / "book" / path).resolve() for path in included}
    for path in sorted(files):
        units += renamed_code.shown_units(path.read_text(encoding="utf-8"),
                                          str(path.relative_to(ROOT)))
    return units


@pytest.fixture(scope="module")
def shown_code() -> list[renamed_code.Unit]:
    return _shown_code({nb.name: json.loads(nb.read_text(encoding="utf-8"))
                        for nb in chapter_notebooks()})


def _solutions(master: dict, name: str) -> list[renamed_code.Unit]:
    return [unit for index, cell in enumerate(master["cells"]) if cell["cell_type"] == "code"
            and "# BEGIN SOLUTION" in _source(cell)
            for unit in renamed_code.solution_units(_source(cell), f"{name}, célula {index}")]


@pytest.mark.parametrize("notebook", [
    pytest.param(nb, id=nb.stem, marks=[pytest.mark.xfail(strict=True,
                                                          reason=RENAMED_COPY_KNOWN[nb.name])]
                 if nb.name in RENAMED_COPY_KNOWN else [])
    for nb in chapter_notebooks()])
def test_no_exercise_is_a_renamed_copy_of_shown_code(notebook, shown_code):
    """Nenhuma solução de referência é, a menos de nomes, código que a edição do estudante mostra
    (células, blocos do texto, ``literalinclude``) ou instala (``residuais``)."""
    solutions = _solutions(json.loads(notebook.read_text(encoding="utf-8")), notebook.name)
    assert len(solutions) >= 4, "cada capítulo tem pelo menos 4 exercícios de programação"
    found = renamed_code.copies(solutions, shown_code)
    assert not found, ("exercícios que se respondem copiando o que o estudante vê:\n"
                       + "\n".join(map(str, found)))


def test_the_copy_detector_sees_through_renaming_and_nothing_else():
    """O detector acusa uma cópia com outros nomes, outra grafia da raiz e ``.view(shape)`` a
    mais, e não acusa outra conta que usa as mesmas funções."""
    shown = renamed_code.shown_units(
        "class Norm:\n"
        "    def forward(self, x):\n"
        "        \"Normaliza.\"\n"
        "        mean = x.mean(dim=0)\n"
        "        x_hat = (x - mean.view(self.shape)) / torch.sqrt(x.var(dim=0) + self.eps)\n"
        "        return self.weight * x_hat + self.bias\n", "página")
    renamed = renamed_code.solution_units(
        "def answer(h, gamma, beta, eps):\n"
        "    mu = h.mean(dim=0)  # média do lote\n"
        "    z = (h - mu) / (h.var(dim=0) + eps) ** 0.5\n"
        "    return gamma * z + beta\n", "solução")
    other = renamed_code.solution_units(
        "def answer(h, gamma, beta, eps):\n"
        "    centered = h - h.mean(dim=0)\n"
        "    scale = gamma / torch.sqrt((centered * centered).mean(dim=0) + eps)\n"
        "    return torch.addcmul(beta, centered, scale)\n", "solução")
    (found,) = renamed_code.copies(renamed, shown)
    assert found.coverage > 0.7 and found.largest >= renamed_code.DISTINCTIVE
    assert "forward" in found.shown
    assert renamed_code.copies(other, shown) == []


# módulos do pacote que não calculam nada que um exercício pede (dados, figuras, glue): ficam
# fora da varredura abaixo só para ela caber no tempo
NOT_ANSWERS = ("residuais.checks", "residuais.interactive", "residuais.plotting",
               "residuais.glue", "residuais.data")
CALL_SECONDS = 5  # uma chamada que demora mais que isso (um treino inteiro) é interrompida


def _public_checks() -> list[tuple[str, object]]:
    """As verificações públicas que os capítulos chamam (``from residuais.checks.x import
    check_y``), na ordem dos capítulos."""
    import importlib

    found = []
    for notebook in chapter_notebooks():
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
        for module, name in re.findall(r"from residuais\.checks\.(\w+) import (check_\w+)", code):
            check = getattr(importlib.import_module(f"residuais.checks.{module}"), name)
            found.append((f"{notebook.stem[:2]}:{name}", check))
    return found


def _installed_callables() -> dict[str, object]:
    """Cada função e classe pública do pacote ``residuais`` que o estudante instala."""
    import importlib
    import pkgutil

    import residuais

    found = {}
    for info in pkgutil.walk_packages(residuais.__path__, "residuais."):
        if info.name.startswith(NOT_ANSWERS):
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (not name.startswith("_") and callable(value)
                    and getattr(value, "__module__", "") == info.name):
                found[f"{info.name}.{name}"] = value
    return found


def _passes(check, candidate) -> bool:
    """``True`` se ``check(candidate)`` termina sem reprovar (em até CALL_SECONDS)."""
    import signal
    import warnings

    class _Slow(Exception):
        pass

    def _stop(*_):
        raise _Slow

    previous = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, CALL_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(candidate)
        return True
    except BaseException as exc:  # reprovou, quebrou ou demorou: não responde o exercício
        if isinstance(exc, KeyboardInterrupt):
            raise
        return False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_no_installed_function_passes_a_public_check():
    """Nenhuma função ou classe do pacote instalado, entregue como está no lugar da resposta,
    passa na verificação pública de um exercício (a cópia que não precisa nem renomear)."""
    checks, candidates = _public_checks(), _installed_callables()
    assert len(checks) >= 20 and len(candidates) >= 60
    leaks = [f"{where} ← {name}" for where, check in checks for name, candidate in
             candidates.items() if _passes(check, candidate)]
    assert leaks == [], "exercícios que uma função instalada responde:\n" + "\n".join(leaks)


def test_the_scan_flags_an_answer_that_passes():
    """Controle: a resposta certa do exercício 1 do capítulo 3 passa, e a varredura a acusaria."""
    from residuais.checks.variance import check_variance_after_blocks

    def answer(n_blocks, var0, alpha):
        return var0 * (1 + alpha**2) ** n_blocks

    assert _passes(check_variance_after_blocks, answer)
    assert not _passes(check_variance_after_blocks, lambda n_blocks, var0, alpha: var0)


def test_student_repository_shows_self_checks_as_markdown_with_the_key_collapsed(student_repo):
    """No Jupyter e no Colab, nenhuma pergunta de autoavaliação aparece como diretiva crua (com
    a marca ``:correta:`` à vista): cada uma é markdown comum com a resposta num ``<details>``."""
    dest, _ = student_repo
    questions = 0
    for path in sorted((dest / "book").glob("*.*")):
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            texts = [_source(cell) for cell in cells if cell["cell_type"] == "markdown"]
        elif path.suffix == ".md":
            texts = [path.read_text(encoding="utf-8")]
        else:
            continue
        for text in texts:
            assert "{autoavaliacao}" not in text and ":correta:" not in text, path.name
            questions += text.count("<details><summary>Resposta comentada</summary>")
    assert questions >= 27  # 4 a 6 por capítulo e as da síntese
