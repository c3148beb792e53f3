"""A planilha de notas de uma correção, que nada perde.

Cada entrega corrigida é gravada assim que termina — a devolutiva, o registro do professor, o
estado (``.estado.json``) e ``notas.csv`` —, sempre por troca atômica de arquivo (escreve ao
lado e renomeia): uma correção interrompida deixa tudo o que já corrigiu, e rodá-la de novo
retoma de onde parou. As linhas são mescladas pela chave da entrega: corrigir um arquivo numa
pasta de resultados existente atualiza só a linha dele. A planilha anterior é copiada para
``copias/`` antes de qualquer mudança; os ajustes manuais (``ajustes.csv``) são só lidos.

Toda planilha que a correção escreve (esta e as da turma, em ``classreport``) passa por
``write_table``, que neutraliza as células que uma planilha leria como fórmula.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from coursetools.coursework import report
from coursetools.coursework.collect import NAME_BYTES, shorten
from coursetools.coursework.common import (
    ADJUSTMENTS,
    BACKUP_DIR,
    FEEDBACK_DIR,
    GRADEBOOK,
    GRADED,
    GRADER_ERROR,
    LOG_DIR,
    STATE,
    CourseworkError,
    Result,
)
from coursetools.coursework.manifest import Chapter

ADJUSTMENT_COLUMNS = ["entrega", "exercicio", "pontos", "motivo"]
ADJUSTMENTS_HELP = ("# Ajustes manuais: uma linha por exercício a ajustar. “entrega” é a "
                    "primeira coluna de notas.csv; “pontos” substitui a nota automática do "
                    "exercício. Nenhuma correção apaga este arquivo.\n")
# Uma célula que começa com um destes caracteres é lida como fórmula pelo Excel, pelo LibreOffice
# ou pelo Google Planilhas (a “injeção de CSV”): uma entrega chamada “=1+2+cmd|' calc'!A0.ipynb”
# viraria um comando ao abrir notas.csv. Como recomenda a OWASP, a célula ganha um apóstrofo na
# frente, que a faz texto; também com espaços antes, e nas formas de largura inteira (＝＋－＠).
FORMULA = tuple("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# Um número escrito como número (“-1”, “2.5”, “1e-05”) fica como está: nenhuma planilha o executa,
# e ele continua número. As notas nunca são negativas, mas um ajuste manual pode ser.
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
# Os nomes dos arquivos escritos por ``write_atomic``, que grava antes em “.<nome>.<8 letras>”.
FILE_BYTES = NAME_BYTES - 16


def write_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Escreve ``text`` em ``path`` de uma vez: num arquivo ao lado, renomeado no fim."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def cell(value: object) -> str:
    """O texto de uma célula de CSV que nenhuma planilha lê como fórmula (veja ``FORMULA``)."""
    text = str(value)
    if (text[:1] in FORMULA or text.lstrip()[:1] in FORMULA) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def write_table(path: Path, rows: list[list[str]]) -> None:
    """Grava uma planilha CSV (UTF-8 com BOM, que o Excel reconhece), com as células
    neutralizadas por ``cell``; é por aqui que toda planilha da correção é escrita."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows([cell(value) for value in row] for row in rows)
    write_atomic(path, "\ufeff" + buffer.getvalue())


def feedback_path(out: Path, key: str) -> Path:
    """Onde fica a devolutiva de uma entrega: a mesma pasta do Moodle, se veio de lá. Cada parte
    da chave vira um nome válido que não sai da pasta: “..” e a “/” do começo (da chave de um
    arquivo recusado do .zip) ganham um “_”, e um nome longo demais é cortado."""
    parts = [f"_{p.strip('/')}" if p.strip("/") in ("", ".", "..") else p
             for p in PurePosixPath(key).parts] or ["_"]
    return (out / FEEDBACK_DIR / Path(*(shorten(p, NAME_BYTES) for p in parts[:-1]))
            / shorten(f"{parts[-1]}.txt", FILE_BYTES))


def _adjustments_of(adjustments: dict[str, list[tuple[str, float, str]]],
                    key: str) -> list[tuple[str, float, str]]:
    """Os ajustes de uma entrega: pela chave, ou como ``notas.csv`` a mostra (com o apóstrofo
    de ``cell``), que é o que o professor copia."""
    return adjustments.get(key) or adjustments.get(cell(key), [])


