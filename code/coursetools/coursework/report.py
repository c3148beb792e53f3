"""O que a correção escreve: a planilha ``notas.csv``, a devolutiva de cada entrega e, para cada
caso de teste que falhou, a explicação em português tirada da saída do doctest do otter."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

from coursetools.coursework.common import FEEDBACK_DIR, GRADEBOOK, GRADED, Result
from coursetools.coursework.manifest import Chapter
from residuais.checks.display import failure_reason

__all__ = ["failure_reason", "feedback_text", "score_text", "write_outputs"]


def score_text(result: Result) -> str:
    """A nota como ``total/máximo`` (ou “sem nota”), para o registro da correção."""
    if result.possible is None:
        return "sem nota"
    return f"{result.total:g}/{result.possible:g}"


def write_outputs(results: Sequence[Result], chapters: dict[str, Chapter], out: Path) -> None:
    """Escreve a planilha ``notas.csv`` e uma devolutiva por entrega em ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    feedback_dir = out / FEEDBACK_DIR
    shutil.rmtree(feedback_dir, ignore_errors=True)
    feedback_dir.mkdir()
    used = [c for c in chapters.values() if any(r.chapter == c.name for r in results)]
    questions = [q.name for c in used for q in c.questions]
    header = ["entrega", "capitulo", *questions, "total", "maximo", "situacao", "mensagem"]
    with open(out / GRADEBOOK, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for r in results:
            graded = r.status == GRADED
            writer.writerow([
                r.submission,
                r.chapter,
                *[f"{r.scores[q]:g}" if graded and q in r.scores else "" for q in questions],
                f"{r.total:g}",
                "" if r.possible is None else f"{r.possible:g}",
                r.status,
                r.message.splitlines()[0] if r.message else "",
            ])
    for r in results:
        (feedback_dir / f"{r.submission}.txt").write_text(feedback_text(r, chapters),
                                                           encoding="utf-8")


def feedback_text(result: Result, chapters: dict[str, Chapter]) -> str:
    """A devolutiva de uma entrega, em português."""
    lines = [f"Devolutiva da entrega “{result.submission}”", ""]
    chapter = chapters.get(result.chapter)
    if chapter:
        lines.append(f"Capítulo: {chapter.title} ({chapter.name})")
    if result.status == GRADED:
        lines += [f"Nota: {result.total:g} de {result.possible:g} pontos", ""]
        lines += result.details
    else:
        lines += [f"Situação: {result.status}", "", result.message]
        if result.possible is not None:
            lines += ["", f"Nota: 0 de {result.possible:g} pontos"]
    if result.warnings:
        lines += ["", "Avisos:"] + [f"  - {w}" for w in result.warnings]
    if result.status == GRADED and result.total < (result.possible or 0):
        lines += ["", "Antes de entregar de novo: reinicie o kernel e execute o notebook inteiro "
                  "(Kernel → Restart Kernel and Run All Cells) e confira as verificações."]
    return "\n".join(lines) + "\n"


