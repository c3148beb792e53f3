"""A edição em PDF (``make pdf``): um livro só, impresso pelo Chromium depois do MathJax. Confere o
que o leitor do PDF vê: capa e sumário com os números das páginas certos, numeração contínua,
marcadores dos capítulos e seções, metadados, equações desenhadas, nenhum controle do site,
nenhuma página quase vazia no meio de um capítulo; e o documento montado (links internos que
apontam para dentro dele, soluções no fim de cada capítulo)."""

import io
import re
import shutil
import subprocess

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, toc_files
from pypdf import PdfReader

from coursetools import editions, pdf

ENGLISH = ["Search this book", "Skip to main content", "Back to top", "Toggle primary",
           "Color mode", "previous page", "next page", "Download this page", "Launch"]
WIDGETS = ["Mostrar o código", "[código-fonte]", "Clique para mostrar", "Clique para ocultar",
           "make pdf"]
NEAR_EMPTY = 300  # caracteres (sem espaços) numa página sem imagem


@pytest.fixture(scope="module")
def composed(built_site):
    html, _ = built_site
    return pdf.compose(html, ROOT)


@pytest.fixture(scope="module")
def printed(built_site, tmp_path_factory):
    if shutil.which("pdftotext") is None:
        pytest.fail("Falta o pdftotext (poppler-utils): make sysdeps")
    html, _ = built_site
    out = tmp_path_factory.mktemp("pdf") / "livro.pdf"
    pdf.print_book(html, out, ROOT, log=lambda _: None)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    pages = text.split("\f")[:-1]  # o pdftotext termina cada página com \f
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    assert len(pages) == len(reader.pages)
    return out, pages, reader


