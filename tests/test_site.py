"""Constrói o site como um leitor o veria e confere as páginas."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag

import pytest
from conftest import ROOT, chapter_notebooks, toc_files
from pybtex.database import parse_file


class _Page(HTMLParser):
    """Coleta links, imagens e ids de uma página HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_build_has_no_warnings(built_site):
    _, log = built_site
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, "\n".join(warnings)


def test_every_toc_page_exists_in_portuguese(built_site):
    html, _ = built_site
    assert (html / "index.html").exists()
    for name in toc_files():
        page = html / f"{name}.html"
        assert page.exists(), f"falta a página {page.name}"
        assert '<html lang="pt-BR"' in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.stem)
def test_chapter_page_has_math_figures_exercises_and_no_errors(built_site, notebook):
    html, _ = built_site
    page_path = html / "book" / f"{notebook.stem}.html"
    text = page_path.read_text(encoding="utf-8")
    page = _parse(page_path)

    assert 'class="math' in text, "a página não tem equações"
    n_figures = sum(
        "image/png" in output.get("data", {})
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        for output in cell.get("outputs", [])
    )
    pngs = [src for src in page.images if src.endswith(".png")]
    assert n_figures > 0 and len(pngs) >= n_figures, "faltam figuras do notebook na página"
    for src in pngs:
        assert (page_path.parent / src).resolve().stat().st_size > 1000

    assert "Traceback (most recent call last)" not in text
    assert "output stderr" not in text and "output traceback" not in text
    # exercícios numerados em português, soluções recolhidas
    assert re.search(r"Exercício \d", text) and "Solução para" in text
    assert "solution dropdown" in text
    # células cruas do otter e testes não aparecem; cada exercício tem a sua verificação
    assert "BEGIN QUESTION" not in text and "from residuais.checks." not in text
    assert "grader.check(" in re.sub(r"<[^>]+>", "", text)
    # o capítulo abre com o título: a preparação e a criação do ``grader`` ficam só no notebook
    article = text[text.index("<article"):]
    first_cell = article.find('class="cell')
    assert first_cell == -1 or article.index("<h1") < first_cell
    assert "grader = Notebook(" not in re.sub(r"<[^>]+>", "", text)


def test_internal_links_and_anchors_resolve(built_site):
    html, _ = built_site
    pages = {p.resolve(): _parse(p) for p in html.rglob("*.html") if "_static" not in p.parts}
    broken = []
    for path, page in pages.items():
        for href in page.links:
            if re.match(r"^[a-z]+:", href):
                continue  # externo (http:, mailto:, ...)
            target, anchor = urldefrag(href)
            target_path = (path.parent / target).resolve() if target else path
            if target_path.suffix != ".html":
                continue
            if target_path not in pages:
                broken.append(f"{path.name}: {href}")
            elif anchor and anchor not in pages[target_path].ids:
                broken.append(f"{path.name}: âncora {href}")
    assert not broken, "links quebrados:\n" + "\n".join(broken)


def test_every_citation_is_in_the_bibliography_page(built_site):
    html, _ = built_site
    bib = parse_file(str(ROOT / "book" / "references.bib"))
    references = (html / "book" / "referencias.html").read_text(encoding="utf-8")
    cited = set()
    for notebook in chapter_notebooks():
        for group in re.findall(r"\{cite\}`([^`]+)`", notebook.read_text(encoding="utf-8")):
            cited.update(key.strip() for key in group.split(","))
    assert cited, "nenhuma citação encontrada nos capítulos"
    for key in sorted(cited):
        assert key in bib.entries, f"a chave {key} não está em references.bib"
        title = re.sub(r"[{}]", "", bib.entries[key].fields["title"])
        assert title.split(":")[0].lower() in references.lower(), f"{key} não está na página"


# Os textos da interface do tema que apareciam em inglês (medido no site de 2026-12), em
# atributos (title, aria-label, placeholder) ou no texto das páginas.
ENGLISH_INTERFACE = ["Search this book", "Skip to main content", "Back to top",
                     "Toggle primary sidebar", "Toggle secondary sidebar", "Color mode",
                     'title="Light"', 'title="Dark"', "System Settings", "previous page",
                     "next page", "Toggle hidden content", 'aria-label="Page"']


