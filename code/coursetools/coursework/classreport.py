"""O que a correção escreve para a turma, ao fim: o resumo por exercício, as respostas
idênticas entre estudantes, a planilha para importar no Moodle e o .zip das devolutivas.

A planilha do Moodle segue o importador da “planilha de avaliação” da tarefa
(``mod/assign/feedback/offline/importgradeslib.php``): ele procura, pelo título, as colunas
do identificador (“Participante” seguido do número), da nota e da última modificação da nota,
com os títulos no idioma da interface do Moodle de quem importa, e a data no formato ISO
(``AAAA-MM-DD HH:MM``), que o ``strtotime`` do PHP lê sem ambiguidade.

Cada tarefa do Moodle é de um capítulo, e a planilha de uma tarefa só pode ter notas desse
capítulo: a de cada participante é a maior entre os arquivos **daquele** capítulo; um notebook de
outro capítulo nunca conta (a solução do capítulo 3 enviada na tarefa do capítulo 4 não dá nota
no 4). O .zip de uma tarefa tem normalmente um capítulo só, e então a planilha é ``moodle.csv``,
com todos os participantes: quem só entregou o que não é notebook do capítulo (um PDF, um arquivo
corrompido ou recusado) fica com 0 e o motivo no comentário. Se as entregas corrigidas na pasta
de resultados são de mais de um capítulo (o .zip tinha um notebook de outro capítulo, ou duas
tarefas foram corrigidas na mesma pasta), sai uma planilha por capítulo, ``moodle-<capítulo>.csv``,
cada uma só com os participantes que entregaram um notebook daquele capítulo (importe a do
capítulo da tarefa), e não sai ``moodle.csv``: não há como saber a que tarefa pertencem as
entregas sem capítulo, e uma nota 0 importada na tarefa errada apagaria a nota verdadeira.
"""

from __future__ import annotations

import time
import zipfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from coursetools.coursework.common import (
    DUPLICATES,
    FEEDBACK_DIR,
    FEEDBACK_ZIP,
    GRADED,
    MOODLE_CHAPTER_SHEET,
    MOODLE_SHEET,
    SUMMARY,
    CourseworkError,
    Result,
)
from coursetools.coursework.gradebook import write_table
from coursetools.coursework.manifest import Chapter

# Os títulos que o importador procura, por idioma do Moodle (pacotes de idioma en e pt_br).
MOODLE_HEADERS = {
    "pt_br": {"id": "Identificador", "prefix": "Participante", "name": "Nome completo",
              "grade": "Nota", "max": "Nota máxima", "modified": "Última modificação (nota)",
              "comments": "Comentários de feedback"},
    "en": {"id": "Identifier", "prefix": "Participant ", "name": "Full name", "grade": "Grade",
           "max": "Maximum grade", "modified": "Last modified (grade)",
           "comments": "Feedback comments"},
}


# A data da última modificação: o importador a lê com o ``strtotime`` do PHP, que lê “05/03/2025”
# como mês/dia (5 de março vira 3 de maio, e “13/03” não é data); a forma ISO é a única sem
# ambiguidade, e vale com a interface em qualquer idioma.
MOODLE_DATE = "%Y-%m-%d %H:%M"


def write_class_outputs(rows: Sequence[Result], chapters: dict[str, Chapter], out: Path,
                        language: str = "pt_br") -> None:
    """Escreve o resumo, as respostas idênticas, a planilha do Moodle e o .zip."""
    write_summary(rows, chapters, out / SUMMARY)
    write_duplicates(rows, out / DUPLICATES)
    write_moodle_sheets(rows, out, language)
    zip_feedback(out)


def write_summary(rows: Sequence[Result], chapters: dict[str, Chapter], path: Path) -> None:
    """Por exercício: entregas corrigidas, média, fração com a nota máxima, falha mais comum e
    quantas entregas o professor deve revisar nele (uma função proibida mencionada)."""
    table = [["capitulo", "exercicio", "entregas", "media", "maximo", "fracao_nota_maxima",
              "falha_mais_comum", "vezes", "em_revisao"]]
    for chapter in chapters.values():
        graded = [r for r in rows if r.chapter == chapter.name and r.status == GRADED]
        if not graded:
            continue
        for q in chapter.questions:
            scores = [r.scores.get(q.name, 0.0) for r in graded]
            reasons = Counter(r.failures[q.name] for r in graded if q.name in r.failures)
            common, times = reasons.most_common(1)[0] if reasons else ("", 0)
            full = sum(s >= q.points for s in scores) / len(scores)
            flagged = sum(any(item.startswith(f"{q.name}:") for item in r.review) for r in graded)
            table.append([chapter.name, q.name, str(len(scores)),
                          f"{sum(scores) / len(scores):.2f}", f"{q.points:g}", f"{full:.2f}",
                          common, str(times), str(flagged)])
    write_table(path, table)


