"""O manifesto de uma liberação: os capítulos liberados (``Chapter``) e os seus exercícios
(``Question``), como a liberação os acha nos notebooks e como a correção os lê de volta."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from coursetools.coursework import notebooks
from coursetools.coursework.common import COMMAND, MANIFEST, CourseworkError


@dataclass
class Question:
    """Um exercício de programação de um capítulo, como o manifesto o descreve."""

    name: str
    points: float
    names: list[str]  # o que a resposta define (funções, variáveis) e o teste usa
    answers: list[str]  # as células de resposta como distribuídas ("..." no lugar da solução)


@dataclass
class Chapter:
    """Um capítulo liberado: seus arquivos (relativos à liberação) e exercícios."""

    name: str
    title: str
    student: str
    autograder: str
    solution: str
    questions: list[Question]

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)


def questions(student: dict[str, Any], solution: dict[str, Any]) -> list[Question]:
    """Os exercícios do notebook do estudante: nome, pontos, o que a resposta define."""
    tests = solution.get("metadata", {}).get("otter", {}).get("tests", {})
    found, answer_cells = [], []
    for cell in student["cells"]:
        code = notebooks.source(cell)
        if "otter_answer_cell" in cell.get("metadata", {}).get("tags", []):
            answer_cells.append(code)
            continue
        match = notebooks.CHECK_CALL.search(code) if cell.get("cell_type") == "code" else None
        if match:
            name = match.group(1)
            names = [n for answer in answer_cells for n in notebooks.defined_names(answer)]
            found.append(Question(name, question_points(tests.get(name, {})), names,
                                  answer_cells))
            answer_cells = []
    return found


def question_points(spec: dict[str, Any]) -> float:
    """Os pontos de um exercício, como o otter os resolve: o ``points`` da pergunta (um número
    ou uma lista, um valor por caso de teste) ou, sem ele, a soma dos casos (1 se nenhum diz)."""
    points = spec.get("points")
    if isinstance(points, int | float):
        return float(points)
    if isinstance(points, list):
        return float(sum(p or 0 for p in points))
    cases = spec.get("suites", [{}])[0].get("cases", [])
    return float(sum(case.get("points") or 0 for case in cases) or 1)


def write_manifest(chapters: Sequence[Chapter], release_dir: Path) -> None:
    """Escreve o ``manifesto.json`` da liberação, que ``load_release`` lê."""
    data = {"chapters": [asdict(chapter) for chapter in chapters]}
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    (Path(release_dir) / MANIFEST).write_text(text, encoding="utf-8")


def load_release(release_dir: Path) -> dict[str, Chapter]:
    """Os capítulos de uma liberação, pelo nome, lidos do manifesto."""
    path = Path(release_dir) / MANIFEST
    if not path.exists():
        raise CourseworkError(
            f"Não achei a liberação em {release_dir} (falta {MANIFEST}). "
            f"Rode antes `make release` (ou `{COMMAND} release`)."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    chapters = {}
    for entry in data["chapters"]:
        listed = [Question(**q) for q in entry.pop("questions")]
        chapters[entry["name"]] = Chapter(**entry, questions=listed)
    return chapters
