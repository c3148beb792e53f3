"""Os marcadores do livro em PDF (``coursetools.pdf``): em que página o Chromium pôs cada título,
e o PDF final (capa e sumário + miolo, numeração, marcadores e metadados), montado com o pypdf."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from coursetools.pdf_compose import AUTHOR, KEYWORDS, SUBTITLE, TITLE, Heading, PdfError

MARGIN = 0.7  # polegadas, nos quatro lados da página impressa
OUTLINE_DEPTH = 3  # marcadores: páginas, seções e subseções (o sumário impresso vai até as seções)


@dataclass
class Mark:
    """Um marcador do PDF impresso: profundidade, título, página (a partir de 0) e a altura."""

    depth: int
    title: str
    page: int
    top: float | None


def outline_marks(data: bytes) -> list[Mark]:
    """Os marcadores de um PDF, na ordem do documento."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    found: list[Mark] = []

    def walk(items, depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                top = item.get("/Top")
                found.append(Mark(depth, re.sub(r"\s+", " ", item.title).strip(),
                                  reader.get_destination_page_number(item),
                                  float(top) if top is not None else None))

    walk(reader.outline, 0)
    height = float(reader.pages[0].mediabox.height)
    for mark in found:
        # um título empurrado para a página seguinte deixa o marcador no pé da anterior, na
        # margem de baixo (o Chromium marca onde a margem de cima do título começa)
        if mark.top is not None and mark.top < MARGIN * 72 + 24 and mark.page + 1 < len(
                reader.pages):
            mark.page, mark.top = mark.page + 1, height
    return found


def match_marks(headings: list[Heading], marks: list[Mark]) -> dict[str, Mark]:
    """O marcador de cada título. O Chromium faz um marcador por título (h1–h6), na ordem do
    documento, e os casamos pela posição; o texto do marcador só confere (ele às vezes repete
    pedaços do título: "3.3.1. 3.3.1. Quando o Quando o float32 estoura estoura")."""
    if len(marks) != len(headings):
        raise PdfError(f"O PDF tem {len(marks)} marcadores para {len(headings)} títulos: algum "
                       "título ficou escondido ou foi impresso duas vezes.")
    for heading, mark in zip(headings, marks, strict=True):
        if not all(word in mark.title for word in heading.title.split()):
            raise PdfError(f"O marcador “{mark.title}” não corresponde ao título "
                           f"“{heading.title}”.")
    return {heading.target: mark for heading, mark in zip(headings, marks, strict=True)}


def assemble(front: bytes, body: bytes, headings: list[Heading], marks: dict[str, Mark]) -> bytes:
    """Um PDF só: a capa e o sumário (páginas i, ii, …) e o miolo (1, 2, …), com marcadores
    para as páginas, seções e subseções, e os metadados."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import Fit

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(front)), import_outline=False)
    offset = len(writer.pages)
    writer.append(PdfReader(io.BytesIO(body)), import_outline=False)
    writer.set_page_label(0, offset - 1, style="/r")
    writer.set_page_label(offset, len(writer.pages) - 1, style="/D", start=1)
    writer.add_outline_item(title="Sumário", page_number=1 if offset > 1 else 0)
    parents = {}
    for heading in (h for h in headings if h.level <= OUTLINE_DEPTH):
        mark = marks[heading.target]
        fit = Fit.xyz(left=0, top=mark.top) if mark.top is not None else Fit.fit()
        parent = parents.get(heading.level - 1)
        parents[heading.level] = writer.add_outline_item(
            title=heading.title, page_number=offset + mark.page, parent=parent, fit=fit)
    writer.add_metadata({"/Title": TITLE, "/Author": AUTHOR, "/Subject": SUBTITLE,
                         "/Keywords": KEYWORDS})
    writer.page_mode = "/UseOutlines"  # o leitor abre com os marcadores à vista
    writer.compress_identical_objects()
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
