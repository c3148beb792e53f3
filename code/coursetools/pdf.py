"""A edição em PDF do livro (``make pdf``): um documento só, montado das páginas da edição do
estudante e impresso pelo Chromium sem interface, depois de o MathJax desenhar as equações.

Por que assim, e não pelo construtor LaTeX do Jupyter Book: o PDF sai com as mesmas figuras
(PNG, diagramas em SVG), as mesmas equações (MathJax) e a mesma numeração do site, sem os
~2 GB do TeX, e o site já construído é reaproveitado (``make pdf`` só reconstrói o que mudou).

Como:

1. ``ensure_site`` confere se o site em ``_build/html`` é a edição do estudante feita das fontes
   atuais (a impressão digital que ``editions`` grava nele); se não for, constrói-o.
2. ``pdf_compose.compose`` junta o conteúdo das páginas do sumário (``_toc.yml``) num HTML só
   (o miolo), sem os controles do site e com as soluções no fim de cada capítulo.
3. ``print_book`` imprime o miolo uma vez (``Page.printToPDF``, com marcadores gerados dos
   títulos); ``pdf_outline`` lê em que página ficou cada título; a capa e o sumário, com esses
   números, são impressos à parte, e ``pdf_outline.assemble`` junta tudo (páginas i, ii… e 1…N,
   marcadores com os títulos limpos, título e autor nos metadados).

Sem rede: o Chromium sai com um proxy inexistente, e o site é servido em 127.0.0.1.

    python -m coursetools.pdf [--site _build/html] [--out _build/pdf/conexoes-residuais.pdf]
"""

from __future__ import annotations

import base64
import functools
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from coursetools import book
from coursetools.cli import PortugueseParser
from coursetools.pdf_compose import (  # noqa: F401  (os testes e quem importa este módulo)
    AUTHOR,
    SITE_CONTROLS,
    TITLE,
    PdfError,
    compose,
    front_matter,
)
from coursetools.pdf_outline import MARGIN, assemble, match_marks, outline_marks

OUT = "_build/pdf/conexoes-residuais.pdf"
BOOK_PAGE = "_livro_pdf.html"  # o miolo montado, gravado (e apagado) ao lado do site
FRONT_PAGE = "_capa_pdf.html"  # a capa e o sumário
PRINT_TIMEOUT = 900  # segundos
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


def _print(driver, footer: bool) -> bytes:
    result = driver.execute_cdp_cmd("Page.printToPDF", {
        "printBackground": True, "displayHeaderFooter": footer,
        "headerTemplate": "<div></div>", "footerTemplate": FOOTER,
        "generateTaggedPDF": True, "generateDocumentOutline": True,
        "marginTop": MARGIN, "marginBottom": MARGIN, "marginLeft": MARGIN, "marginRight": MARGIN,
        "paperWidth": 8.27, "paperHeight": 11.69})  # A4, em polegadas
    return base64.b64decode(result["data"])


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
