"""A correção de uma pasta de entregas: cada arquivo é lido, reconhecido, corrigido num
subprocesso próprio e vira uma ``Result`` (uma linha da planilha e uma devolutiva)."""

from __future__ import annotations

import os
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursetools.coursework import notebooks, report, worker
from coursetools.coursework.common import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_TIMEOUT,
    GRADED,
    GRADER_ERROR,
    TIMED_OUT,
    UNKNOWN_CHAPTER,
    CourseworkError,
    Result,
)
from coursetools.coursework.manifest import Chapter, Question, load_release
from coursetools.coursework.submissions import recognize_chapter, structure_warnings


@dataclass(frozen=True)
class _Settings:
    """O que vale para todas as entregas de uma correção."""

    chapters: dict[str, Chapter]
    release_dir: Path
    workdir: Path
    timeout: float
    cell_timeout: float
    hide_hidden: bool


def grade(
    submissions: Path,
    release_dir: Path,
    out: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    jobs: int | None = None,
    hide_hidden: bool = False,
    log: Callable[[str], Any] = print,
) -> list[Result]:
    """Corrige cada arquivo de ``submissions``; escreve ``notas.csv`` e as devolutivas em ``out``.

    Devolve uma ``Result`` por arquivo (os ocultos, começados por ponto, são ignorados), na
    ordem dos nomes. ``jobs`` entregas são corrigidas ao mesmo tempo (padrão: até 2).
    """
    submissions, release_dir = Path(submissions), Path(release_dir)
    if not submissions.is_dir():
        raise CourseworkError(f"A pasta de entregas {submissions} não existe.")
    chapters = load_release(release_dir)
    out = Path(out) if out else submissions.parent / f"{submissions.name}-correcao"
    if out.resolve() == submissions.resolve():
        raise CourseworkError("A pasta de saída não pode ser a própria pasta de entregas.")
    paths = sorted(p for p in submissions.iterdir() if not p.name.startswith("."))
    jobs = jobs or max(1, min(2, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory(prefix="correcao-") as workdir:
        settings = _Settings(chapters, release_dir.resolve(), Path(workdir), timeout,
                             cell_timeout, hide_hidden)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = []
            for result in pool.map(lambda path: _grade_one(path, settings), paths):
                log(f"  {result.submission}: {report.score_text(result)} — {result.status} "
                    f"({result.seconds:.1f} s)")
                results.append(result)
    report.write_outputs(results, chapters, out)
    return results


def _grade_one(path: Path, settings: _Settings) -> Result:
    """Corrige um arquivo; nada derruba o lote: um erro inesperado vira uma linha com o erro."""
    start = time.perf_counter()
    try:
        result = _grade_file(path, settings)
    except Exception as exc:
        result = Result(path.name, GRADER_ERROR,
                        f"Erro inesperado na correção: {type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - start
    return result


def _grade_file(path: Path, settings: _Settings) -> Result:
    notebook, status, message = notebooks.read_notebook(path)
    if notebook is None:
        return Result(path.name, status, message)
    chapter_name, how = recognize_chapter(notebook, path.name, settings.chapters)
    if chapter_name is None:
        return Result(path.name, UNKNOWN_CHAPTER, how)
    chapter = settings.chapters[chapter_name]
    result = Result(path.name, GRADED, "", chapter=chapter.name, possible=chapter.points,
                    scores={q.name: 0.0 for q in chapter.questions})
    if path.suffix.lower() != ".ipynb":
        result.warnings.append(f"O arquivo tem extensão {path.suffix or '(nenhuma)'}, mas é um "
                               "notebook; foi corrigido como tal.")
    if how == "nome do arquivo":
        result.warnings.append("O notebook não tem os metadados nem a célula do otter; o "
                               "capítulo foi reconhecido pelo nome do arquivo.")
    result.warnings += structure_warnings(notebook, chapter)

    folder = Path(tempfile.mkdtemp(prefix="entrega-", dir=settings.workdir))
    copy = folder / f"{chapter.name}.ipynb"
    result.warnings += notebooks.prepare_copy(notebook, chapter.name, copy)
    graded, error = worker.run_worker(copy, settings.release_dir / chapter.autograder,
                                      settings.timeout, settings.cell_timeout)
    if graded is None or graded.get("error"):
        _mark_failure(result, graded, error, settings.timeout)
        return result
    _score(result, chapter, graded, settings.hide_hidden)
    _cell_errors(result, notebook["cells"], graded["cell_errors"])
    result.message = _summary(result, chapter)
    return result


def _mark_failure(result: Result, graded: dict[str, Any] | None, error: str,
                  timeout: float) -> None:
    """A entrega que o subprocesso não corrigiu: passou do tempo ou o corretor falhou."""
    if graded is not None:
        result.status, result.message = GRADER_ERROR, _grader_error_message(graded["error"])
    elif error == worker.TIMEOUT:
        result.status = TIMED_OUT
        result.message = (f"A correção passou de {timeout:g} s e foi interrompida (laço "
                          "infinito?); nenhum exercício pôde ser corrigido.")
    else:
        result.status = GRADER_ERROR
        result.message = ("O corretor falhou nesta entrega; nenhum exercício pôde ser "
                          "corrigido. Final do registro:\n" + error)


def _grader_error_message(error: dict[str, str]) -> str:
    name, value = error.get("name", ""), error.get("value", "")
    if name == "DeadKernelError":
        return ("O Python do notebook morreu durante a execução (a entrega encerra o processo, "
                "por exemplo com os._exit, ou esgotou a memória); nenhum exercício pôde ser "
                "corrigido.")
    if name == "OtterRuntimeError":
        return f"O otter recusou a entrega: {value}"
    return f"O corretor falhou nesta entrega ({name}: {value}); nenhum exercício foi corrigido."


def _score(result: Result, chapter: Chapter, graded: dict[str, Any], hide_hidden: bool) -> None:
    """Os pontos e as linhas da devolutiva de cada exercício."""
    for q in chapter.questions:
        entry = graded["questions"].get(q.name)
        if entry is None:
            result.details.append(f"{q.name}: 0 de {q.points:g} pontos — o teste não foi "
                                  "executado.")
            continue
        result.scores[q.name] = float(entry["score"])
        result.details.append(_question_details(q, entry, hide_hidden))


def _question_details(q: Question, entry: dict[str, Any], hide_hidden: bool) -> str:
    verdict = "✓" if entry["score"] >= entry["possible"] else "✗"
    lines = [f"{verdict} {q.name}: {entry['score']:g} de {entry['possible']:g} pontos"]
    for number, case in enumerate(entry["cases"], start=1):
        lines.append(f"    teste {number} {_case_text(case, hide_hidden)}")
    return "\n".join(lines)


def _case_text(case: dict[str, Any], hide_hidden: bool) -> str:
    """Um caso de teste na devolutiva; com ``hide_hidden``, sem a mensagem dos ocultos."""
    kind = "oculto" if case["hidden"] else "público"
    if case["passed"]:
        return f"({kind}): passou"
    if case["hidden"] and hide_hidden:
        return f"({kind}): não passou"
    reason = report.failure_reason(case["message"])
    return f"({kind}): não passou — " + textwrap.indent(reason, "      ").lstrip()


def _cell_errors(result: Result, cells: list[dict[str, Any]],
                 errors: list[dict[str, Any]]) -> None:
    """Um aviso para cada célula da entrega que levantou um erro durante a correção."""
    for error in errors:
        index = error["cell"]
        code = notebooks.source(cells[index - 1]) if 0 < index <= len(cells) else ""
        result.warnings.append(f"{notebooks.cell_name(index, code)} levantou {error['name']}: "
                               f"{error['value']}".rstrip(": "))


def _summary(result: Result, chapter: Chapter) -> str:
    """A mensagem da planilha para uma entrega corrigida."""
    failed = [q.name for q in chapter.questions if result.scores[q.name] < q.points]
    summary = (f"{len(chapter.questions) - len(failed)} de {len(chapter.questions)} exercícios "
               "completos")
    if failed:
        summary += f"; incompletos: {', '.join(failed)}"
    if result.warnings:
        summary += f"; {len(result.warnings)} aviso(s), veja a devolutiva"
    return summary + "."