def test_the_interface_is_in_portuguese(built_site):
    html, _ = built_site
    pages = sorted(html.rglob("*.html"))
    assert len(pages) > 8
    leftovers = [f"{page.relative_to(html)}: {text}" for page in pages
                 for text in ENGLISH_INTERFACE if text in page.read_text(encoding="utf-8")]
    assert leftovers == []
    chapter = (html / "book" / "02_conexoes_residuais.html").read_text(encoding="utf-8")
    for text in ("Pesquisar neste livro", "Pular para o conteúdo principal", "Voltar ao topo",
                 "Modo de cor", "página anterior", "próxima página",
                 "Mostrar ou esconder a barra lateral"):
        assert text in chapter, text


def _load_extension(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_documents_what_each_chapter_imports(built_site):
    """A referência do pacote tem uma entrada (com o link para o código-fonte) para cada nome de
    ``residuais`` que cada capítulo importa, sob o primeiro capítulo que o usa."""
    api_pages = _load_extension("api_pages")
    html, _ = built_site
    page = (html / "book" / "api.html").read_text(encoding="utf-8")
    names = {n for nb in chapter_notebooks() for n in api_pages.chapter_imports(nb)}
    assert len(names) > 20
    missing = [n for n in sorted(names) if f'id="{n}"' not in page]
    assert missing == []
    assert page.count("[código-fonte]") >= len(names)
    for notebook in chapter_notebooks():
        assert f'href="{notebook.stem}.html' in page
    assert (html / "_modules" / "residuais" / "train.html").exists()


def test_every_diagram_is_in_a_chapter_with_alt_text_and_a_reference(built_site):
    """Cada diagrama de book/diagramas aparece num capítulo, como <img> SVG com texto
    alternativo, numa figura numerada que o texto do capítulo cita."""
    from bs4 import BeautifulSoup

    html, _ = built_site
    sources = sorted((ROOT / "book" / "diagramas").glob("*.dot"))
    assert len(sources) >= 8
    used: dict[str, str] = {}
    for notebook in chapter_notebooks():
        text = notebook.read_text(encoding="utf-8")
        for source in sources:
            if f"diagramas/{source.name}" in text:
                used[source.name] = notebook.stem
        page = BeautifulSoup((html / "book" / f"{notebook.stem}.html").read_text(
            encoding="utf-8"), "html.parser")
        for img in page.select("img.diagrama"):
            assert img["src"].endswith(".svg") and (html / "book" / img["src"]).exists()
            assert len(img.get("alt", "").split()) >= 10, f"{notebook.stem}: alt curto"
            figure = img.find_parent("figure")
            assert figure is not None and figure.get("id"), f"{notebook.stem}: sem figura"
            assert page.select(f'a[href="#{figure["id"]}"]'), (
                f"{notebook.stem}: o texto não cita a figura {figure['id']}")
    assert sorted(used) == [s.name for s in sources], "diagrama que nenhum capítulo usa"


def test_first_use_of_each_glossary_term_links_to_its_entry(built_site):
    """Em cada capítulo, nenhum termo do glossário aparece no texto corrido antes do primeiro
    link para a sua entrada (singular ou plural; termos ambíguos ficam de fora)."""
    from bs4 import BeautifulSoup

    links = _load_extension("glossary_links")
    html, _ = built_site
    glossary = BeautifulSoup((html / "book" / "glossario.html").read_text(encoding="utf-8"),
                             "html.parser")
    entries = {dt["id"]: dt.get_text().rstrip("#").strip()
               for dt in glossary.select("dl.glossary dt")}
    assert len(entries) >= 80
    for dd in glossary.select("dl.glossary dd"):
        assert dd.find("em"), f"entrada sem o termo em inglês: {dd.get_text()[:60]}"
    keys = [links.search_key(term) for term in entries.values()]
    checked = 0
    for notebook in chapter_notebooks():
        article = BeautifulSoup((html / "book" / f"{notebook.stem}.html").read_text(
            encoding="utf-8"), "html.parser").select_one("article")
        for anchor in article.select('a[href*="glossario.html#term-"]'):
            anchor.string = f"⟦{anchor['href'].split('#')[1]}⟧"
        for hidden in article.select(".cell_output, .solution, .highlight, .math, figcaption, "
                                     ".admonition-title, "
                                     "h1, h2, h3, h4, script"):
            hidden.decompose()
        prose = " ".join(p.get_text(" ") for p in article.select("p, li"))
        for anchor_id, term in entries.items():
            key = links.search_key(term)
            if key.lower() in links.AMBIGUOUS:
                continue
            # "lote" dentro de "normalização em lote" é o termo mais longo, não este
            text = prose
            for longer in (k for k in keys if len(k) > len(key) and key.lower() in k.lower()):
                for form in {longer, links.plural(longer)}:
                    text = re.sub(re.escape(form), lambda m: " " * len(m[0]), text,
                                  flags=re.IGNORECASE)
            first = re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text, re.IGNORECASE)
            link = text.find(f"⟦{anchor_id}⟧")
            checked += link >= 0
            assert first is None or 0 <= link <= first.start(), (
                f"{notebook.stem}: “{key}” aparece antes do link para o glossário: "
                f"…{text[max(0, first.start() - 60):first.end() + 20]}…")
    assert checked > 100


