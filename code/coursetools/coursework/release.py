"""A liberação dos trabalhos: o ``otter assign`` em cada capítulo do ``_toc.yml``, os exercícios
de cada capítulo (``Question``, ``Chapter``), o manifesto que a correção lê e o ``LEIA-ME.md``
que acompanha a liberação."""

from __future__ import annotations

import json
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import residuais
from coursetools import book
from coursetools import student as student_notebook
from coursetools.coursework import notebooks
from coursetools.coursework.common import (
    AUTOGRADER_DIR,
    COMMAND,
    FEEDBACK_DIR,
    GRADEBOOK,
    MANIFEST,
    README,
    SOLUTIONS_DIR,
    STUDENT_DIR,
    CourseworkError,
    skip_slow_import,
)
from coursetools.coursework.manifest import Chapter, questions, write_manifest

PUBLIC_TESTS = Path("code/residuais/checks/testes")  # na raiz do livro


def find_root(start: Path | None = None) -> Path:
    """A raiz do livro (a pasta do ``_toc.yml``); ``CourseworkError`` se não houver."""
    try:
        return book.find_root(start)
    except FileNotFoundError as exc:
        raise CourseworkError(str(exc)) from exc


def chapter_notebooks(root: Path) -> list[Path]:
    """Os notebooks do ``_toc.yml``, na ordem do livro; ``CourseworkError`` se algum documento
    listado não existe (um capítulo que falta não pode passar em silêncio)."""
    try:
        return book.chapter_notebooks(root)
    except FileNotFoundError as exc:
        raise CourseworkError(
            f"{exc} Crie-os ou tire-os do _toc.yml antes de liberar os trabalhos.") from exc
    except ValueError as exc:  # um _toc.yml fora do formato do Jupyter Book
        raise CourseworkError(str(exc)) from exc


def _masters(root: Path, log: Callable[[str], Any]) -> list[Path]:
    """Os notebooks do professor com exercícios avaliados (célula ``ASSIGNMENT CONFIG``)."""
    masters = []
    for path in chapter_notebooks(root):
        config = notebooks.assignment_config(json.loads(path.read_text(encoding="utf-8")))
        if config is None:
            log(f"  {path.stem}: sem célula ASSIGNMENT CONFIG, nada a liberar")
            continue
        if config.get("name") != path.stem:
            raise CourseworkError(
                f"{path.relative_to(root)}: o “name” da célula ASSIGNMENT CONFIG é "
                f"“{config.get('name')}”, mas deveria ser o nome do arquivo, “{path.stem}” "
                "(é por ele que a correção reconhece o capítulo)."
            )
        masters.append(path)
    if not masters:
        raise CourseworkError("Nenhum capítulo do _toc.yml tem exercícios avaliados.")
    return masters


