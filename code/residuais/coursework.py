"""Trabalhos avaliados: liberação para os estudantes e correção automática de cada capítulo.

Os capítulos em ``book/`` são notebooks do professor no formato do otter-grader 7 (soluções e
testes marcados em células ``raw``). Este módulo embrulha o ``otter assign`` e o ``otter run``
(local, sem Docker) em dois comandos::

    python -m residuais.coursework release [--out release]
    python -m residuais.coursework grade ENTREGAS [--release release] [--out PASTA]
                                             [--timeout 180] [--cell-timeout 30] [--jobs 2]

``release`` gera, para cada capítulo do ``_toc.yml``, o notebook do estudante (sem as soluções,
com as verificações no lugar), o arquivo do corretor (.zip) e o notebook de referência, mais um
``LEIA-ME.md`` e um ``manifesto.json`` que o ``grade`` lê.

``grade`` corrige cada arquivo da pasta de entregas num subprocesso próprio (que é encerrado se
passar do tempo), reconhece o capítulo pelo próprio notebook e escreve ``notas.csv`` e uma
devolutiva em português por entrega. Nenhuma entrega se perde: arquivo que não é notebook,
notebook corrompido, capítulo desconhecido, erro na execução, laço infinito ou células apagadas
ou reordenadas, cada caso vira uma linha da planilha com uma mensagem clara.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from residuais import book

# pastas e arquivos de uma liberação
STUDENT_DIR = "estudantes"
AUTOGRADER_DIR = "corretor"
SOLUTIONS_DIR = "solucoes"
MANIFEST = "manifesto.json"
README = "LEIA-ME.md"
GRADEBOOK = "notas.csv"
FEEDBACK_DIR = "devolutivas"

DEFAULT_TIMEOUT = 180.0  # s por entrega, no total: depois disso o subprocesso é encerrado
DEFAULT_CELL_TIMEOUT = 30.0  # s por célula: a célula é interrompida e a correção continua

# situações de uma entrega na planilha
GRADED = "corrigida"
NOT_NOTEBOOK = "não é notebook"
CORRUPTED = "notebook corrompido"
UNKNOWN_CHAPTER = "capítulo desconhecido"
TIMED_OUT = "tempo esgotado"
GRADER_ERROR = "erro na correção"

WORKER_COMMAND = "_worker"  # o subcomando interno que corrige uma entrega num subprocesso

CHECK_CALL = re.compile(r"""grader\.check\(\s*["']([^"']+)["']\s*\)""")
OTTER_INIT = re.compile(r"""otter\.Notebook\(\s*["']([^"']+?)(?:\.ipynb)?["']\s*\)""")


class CourseworkError(Exception):
    """Erro de uso (capítulo ausente, liberação não encontrada...), com mensagem em português."""


def _skip_slow_import() -> None:
    """Evita importar o ``rfc3987_syntax``, que monta um analisador sintático ao ser importado.

    O ``jsonschema`` (usado pelo ``nbformat``, que o otter importa) só o usa, se estiver
    instalado, para validar o formato “iri”, que nenhum notebook usa; nesta máquina a importação
    custa uns 6 s por processo. Sem ele, o ``jsonschema`` simplesmente não confere esse formato.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# capítulos
# --------------------------------------------------------------------------------------------


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


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def assignment_config(notebook: dict[str, Any]) -> dict[str, Any] | None:
    """A configuração da célula ``# ASSIGNMENT CONFIG`` de um notebook do professor, se houver."""
    import yaml

    for cell in notebook.get("cells", []):
        source = _source(cell).lstrip()
        if cell.get("cell_type") == "raw" and source.startswith("# ASSIGNMENT CONFIG"):
            return yaml.safe_load(source.split("\n", 1)[1] if "\n" in source else "") or {}
    return None


# --------------------------------------------------------------------------------------------
# liberação
# --------------------------------------------------------------------------------------------


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


