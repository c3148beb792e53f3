"""A devolutiva de uma entrega: os pontos e as linhas de cada exercício, os avisos (arquivo
reconhecido pelo nome, células com erro ou puladas), a mensagem da planilha e a de uma entrega
que não pôde ser corrigida. Dos casos ocultos, só se diz se passaram."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from coursetools.coursework import graders, notebooks, report
from coursetools.coursework.collect import Submission
from coursetools.coursework.common import GRADER_ERROR, TIMED_OUT, Result, student_text


def recognition_warnings(submission: Submission, how: str) -> list[str]:
    warnings = []
    suffix = Path(submission.name).suffix
    if suffix.lower() != ".ipynb":
        warnings.append(f"O arquivo tem extensão {suffix or '(nenhuma)'}, mas é um notebook; "
                        "foi corrigido como tal.")
    if how == "nome do arquivo":
        warnings.append("O notebook não tem os metadados nem a célula do otter; o capítulo foi "
                        "reconhecido pelo nome do arquivo.")
    return warnings


def skipped_warnings(notebook: dict[str, Any], outcome: dict[str, Any], result: Result,
                      limit: float) -> None:
    """As células que não pararam nem interrompidas, puladas numa caixa nova."""
    cells = notebook["cells"]
    for index in outcome.get("skipped_cells", [])[:10]:
        if isinstance(index, int) and 0 < index <= len(cells):
            name = notebooks.cell_name(index, notebooks.source(cells[index - 1]))
            result.warnings.append(f"{name} não parou nem depois de interrompida (passou de "
                                   f"{limit:g} s) e foi pulada na correção; o "
                                   "resto do notebook rodou sem ela.")


def cell_warnings(notebook: dict[str, Any], outcome: dict[str, Any], result: Result) -> None:
    """Os erros das células da entrega, executada na caixa, como avisos."""
    if outcome.get("fatal"):
        result.warnings.append("O Python do notebook morreu durante a execução (a entrega "
                               "encerra o processo?); os exercícios foram corrigidos com o que "
                               "estava definido até ali.")
    cells = notebook["cells"]
    for entry in outcome.get("cell_errors", [])[:50]:
        index = entry.get("cell") if isinstance(entry, dict) else None
        if not isinstance(index, int):
            continue
        code = notebooks.source(cells[index - 1]) if 0 < index <= len(cells) else ""
        text = student_text(str(entry.get("value", "")))
        result.warnings.append(f"{notebooks.cell_name(index, code)} levantou "
                               f"{str(entry.get('name', ''))[:60]}: {text}".rstrip(": "))


def question_lines(q: Any, outcomes: list[Any], cases: list[graders.Case],
                    result: Result) -> str:
    """Pontua um exercício e devolve as linhas da devolutiva. Dos casos ocultos, só se diz se
    passaram: nem as entradas, nem os valores esperados, nem a mensagem."""
    passed = [isinstance(o, dict) and o.get("passed") is True for o in outcomes]
    passed += [False] * (len(cases) - len(passed))
    score = sum(c.points for c, ok in zip(cases, passed, strict=False) if ok)
    result.scores[q.name] = float(score)
    verdict = "✓" if score >= q.points else "✗"
    lines = [f"{verdict} {q.name}: {score:g} de {q.points:g} pontos"]
    for number, (case, ok) in enumerate(zip(cases, passed, strict=False), start=1):
        output = outcomes[number - 1].get("output", "") if number <= len(outcomes) and \
            isinstance(outcomes[number - 1], dict) else ""
        kind = "oculto" if case.hidden else "público"
        if ok:
            lines.append(f"    teste {number} ({kind}): passou")
        elif case.hidden:
            lines.append(f"    teste {number} ({kind}): não passou")
            result.failures.setdefault(q.name, "não passou num teste oculto")
        else:
            reason = report.failure_reason(str(output))
            result.failures.setdefault(q.name, reason.splitlines()[0][:200])
            lines.append(f"    teste {number} ({kind}): não passou — "
                         + textwrap.indent(reason, "      ").lstrip())
    return "\n".join(lines)


def mark_failure(result: Result, reason: str, options: Any) -> None:
    """A entrega que o avaliador não corrigiu: passou do tempo, a máquina não tinha recurso
    para abrir a caixa (a próxima correção tenta de novo) ou o avaliador falhou."""
    result.scores = dict.fromkeys(result.scores, 0.0)
    result.details = []
    if reason == "tempo":
        result.status = TIMED_OUT
        result.message = (f"A execução do notebook passou de {options.timeout:g} s e foi "
                          "interrompida (laço infinito?); nenhum exercício pôde ser corrigido.")
    elif reason == "recurso":
        result.status = GRADER_ERROR
        result.message = ("A máquina não tinha recurso para abrir a caixa desta entrega (outra "
                          "correção ao mesmo tempo?); ela será corrigida de novo na próxima "
                          "execução da correção. Não é um problema da entrega.")
    else:
        result.status = GRADER_ERROR
        result.message = ("O corretor falhou nesta entrega; nenhum exercício pôde ser "
                          "corrigido. O professor tem o registro técnico.")


def summary(result: Result, chapter: Any) -> str:
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
