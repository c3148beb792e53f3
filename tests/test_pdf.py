"""A edição em PDF (``make pdf``): o site da edição do estudante impresso pelo Chromium depois do
MathJax. Confere o que o leitor do PDF vê: cada capítulo, as equações desenhadas (nenhum TeX cru),
nenhum texto da interface em inglês, e o tamanho."""

import re
import shutil
import subprocess

import pytest
from conftest import ROOT, chapter_notebooks

from coursetools import pdf

ENGLISH = ["Search this book", "Skip to main content", "Back to top", "Toggle primary",
           "Color mode", "previous page", "next page", "Download this page", "Launch"]


@pytest.fixture(scope="module")
def printed(built_site, tmp_path_factory):
    html, _ = built_site
    out = tmp_path_factory.mktemp("pdf") / "livro.pdf"
    pdf.print_site(html, out, ROOT, log=lambda _: None)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    return out, text


def test_pdf_has_every_chapter_and_page_numbers(printed):
    out, text = printed
    for notebook in chapter_notebooks():
        title = pdf.pages_in_order(ROOT)[[p for p, _ in pdf.pages_in_order(ROOT)].index(
            f"book/{notebook.stem}.html")][1]
        assert title in text, title
    assert re.search(r"página 1 de \d+", text)
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert pages > 100
    assert out.stat().st_size <= 15 * 1024 * 1024


def test_pdf_equations_are_typeset_and_interface_is_portuguese(printed):
    _, text = printed
    # sem o MathJax, as equações sairiam como o TeX do HTML (\[ … \begin{aligned} …); o código
    # das células pode ter TeX dos rótulos das figuras ($\partial L$), então só os delimitadores
    # e ambientes de equação contam
    raw_tex = re.findall(r"\\begin\{|\\end\{|\\\[|\\\]", text)
    assert raw_tex == []
    assert "(2.2)" in text and "(3.1)" in text
    assert [s for s in ENGLISH if s in text] == []


def test_pdf_pages_render(printed, tmp_path):
    """Uma página de capítulo vira imagem (pdftoppm) sem erro e não é branca."""
    out, _ = printed
    if shutil.which("pdftoppm") is None:
        pytest.fail("Falta o pdftoppm (poppler-utils): make sysdeps")
    subprocess.run(["pdftoppm", "-r", "30", "-f", "5", "-l", "5", "-png", str(out),
                    str(tmp_path / "p")], check=True)
    (image,) = tmp_path.glob("p*.png")
    data = image.read_bytes()
    assert len(data) > 5000  # uma página em branco comprime para bem menos