def _literal_includes(notebook: Path) -> list[tuple[str, str]]:
    """(arquivo, objeto) de cada ``literalinclude`` com ``:pyobject:`` do capítulo."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    pattern = r"```\{literalinclude\}\s+(\S+)\n(?:\s*:[\w-]+:.*\n)*?\s*:pyobject:\s*(\S+)"
    return re.findall(pattern, text)


# capítulos que constroem componentes "do zero" e o mínimo de trechos de código que mostram
TAUGHT_CODE = {"02_conexoes_residuais": 1, "04_batch_norm": 1, "05_arquiteturas": 3,
               "06_fluxo_residual": 3}


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.stem)
def test_taught_code_on_the_page_is_the_module_source(built_site, notebook):
    """O código que o capítulo mostra vem do módulo na construção: o bloco na página é igual ao
    código-fonte do objeto (``inspect.getsource``), sem cópia que possa ficar para trás."""
    import importlib
    import inspect
    import textwrap

    from bs4 import BeautifulSoup

    html, _ = built_site
    includes = _literal_includes(notebook)
    assert len(includes) >= TAUGHT_CODE.get(notebook.stem, 0)
    page = BeautifulSoup((html / "book" / f"{notebook.stem}.html").read_text(encoding="utf-8"),
                         "html.parser")
    blocks = {textwrap.dedent(pre.get_text()).strip() for pre in page.select("div.highlight pre")}
    for path, name in includes:
        file = (ROOT / "book" / path).resolve()
        module_name = ".".join(file.relative_to(ROOT / "code").with_suffix("").parts)
        obj = importlib.import_module(module_name)
        for part in name.split("."):
            obj = getattr(obj, part)
        source = textwrap.dedent(inspect.getsource(obj)).strip()
        assert source in blocks, f"{notebook.stem}: {name} na página difere de {path}"


def test_no_two_glossary_entries_share_a_search_key():
    """Dois termos com a mesma chave de busca ("pré-ativação (valor)" e "pré-ativação (bloco)")
    fariam o vinculador ligar sempre o primeiro, com o sentido errado em metade dos capítulos:
    um termo com dois sentidos vira duas entradas de nomes distintos."""
    links = _load_extension("glossary_links")
    terms = links.glossary_terms((ROOT / "book" / "glossario.md").read_text(encoding="utf-8"))
    keys = [links.search_key(term).lower() for term in terms]
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []


def test_synthesis_page_links_each_explanation_to_the_chapter_that_measures_it(built_site):
    """A página "Por que as conexões residuais funcionam": cada linha da tabela cita um artigo
    e leva ao capítulo e a uma figura (ou equação) que mede a explicação; a figura das classes
    encaixadas é um SVG de book/diagramas com texto alternativo, citado no texto."""
    from bs4 import BeautifulSoup

    html, _ = built_site
    page = BeautifulSoup((html / "book" / "por_que_funcionam.html").read_text(encoding="utf-8"),
                         "html.parser").select_one("article")
    rows = page.select("table tbody tr")
    assert len(rows) >= 4
    for row in rows:
        hrefs = [a["href"] for a in row.select("a[href]")]
        name = row.select("td")[0].get_text(" ", strip=True)
        assert any(h.startswith("referencias.html#") for h in hrefs), f"{name}: sem citação"
        assert any(re.fullmatch(r"0\d_\w+\.html", h) for h in hrefs), f"{name}: sem capítulo"
        assert any(re.fullmatch(r"0\d_\w+\.html#(fig|equation)-[\w-]+", h) for h in hrefs), (
            f"{name}: sem figura nem equação do capítulo")
    img = page.select_one("figure img")
    assert img["src"].endswith(".svg") and (html / "book" / img["src"]).exists()
    assert len(img.get("alt", "").split()) >= 10
    figure = img.find_parent("figure")
    assert page.select(f'a[href="#{figure["id"]}"]'), "o texto não cita a figura"
