"""A correção de um conjunto de entregas.

Para cada arquivo: é lido (e conferido de novo antes do uso), reconhecido, e então corrigido em
duas caixas de areia (``sandbox``), uma depois da outra:

1. o **avaliador** (``scorer.py``) recebe só as definições das respostas (``answers``) e os
   testes, e dá os pontos de cada exercício — o notebook do estudante não roda ali;
2. a **execução de diagnóstico** (``runner.py``) roda o notebook inteiro num shell do IPython,
   só para avisar o estudante das células que deram erro.

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
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursetools.coursework import answers, graders, notebooks, report
from coursetools.coursework.classreport import write_class_outputs
from coursetools.coursework.collect import Submission, collect, digest
from coursetools.coursework.common import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_TIMEOUT,
    GRADED,
    GRADER_ERROR,
    TAMPERED,
    TIMED_OUT,
    UNKNOWN_CHAPTER,
    WORK_DIR,
    CourseworkError,
    Result,
)
from coursetools.coursework.gradebook import Gradebook
from coursetools.coursework.sandbox import MB, Limits, Sandbox
from coursetools.coursework.submissions import recognize_chapter, structure_warnings

TOOLS = ("scorer.py", "runner.py")  # os scripts que rodam dentro da caixa
SCORER_MEMORY = 3072 * MB


@dataclass(frozen=True)
class Options:
    """As opções de uma correção."""

    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float = DEFAULT_CELL_TIMEOUT
    jobs: int | None = None
    hide_hidden: bool = False
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
    for slot in range(jobs):  # recusa aqui, em português, se não houver isolamento
        boxes.put(Sandbox.create(options.isolated, slot))
    workdir = out / WORK_DIR
    with _workdir(workdir):
        release = graders.load(release_dir, workdir)
        book = Gradebook(out, release.chapters)
        submissions, _ = collect(source, workdir / "entregas")
        context = _Context(release, _tools(workdir), options, boxes, workdir,
                           threading.Event())
        settings = "ocultos-sem-mensagem" if options.hide_hidden else ""
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
            _stop(pool, futures, context.stop)
            raise
        pool.shutdown()
        book.refresh_feedback()
        write_class_outputs(book.rows(), release.chapters, out, options.language)
    return [book.results[s.key] for s in submissions]


@contextlib.contextmanager
def _workdir(path: Path) -> Iterator[None]:
    """A pasta de trabalho, apagada antes e depois; SIGTERM também passa pelo ``finally``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    previous = signal.getsignal(signal.SIGTERM)
    with contextlib.suppress(ValueError):  # fora da thread principal não há o que trocar
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit("correção interrompida (SIGTERM)")


def _stop(pool: ThreadPoolExecutor, futures: list[Future], stop: threading.Event) -> None:
    """Para a correção sem esperar a fila: cancela as entregas que não começaram, encerra as
    caixas em andamento (nenhuma caixa nova é aberta) e espera só as threads terminarem."""
    stop.set()
    pool.shutdown(wait=False, cancel_futures=True)
    while not all(f.done() for f in futures):
        _kill_boxes()
        wait(futures, timeout=0.2)


