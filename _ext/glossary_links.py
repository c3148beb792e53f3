"""A primeira ocorrência de cada termo do glossário, em cada capítulo, vira um link para a entrada.

É o papel ``{term}`` do MyST, aplicado na construção em vez de marcado à mão em ~80 termos × 6
capítulos (que ficariam desatualizados a cada frase reescrita). Os termos vêm da diretiva
``{glossary}`` de ``book/glossario.md``; para cada um procura-se, no texto corrido do capítulo
(parágrafos e listas; nunca títulos, código, matemática, links, saídas de células nem soluções), a
forma no singular ou no plural, sem diferenciar maiúsculas. O link é um ``pending_xref`` do tipo
``term``, resolvido pelo próprio Sphinx: um termo que sumir do glossário vira aviso (e a
construção estrita falha).

Na página do glossário, as entradas de índice dos termos saem, para que a busca leve aos
capítulos e não ao glossário. Termos que também são palavras comuns (``passo``, ``momento``...)
ficam em ``AMBIGUOUS`` e só viram link quando o texto usa ``{term}`` explicitamente.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

GLOSSARY = "book/glossario"
CHAPTER = re.compile(r"^book/\d\d_")
# a chave de busca (sem o qualificador entre parênteses) de termos que são palavras comuns
AMBIGUOUS = {"passo", "porta", "conjunto", "momento", "comprimento"}
# preposições: num termo de várias palavras, o plural para nelas ("taxas de aprendizado")
_PREPOSITIONS = {"de", "do", "da", "dos", "das", "em", "com", "sem", "por", "para", "sobre"}
# elementos que não recebem links: títulos, código, matemática, links e legendas
_SKIP = (nodes.title, nodes.subtitle, nodes.rubric, nodes.literal, nodes.literal_block,
         nodes.math, nodes.math_block, nodes.reference, nodes.raw, nodes.caption,
         nodes.citation, nodes.footnote, addnodes.pending_xref, addnodes.desc_signature)


def glossary_terms(markdown: str) -> list[str]:
    """Os termos da diretiva ``{glossary}``: as linhas não indentadas dentro dela."""
    inside, terms = False, []
    for line in markdown.splitlines():
        if line.startswith("```{glossary}"):
            inside = True
        elif inside and line.startswith("```"):
            break
        elif inside and line.strip() and not line[0].isspace():
            terms.append(line.strip())
    return terms


def search_key(term: str) -> str:
    """O termo sem o qualificador: "passo (da convolução)" → "passo"."""
    return re.sub(r"\s*\(.*\)$", "", term).strip()


def _plural_word(word: str) -> str:
    for end, plural in (("ão", "ões"), ("al", "ais"), ("el", "éis"), ("il", "is"),
                        ("ol", "óis"), ("ul", "uis"), ("m", "ns")):
        if word.endswith(end):
            return word[: -len(end)] + plural
    if word[-1] in "rz":
        return word + "es"
    if word[-1] in "sx" or not word[-1].isalpha():
        return word
    return word + "s"


def plural(term: str) -> str:
    """O plural de um termo de uma ou mais palavras, até a primeira preposição:
    "conexão residual" → "conexões residuais"; "taxa de aprendizado" → "taxas de aprendizado"."""
    words = term.split()
    for i, word in enumerate(words):
        if word.lower() in _PREPOSITIONS:
            break
        words[i] = _plural_word(word)
    return " ".join(words)


@lru_cache(maxsize=1)
def _patterns_of(markdown: str) -> list[tuple[str, re.Pattern[str]]]:
    """Os padrões do glossário, compilados uma vez por construção (não uma por capítulo)."""
    return term_patterns(glossary_terms(markdown))


def term_patterns(terms: list[str]) -> list[tuple[str, re.Pattern[str]]]:
    """(termo, padrão) dos termos a ligar, do mais longo ao mais curto."""
    patterns = []
    for term in terms:
        key = search_key(term)
        if key.lower() in AMBIGUOUS or len(key) < 3:
            continue
        forms = sorted({key, plural(key)}, key=len, reverse=True)
        alternatives = "|".join(re.escape(form) for form in forms)
        patterns.append((term, re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])",
                                          re.IGNORECASE)))
    return sorted(patterns, key=lambda item: len(search_key(item[0])), reverse=True)


def _is_prose(node: nodes.Node) -> bool:
    in_paragraph = False
    parent = node.parent
    while parent is not None:
        if isinstance(parent, _SKIP):
            return False
        classes = parent.get("classes", []) if isinstance(parent, nodes.Element) else []
        if "cell_output" in classes or "solution" in type(parent).__name__.lower():
            return False
        in_paragraph = in_paragraph or isinstance(parent, nodes.paragraph)
        parent = parent.parent
    return in_paragraph


def _link(term: str, text: str) -> addnodes.pending_xref:
    ref = addnodes.pending_xref("", refdomain="std", reftype="term", reftarget=term,
                                refexplicit=True, refwarn=True)
    ref += nodes.inline(text, text, classes=["xref", "std", "std-term"])
    return ref


def link_first_uses(doctree: nodes.document, patterns) -> list[str]:
    """Liga a primeira ocorrência de cada termo no texto corrido; devolve os termos ligados."""
    linked: set[str] = set()
    for text_node in list(doctree.findall(nodes.Text)):
        if len(linked) == len(patterns) or not _is_prose(text_node):
            continue
        text = str(text_node)
        # do termo mais longo ao mais curto; uma ocorrência de um termo longo (ligada ou não)
        # ocupa o trecho, e um termo mais curto não é ligado dentro dela ("lote" dentro de
        # "normalização em lote")
        spans: list[tuple[int, int, str | None]] = []
        for term, pattern in patterns:
            for match in pattern.finditer(text):
                start, end = match.span()
                if any(start < e and s < end for s, e, _ in spans):
                    continue
                spans.append((start, end, None if term in linked else term))
                linked.add(term)
        spans = [span for span in spans if span[2] is not None]
        if not spans:
            continue
        pieces: list[nodes.Node] = []
        position = 0
        for start, end, term in sorted(spans):
            pieces += [nodes.Text(text[position:start]), _link(term, text[start:end])]
            position = end
        pieces.append(nodes.Text(text[position:]))
        text_node.parent.replace(text_node, [p for p in pieces if p.astext() or
                                             isinstance(p, addnodes.pending_xref)])
    return sorted(linked)


def _on_doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    if docname == GLOSSARY:
        # a diretiva {glossary} cria uma entrada de índice por termo, e a busca do Sphinx põe as
        # entradas de índice acima de tudo: "variância" levaria ao glossário, não ao capítulo 3
        for index in list(doctree.findall(addnodes.index)):
            index.parent.remove(index)
        return
    if not CHAPTER.match(docname):
        return
    path = Path(app.srcdir, GLOSSARY + ".md")
    app.env.note_dependency(str(path))  # glossário mudou → capítulos relidos
    link_first_uses(doctree, _patterns_of(path.read_text(encoding="utf-8")))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", _on_doctree_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
