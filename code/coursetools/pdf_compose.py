"""A montagem do livro em PDF (``coursetools.pdf``): o conteúdo das páginas do site da edição do
estudante num HTML só, e a capa com o sumário.

O miolo junta o ``<article>`` de cada página do ``_toc.yml``: os ``id`` ganham o prefixo da
página, os links internos apontam para dentro do documento, os de páginas que não estão no livro
(código-fonte, índice, downloads) viram texto; saem os controles do site (âncoras,
"[código-fonte]", botões) e os blocos de código vazios; as soluções recolhidas de cada capítulo
vão, abertas, para uma seção no fim dele.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from coursetools import book

CSS = Path(__file__).with_name("pdf.css")
TITLE = "Conexões residuais"
SUBTITLE = "Um curso sobre conexões residuais, da ResNet ao Transformer, com código que roda na CPU"
KEYWORDS = "conexões residuais, ResNet, Transformer, aprendizado profundo"
AUTHOR = "Equipe do curso Conexões residuais"
# elementos do site que não têm sentido no papel
# controles do site e o código que ele recolhe (“Mostrar o código”: a preparação dos dados das
# figuras interativas; a figura vai para o papel)
SITE_CONTROLS = (".headerlink, .viewcode-link, .viewcode-back, button, .toggle-button, script, "
                 "details.hide")


class PdfError(Exception):
    """Falha da edição em PDF, com mensagem em português."""


@dataclass
class Heading:
    """Um título do livro: nível (1 página, 2 seção, 3 subseção), número ("1.5." ou ""), texto
    e o ``id`` da seção no documento."""

    level: int
    number: str
    text: str
    target: str

    @property
    def title(self) -> str:
        return f"{self.number} {self.text}".strip()


def _resolve(page: str, url: str) -> str:
    """O caminho, a partir da raiz do site, de ``url`` lido na página ``page``."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), url))


def _is_external(url: str) -> bool:
    return bool(urlsplit(url).scheme) or url.startswith("//")


def _text(element) -> str:
    return re.sub(r"\s+", " ", element.get_text(" ", strip=True)).strip()


def _page_body(soup, page: str, prefix: str, pages: dict[str, str]):
    """O conteúdo de uma página do site pronto para entrar no documento (altera ``soup``)."""
    article = soup.select_one("article.bd-article")
    if article is None:
        raise PdfError(f"{page}: não achei o conteúdo (article.bd-article); o tema mudou?")
    for element in article.select(SITE_CONTROLS):
        element.decompose()
    for element in article.find_all(id=True):
        element["id"] = f"{prefix}--{element['id']}"
    for link in article.find_all("a", href=True):
        href = link["href"]
        if _is_external(href) or href.startswith("mailto:"):
            continue
        path, _, fragment = href.partition("#")
        target_page = _resolve(page, path) if path else page
        if target_page in pages:
            target = pages[target_page]
            link["href"] = f"#{target}--{fragment}" if fragment else f"#{target}"
        else:  # código-fonte, índice, arquivos para baixar: no papel, só o texto
            link.unwrap()
    for element in article.find_all(["img", "source"], src=True):
        if not _is_external(element["src"]) and not element["src"].startswith("data:"):
            element["src"] = _resolve(page, element["src"])
    for element in article.find_all("object", data=True):
        element["data"] = _resolve(page, element["data"])
    # blocos de código vazios (uma célula só com a saída) seriam molduras vazias
    for block in article.select("div.cell_input"):
        if not _text(block):
            block.decompose()
    return article


def _closing_section(soup, article, chapter: Heading, elements: list, name: str,
                     title: str) -> None:
    """Tira ``elements`` do texto do capítulo e os põe, na ordem, numa seção de título
    ``title do capítulo N`` no fim dele (numa página sem número, ``title: título da página``;
    ``name`` dá a classe e o ``id``)."""
    if not elements:
        return
    section = soup.new_tag("section", attrs={"class": f"{name}-pdf",
                                              "id": f"{chapter.target}--{name}"})
    heading = soup.new_tag("h2")
    number = chapter.number.rstrip(".")
    heading.string = f"{title} do capítulo {number}" if number else f"{title}: {chapter.text}"
    section.append(heading)
    for element in elements:
        section.append(element.extract())
    article.append(section)


def _move_solutions(soup, article, chapter: Heading) -> None:
    """As soluções recolhidas do capítulo vão para uma seção no fim dele, abertas."""
    _closing_section(soup, article, chapter, article.select(".solution"), "solucoes",
                     "Soluções dos exercícios")


