"""A edição em PDF do livro (``make pdf``): um documento só, montado das páginas da edição do
estudante e impresso pelo Chromium sem interface, depois de o MathJax desenhar as equações.

Por que assim, e não pelo construtor LaTeX do Jupyter Book: o PDF sai com as mesmas figuras
(PNG, diagramas em SVG), as mesmas equações (MathJax) e a mesma numeração do site, sem os
~2 GB do TeX, e o site já construído é reaproveitado (``make pdf`` só reconstrói o que mudou).

Como:

1. ``ensure_site`` confere se o site em ``_build/html`` é a edição do estudante feita das fontes
   atuais (a impressão digital que ``editions`` grava nele); se não for, constrói-o.
2. ``compose`` junta o conteúdo das páginas do sumário (``_toc.yml``) num HTML só, com capa e
   sumário: os ``id`` ganham o prefixo da página, os links internos apontam para dentro do
   documento, os de páginas que não estão no livro (código-fonte, índice) viram texto; saem os
   controles do site (âncoras, "[código-fonte]", botões) e as soluções dos exercícios vão para o
   fim de cada capítulo.
3. ``print_book`` imprime esse HTML (``Page.printToPDF``, com os marcadores do PDF gerados dos
   títulos), lê em que página ficou cada título, escreve os números no sumário e imprime de novo;
   por fim grava título, autor e assunto nos metadados (pypdf).

Sem rede: o Chromium sai com um proxy inexistente, e o site é servido em 127.0.0.1.

    python -m coursetools.pdf [--site _build/html] [--out _build/pdf/conexoes-residuais.pdf]
"""

from __future__ import annotations

import base64
import functools
import io
import posixpath
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from coursetools import book
from coursetools.cli import PortugueseParser

OUT = "_build/pdf/conexoes-residuais.pdf"
BOOK_PAGE = "_livro_pdf.html"  # o miolo montado, gravado (e apagado) ao lado do site
FRONT_PAGE = "_capa_pdf.html"  # a capa e o sumário
PRINT_TIMEOUT = 900  # segundos
MARGIN = 0.7  # polegadas, nos quatro lados
OUTLINE_DEPTH = 3  # marcadores: páginas, seções e subseções (o sumário impresso vai até as seções)
CSS = Path(__file__).with_name("pdf.css")
TITLE = "Conexões residuais"
SUBTITLE = "Um curso sobre conexões residuais, da ResNet ao Transformer, com código que roda na CPU"
KEYWORDS = "conexões residuais, ResNet, Transformer, aprendizado profundo"
AUTHOR = "Equipe do curso Conexões residuais"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
# Espera o MathJax desenhar e, depois, as fontes dele carregarem: os símbolos grandes (Σ, ∏)
# vêm de fontes que só são pedidas quando aparecem, e sem elas a equação sai em branco.
WAIT_FOR_MATHJAX = """
    const done = arguments[arguments.length - 1];
    const fonts = () => document.fonts.ready.then(() => done('ok'));
    const finish = () => {
        if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) return fonts();
        MathJax.startup.promise.then(fonts, e => done('erro: ' + e));
    };
    if (document.readyState === 'complete') finish();
    else window.addEventListener('load', finish);
"""
FOOTER = ('<div style="font-size:8px; width:100%; text-align:center; color:#555; '
          'font-family: sans-serif;"><span class="pageNumber"></span></div>')
# elementos do site que não têm sentido no papel
SITE_CONTROLS = ".headerlink, .viewcode-link, .viewcode-back, button, .toggle-button, script"