def _defined_names(source: str) -> list[str]:
    """Os nomes definidos no nível de cima de um trecho de código (def, class, atribuições)."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return re.findall(r"^def\s+(\w+)", source, flags=re.M)
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _strip_magics(source: str) -> str:
    """O código sem as linhas de comandos mágicos do IPython (``%``, ``!``), que não são Python."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def _questions(student: dict[str, Any], solution: dict[str, Any]) -> list[Question]:
    """Os exercícios do notebook do estudante: nome, pontos, o que a resposta define."""
    tests = solution.get("metadata", {}).get("otter", {}).get("tests", {})
    questions, answer_cells = [], []
    for cell in student["cells"]:
        source = _source(cell)
        if "otter_answer_cell" in cell.get("metadata", {}).get("tags", []):
            answer_cells.append(source)
            continue
        match = CHECK_CALL.search(source) if cell.get("cell_type") == "code" else None
        if match:
            name = match.group(1)
            names = [n for src in answer_cells for n in _defined_names(src)]
            points = _question_points(tests.get(name, {}))
            questions.append(Question(name, points, names, answer_cells))
            answer_cells = []
    return questions


def _question_points(spec: dict[str, Any]) -> float:
    """Os pontos de um exercício, como o otter os resolve: o ``points`` da pergunta (um número
    ou uma lista, um valor por caso de teste) ou, sem ele, a soma dos casos (1 se nenhum diz)."""
    points = spec.get("points")
    if isinstance(points, int | float):
        return float(points)
    if isinstance(points, list):
        return float(sum(p or 0 for p in points))
    cases = spec.get("suites", [{}])[0].get("cases", [])
    return float(sum(case.get("points") or 0 for case in cases) or 1)


def _imported_modules(notebook: dict[str, Any]) -> set[str]:
    """Os módulos de nível mais alto importados nas células de código do notebook."""
    modules = set()
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_strip_magics(_source(cell)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    return modules


def missing_imports(notebook: dict[str, Any]) -> list[str]:
    """Os módulos que o notebook importa e que não estão instalados neste ambiente."""
    import importlib.util

    return sorted(m for m in _imported_modules(notebook) if importlib.util.find_spec(m) is None)


def _title(notebook: dict[str, Any], default: str) -> str:
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", _source(cell), flags=re.M)
            if match:
                return match.group(1).strip()
    return default


def release(out: Path, root: Path | None = None, log: Any = print) -> list[Chapter]:
    """Gera a liberação de todos os capítulos do ``_toc.yml`` em ``out``.

    Para cada capítulo: ``estudantes/<capítulo>.ipynb`` (a distribuir), ``corretor/<capítulo>.zip``
    e ``solucoes/<capítulo>.ipynb`` (do professor; têm os testes ocultos). Só as subpastas e
    arquivos da liberação são apagados e refeitos; o resto de ``out`` fica como está.
    """
    root = root or find_root()
    notebooks = chapter_notebooks(root)
    masters = []
    for path in notebooks:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        config = assignment_config(notebook)
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

    _skip_slow_import()
    import otter.assign

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in (STUDENT_DIR, AUTOGRADER_DIR, SOLUTIONS_DIR):
        shutil.rmtree(out / name, ignore_errors=True)
        (out / name).mkdir()
    chapters = []
    with tempfile.TemporaryDirectory(prefix="liberacao-") as tmp:
        for master in masters:
            start = time.perf_counter()
            result = Path(tmp) / master.stem
            otter.assign.main(str(master), str(result), no_pdfs=True, no_run_tests=True)
            zips = sorted((result / "autograder").glob("*.zip"))
            if len(zips) != 1:
                raise CourseworkError(f"{master.stem}: o otter assign não gerou o .zip do "
                                      "corretor.")
            chapter = Chapter(
                name=master.stem,
                title="",
                student=f"{STUDENT_DIR}/{master.name}",
                autograder=f"{AUTOGRADER_DIR}/{master.stem}.zip",
                solution=f"{SOLUTIONS_DIR}/{master.name}",
                questions=[],
            )
            shutil.copy(result / "student" / master.name, out / chapter.student)
            shutil.copy(zips[0], out / chapter.autograder)
            shutil.copy(result / "autograder" / master.name, out / chapter.solution)
            student = json.loads((out / chapter.student).read_text(encoding="utf-8"))
            solution = json.loads((out / chapter.solution).read_text(encoding="utf-8"))
            missing = missing_imports(student)
            if missing:
                raise CourseworkError(
                    f"{master.stem}: o notebook do estudante importa {', '.join(missing)}, que não "
                    "está instalado pelo requirements.txt do curso."
                )
            chapter.title = _title(student, master.stem)
            chapter.questions = _questions(student, solution)
            if not chapter.questions:
                raise CourseworkError(f"{master.stem}: nenhum exercício com verificação "
                                      "automática.")
            chapters.append(chapter)
            log(f"  {master.stem}: {len(chapter.questions)} exercícios, {chapter.points:g} pontos "
                f"({time.perf_counter() - start:.1f} s)")

    manifest = {
        "chapters": [
            {**chapter.__dict__, "questions": [q.__dict__ for q in chapter.questions]}
            for chapter in chapters
        ]
    }
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                encoding="utf-8")
    (out / README).write_text(_release_readme(chapters, out), encoding="utf-8")
    return chapters


