"""As entregas comparadas com a liberação: de que capítulo é cada notebook e o que mudou na sua
estrutura (resposta ou verificação apagada, resposta não preenchida, células fora de ordem)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from coursetools.coursework import notebooks
from coursetools.coursework.manifest import Chapter, Question

UNRECOGNIZED = ("Não reconheci o capítulo deste notebook: ele não tem os metadados do otter, "
                "a célula “otter.Notebook(...)” nem as verificações de nenhum capítulo. É um "
                "notebook distribuído pelo curso?")


def recognize_chapter(
    notebook: dict[str, Any], filename: str, chapters: dict[str, Chapter]
) -> tuple[str | None, str]:
    """O capítulo de uma entrega e como foi reconhecido; ``(None, motivo)`` se não der.

    Em ordem: o nome da tarefa que o otter grava nos metadados do notebook; o nome do notebook
    na célula ``otter.Notebook(...)``; os nomes dos exercícios nas células ``grader.check(...)``;
    o nome do arquivo.
    """
    otter_meta = notebook.get("metadata", {}).get("otter", {})
    name = otter_meta.get("assignment_name") if isinstance(otter_meta, dict) else None
    if isinstance(name, str) and name:
        if name in chapters:
            return name, "metadados"
        return None, (f"O notebook é da tarefa “{name}”, que não faz parte desta liberação "
                      f"(capítulos: {', '.join(chapters)}).")
    code = "\n".join(notebooks.source(c) for c in notebook["cells"]
                     if c.get("cell_type") == "code")
    for match in notebooks.OTTER_INIT.finditer(code):
        if match.group(1) in chapters:
            return match.group(1), "célula do otter"
    checked = set(notebooks.CHECK_CALL.findall(code))
    by_question = [c for c in chapters.values() if checked & {q.name for q in c.questions}]
    if len(by_question) == 1:
        return by_question[0].name, "exercícios"
    by_filename = [c for c in chapters if c in filename]
    if len(by_filename) == 1:
        return by_filename[0], "nome do arquivo"
    return None, UNRECOGNIZED


def structure_warnings(notebook: dict[str, Any], chapter: Chapter) -> list[str]:
    """Avisos sobre a estrutura da entrega comparada com a versão distribuída.

    Para cada exercício: a célula de verificação foi apagada? A resposta foi apagada, deixada
    como distribuída, ou ficou depois da verificação (células reordenadas)?
    """
    sources = [notebooks.source(c) for c in notebook["cells"] if c.get("cell_type") == "code"]
    warnings = []
    for q in chapter.questions:
        warnings += _question_warnings(q, sources)
    return warnings


def _question_warnings(q: Question, sources: list[str]) -> list[str]:
    """Os avisos de um exercício, dadas as células de código da entrega, em ordem."""
    check_at = next((i for i, s in enumerate(sources)
                     if q.name in notebooks.CHECK_CALL.findall(s)), None)
    defined_at = {name: next((i for i, s in enumerate(sources)
                              if name in notebooks.defined_names(s)), None)
                  for name in q.names}
    stripped = {s.strip() for s in sources}
    warnings = []
    missing = [n for n, at in defined_at.items() if at is None]
    if missing:
        warnings.append(f"{q.name}: a resposta ({_names(missing)}) não está no notebook: "
                        "a célula da resposta foi apagada, ou a função, renomeada?")
    elif q.answers and all(a.strip() in stripped for a in q.answers):
        warnings.append(f"{q.name}: a resposta não foi preenchida (a célula está como foi "
                        "distribuída).")
    if check_at is None:
        warnings.append(f"{q.name}: a célula de verificação foi apagada; o exercício foi "
                        "corrigido com o estado do notebook ao final da execução.")
        return warnings
    late = [n for n, at in defined_at.items() if at is not None and at > check_at]
    if late:
        warnings.append(f"{q.name}: a verificação vem antes da definição de "
                        f"{_names(late)} (células fora de ordem): no seu notebook, o "
                        "grader.check dessa célula falha ao executar tudo em ordem; a correção "
                        "usa o estado do notebook ao final da execução.")
    return warnings


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)