class PdfError(Exception):
    """Falha da edição em PDF, com mensagem em português."""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _find(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise PdfError(f"Falta o programa {names[0]}, que imprime o PDF: instale o Chromium e o "
                   "ChromeDriver (Debian/Ubuntu: sudo apt-get install chromium chromium-driver; "
                   "ou make sysdeps).")


def ensure_site(root: Path, site: Path, log=print) -> Path:
    """O site da edição do estudante em ``site``, construído de novo só se as fontes mudaram."""
    from coursetools import editions

    if editions.site_is_current(root, site):
        log(f"O site em {site} está em dia com as fontes: reaproveitado.")
        return site
    if site.resolve() != (root / "_build" / "html").resolve():
        raise PdfError(f"O site em {site} não é a edição do estudante das fontes atuais: "
                       "reconstrua-o (make book) ou não passe --site.")
    log("O site não está em dia com as fontes: construindo a edição do estudante ...")
    html, _ = editions.build_student_edition(root, log=log)
    return html


# ---------------------------------------------------------------------------------------------
# montagem do documento


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


def _move_solutions(soup, article, chapter: Heading) -> None:
    """As soluções recolhidas do capítulo vão para uma seção no fim dele, abertas."""
    solutions = article.select(".solution")
    if not solutions:
        return
    section = soup.new_tag("section", attrs={"class": "solucoes-pdf",
                                              "id": f"{chapter.target}--solucoes"})
    heading = soup.new_tag("h2")
    heading.string = f"Soluções dos exercícios do capítulo {chapter.number.rstrip('.')}".rstrip()
    section.append(heading)
    for solution in solutions:
        solution["class"] = [c for c in solution.get("class", [])
                             if c not in ("dropdown", "toggle")]
        section.append(solution.extract())
    article.append(section)


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


# ---------------------------------------------------------------------------------------------
# impressão


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


def _print(driver, footer: bool) -> bytes:
    result = driver.execute_cdp_cmd("Page.printToPDF", {
        "printBackground": True, "displayHeaderFooter": footer,
        "headerTemplate": "<div></div>", "footerTemplate": FOOTER,
        "generateTaggedPDF": True, "generateDocumentOutline": True,
        "marginTop": MARGIN, "marginBottom": MARGIN, "marginLeft": MARGIN, "marginRight": MARGIN,
        "paperWidth": 8.27, "paperHeight": 11.69})  # A4, em polegadas
    return base64.b64decode(result["data"])


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


def print_book(site: Path, out: Path, root: Path, log=print) -> Path:
    """Imprime o livro montado das páginas de ``site`` (um site já construído) em ``out``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (site / "index.html").exists():
        raise PdfError(f"Não achei o site em {site}: rode `make book` antes.")
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver")
    document, head, headings = compose(site, root)
    written = [site / BOOK_PAGE, site / FRONT_PAGE]
    written[0].write_text(document, encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-pdf-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    # imprimir o livro inteiro leva minutos numa máquina ocupada (o padrão do Selenium é 120 s)
    driver.command_executor._client_config.timeout = PRINT_TIMEOUT
    driver.set_script_timeout(PRINT_TIMEOUT)
    try:
        printed = []
        for name, footer in ((BOOK_PAGE, True), (FRONT_PAGE, False)):
            if name == FRONT_PAGE:  # o sumário, com as páginas em que os títulos ficaram
                marks = match_marks(headings, outline_marks(printed[0]))
                numbers = {target: mark.page + 1 for target, mark in marks.items()}
                written[1].write_text(front_matter(head, headings, numbers), encoding="utf-8")
            driver.get(base + name)
            state = driver.execute_async_script(WAIT_FOR_MATHJAX)
            if state != "ok":
                raise PdfError(f"O MathJax falhou ({state}).")
            log(f"  imprimindo {'o miolo' if footer else 'a capa e o sumário'} ...")
            printed.append(_print(driver, footer))
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        for path in written:
            path.unlink(missing_ok=True)
        shutil.rmtree(profile, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(assemble(printed[1], printed[0], headings, marks))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = PortugueseParser(prog="python -m coursetools.pdf",
                              description="Imprime a edição do estudante num PDF (um livro só).")
    parser.add_argument("--site", type=Path, default=None, metavar="PASTA",
                        help="o site construído (padrão: _build/html, reconstruído se preciso)")
    parser.add_argument("--out", type=Path, default=None, metavar="ARQUIVO",
                        help=f"o PDF (padrão: {OUT})")
    args = parser.parse_args(argv)
    root = book.find_root()
    start = time.perf_counter()
    try:
        site = ensure_site(root, args.site or root / "_build" / "html")
        out = print_book(site, args.out or root / OUT, root)
    except PdfError as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 1
    size = out.stat().st_size / 1e6
    print(f"PDF pronto em {time.perf_counter() - start:.1f} s: {out} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