def _release_readme(chapters: Sequence[Chapter], out: Path) -> str:
    rows = "\n".join(
        f"| {c.name} | {c.title} | {len(c.questions)} | {c.points:g} |" for c in chapters
    )
    return textwrap.dedent("""\
        # Trabalhos do curso “Conexões residuais”

        Gerado por `python -m residuais.coursework release` (ou `make release`).

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
            # ou: .venv/bin/python -m residuais.coursework grade pasta_das_entregas --release {here}

        O resultado fica em `pasta_das_entregas-correcao/`: `{gradebook}` (uma linha por arquivo
        da pasta, com os pontos de cada exercício) e `{feedback}/`, uma devolutiva em português
        por entrega. O guia do professor, no livro, explica tudo em detalhe.
        """).format(
        rows=rows, student=STUDENT_DIR, autograder=AUTOGRADER_DIR, solutions=SOLUTIONS_DIR,
        manifest=MANIFEST, gradebook=GRADEBOOK, feedback=FEEDBACK_DIR, here=out,
    )


def load_release(release_dir: Path) -> dict[str, Chapter]:
    """Os capítulos de uma liberação, pelo nome, lidos do manifesto."""
    path = Path(release_dir) / MANIFEST
    if not path.exists():
        raise CourseworkError(
            f"Não achei a liberação em {release_dir} (falta {MANIFEST}). "
            "Rode antes `make release` (ou `python -m residuais.coursework release`)."
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    chapters = {}
    for entry in data["chapters"]:
        questions = [Question(**q) for q in entry.pop("questions")]
        chapters[entry["name"]] = Chapter(**entry, questions=questions)
    return chapters


# --------------------------------------------------------------------------------------------
# correção
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    """A correção de um arquivo da pasta de entregas: uma linha da planilha e uma devolutiva."""

    submission: str
    status: str
    message: str
    chapter: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    possible: float | None = None
    details: list[str] = field(default_factory=list)  # linhas da devolutiva, por exercício
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def _not_notebook(path: Path) -> tuple[None, str, str]:
    if path.suffix.lower() == ".zip":
        return None, NOT_NOTEBOOK, ("É um arquivo .zip, não um notebook: extraia dele o .ipynb "
                                    "e ponha o notebook na pasta das entregas.")
    kind = f"arquivo {path.suffix}" if path.suffix else "arquivo sem extensão"
    return None, NOT_NOTEBOOK, (f"Não é um notebook ({kind}): entregue o arquivo .ipynb do "
                                "capítulo.")


def _read_notebook(path: Path) -> tuple[dict[str, Any] | None, str, str]:
    """Lê um arquivo como notebook: ``(notebook, situação, mensagem)``; ``None`` se não der.

    Um arquivo com outra extensão que seja um notebook é aceito (quem o recebeu renomeou).
    """
    if path.is_dir():
        return None, NOT_NOTEBOOK, "É uma pasta, não um notebook: entregue o arquivo .ipynb."
    is_ipynb = path.suffix.lower() == ".ipynb"
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        if not is_ipynb:
            return _not_notebook(path)
        return None, CORRUPTED, ("O arquivo tem extensão .ipynb, mas não é texto UTF-8: está "
                                 "corrompido. Peça ao estudante que o envie de novo.")
    except json.JSONDecodeError as exc:
        if not is_ipynb:
            return _not_notebook(path)
        return None, CORRUPTED, (f"O notebook está corrompido: o JSON é inválido na linha "
                                 f"{exc.lineno}, coluna {exc.colno} (o arquivo foi cortado ou "
                                 "editado à mão?). Peça ao estudante que o envie de novo.")
    looks_like_notebook = (
        isinstance(data, dict)
        and isinstance(data.get("cells"), list)
        and all(isinstance(c, dict) and "cell_type" in c for c in data["cells"])
        and data.get("nbformat") == 4
    )
    if looks_like_notebook:
        return data, "", ""
    if not is_ipynb:
        return _not_notebook(path)
    return None, CORRUPTED, ("O arquivo é JSON, mas não tem a estrutura de um notebook do "
                             "Jupyter (versão 4, com a lista de células). Peça ao estudante "
                             "que o envie de novo.")


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
    code = "\n".join(_source(c) for c in notebook["cells"] if c.get("cell_type") == "code")
    for match in OTTER_INIT.finditer(code):
        if match.group(1) in chapters:
            return match.group(1), "célula do otter"
    checked = set(CHECK_CALL.findall(code))
    by_question = [c for c in chapters.values() if checked & {q.name for q in c.questions}]
    if len(by_question) == 1:
        return by_question[0].name, "exercícios"
    by_filename = [c for c in chapters if c in filename]
    if len(by_filename) == 1:
        return by_filename[0], "nome do arquivo"
    return None, ("Não reconheci o capítulo deste notebook: ele não tem os metadados do otter, "
                  "a célula “otter.Notebook(...)” nem as verificações de nenhum capítulo. É um "
                  "notebook distribuído pelo curso?")


def structure_warnings(notebook: dict[str, Any], chapter: Chapter) -> list[str]:
    """Avisos sobre a estrutura da entrega comparada com a versão distribuída.

    Para cada exercício: a célula de verificação foi apagada? A resposta foi apagada, deixada
    como distribuída, ou ficou depois da verificação (células reordenadas)?
    """
    cells = [c for c in notebook["cells"] if c.get("cell_type") == "code"]
    sources = [_source(c) for c in cells]
    stripped = {s.strip() for s in sources}
    warnings = []
    for q in chapter.questions:
        check_at = next((i for i, s in enumerate(sources)
                         if q.name in CHECK_CALL.findall(s)), None)
        defined_at = {}
        for name in q.names:
            at = next((i for i, s in enumerate(sources) if name in _defined_names(s)), None)
            defined_at[name] = at
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
        else:
            late = [n for n, at in defined_at.items() if at is not None and at > check_at]
            if late:
                warnings.append(f"{q.name}: a verificação vem antes da definição de "
                                f"{_names(late)} (células fora de ordem); o exercício é "
                                "corrigido onde está a verificação.")
    return warnings


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def failure_reason(message: str) -> str:
    """A explicação de um caso de teste que falhou, a partir da saída do doctest do otter.

    Para uma verificação de ``residuais.checks``, é a mensagem do ``AssertionError``, em
    português; para outros erros, uma frase que diz o que aconteceu.
    """
    lines = message.splitlines()
    if "Exception raised:" in lines:
        block = []
        for line in lines[lines.index("Exception raised:") + 1:]:
            if line.strip() and not line.startswith("    "):
                break
            block.append(line[4:])
        starts = [i for i, line in enumerate(block) if line.startswith("Traceback (most recent")]
        tail = block[starts[-1] + 1:] if starts else block
        first = next((i for i, line in enumerate(tail) if line and not line[0].isspace()), None)
        if first is not None:
            exception = "\n".join(tail[first:]).strip()
            kind, _, text = exception.partition(":")
            text = text.strip()
            if kind == "AssertionError" and text:
                return text
            if kind == "NameError":
                match = re.search(r"name '([^']+)' is not defined", text)
                missing = f"`{match.group(1)}`" if match else "um nome usado pelo teste"
                return (f"{missing} não está definido quando o teste roda: a célula da resposta "
                        "foi apagada, vem depois da verificação ou deu erro ao ser executada.")
            if kind == "TimeoutError":
                return f"O teste passou do tempo e foi interrompido: {text}"
            return f"O teste levantou {kind}: {text}" if text else f"O teste levantou {kind}."
    if "Expected:" in lines or "Expected nothing" in lines:
        return ("A verificação produziu uma saída inesperada (a resposta imprime algo ao ser "
                "chamada?).")
    return message.strip() or "O teste não passou."


SHELL_LINE = re.compile(r"^(\s*)(!|%(?:pip|conda|mamba|system|sx)\b)")
SHELL_CELL = re.compile(r"^\s*%%(?:bash|sh|script|system|sx)\b")


def _disable_shell(source: str) -> tuple[str, list[str]]:
    """O código sem os comandos de terminal (``!pip install ...``, ``%pip``, ``%%bash``), que a
    correção não executa para não mexer no ambiente; devolve também as linhas tiradas."""
    if SHELL_CELL.match(source):
        first = source.strip().splitlines()[0]
        return "# célula de terminal não executada na correção\n", [first]
    removed, lines = [], []
    for line in source.splitlines():
        match = SHELL_LINE.match(line)
        if match:
            removed.append(line.strip())
            line = f"{match.group(1)}pass  # comando de terminal não executado na correção"
        lines.append(line)
    return ("\n".join(lines), removed) if removed else (source, [])


def _prepare(notebook: dict[str, Any], chapter: str, destination: Path) -> list[str]:
    """Escreve a cópia a corrigir: kernel padrão, nome da tarefa nos metadados, sem saídas e sem
    comandos de terminal, e cada célula marcada com sua posição original (para a devolutiva
    apontar a célula certa). Devolve os avisos sobre o que foi tirado."""
    notebook = json.loads(json.dumps(notebook))
    metadata = notebook.setdefault("metadata", {})
    metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                              "language": "python"}
    otter_meta = metadata.get("otter")
    if not isinstance(otter_meta, dict):
        otter_meta = metadata["otter"] = {}
    otter_meta["assignment_name"] = chapter
    warnings = []
    for index, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        cell["metadata"]["residuais_cell"] = index
        cell["source"] = _source(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            original = cell["source"]
            cell["source"], removed = _disable_shell(original)
            warnings += [f"{_cell_name(index, original)}: o comando de terminal “{line}” não é "
                         "executado na correção." for line in removed]
    destination.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
    return warnings


def _cell_name(index: int, source: str) -> str:
    """Como a devolutiva chama uma célula: a posição e o começo do código."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > 50:
        first = first[:47] + "..."
    return f"A célula {index}" + (f" (“{first}”)" if first else "")


def _marked_processes(token: str) -> list[Any]:
    """Os processos que herdaram a marca ``token`` no ambiente (o subprocesso e o kernel)."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("RESIDUAIS_GRADING") == token:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def _kill(process: subprocess.Popen | None, token: str) -> None:
    """Encerra o subprocesso de correção e tudo o que ele abriu, o kernel inclusive.

    O kernel roda noutra sessão (o jupyter_client o separa) e pode ficar órfão, então, além dos
    filhos, procuramos os processos que herdaram a marca ``token`` no ambiente.
    """
    import psutil

    victims = []
    if process is not None and process.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(process.pid)
            victims = [parent, *parent.children(recursive=True)]
    victims += _marked_processes(token)
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    psutil.wait_procs(victims, timeout=10)
    if process is not None:
        process.wait()


def _run_worker(
    notebook: Path, autograder: Path, timeout: float, cell_timeout: float
) -> tuple[dict[str, Any] | None, str]:
    """Corrige um notebook num subprocesso; ``(resultado, erro)``. O resultado é ``None`` se o
    subprocesso passou do tempo (erro ``"timeout"``) ou falhou (o erro diz como)."""
    output = notebook.with_suffix(".json")
    token = uuid.uuid4().hex
    env = {**os.environ, "RESIDUAIS_GRADING": token, "MPLBACKEND": "Agg",
           "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "residuais.coursework", WORKER_COMMAND, str(notebook),
               str(autograder), str(output), "--cell-timeout", str(cell_timeout)]
    log = notebook.with_suffix(".log")
    with open(log, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=notebook.parent,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process, token)
            return None, "timeout"
        finally:
            _kill(None, token)  # um kernel que tenha sobrado
    if output.exists():
        return json.loads(output.read_text(encoding="utf-8")), ""
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
    return None, "\n".join(tail)


def _grade_one(
    path: Path, chapters: dict[str, Chapter], release_dir: Path, workdir: Path,
    timeout: float, cell_timeout: float, hide_hidden: bool,
) -> Result:
    start = time.perf_counter()
    result = _grade_one_inner(path, chapters, release_dir, workdir, timeout, cell_timeout,
                              hide_hidden)
    result.seconds = time.perf_counter() - start
    return result


def _grade_one_inner(
    path: Path, chapters: dict[str, Chapter], release_dir: Path, workdir: Path,
    timeout: float, cell_timeout: float, hide_hidden: bool,
) -> Result:
    notebook, status, message = _read_notebook(path)
    if notebook is None:
        return Result(path.name, status, message)
    chapter_name, how = recognize_chapter(notebook, path.name, chapters)
    if chapter_name is None:
        return Result(path.name, UNKNOWN_CHAPTER, how)
    chapter = chapters[chapter_name]
    result = Result(path.name, GRADED, "", chapter=chapter.name, possible=chapter.points,
                    scores={q.name: 0.0 for q in chapter.questions})
    if path.suffix.lower() != ".ipynb":
        result.warnings.append(f"O arquivo tem extensão {path.suffix or '(nenhuma)'}, mas é um "
                               "notebook; foi corrigido como tal.")
    if how == "nome do arquivo":
        result.warnings.append("O notebook não tem os metadados nem a célula do otter; o "
                               "capítulo foi reconhecido pelo nome do arquivo.")
    result.warnings += structure_warnings(notebook, chapter)

    folder = Path(tempfile.mkdtemp(prefix="entrega-", dir=workdir))
    copy = folder / f"{chapter.name}.ipynb"
    result.warnings += _prepare(notebook, chapter.name, copy)
    graded, error = _run_worker(copy, release_dir / chapter.autograder, timeout, cell_timeout)
    if graded is None:
        if error == "timeout":
            result.status = TIMED_OUT
            result.message = (f"A correção passou de {timeout:g} s e foi interrompida (laço "
                              "infinito?); nenhum exercício pôde ser corrigido.")
        else:
            result.status = GRADER_ERROR
            result.message = ("O corretor falhou nesta entrega; nenhum exercício pôde ser "
                              "corrigido. Final do registro:\n" + error)
        return result
    if graded.get("error"):
        result.status = GRADER_ERROR
        result.message = _grader_error_message(graded["error"])
        return result

    for q in chapter.questions:
        entry = graded["questions"].get(q.name)
        if entry is None:
            result.details.append(f"{q.name}: 0 de {q.points:g} pontos — o teste não foi "
                                  "executado.")
            continue
        result.scores[q.name] = float(entry["score"])
        verdict = "✓" if entry["score"] >= entry["possible"] else "✗"
        lines = [f"{verdict} {q.name}: {entry['score']:g} de {entry['possible']:g} pontos"]
        for number, case in enumerate(entry["cases"], start=1):
            kind = "oculto" if case["hidden"] else "público"
            if case["passed"]:
                lines.append(f"    teste {number} ({kind}): passou")
            elif case["hidden"] and hide_hidden:
                lines.append(f"    teste {number} ({kind}): não passou")
            else:
                reason = failure_reason(case["message"])
                lines.append(f"    teste {number} ({kind}): não passou — "
                             + textwrap.indent(reason, "      ").lstrip())
        result.details.append("\n".join(lines))
    cells = notebook["cells"]
    for error in graded["cell_errors"]:
        index = error["cell"]
        source = _source(cells[index - 1]) if 0 < index <= len(cells) else ""
        result.warnings.append(f"{_cell_name(index, source)} levantou {error['name']}: "
                               f"{error['value']}".rstrip(": "))
    failed = [q.name for q in chapter.questions if result.scores[q.name] < q.points]
    summary = (f"{len(chapter.questions) - len(failed)} de {len(chapter.questions)} exercícios "
               "completos")
    if failed:
        summary += f"; incompletos: {', '.join(failed)}"
    if result.warnings:
        summary += f"; {len(result.warnings)} aviso(s), veja a devolutiva"
    result.message = summary + "."
    return result


def _grader_error_message(error: dict[str, str]) -> str:
    name, value = error.get("name", ""), error.get("value", "")
    if name == "DeadKernelError":
        return ("O Python do notebook morreu durante a execução (a entrega encerra o processo, "
                "por exemplo com os._exit, ou esgotou a memória); nenhum exercício pôde ser "
                "corrigido.")
    if name == "OtterRuntimeError":
        return f"O otter recusou a entrega: {value}"
    return f"O corretor falhou nesta entrega ({name}: {value}); nenhum exercício foi corrigido."


def grade(
    submissions: Path,
    release_dir: Path,
    out: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cell_timeout: float = DEFAULT_CELL_TIMEOUT,
    jobs: int | None = None,
    hide_hidden: bool = False,
    log: Any = print,
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

        def run(path: Path) -> Result:
            try:
                return _grade_one(path, chapters, release_dir.resolve(), Path(workdir),
                                  timeout, cell_timeout, hide_hidden)
            except Exception as exc:  # nada derruba o lote: a entrega vira uma linha com o erro
                return Result(path.name, GRADER_ERROR,
                              f"Erro inesperado na correção: {type(exc).__name__}: {exc}")

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = []
            for result in pool.map(run, paths):
                log(f"  {result.submission}: {_score_text(result)} — {result.status} "
                    f"({result.seconds:.1f} s)")
                results.append(result)
    write_outputs(results, chapters, out)
    return results


def _score_text(result: Result) -> str:
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


# --------------------------------------------------------------------------------------------
# subprocesso de correção
# --------------------------------------------------------------------------------------------

KERNEL_STARTUP = '''\
# Instalado pelo corretor do curso (residuais.coursework) no kernel de cada correção.
import signal as _signal
import sys as _sys

_sys.modules.setdefault("rfc3987_syntax", None)  # importação lenta e inútil aqui
_LIMIT = {limit!r}


def _residuais_timeout(signum, frame):
    raise TimeoutError(
        f"a execução passou de {{_LIMIT:g}} s e foi interrompida pelo corretor (laço infinito?)"
    )


_signal.signal(_signal.SIGALRM, _residuais_timeout)
_ip = get_ipython()
_ip.events.register(
    "pre_run_cell", lambda info: _signal.setitimer(_signal.ITIMER_REAL, _LIMIT, _LIMIT)
)
_ip.events.register("post_run_cell", lambda result: _signal.setitimer(_signal.ITIMER_REAL, 0))
del _ip
'''


def _worker(notebook: Path, autograder: Path, output: Path, cell_timeout: float) -> int:
    """Corrige um notebook com o ``otter run`` (sem Docker) e grava o resultado em JSON.

    Roda num subprocesso próprio, que o processo principal encerra se passar do tempo. Um
    arquivo de inicialização do IPython no kernel interrompe, com ``TimeoutError``, a célula
    que passar de ``cell_timeout`` segundos, para que um laço infinito num exercício não tire
    os pontos dos outros.
    """
    _skip_slow_import()
    ipython_dir = Path(tempfile.mkdtemp(prefix="ipython-", dir=notebook.parent))
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-corretor.py").write_text(KERNEL_STARTUP.format(limit=float(cell_timeout)),
                                            encoding="utf-8")
    os.environ["IPYTHONDIR"] = str(ipython_dir)

    import otter.run
    from nbclient import NotebookClient

    # Ao fim da execução o kernel não tem nada a salvar (o otter já gravou os resultados):
    # encerrá-lo de imediato poupa uns 2 s por entrega.
    NotebookClient.shutdown_kernel.default_value = "immediate"

    data: dict[str, Any] = {"questions": {}, "cell_errors": [], "error": None}
    try:
        results = otter.run.main(str(notebook), autograder=str(autograder), output_dir=None,
                                 no_logo=True)
    except Exception as exc:
        data["error"] = {"name": type(exc).__name__, "value": str(exc)}
        output.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return 0
    if results.catastrophic_error is not None:
        exc = results.catastrophic_error
        data["error"] = {"name": type(exc).__name__, "value": str(exc)}
    for name, test_file in results.results.items():
        data["questions"][name] = {
            "score": test_file.score,
            "possible": test_file.possible,
            "cases": [{"hidden": r.test_case.hidden, "passed": r.passed,
                       "message": r.message or ""} for r in test_file.test_case_results],
        }
    for cell in (results.notebook or {}).get("cells", []):
        index = cell.get("metadata", {}).get("residuais_cell")
        for out in cell.get("outputs", []) if index is not None else []:
            if out.get("output_type") == "error":
                data["cell_errors"].append({"cell": index, "name": out.get("ename", ""),
                                            "value": out.get("evalue", "")})
    output.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return 0


# --------------------------------------------------------------------------------------------
# linha de comando
# --------------------------------------------------------------------------------------------


# as mensagens do próprio argparse (ele as passa pelo gettext), em português
ARGPARSE_PT = {
    "usage: ": "uso: ",
    "positional arguments": "argumentos",
    "options": "opções",
    "show this help message and exit": "mostra esta ajuda e sai",
    "argument %(argument_name)s: %(message)s": "argumento %(argument_name)s: %(message)s",
    "unrecognized arguments: %s": "argumentos não reconhecidos: %s",
    "the following arguments are required: %s": "faltam os argumentos: %s",
    "expected one argument": "falta o valor",
    "ambiguous option: %(option)s could match %(matches)s":
        "opção ambígua: %(option)s pode ser %(matches)s",
    "invalid %(type)s value: %(value)r": "valor inválido (%(type)s): %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "comando inválido: %(value)r (escolha entre %(choices)s)",
    "%(prog)s: error: %(message)s\n": "%(prog)s: erro: %(message)s\n",
}


def main(argv: Sequence[str] | None = None) -> int:
    translate = argparse._  # type: ignore[attr-defined]
    argparse._ = lambda text: ARGPARSE_PT.get(text, text)  # type: ignore[attr-defined]
    try:
        return _main(argv)
    finally:
        argparse._ = translate  # type: ignore[attr-defined]


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [WORKER_COMMAND]:  # interno: o subprocesso de uma correção
        worker = argparse.ArgumentParser(prog=f"python -m residuais.coursework {WORKER_COMMAND}")
        worker.add_argument("notebook", type=Path)
        worker.add_argument("autograder", type=Path)
        worker.add_argument("output", type=Path)
        worker.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT)
        args = worker.parse_args(argv[1:])
        return _worker(args.notebook, args.autograder, args.output, args.cell_timeout)

    parser = argparse.ArgumentParser(
        prog="python -m residuais.coursework",
        description="Liberação dos trabalhos para os estudantes e correção automática.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="comando")
    rel = commands.add_parser("release", help="gera os notebooks dos estudantes e os corretores",
                              description="Roda o otter assign em cada capítulo do _toc.yml.")
    rel.add_argument("--out", type=Path, default=Path("release"), metavar="PASTA",
                     help="pasta da liberação (padrão: release)")
    gra = commands.add_parser("grade", help="corrige uma pasta de entregas",
                              description="Corrige cada arquivo da pasta com o otter run (sem "
                              "Docker) e escreve notas.csv e as devolutivas.")
    gra.add_argument("submissions", type=Path, metavar="ENTREGAS",
                     help="pasta com as entregas (.ipynb)")
    gra.add_argument("--release", type=Path, default=Path("release"), metavar="PASTA",
                     help="pasta da liberação (padrão: release)")
    gra.add_argument("--out", type=Path, default=None, metavar="PASTA",
                     help="pasta dos resultados (padrão: ENTREGAS-correcao, ao lado de ENTREGAS)")
    gra.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                     help=f"limite por entrega, em segundos (padrão: {DEFAULT_TIMEOUT:g})")
    gra.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT, metavar="S",
                     help="limite por célula, em segundos; a célula é interrompida e a correção "
                     f"continua (padrão: {DEFAULT_CELL_TIMEOUT:g})")
    gra.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="entregas corrigidas ao mesmo tempo (padrão: até 2)")
    gra.add_argument("--hide-hidden", action="store_true",
                     help="não transcreve nas devolutivas as mensagens dos testes ocultos")
    args = parser.parse_args(argv)

    try:
        if args.command == "release":
            start = time.perf_counter()
            print(f"Liberando os capítulos em {args.out}/ ...")
            chapters = release(args.out)
            print(f"Pronto: {len(chapters)} capítulos em {time.perf_counter() - start:.1f} s. "
                  f"Distribua {args.out / STUDENT_DIR}/; leia {args.out / README}.")
            return 0
        if args.timeout <= 0 or args.cell_timeout <= 0:
            raise CourseworkError("Os limites de tempo devem ser positivos.")
        if args.jobs is not None and args.jobs < 1:
            raise CourseworkError("--jobs deve ser pelo menos 1.")
        start = time.perf_counter()
        print(f"Corrigindo {args.submissions}/ ...")
        results = grade(args.submissions, args.release, args.out, args.timeout,
                        args.cell_timeout, args.jobs, args.hide_hidden)
        elapsed = time.perf_counter() - start
        out = args.out or args.submissions.parent / f"{args.submissions.name}-correcao"
        per = elapsed / len(results) if results else 0.0
        print(f"Pronto: {len(results)} arquivos em {elapsed:.1f} s ({per:.1f} s por arquivo). "
              f"Notas em {out / GRADEBOOK}; devolutivas em {out / FEEDBACK_DIR}/.")
        return 0
    except CourseworkError as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