def write_duplicates(rows: Sequence[Result], path: Path) -> None:
    """As respostas idênticas (a mesma árvore sintática, sem comentários) em entregas de
    estudantes diferentes: um grupo por linha, para o professor examinar."""
    groups: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in rows:
        for question, fingerprint in r.fingerprints.items():
            if fingerprint:
                groups[(question, fingerprint)].append(r)
    table = [["exercicio", "entregas", "pontos"]]
    for (question, _), members in sorted(groups.items()):
        people = {m.participant or m.submission for m in members}
        if len(people) > 1:
            table.append([question, " | ".join(m.submission for m in members),
                          " | ".join(f"{m.scores.get(question, 0):g}" for m in members)])
    write_table(path, table)


def write_moodle_sheets(rows: Sequence[Result], out: Path, language: str) -> list[Path]:
    """As planilhas do Moodle: ``moodle.csv`` se as entregas são de um capítulo só (ou de
    nenhum); senão, ``moodle-<capítulo>.csv`` para cada capítulo. Apaga as de uma correção
    anterior que não valem mais. Devolve as escritas."""
    chapters = sorted({r.chapter for r in rows if r.participant and r.chapter})
    sheets = ({MOODLE_SHEET: chapters[0] if chapters else ""} if len(chapters) <= 1 else
              {MOODLE_CHAPTER_SHEET.format(c): c for c in chapters})
    for old in [out / MOODLE_SHEET, *out.glob(MOODLE_CHAPTER_SHEET.format("*"))]:
        if old.name not in sheets:
            old.unlink(missing_ok=True)
    for name, chapter in sheets.items():
        write_moodle(rows, out / name, language, chapter)
    return [out / name for name in sheets]


def write_moodle(rows: Sequence[Result], path: Path, language: str,
                 chapter: str | None = None) -> None:
    """A planilha de notas do Moodle para a tarefa de um capítulo (``None``: o único capítulo das
    entregas): uma linha por participante, com a maior nota entre os arquivos dele desse
    capítulo, só das entregas que vieram do Moodle. As entregas sem capítulo só entram (com 0)
    se nenhuma é de outro capítulo, e só para quem não entregou um notebook do capítulo."""
    present = {r.chapter for r in rows if r.participant and r.chapter}
    if chapter is None:
        if len(present) > 1:
            raise CourseworkError(f"As entregas são de mais de um capítulo "
                                  f"({', '.join(sorted(present))}); diga de qual é a planilha "
                                  "do Moodle.")
        chapter = next(iter(present), "")
    alone = present <= {chapter}
    best: dict[str, Result] = {}
    for r in rows:
        counts = r.chapter == chapter or (alone and not r.chapter)
        if not r.participant or not counts:
            continue
        old = best.get(r.participant)
        if old is None or (r.chapter, r.total) > (old.chapter, old.total):
            best[r.participant] = r
    h = MOODLE_HEADERS[language]
    now = time.strftime(MOODLE_DATE)
    table = [[h["id"], h["name"], h["grade"], h["max"], h["modified"], h["comments"]]]
    for participant, r in sorted(best.items(), key=lambda item: int(item[0])):
        comment = f"{r.submission}: {r.status}; {r.message.splitlines()[0] if r.message else ''}"
        table.append([f"{h['prefix']}{participant}", r.student, f"{r.total:g}",
                      "" if r.possible is None else f"{r.possible:g}", now, comment.strip()])
    write_table(path, table)


def zip_feedback(out: Path) -> None:
    """As devolutivas num .zip, com as pastas do Moodle: é o que o “Enviar vários arquivos de
    feedback em um zip” da tarefa aceita."""
    folder = out / FEEDBACK_DIR
    temporary = out / f".{FEEDBACK_ZIP}.tmp"
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*.txt")):
            zf.write(path, path.relative_to(folder).as_posix())
    temporary.replace(out / FEEDBACK_ZIP)