def _bookmarks(reader):
    """(profundidade, título, índice da página) de cada marcador, na ordem."""
    found = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            else:
                found.append((depth, item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return found


def _front_pages(reader) -> int:
    """Quantas páginas vêm antes da página 1 (capa e sumário, numeradas i, ii, …)."""
    labels = list(reader.page_labels)
    return labels.index("1")


def test_site_stamp_says_it_is_current(built_site):
    html, _ = built_site
    assert editions.site_is_current(ROOT, html)


def test_composed_book_has_no_site_controls_and_internal_links_resolve(composed):
    document, _, headings = composed
    soup = BeautifulSoup(document, "html.parser")
    assert soup.body.select(pdf.SITE_CONTROLS) == []
    assert soup.select(".dropdown, .toggle") == []  # as soluções ficam abertas
    assert not [h for h in soup.select("div.highlight") if not h.get_text(strip=True)]
    ids = {element["id"] for element in soup.find_all(id=True)}
    internal = [a["href"][1:] for a in soup.find_all("a", href=True) if a["href"].startswith("#")]
    assert len(internal) > 100
    assert sorted({target for target in internal if target not in ids}) == []
    # nenhum link relativo para o site (que não existe no papel): só âncoras e endereços externos
    assert [a["href"] for a in soup.find_all("a", href=True)
            if not re.match(r"#|https?://|mailto:", a["href"])] == []
    # cada página do sumário do livro começa com o seu título
    assert [h.target for h in headings if h.level == 1] == [
        f"p{i}" for i in range(len(toc_files()))]


def test_solutions_move_to_the_end_of_each_chapter(composed):
    document, _, _ = composed
    soup = BeautifulSoup(document, "html.parser")
    for section in soup.select("section.pagina-pdf"):
        solutions = section.select(".solution")
        if not solutions:
            continue
        closing = section.select_one("section.solucoes-pdf")
        assert closing is not None and closing.find("h2").get_text().startswith("Soluções")
        assert all(closing in s.parents for s in solutions)
        assert section.find_all(True, recursive=False)[-1] is closing


def test_quiz_answers_move_to_the_end_of_each_chapter_text(composed):
    """No papel, cada pergunta de autoavaliação fica sem a resposta embaixo; as respostas
    comentadas, abertas e com o número da pergunta, fecham o texto do capítulo."""
    document, _, _ = composed
    soup = BeautifulSoup(document, "html.parser")
    chapters = 0
    for section in soup.select("section.pagina-pdf"):
        quizzes = section.select("section.autoavaliacao")
        closing = section.select_one("section.respostas-autoavaliacao-pdf")
        if not quizzes:
            assert closing is None
            continue
        chapters += 1
        assert all(q.select_one(".aa-resposta") is None for q in quizzes)
        titles = [q.select_one(".aa-titulo").get_text() for q in quizzes]
        answers = [p.get_text() for p in closing.select(".aa-titulo-resposta")]
        assert answers == titles and closing.select("details") == []
        assert closing.find("h2").get_text().startswith("Respostas da autoavaliação")
    assert chapters >= 6


def test_interactive_figures_print_their_static_image(composed):
    """No papel, cada figura interativa sai como a sua imagem de reserva: a folha de estilo da
    figura esconde os controles e o desenho na impressão e mostra o PNG."""
    document, _, _ = composed
    soup = BeautifulSoup(document, "html.parser")
    figures = soup.select("figure.figura-interativa")
    assert len(figures) >= 3
    for figure in figures:
        assert figure.select_one("img.fi-estatica")["src"].startswith("data:image/png;base64,")
        style = figure.find("style").get_text()
        assert re.search(r"@media print\{[^@]*\.fi-interativa\{display:none!important\}", style)


def test_pdf_metadata_page_labels_and_size(printed):
    out, pages, reader = printed
    info = reader.metadata
    assert info.title == pdf.TITLE and info.author == pdf.AUTHOR
    front = _front_pages(reader)
    assert 2 <= front <= 6
    labels = list(reader.page_labels)
    assert labels[:2] == ["i", "ii"]
    assert labels[front:] == [str(n) for n in range(1, len(pages) - front + 1)]
    assert len(pages) > 100
    assert out.stat().st_size <= 15 * 1024 * 1024


def test_page_numbers_are_continuous_in_the_footer(printed):
    out, pages, reader = printed
    height = float(reader.pages[0].mediabox.height)
    width = float(reader.pages[0].mediabox.width)
    margin = pdf.MARGIN * 72
    footers = subprocess.run(  # só a faixa da margem de baixo de cada página
        ["pdftotext", "-x", "0", "-y", str(int(height - margin)), "-W", str(int(width)),
         "-H", str(int(margin)), str(out), "-"], capture_output=True, text=True,
        check=True).stdout.split("\f")[:-1]
    front = _front_pages(reader)
    assert [f.strip() for f in footers[:front]] == [""] * front  # capa e sumário sem número
    # a última linha da faixa é o pé (um símbolo alto do texto pode invadir a margem de cima dela)
    assert [f.strip().splitlines()[-1] if f.strip() else "" for f in footers[front:]] == [
        str(n) for n in range(1, len(pages) - front + 1)]


def test_bookmarks_have_every_page_of_the_book_and_its_sections(printed):
    _, pages, reader = printed
    marks = _bookmarks(reader)
    top = [title for depth, title, _ in marks if depth == 0]
    assert top[0] == "Sumário"
    assert len(top) == 1 + len(toc_files())
    assert sum(depth == 1 for depth, _, _ in marks) > 40
    for _, title, index in marks:
        # o título do marcador está na página para onde ele leva
        words = [w for w in re.split(r"\s+", title) if w and not re.match(r"[\d.]+$", w)]
        flat = re.sub(r"\s+", " ", pages[index])
        assert all(w in flat for w in words[:4]), (title, index)
    chapters = [title for depth, title, _ in marks if depth == 0 and title[0].isdigit()]
    assert chapters[0].startswith("1. ") and len(chapters) >= 6


def test_table_of_contents_numbers_point_at_the_right_pages(printed):
    _, pages, reader = printed
    front = _front_pages(reader)
    contents = "\n".join(pages[1:front])
    marks = [(depth, title, index) for depth, title, index in _bookmarks(reader)
             if depth <= 1 and title != "Sumário"]
    assert len(marks) > 40
    for _, title, index in marks:
        number = title.split(" ", 1)[0] if title[0].isdigit() else ""
        text = title[len(number):].strip()
        pattern = r"^\s*" + (re.escape(number) + r"\s+" if number else "")
        pattern += r"\s+".join(map(re.escape, text.split())) + r"[^\n]*?\s(\d+)\s*$"
        entry = re.search(pattern, contents, re.MULTILINE)
        assert entry, title
        assert int(entry.group(1)) == index - front + 1, (title, entry.group(1), index)


def test_cover_and_text_have_no_site_widgets_and_equations_are_typeset(printed):
    _, pages, _ = printed
    text = "\n".join(pages)
    assert pdf.TITLE in pages[0] and "Edição do estudante" in pages[0]
    assert [w for w in WIDGETS + ENGLISH if w in text] == []
    # sem o MathJax, as equações sairiam como o TeX do HTML (\[ … \begin{aligned} …)
    assert re.findall(r"\\begin\{|\\end\{|\\\[|\\\]", text) == []
    assert "(2.2)" in text and "(3.1)" in text


def test_api_pages_typeset_subscripts(printed):
    _, pages, reader = printed
    (api,) = [index for _, title, index in _bookmarks(reader) if title.startswith("Referência do")]
    api_text = "\n".join(pages[api:api + 20])
    assert "h_{k" not in api_text and "f_k[" not in api_text
    assert "Bloco residual totalmente conectado" in api_text


def test_no_near_empty_page_inside_a_chapter(printed, tmp_path):
    """Uma página quase vazia só pode ser a última antes de uma quebra de página forçada (fim de
    capítulo, antes das soluções) — nunca no meio do texto, por uma figura que não coube."""
    out, pages, reader = printed
    listing = subprocess.run(["pdfimages", "-list", str(out)], capture_output=True, text=True,
                             check=True).stdout.splitlines()[2:]
    with_images = {int(line.split()[0]) - 1 for line in listing if line.strip()}
    forced = {index for depth, title, index in _bookmarks(reader)
              if depth == 0 or title.startswith("Soluções")}
    front = _front_pages(reader)
    short = [index for index in range(front, len(pages))
             if len(re.sub(r"\s", "", pages[index])) < NEAR_EMPTY and index not in with_images]
    assert [index for index in short if index + 1 not in forced and index != len(pages) - 1] == []


def test_pdf_pages_render(printed, tmp_path):
    """Uma página de capítulo vira imagem (pdftoppm) sem erro e não é branca."""
    out, _, _ = printed
    if shutil.which("pdftoppm") is None:
        pytest.fail("Falta o pdftoppm (poppler-utils): make sysdeps")
    subprocess.run(["pdftoppm", "-r", "30", "-f", "8", "-l", "8", "-png", str(out),
                    str(tmp_path / "p")], check=True)
    (image,) = tmp_path.glob("p*.png")
    assert len(image.read_bytes()) > 5000  # uma página em branco comprime para bem menos