def _assign(master: Path, out: Path, tmp: Path, source: str) -> Chapter:
    """Roda o ``otter assign`` num capítulo e copia para ``out`` o que a liberação usa; o
    notebook do estudante ganha a célula de preparação (instala o pacote vindo de ``source``)
    e as mensagens das verificações em português (``coursetools.student``)."""
    import otter.assign

    result = tmp / master.stem
    otter.assign.main(str(master), str(result), no_pdfs=True, no_run_tests=True)
    zips = sorted((result / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise CourseworkError(f"{master.stem}: o otter assign não gerou o .zip do corretor.")
    chapter = Chapter(name=master.stem, title="", student=f"{STUDENT_DIR}/{master.name}",
                      autograder=f"{AUTOGRADER_DIR}/{master.stem}.zip",
                      solution=f"{SOLUTIONS_DIR}/{master.name}", questions=[])
    otter_student = json.loads((result / "student" / master.name).read_text(encoding="utf-8"))
    (out / chapter.student).write_text(
        json.dumps(student_notebook.adapt(otter_student, master.stem, source), ensure_ascii=False,
                   indent=1) + "\n", encoding="utf-8")
    shutil.copy(zips[0], out / chapter.autograder)
    shutil.copy(result / "autograder" / master.name, out / chapter.solution)
    student = json.loads((out / chapter.student).read_text(encoding="utf-8"))
    solution = json.loads((out / chapter.solution).read_text(encoding="utf-8"))
    missing = notebooks.missing_imports(student)
    if missing:
        raise CourseworkError(
            f"{master.stem}: o notebook do estudante importa {', '.join(missing)}, que não "
            "está instalado pelo requirements.txt do curso."
        )
    chapter.title = notebooks.title(student, master.stem)
    chapter.questions = questions(student, solution)
    if not chapter.questions:
        raise CourseworkError(f"{master.stem}: nenhum exercício com verificação automática.")
    return chapter


def release(out: Path, root: Path | None = None,
            log: Callable[[str], Any] = print) -> list[Chapter]:
    """Gera a liberação de todos os capítulos do ``_toc.yml`` em ``out``.

    Para cada capítulo: ``estudantes/<capítulo>.ipynb`` (a distribuir), ``corretor/<capítulo>.zip``
    e ``solucoes/<capítulo>.ipynb`` (do professor; têm os testes ocultos). Só as subpastas e
    arquivos da liberação são apagados e refeitos; o resto de ``out`` fica como está.
    """
    root = root or find_root()
    masters = _masters(root, log)
    source = student_notebook.package_source(root, residuais.__version__)
    skip_slow_import()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in (STUDENT_DIR, AUTOGRADER_DIR, SOLUTIONS_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
        (out / name).mkdir()
    chapters = []
    with tempfile.TemporaryDirectory(prefix="liberacao-") as tmp:
        for master in masters:
            start = time.perf_counter()
            chapter = _assign(master, out, Path(tmp), source)
            chapters.append(chapter)
            log(f"  {master.stem}: {len(chapter.questions)} exercícios, {chapter.points:g} pontos "
                f"({time.perf_counter() - start:.1f} s)")
    write_public_tests(root, out, chapters)
    write_manifest(chapters, out)
    (out / README).write_text(release_readme(chapters, out), encoding="utf-8")
    return chapters


def write_public_tests(root: Path, out: Path, chapters: Sequence[Chapter]) -> None:
    """Os testes públicos de cada capítulo (os do notebook do estudante, que o ``otter assign``
    guarda nos metadados) também no pacote ``residuais``, em ``checks/testes/<capítulo>.json``:
    no Colab o notebook não está no disco, e o ``grader.check`` os lê do pacote instalado
    (``residuais.checks.display``). Só reescreve o arquivo que mudou."""
    folder = root / PUBLIC_TESTS
    folder.mkdir(parents=True, exist_ok=True)
    for chapter in chapters:
        student = json.loads((out / chapter.student).read_text(encoding="utf-8"))
        tests = student.get("metadata", {}).get("otter", {}).get("tests", {})
        if any(case.get("hidden") for t in tests.values() for suite in t.get("suites", [])
               for case in suite.get("cases", [])):
            raise CourseworkError(f"{chapter.name}: o notebook do estudante tem um teste oculto.")
        text = json.dumps(tests, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        target = folder / f"{chapter.name}.json"
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def release_readme(chapters: Sequence[Chapter], out: Path) -> str:
    """O ``LEIA-ME.md`` da liberação: os capítulos e como distribuir e corrigir."""
    rows = "\n".join(
        f"| {c.name} | {c.title} | {len(c.questions)} | {c.points:g} |" for c in chapters
    )
    return textwrap.dedent("""\
        # Trabalhos do curso “Conexões residuais”

        Gerado por `{command} release` (ou `make release`).

        | capítulo | título | exercícios corrigidos automaticamente | pontos |
        |---|---|---|---|
        {rows}

        ## O que há aqui

        - `{student}/`: **os notebooks a distribuir**, um por capítulo, sem as soluções e com as
          verificações (`grader.check(...)`) no lugar. Cada um roda no ambiente do curso: o
          estudante instala o `requirements.txt` do repositório (`pip install -r requirements.txt`,
          que instala também o pacote `residuais` que os notebooks importam) e abre o notebook no
          Jupyter. O notebook deve ficar com o nome original enquanto o estudante trabalha nele
          (as verificações o procuram pelo nome).
        - `{autograder}/`: o arquivo do corretor de cada capítulo (testes públicos e ocultos).
          **Não distribua.**
        - `{solutions}/`: os notebooks de referência, com as soluções e os testes ocultos.
          **Não distribua.**
        - `{manifest}`: a lista de capítulos e exercícios que a correção usa.

        ## Corrigir

        Junte as entregas (os `.ipynb` dos estudantes, de qualquer capítulo) numa pasta e rode:

            make grade DIR=pasta_das_entregas
            # ou: .venv/bin/{command} grade pasta_das_entregas --release {here}

        O resultado fica em `pasta_das_entregas-correcao/`: `{gradebook}` (uma linha por arquivo
        da pasta, com os pontos de cada exercício) e `{feedback}/`, uma devolutiva em português
        por entrega. O guia do professor, no livro, explica tudo em detalhe.
        """).format(
        rows=rows, student=STUDENT_DIR, autograder=AUTOGRADER_DIR, solutions=SOLUTIONS_DIR,
        manifest=MANIFEST, gradebook=GRADEBOOK, feedback=FEEDBACK_DIR, here=out,
        command=COMMAND,
    )
