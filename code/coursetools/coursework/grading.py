"""A correção de um conjunto de entregas.

Para cada arquivo: é lido (e conferido de novo antes do uso), reconhecido, e então corrigido
pelo **avaliador** (``harness``), um processo próprio fora da caixa de areia, que guarda os casos
públicos e ocultos e calcula os valores esperados. O notebook do estudante roda numa caixa
(``sandbox`` + ``worker``) que só responde às chamadas do avaliador com valores (``wire``); a
nota nunca é calculada onde roda o código do estudante. O que só se confere lendo o código (uma
função proibida mencionada) vira uma marca para o professor revisar (``review``), sem mudar a
nota.

Cada resultado vira uma linha da planilha assim que sai (``gradebook``); no fim, o resumo da
turma (``classreport``). A pasta de trabalho (``.trabalho``, dentro da pasta de resultados) é
apagada no começo e no fim, também se a correção for interrompida.

Interrompida (Ctrl-C, SIGTERM) ou parada por um erro (a liberação mudou), a correção não espera
as entregas da fila: elas são canceladas, as caixas em andamento são encerradas, e só fica na
planilha o que já tinha terminado.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursetools.coursework import feedback, graders, lifecycle, notebooks, report, review
from coursetools.coursework.classreport import write_class_outputs
from coursetools.coursework.collect import Submission, collect, digest
from coursetools.coursework.common import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_TIMEOUT,
    GRADED,
    GRADER_ERROR,
    REFUSED,
    STUCK_CELLS,
    TAMPERED,
    UNKNOWN_CHAPTER,
    WORK_DIR,
    CourseworkError,
    Result,
)
from coursetools.coursework.gradebook import Gradebook
from coursetools.coursework.sandbox import MB, Sandbox
from coursetools.coursework.submissions import recognize_chapter, structure_warnings

TOOLS = ("worker.py", "wire.py")  # o que roda dentro da caixa
BOX_MEMORY = 3072 * MB  # espaço de endereçamento do único processo da caixa
IGNORE_TAG = "otter_ignore"  # células pesadas do livro, puladas na correção (como no otter)


@dataclass(frozen=True)
class Options:
    """As opções de uma correção."""

    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    jobs: int | None = None
    isolated: bool = True
    redo: bool = False
    language: str = "pt_br"


@dataclass(frozen=True)
class _Context:
    """O que vale para todas as entregas de uma correção."""

    release: graders.Release
    tools: Path
    options: Options
    boxes: queue.Queue  # as caixas livres, uma por correção paralela (cada uma, um usuário)
    workdir: Path  # a pasta de trabalho (``.trabalho``)
    stop: threading.Event  # sinal para não abrir mais nenhuma caixa (correção interrompida)


class _Stopped(Exception):
    """A correção foi interrompida: a entrega em andamento é abandonada, sem virar linha."""


def grade(source: Path, release_dir: Path, out: Path | None = None,
          options: Options = Options(), log: Callable[[str], Any] = print) -> list[Result]:
    """Corrige as entregas de ``source`` (arquivo, pasta ou .zip do Moodle) e grava em ``out``
    a planilha, as devolutivas e o resumo. Devolve uma ``Result`` por arquivo, na ordem das
    chaves (as já corrigidas, com o mesmo conteúdo e a mesma liberação, não são refeitas)."""
    source, release_dir = Path(source), Path(release_dir)
    out = Path(out) if out else source.parent / f"{source.stem}-correcao"
    if source.resolve() == out.resolve() or out.resolve().is_relative_to(source.resolve()):
        raise CourseworkError("A pasta de resultados não pode ficar dentro das entregas.")
    jobs = options.jobs or max(1, min(2, os.cpu_count() or 1))
    boxes: queue.Queue = queue.Queue()
    leased = [Sandbox.create(options.isolated) for _ in range(jobs)]  # recusa sem isolamento
    for box in leased:
        boxes.put(box)
    workdir = out / WORK_DIR
    with lifecycle.workdir(workdir), lifecycle.released(leased):
        release = graders.load(release_dir, workdir)
        book = Gradebook(out, release.chapters)
        submissions, _ = collect(source, workdir / "entregas")
        context = _Context(release, _tools(workdir), options, boxes, workdir,
                           threading.Event())
        settings = ""
        todo = [s for s in submissions if options.redo
                or book.previous(s.key, s.digest, release.digest, settings) is None]
        if len(todo) < len(submissions):
            log(f"  {len(submissions) - len(todo)} entrega(s) já corrigida(s), sem mudança: "
                "mantidas (use --refazer para corrigir de novo).")
        pool = ThreadPoolExecutor(max_workers=jobs)
        futures = [pool.submit(_grade_one, s, context, settings) for s in todo]
        try:
            for future in as_completed(futures):
                result = future.result()
                book.record(result)
                log(f"  {result.submission}: {report.score_text(result)} — {result.status} "
                    f"({result.seconds:.1f} s)")
        except BaseException:
            lifecycle.stop(pool, futures, context.stop)
            raise
        pool.shutdown()
        book.refresh_feedback()
        write_class_outputs(book.rows(), release.chapters, out, options.language)
    return [book.results[s.key] for s in submissions]


def _tools(workdir: Path) -> Path:
    """Copia o que roda na caixa para uma pasta da correção, a única montada dela."""
    folder = workdir / "ferramentas"
    folder.mkdir(mode=0o755)
    for name in TOOLS:
        target = folder / name
        shutil.copyfile(Path(__file__).with_name(name), target)
        target.chmod(0o644)
    return folder


def _grade_one(submission: Submission, context: _Context, settings: str) -> Result:
    """Corrige uma entrega; nada derruba o lote: um erro inesperado vira uma linha com o erro
    (exceto a liberação alterada, que para tudo)."""
    start = time.perf_counter()
    box = context.boxes.get()
    scratch = Path(tempfile.mkdtemp(prefix="entrega-", dir=context.workdir))
    try:
        result = _grade_file(submission, context, box, scratch)
    except (CourseworkError, _Stopped):
        raise
    except Exception as exc:
        result = Result(submission.key, GRADER_ERROR,
                        f"Erro inesperado na correção: {type(exc).__name__}: {exc}")
    finally:
        context.boxes.put(box)
        shutil.rmtree(scratch, ignore_errors=True)
    result.warnings[:0] = submission.notes
    result.seconds = time.perf_counter() - start
    result.participant, result.student = submission.participant, submission.student
    result.digest, result.release = submission.digest, context.release.digest
    result.options = settings
    return result


def _grade_file(submission: Submission, context: _Context, box: Sandbox,
                scratch: Path) -> Result:
    if submission.problem:  # um membro do .zip recusado na coleta (nome, tamanho, ligação...)
        return Result(submission.key, REFUSED, submission.problem)
    data = submission.path.read_bytes() if submission.path.is_file() else b""
    if digest(data) != submission.digest:
        return Result(submission.key, TAMPERED, "O arquivo mudou entre a leitura e a correção; "
                      "não foi corrigido. Rode a correção de novo.")
    notebook, status, message = notebooks.read_notebook(submission.path, data)
    if notebook is None:
        return Result(submission.key, status, message)
    release = context.release
    chapter_name, how = recognize_chapter(notebook, submission.name, release.chapters)
    if chapter_name is None:
        return Result(submission.key, UNKNOWN_CHAPTER, how)
    release.verify(chapter_name)
    grader = release.graders[chapter_name]
    chapter = grader.chapter
    result = Result(submission.key, GRADED, "", chapter=chapter.name, possible=chapter.points,
                    scores={q.name: 0.0 for q in chapter.questions})
    result.warnings += feedback.recognition_warnings(submission, how)
    result.warnings += structure_warnings(notebook, chapter)
    result.fingerprints = review.fingerprints(notebook, chapter, grader.distributed)
    copy, notes = notebooks.prepare_copy(notebook, chapter.name)
    result.warnings += notes
    outcome = _evaluate(copy, grader, context, box, scratch)
    result.log += outcome.get("log", "")
    feedback.skipped_warnings(notebook, outcome, result, context.options.cell_timeout)
    failure = outcome.get("failure")
    if failure is not None:
        feedback.mark_failure(result, failure, context.options)
        return result
    feedback.cell_warnings(notebook, outcome, result)
    for q in chapter.questions:
        result.details.append(feedback.question_lines(q, outcome["questions"].get(q.name, []),
                                              grader.tests.get(q.name, []), result))
    for question, targets in review.flags(notebook, chapter, outcome.get("rules", {})).items():
        names = ", ".join(f"`{t}`" for t in targets)
        result.review.append(f"{question}: a resposta menciona {names}, que o exercício pede "
                             f"para não usar; a nota calculada ({result.scores[question]:g}) "
                             "foi mantida — confira.")
    result.message = feedback.summary(result, chapter)
    return result


def _evaluate(copy: dict[str, Any], grader: graders.ChapterGrader, context: _Context,
              box: Sandbox, scratch: Path) -> dict[str, Any]:
    """Roda o avaliador (``harness``) num processo próprio, fora da caixa: ele abre a caixa do
    estudante, executa o notebook nela e confere cada caso. O resultado, ou ``failure``."""
    if context.stop.is_set():
        raise _Stopped
    options = context.options
    cells = [{"index": c["metadata"]["residuais_cell"], "source": c["source"]}
             for c in copy["cells"] if c.get("cell_type") == "code" and not _ignored(c)]
    job = {
        "cells": cells, "timeout": options.timeout, "cell_timeout": options.cell_timeout,
        "call_timeout": options.cell_timeout,
        "questions": [{"name": q.name, "cases": [{"code": c.code, "hidden": c.hidden}
                                                 for c in grader.tests.get(q.name, [])]}
                      for q in grader.chapter.questions],
        "box": {"isolated": box.isolated, "uid": box.uid, "binds": [str(p) for p in box.binds],
                "tools": str(context.tools), "memory": BOX_MEMORY, "scratch": str(scratch)},
    }
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "PYTHONPATH": str(grader.hidden_dir), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "TMPDIR": str(scratch)}
    process = subprocess.Popen([sys.executable, "-m", "coursetools.coursework.harness"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, cwd=scratch,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(  # cada caixa nova tem o limite inteiro
            json.dumps(job).encode(), timeout=options.timeout * (STUCK_CELLS + 3) + 60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return {"failure": "tempo", "log": ""}
    finally:
        if context.stop.is_set():
            raise _Stopped
    try:
        outcome = json.loads(stdout.decode("utf-8"))
    except ValueError:
        outcome = {"failure": "avaliador"}
    peak = outcome.get("peak_memory", 0) if isinstance(outcome.get("peak_memory"), int) else 0
    outcome["log"] = (f"== avaliador: código {process.returncode}; pico de memória da caixa: "
                      f"{peak // MB} MB; caixas abertas: {outcome.get('starts', 0)} ==\n"
                      + stderr.decode("utf-8", errors="replace")[-20000:] + "\n"
                      + f"== caixa do estudante ==\n{outcome.get('log', '')[-20000:]}\n")
    return outcome


def _ignored(cell: dict[str, Any]) -> bool:
    """Se a célula é pulada na correção, como o otter faz (etiqueta ou metadado)."""
    metadata = cell.get("metadata", {})
    otter = metadata.get("otter", {})
    return IGNORE_TAG in metadata.get("tags", []) or (isinstance(otter, dict)
                                                      and bool(otter.get("ignore", False)))
