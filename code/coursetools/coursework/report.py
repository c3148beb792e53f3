"""O que a correção escreve para cada entrega: a devolutiva em português (com a explicação de
cada caso de teste que falhou, tirada da saída do doctest) e a nota com os ajustes manuais."""

from __future__ import annotations

import dataclasses
import re

from coursetools.coursework.common import GRADED, Result
from coursetools.coursework.manifest import Chapter
from residuais.checks.failure import failure_reason

__all__ = ["adjusted", "failure_reason", "feedback_text", "load_error_text", "score_text"]


def load_error_text(error: str) -> str:
    """A linha da devolutiva para a resposta que levantou uma exceção ao ser carregada (``error``
    é “Tipo: mensagem”, do avaliador): o enquadramento em português e, para o nome não definido,
    também a explicação."""
    kind, _, text = error.partition(":")
    text = text.strip().splitlines()[0][:300] if text.strip() else ""
    missing = re.fullmatch(r"name '([^']+)' is not defined", text)
    if kind == "NameError" and missing:
        text = f"`{missing.group(1)}` não está definido"
    detail = f"{kind}: {text}" if text else kind
    return f"erro ao carregar a resposta (a célula da resposta levantou uma exceção): {detail}"


def score_text(result: Result) -> str:
    """A nota como ``total/máximo`` (ou “sem nota”), para o registro da correção."""
    if result.possible is None:
        return "sem nota"
    return f"{result.total:g}/{result.possible:g}"


def adjusted(result: Result, adjustments: list[tuple[str, float, str]]) -> Result:
    """A entrega com os ajustes manuais do professor: os pontos de cada exercício ajustado
    substituem os automáticos, e o motivo entra na devolutiva."""
    if not adjustments:
        return result
    scores, details = dict(result.scores), list(result.details)
    for question, points, reason in adjustments:
        if question in scores:
            scores[question] = points
            details.append(f"Ajuste do professor em {question}: {points:g} pontos"
                           + (f" — {reason}" if reason else "") + ".")
    return dataclasses.replace(result, scores=scores, details=details)


def feedback_text(result: Result, chapters: dict[str, Chapter]) -> str:
    """A devolutiva de uma entrega, em português (sem o registro técnico do professor)."""
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
    if result.review:
        lines += ["", "Em revisão pelo professor:"] + [f"  - {r}" for r in result.review]
    if result.warnings:
        lines += ["", "Avisos:"] + [f"  - {w}" for w in result.warnings]
    if result.status == GRADED and result.total < (result.possible or 0):
        lines += ["", "Antes de entregar de novo: reinicie o kernel e execute o notebook inteiro "
                  "(Kernel → Restart Kernel and Run All Cells) e confira as verificações."]
    return "\n".join(lines) + "\n"
