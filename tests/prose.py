"""O texto que um leitor lê no site, separado do que não é prosa, para a revisão ortográfica.

Dos capítulos (células markdown e, nos metadados das figuras, legendas e textos alternativos) e
das páginas ``book/*.md`` tira-se: código (blocos e ``inline``), matemática (``$...$``,
``$$...$$``, ambientes ``\\begin``/``\\end``), papéis do MyST (``{cite}``, ``{eq}``, ...),
endereços, HTML, alvos ``(rótulo)=``, opções de diretivas (``:label:``, ``:class:``; ``:alt:`` e
``:caption:`` ficam, porque são prosa, em qualquer diretiva, como nos diagramas) e palavras
com algarismos (``float32``, ``ResNet-18``, ``1×1``). O resto se divide em duas partes:

- **português**: conferido só com o dicionário pt_BR (mais a lista de palavras do projeto);
- **estrangeiro**: o texto em itálico (``*skip connection*``, a convenção do livro para termos em
  inglês) e a coluna "inglês" das tabelas (o glossário), conferido com pt_BR **e** en_US.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

# diretivas cujo conteúdo é prosa; as demais (código, matemática, bibliografia) são descartadas
PROSE_DIRECTIVES = {
    "exercise", "solution", "admonition", "note", "tip", "warning", "important", "hint",
    "caution", "attention", "seealso", "dropdown", "figure", "margin", "sidebar", "topic",
    "epigraph", "exercise-start", "solution-start", "glossary",
    # as perguntas de autoavaliação (_ext/autoavaliacao.py): o argumento de {opcao} é o texto
    # da opção; o de {erro-comum}, um número (descartado como palavra com algarismos)
    "autoavaliacao", "opcao", "explicacao", "erro-comum", "dica",
}
# diretivas cujo argumento é um título (prosa); o de ``solution`` é o rótulo do exercício
TITLED_DIRECTIVES = PROSE_DIRECTIVES - {"solution", "solution-start", "figure"}

_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\s*(?:\{(?P<name>[\w:-]+)\})?\s*(?P<arg>.*)$")
_OPTION = re.compile(r"^\s*:[\w-]+:")
_PROSE_OPTION = re.compile(r"^\s*:(?:alt|caption):\s*(?P<value>.*)$")
_REMOVE = [
    (re.compile(r"\$\$.*?\$\$(\s*\([\w:-]+\))?", re.S), " "),  # matemática em destaque
    (re.compile(r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", re.S), " "),  # ambientes amsmath
    (re.compile(r"(?<!\\)\$(?:[^$\n]|\n(?!\s*\n))+?(?<!\\)\$"), " "),  # matemática no texto
    (re.compile(r"\{[\w:-]+\}`[^`]*`"), " "),  # papéis do MyST: {cite}`...`, {eq}`...`
    (re.compile(r"`[^`\n]*`"), " "),  # código no texto
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links e imagens: fica o texto
    (re.compile(r"<!--.*?-->", re.S), " "),
    (re.compile(r"<?https?://[^\s>)]+>?"), " "),  # endereços
    (re.compile(r"<[^>\n]+>"), " "),  # HTML
    (re.compile(r"^\s*\([\w:-]+\)=\s*$", re.M), " "),  # alvos (rótulo)=
    (re.compile(r"\\[a-zA-Z]+"), " "),  # comandos LaTeX soltos
]
_ITALIC = re.compile(r"(?<![*\w])\*(?![*\s])((?:[^*\n]|\n(?!\s*\n))+?)(?<![*\s])\*(?![*\w])")
_DIGITS = re.compile(r"\S*\d\S*")


@dataclass
class Prose:
    """Um trecho de prosa: onde está, o texto em português e o texto estrangeiro."""

    where: str
    portuguese: str
    foreign: str


def _strip_fences(text: str) -> str:
    """Tira blocos de código e diretivas que não são prosa; deixa o corpo e o título das outras."""
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # (cerca, é prosa?)
    in_options = False
    for line in text.splitlines():
        m = _FENCE.match(line)
        if m:
            fence, name, arg = m["fence"], m["name"], m["arg"].strip()
            top = stack[-1] if stack else None
            if (top and fence[0] == top[0][0] and len(fence) >= len(top[0])
                    and not name and not arg):
                stack.pop()  # fecha o bloco aberto
                in_options = False
                continue
            if top and not top[1]:
                continue  # dentro de código
            keep = name in PROSE_DIRECTIVES
            stack.append((fence, keep))
            if keep and name in TITLED_DIRECTIVES:
                out.append(arg)
            in_options = name is not None  # diretivas do MyST começam pelas opções
            continue
        if in_options and _OPTION.match(line):
            text = _PROSE_OPTION.match(line)
            if text:  # a legenda e o texto alternativo são prosa, em qualquer diretiva
                out.append(text["value"])
            continue
        in_options = False
        if stack and not stack[-1][1]:
            continue
        out.append(line)
    return "\n".join(out)


def _split_tables(text: str) -> tuple[str, str]:
    """Separa a coluna "inglês" das tabelas markdown (o glossário) do resto do texto."""
    kept: list[str] = []
    foreign: list[str] = []
    column: int | None = None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            column = None
            kept.append(line)
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if column is None and "inglês" in [c.lower() for c in cells]:
            column = [c.lower() for c in cells].index("inglês")
            cells[column] = ""
        elif column is not None and column < len(cells):
            foreign.append(cells[column])
            cells[column] = ""
        kept.append(" ; ".join(cells))
    return "\n".join(kept), "\n".join(foreign)


def _clean(text: str) -> str:
    for pattern, repl in _REMOVE:
        text = pattern.sub(repl, text)
    return text


def split_prose(markdown: str) -> tuple[str, str]:
    """(português, estrangeiro) de um texto MyST, sem código, matemática nem marcação."""
    text, foreign = _split_tables(_strip_fences(markdown))
    text, foreign = _clean(text), _clean(foreign)
    italics = _ITALIC.findall(text)
    text = _ITALIC.sub(" ", text)
    foreign = "\n".join([foreign, *italics])
    return (_DIGITS.sub(" ", text).replace("*", " "),
            _DIGITS.sub(" ", foreign).replace("*", " "))


def notebook_prose(path: Path) -> list[Prose]:
    """A prosa de um capítulo: células markdown, legendas e textos alternativos das figuras."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    pieces = []
    for i, cell in enumerate(cells, start=1):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            pieces.append(Prose(f"{path.name}, célula {i}", *split_prose(source)))
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        for key, text in (("legenda", mystnb.get("figure", {}).get("caption")),
                          ("texto alternativo", mystnb.get("image", {}).get("alt"))):
            if text:
                pieces.append(Prose(f"{path.name}, célula {i} ({key})", *split_prose(text)))
    return pieces


def page_prose(path: Path) -> list[Prose]:
    """A prosa de uma página markdown do livro."""
    return [Prose(path.name, *split_prose(path.read_text(encoding="utf-8")))]