def _kill_boxes() -> None:
    """Encerra as caixas em andamento: os processos filhos desta correção que abriram uma
    sessão própria (``Sandbox.run`` abre cada caixa assim), com todo o seu grupo."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent, session = int(entry.name), int(fields[1]), int(fields[3])
        if parent == me and session == pid:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)


def _tools(workdir: Path) -> Path:
    """Copia os scripts da caixa para uma pasta da correção, que é a única montada deles."""
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
    result.seconds = time.perf_counter() - start
    result.participant, result.student = submission.participant, submission.student
    result.digest, result.release = submission.digest, context.release.digest
    result.options = settings
    return result


def _run(box: Sandbox, context: _Context, scratch: Path, argv: list[str], job: dict[str, Any],
         limits: Limits, extra: list[Path], env: dict[str, str]) -> Any:
    """Roda um script numa caixa, se a correção não foi interrompida. Sem isolamento, a pasta
    temporária (``TMPDIR``) é a pasta própria da entrega, dentro de ``.trabalho``."""
    if context.stop.is_set():
        raise _Stopped
    if not context.options.isolated:
        env = {**env, "TMPDIR": str(scratch)}
    outcome = box.run(argv, json.dumps(job).encode(), limits, extra, env)
    if context.stop.is_set():
        raise _Stopped
    return outcome


def _grade_file(submission: Submission, context: _Context, box: Sandbox,
                scratch: Path) -> Result:
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
    result.warnings += _recognition_warnings(submission, how)
    result.warnings += structure_warnings(notebook, chapter)
    found = answers.answers(notebook, chapter, grader.distributed)
    result.fingerprints = {q: a.fingerprint for q, a in found.items()}
    scored = _score(found, grader, context, box, scratch, result)
    if scored is not None:
        _mark_failure(result, scored, context.options.timeout)
        return result
    _diagnose(notebook, chapter.name, context, box, scratch, result)
    result.message = _summary(result, chapter)
    return result


def _recognition_warnings(submission: Submission, how: str) -> list[str]:
    warnings = []
    suffix = Path(submission.name).suffix
    if suffix.lower() != ".ipynb":
        warnings.append(f"O arquivo tem extensão {suffix or '(nenhuma)'}, mas é um notebook; "
                        "foi corrigido como tal.")
    if how == "nome do arquivo":
        warnings.append("O notebook não tem os metadados nem a célula do otter; o capítulo foi "
                        "reconhecido pelo nome do arquivo.")
    return warnings


# --------------------------------------------------------------------------------------------
# 1. o avaliador
# --------------------------------------------------------------------------------------------


def _score(found: dict[str, answers.Answer], grader: graders.ChapterGrader,
           context: _Context, box: Sandbox, scratch: Path, result: Result) -> str | None:
    """Os pontos de cada exercício, do avaliador; ``None`` se deu certo, senão o motivo."""
    options = context.options
    runnable = [q for q in grader.chapter.questions if not found[q.name].findings]
    for q in grader.chapter.questions:
        if found[q.name].findings:
            uses = ", ".join(found[q.name].findings)
            result.review.append(f"{q.name}: a resposta {uses}; recursos que a correção não "
                                 "permite numa resposta. Ficou com 0 até o professor revisar.")
            result.details.append(f"✗ {q.name}: 0 de {q.points:g} pontos — a resposta usa "
                                  f"recursos que a correção não permite ({uses}); o professor "
                                  "vai revisar.")
    job = {"paths": [str(grader.hidden_dir)], "timeout": options.cell_timeout,
           "warm": sorted({m for q in runnable for m in found[q.name].modules} & set(grader.warm)),
           "questions": [{"name": q.name, "source": found[q.name].source,
                          "cases": [c.code for c in grader.tests.get(q.name, [])]}
                         for q in runnable]}
    limits = Limits(seconds=options.timeout, memory=SCORER_MEMORY)
    outcome = _run(box, context, scratch, [sys.executable, "-I", str(context.tools / "scorer.py")],
                   job, limits, [context.tools, grader.hidden_dir],
                   {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
    result.log += _log_block("avaliador", outcome)
    entries = _parse_lines(outcome.stdout)
    result.log += "".join(f"   {name}: {entry.get('seconds', '?')} s {entry.get('error') or ''}\n"
                          for name, entry in entries.items() if isinstance(entry, dict))
    if outcome.timed_out:
        return "tempo"
    if not entries.pop("__fim__", False):
        return "avaliador:" + _tail(outcome.stderr)
    for q in runnable:
        entry = entries.get(q.name)
        result.details.append(_question_lines(q, entry, grader.tests.get(q.name, []), result,
                                              options))
    return None


def _parse_lines(stdout: bytes) -> dict[str, Any]:
    """As linhas JSON do avaliador, por exercício (e ``__fim__`` se ele terminou)."""
    entries: dict[str, Any] = {}
    for line in stdout.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            data = json.loads(line)
            if isinstance(data, dict) and data.get("fim") is True:
                entries["__fim__"] = True
            elif isinstance(data, dict) and isinstance(data.get("name"), str):
                entries[data["name"]] = data
    return entries


def _question_lines(q: Any, entry: dict[str, Any] | None, cases: list[graders.Case],
                    result: Result, options: Options) -> str:
    """Pontua um exercício e devolve as linhas da devolutiva."""
    if entry is None or entry.get("error"):
        reason = _question_error(entry, options.cell_timeout)
        result.failures[q.name] = reason
        if entry is not None and entry.get("error") == "alterou":
            result.review.append(f"{q.name}: {reason}. Ficou com 0 até o professor revisar.")
        return f"✗ {q.name}: 0 de {q.points:g} pontos — {reason}"
    outcomes = entry.get("cases", [])
    passed = [bool(o.get("passed")) for o in outcomes] + [False] * (len(cases) - len(outcomes))
    score = sum(c.points for c, ok in zip(cases, passed, strict=False) if ok)
    result.scores[q.name] = float(score)
    verdict = "✓" if score >= q.points else "✗"
    lines = [f"{verdict} {q.name}: {score:g} de {q.points:g} pontos"]
    if entry.get("load_error"):
        lines.append(f"    {report.load_error_text(str(entry['load_error']))}")
    for number, (case, ok) in enumerate(zip(cases, passed, strict=False), start=1):
        message = outcomes[number - 1].get("message", "") if number <= len(outcomes) else ""
        if not ok and q.name not in result.failures:
            result.failures[q.name] = report.failure_reason(message).splitlines()[0][:200]
        lines.append(f"    teste {number} {_case_text(case.hidden, ok, message, options)}")
    return "\n".join(lines)


def _question_error(entry: dict[str, Any] | None, cell_timeout: float) -> str:
    kind = (entry or {}).get("error")
    if kind == "tempo":
        return (f"a verificação passou de {cell_timeout:g} s e foi interrompida (laço "
                "infinito?)")
    if kind == "morreu":
        return ("o processo que corrigia este exercício morreu (a resposta encerra o Python "
                "ou esgota a memória?)")
    if kind == "alterou":
        changed = ", ".join(f"`{name}`" for name in entry.get("changed", [])[:5]
                            if isinstance(name, str))
        return (f"a resposta trocou funções da biblioteca ou da correção ({changed}), o que "
                "muda o que o teste mede")
    return "o teste não foi executado"


def _case_text(hidden: bool, passed: bool, message: str, options: Options) -> str:
    """Um caso de teste na devolutiva; com ``hide_hidden``, sem a mensagem dos ocultos."""
    kind = "oculto" if hidden else "público"
    if passed:
        return f"({kind}): passou"
    if hidden and options.hide_hidden:
        return f"({kind}): não passou"
    reason = report.failure_reason(message)
    return f"({kind}): não passou — " + textwrap.indent(reason, "      ").lstrip()


def _mark_failure(result: Result, reason: str, timeout: float) -> None:
    """A entrega que o avaliador não corrigiu: passou do tempo ou falhou."""
    result.scores = dict.fromkeys(result.scores, 0.0)
    result.details = []
    if reason == "tempo":
        result.status = TIMED_OUT
        result.message = (f"A correção passou de {timeout:g} s e foi interrompida (laço "
                          "infinito?); nenhum exercício pôde ser corrigido.")
    else:
        result.status = GRADER_ERROR
        result.message = ("O corretor falhou nesta entrega; nenhum exercício pôde ser "
                          "corrigido. O professor tem o registro técnico.")


# --------------------------------------------------------------------------------------------
# 2. a execução de diagnóstico
# --------------------------------------------------------------------------------------------


def _diagnose(notebook: dict[str, Any], chapter: str, context: _Context, box: Sandbox,
              scratch: Path, result: Result) -> None:
    """Roda o notebook inteiro na caixa e transforma os erros das células em avisos."""
    copy, notes = notebooks.prepare_copy(notebook, chapter)
    result.warnings += notes
    job = {"notebook": copy, "cell_timeout": context.options.cell_timeout}
    limits = Limits(seconds=context.options.timeout)
    outcome = _run(box, context, scratch, [sys.executable, "-I", str(context.tools / "runner.py")],
                   job, limits, [context.tools],
                   {"MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1"})
    result.log += _log_block("diagnóstico", outcome)
    if outcome.timed_out:
        result.warnings.append(f"A execução completa do notebook passou de "
                               f"{context.options.timeout:g} s e foi interrompida; a nota não "
                               "depende dela.")
        return
    try:
        data = json.loads(outcome.stdout.decode("utf-8", errors="replace"))
        errors = list(data.get("cell_errors", []))
        error = data.get("error")
    except (ValueError, AttributeError):
        errors, error = [], {"name": "?"}
    if error:
        result.warnings.append("O Python do notebook morreu ou travou durante a execução completa "
                               "(a entrega encerra o processo ou esgota a memória?); a nota não "
                               "depende dela.")
    cells = notebook["cells"]
    for entry in errors[:50]:
        index = entry.get("cell") if isinstance(entry, dict) else None
        if not isinstance(index, int):
            continue
        code = notebooks.source(cells[index - 1]) if 0 < index <= len(cells) else ""
        result.warnings.append(f"{notebooks.cell_name(index, code)} levantou "
                               f"{entry.get('name', '')}: {entry.get('value', '')}".rstrip(": "))


def _log_block(title: str, outcome: Any) -> str:
    state = "tempo esgotado" if outcome.timed_out else f"código {outcome.returncode}"
    return (f"== {title}: {state}, {outcome.seconds:.1f} s ==\n"
            + outcome.stderr.decode("utf-8", errors="replace")[-20000:] + "\n")


def _tail(data: bytes) -> str:
    return "\n".join(data.decode("utf-8", errors="replace").strip().splitlines()[-15:])


def _summary(result: Result, chapter: Any) -> str:
    """A mensagem da planilha para uma entrega corrigida."""
    failed = [q.name for q in chapter.questions if result.scores[q.name] < q.points]
    summary = (f"{len(chapter.questions) - len(failed)} de {len(chapter.questions)} exercícios "
               "completos")
    if failed:
        summary += f"; incompletos: {', '.join(failed)}"
    if result.review:
        summary += "; em revisão pelo professor"
    if result.warnings:
        summary += f"; {len(result.warnings)} aviso(s), veja a devolutiva"
    return summary + "."

