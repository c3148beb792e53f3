"""A edição em PDF do livro (``make pdf``): as páginas da edição do estudante impressas pelo
Chromium sem interface, depois de o MathJax terminar, na ordem do ``_toc.yml``, e juntadas num
arquivo só com o ``pdfunite`` (poppler).

Um ``chromium --print-to-pdf`` direto imprime antes de o MathJax desenhar as equações (saem em
branco): aqui cada página é aberta pelo ChromeDriver, espera-se ``MathJax.startup.promise`` e só
então se pede ``Page.printToPDF`` pelo protocolo de depuração. O estilo de impressão está em
``_tema/curso.css`` (``@media print``). Sem rede: o Chromium sai com um proxy inexistente e o site
é servido em 127.0.0.1.

    python -m coursetools.pdf [--site _build/html] [--out _build/pdf/conexoes-residuais.pdf]
"""

from __future__ import annotations

import base64
import functools
import html
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from coursetools import book
from coursetools.cli import PortugueseParser

OUT = "_build/pdf/conexoes-residuais.pdf"
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
FOOTER = ('<div style="font-size:8px; width:100%; text-align:center; color:#555;">'
          '{title} · página <span class="pageNumber"></span> de <span class="totalPages"></span>'
          '</div>')


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
    raise PdfError(f"Falta o programa {names[0]}: rode `make sysdeps` (Debian: apt-get install "
                   "chromium chromium-driver poppler-utils).")


def pages_in_order(root: Path) -> list[tuple[str, str]]:
    """As páginas do sumário, na ordem: (caminho da página no site, título)."""
    import json

    pages = []
    for name in book.toc_files(root):
        source = next((root / f"{name}{ext}" for ext in (".md", ".ipynb")
                       if (root / f"{name}{ext}").exists()), None)
        title = name.rsplit("/", 1)[-1]
        if source is not None and source.suffix == ".md":
            first = next((line for line in source.read_text(encoding="utf-8").splitlines()
                          if line.startswith("# ")), "")
            title = first[2:].strip() or title
        elif source is not None:
            cells = json.loads(source.read_text(encoding="utf-8"))["cells"]
            text = "".join(next((c["source"] for c in cells if c["cell_type"] == "markdown"), ""))
            first = next((line for line in text.splitlines() if line.startswith("# ")), "")
            title = first[2:].strip() or title
        pages.append((f"{name}.html", title))
    return pages


def _cover(pages: list[tuple[str, str]], folder: Path) -> str:
    """A capa com o sumário (uma página HTML ao lado do site)."""
    items = "\n".join(f"<li>{html.escape(title.replace('`', ''))}</li>" for _, title in pages)
    text = f"""<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">
<title>Conexões residuais</title>
<style>body {{ font-family: 'DejaVu Sans', sans-serif; margin: 3cm 2cm; }}
h1 {{ font-size: 28pt; margin-bottom: 0.2em; }} p {{ color: #444; }}
ul {{ font-size: 13pt; line-height: 1.8; }}</style></head><body>
<h1>Conexões residuais</h1>
<p>Edição em PDF do livro (edição do estudante), gerada por <code>make pdf</code>.</p>
<h2>Sumário</h2><ul>{items}</ul></body></html>"""
    (folder / "_capa_pdf.html").write_text(text, encoding="utf-8")
    return "_capa_pdf.html"


def print_site(site: Path, out: Path, root: Path, log=print) -> Path:
    """Imprime as páginas de ``site`` (um site já construído) num PDF em ``out``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (site / "index.html").exists():
        raise PdfError(f"Não achei o site em {site}: rode `make book` antes.")
    pdfunite = _find("pdfunite")
    pages = pages_in_order(root)
    cover = _cover(pages, site)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="chromium-pdf-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(_find("chromedriver")), options=options)
    parts = []
    try:
        with tempfile.TemporaryDirectory(prefix="pdf-") as tmp:
            for index, (page, title) in enumerate([(cover, ""), *pages]):
                driver.get(base + page)
                state = driver.execute_async_script(WAIT_FOR_MATHJAX)
                if state != "ok":
                    raise PdfError(f"{page}: o MathJax falhou ({state}).")
                name = html.escape(title.replace("`", ""))
                footer = FOOTER.format(title=name) if title else "<div></div>"
                result = driver.execute_cdp_cmd("Page.printToPDF", {
                    "printBackground": True, "displayHeaderFooter": True,
                    "headerTemplate": "<div></div>", "footerTemplate": footer,
                    "marginTop": 0.6, "marginBottom": 0.7, "marginLeft": 0.6, "marginRight": 0.6,
                    "paperWidth": 8.27, "paperHeight": 11.69})  # A4, em polegadas
                part = Path(tmp) / f"{index:02d}.pdf"
                part.write_bytes(base64.b64decode(result["data"]))
                parts.append(part)
                log(f"  {page}")
            out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([pdfunite, *map(str, parts), str(out)], check=True)
    finally:
        driver.quit()
        server.shutdown()
        server.server_close()
        (site / cover).unlink(missing_ok=True)
        shutil.rmtree(profile, ignore_errors=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = PortugueseParser(prog="python -m coursetools.pdf",
                              description="Imprime o site da edição do estudante num PDF.")
    parser.add_argument("--site", type=Path, default=None, metavar="PASTA",
                        help="o site construído (padrão: _build/html)")
    parser.add_argument("--out", type=Path, default=None, metavar="ARQUIVO",
                        help=f"o PDF (padrão: {OUT})")
    args = parser.parse_args(argv)
    root = book.find_root()
    start = time.perf_counter()
    try:
        out = print_site(args.site or root / "_build" / "html", args.out or root / OUT, root)
    except PdfError as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 1
    size = out.stat().st_size / 1e6
    print(f"PDF pronto em {time.perf_counter() - start:.1f} s: {out} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