class Gradebook:
    """As linhas já corrigidas (do estado gravado) e a escrita de cada nova linha."""

    def __init__(self, out: Path, chapters: dict[str, Chapter]) -> None:
        self.out, self.chapters = out, chapters
        out.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Result] = self._load()
        gradebook = out / GRADEBOOK
        if gradebook.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S")
            backup = out / BACKUP_DIR / f"notas-{stamp}.csv"
            backup.parent.mkdir(exist_ok=True)
            shutil.copy2(gradebook, backup)
        if not (out / ADJUSTMENTS).exists():
            write_atomic(out / ADJUSTMENTS, ADJUSTMENTS_HELP + ",".join(ADJUSTMENT_COLUMNS) + "\n")

    def _load(self) -> dict[str, Result]:
        path = self.out / STATE
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {key: Result(**entry) for key, entry in data.items()}
        except (ValueError, TypeError) as exc:
            raise CourseworkError(f"O estado da correção anterior ({path}) está ilegível; "
                                  "apague-o para corrigir tudo de novo.") from exc

    def previous(self, key: str, digest: str, release: str, options: str) -> Result | None:
        """A correção já feita desta entrega, se foi do mesmo conteúdo, com a mesma liberação e
        as mesmas opções (senão, ela é corrigida de novo)."""
        old = self.results.get(key)
        if old is None or old.status == GRADER_ERROR:  # uma falha do corretor: tenta de novo
            return None
        if (old.digest, old.release, old.options) == (digest, release, options):
            return old
        return None

    def record(self, result: Result) -> None:
        """Grava uma entrega corrigida: devolutiva, registro, estado e planilha."""
        self.results[result.submission] = result
        self._write_feedback(result)
        log_name = shorten(result.submission.replace("/", "__") + ".log", FILE_BYTES)
        write_atomic(self.out / LOG_DIR / log_name, result.log or "(sem registro)\n")
        state = {key: asdict(r) for key, r in sorted(self.results.items())}
        write_atomic(self.out / STATE, json.dumps(state, ensure_ascii=False))
        self.write_csv()

    def _write_feedback(self, result: Result) -> None:
        adjustments = _adjustments_of(read_adjustments(self.out / ADJUSTMENTS), result.submission)
        write_atomic(feedback_path(self.out, result.submission),
                     report.feedback_text(report.adjusted(result, adjustments), self.chapters))

    def refresh_feedback(self) -> None:
        """Reescreve todas as devolutivas, para que um ajuste novo valha também nas entregas
        que não foram corrigidas de novo."""
        for result in self.results.values():
            self._write_feedback(result)

    def rows(self) -> list[Result]:
        """As entregas com os ajustes manuais aplicados, na ordem das chaves."""
        adjustments = read_adjustments(self.out / ADJUSTMENTS)
        rows = []
        for key, result in sorted(self.results.items()):
            rows.append(report.adjusted(result, _adjustments_of(adjustments, key)))
        return rows

    def write_csv(self) -> None:
        rows = self.rows()
        used = [c for c in self.chapters.values() if any(r.chapter == c.name for r in rows)]
        questions = [q.name for c in used for q in c.questions]
        header = ["entrega", "participante", "estudante", "capitulo", *questions, "total",
                  "maximo", "situacao", "revisar", "mensagem"]
        table = [header]
        for r in rows:
            graded = r.status == GRADED
            table.append([
                r.submission, r.participant, r.student, r.chapter,
                *[f"{r.scores[q]:g}" if graded and q in r.scores else "" for q in questions],
                f"{r.total:g}", "" if r.possible is None else f"{r.possible:g}", r.status,
                "; ".join(r.review), r.message.splitlines()[0] if r.message else "",
            ])
        write_table(self.out / GRADEBOOK, table)


def read_adjustments(path: Path) -> dict[str, list[tuple[str, float, str]]]:
    """Os ajustes manuais, por entrega: ``(exercício, pontos, motivo)``."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    found: dict[str, list[tuple[str, float, str]]] = {}
    for number, row in enumerate(csv.DictReader(lines), start=2):
        key, question = (row.get("entrega") or "").strip(), (row.get("exercicio") or "").strip()
        if not key:
            continue
        try:
            points = float((row.get("pontos") or "").replace(",", "."))
        except ValueError as exc:
            raise CourseworkError(f"{path.name}, linha {number}: “pontos” deve ser um número "
                                  f"(está “{row.get('pontos')}”).") from exc
        found.setdefault(key, []).append((question, points, (row.get("motivo") or "").strip()))
    return found