def _move_quiz_answers(soup, article, chapter: Heading) -> None:
    """As respostas comentadas da autoavaliação (``_ext/autoavaliacao.py``) vão, abertas, para
    uma seção no fim do texto do capítulo: no papel, a pergunta fica sem a resposta logo abaixo.
    Cada uma leva o número da pergunta (“Autoavaliação 3.2”) no lugar do botão de abrir."""
    answers = article.select("section.autoavaliacao details.aa-resposta")
    for details in answers:
        summary = details.find("summary")
        title = soup.new_tag("p", attrs={"class": "aa-titulo-resposta"})
        title.string = _text(summary).split("—")[-1].strip()
        summary.decompose()
        details.name = "div"
        details.insert(0, title)
    _closing_section(soup, article, chapter, answers, "respostas-autoavaliacao",
                     "Respostas da autoavaliação")


def _open_collapsed(article) -> None:
    """O que o site recolhe (soluções, notas de implementação, dicas) sai aberto no papel."""
    for element in article.select(".dropdown, .toggle"):
        element["class"] = [c for c in element.get("class", [])
                            if c not in ("dropdown", "toggle")]


def _heading(element, level: int, target: str) -> Heading:
    number = element.select_one(".section-number")
    number_text = _text(number) if number else ""
    if number:
        number.extract()
    heading = Heading(level, number_text, _text(element), target)
    if number:
        element.insert(0, number)
    return heading


def pages_in_order(root: Path) -> list[str]:
    """As páginas do sumário (``_toc.yml``), na ordem, como caminhos no site."""
    return [f"{name}.html" for name in book.toc_files(root)]


def _head(soup, page: str) -> str:
    """O cabeçalho do documento: as folhas de estilo do site, a do PDF e o MathJax."""
    parts = [f"<title>{TITLE}</title>", f'<meta name="author" content="{AUTHOR}">']
    for link in soup.head.find_all("link", rel="stylesheet"):
        parts.append(f'<link rel="stylesheet" href="{_resolve(page, link["href"])}">')
    parts.append(f"<style>{CSS.read_text(encoding='utf-8')}</style>")
    for script in soup.head.find_all("script"):
        source = script.get("src", "")
        if "mathjax" in source:
            parts.append(f'<script defer src="{_resolve(page, source)}"></script>')
        elif script.string and "window.MathJax" in script.string:
            parts.append(f"<script>{script.string}</script>")
    return "\n".join(parts)


def _document(head: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="pt-BR"><head><meta charset="utf-8">\n{head}\n'
            f'</head><body class="livro-pdf">\n{body}\n</body></html>')


def compose(site: Path, root: Path) -> tuple[str, str, list[Heading]]:
    """O miolo do livro (as páginas do sumário num HTML só), o cabeçalho HTML comum e os títulos
    (níveis 1 a 3, na ordem)."""
    from bs4 import BeautifulSoup

    pages = pages_in_order(root)
    prefixes = {page: f"p{index}" for index, page in enumerate(pages)}
    head, parts, headings = "", [], []
    for page in pages:
        path = site / page
        if not path.exists():
            raise PdfError(f"Falta a página {page} no site {site}: reconstrua-o (make book).")
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        head = head or _head(soup, page)
        prefix = prefixes[page]
        article = _page_body(soup, page, prefix, prefixes)
        title = article.find("h1")
        if title is None:
            raise PdfError(f"{page}: a página não tem título (h1).")
        chapter = _heading(title, 1, prefix)
        _open_collapsed(article)
        _move_quiz_answers(soup, article, chapter)
        _move_solutions(soup, article, chapter)
        headings.append(chapter)
        for element in article.find_all(["h1", "h2", "h3", "h4", "h5", "h6"]):
            if element is title:
                continue
            section = element.find_parent("section")
            target = section["id"] if section is not None and section.get("id") else None
            if target is None:  # um título solto (raro): ganha um id só para o marcador
                target = element["id"] = f"{prefix}--titulo-{len(headings)}"
            headings.append(_heading(element, int(element.name[1]), target))
        parts.append(f'<section class="pagina-pdf" id="{prefix}">{article.decode_contents()}'
                     "</section>")
    return _document(head, "\n".join(parts)), head, headings


def front_matter(head: str, headings: list[Heading], numbers: dict[str, int]) -> str:
    """A capa e o sumário (capítulos e seções), com o número da página de cada título."""
    import html

    items = "\n".join(
        f'<li class="sumario-{h.level}"><span class="sumario-numero">{h.number}</span>'
        f'<span class="sumario-texto">{html.escape(h.text)}</span>'
        '<span class="sumario-pontos"></span>'
        f'<span class="sumario-pagina">{numbers[h.target]}</span></li>'
        for h in headings if h.level <= 2)
    return _document(head, f"""<section class="capa-pdf"><h1 class="capa-titulo">{TITLE}</h1>
<p class="capa-subtitulo">{SUBTITLE}</p><p class="capa-edicao">Edição do estudante</p></section>
<nav class="sumario-pdf"><h2 class="sumario-titulo">Sumário</h2><ol>{items}</ol></nav>""")
