"""Qualidade do site sem navegador: ortografia, acessibilidade, peso das páginas, paleta e
recursos externos. O teste no navegador (Chromium) está em test_browser.py."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, toc_files
from PIL import Image
from prose import Prose, notebook_prose, page_prose, split_prose

from residuais.plotting import PALETTE, depth_color

HUNSPELL_DIRS = [Path("/usr/share/hunspell"), Path("/usr/share/myspell/dicts")]
WORDS = ROOT / "tests" / "palavras.txt"
MAX_PAGE_BYTES = 2 * 1024 * 1024  # página + imagens: 2 MB
MAX_FIGURE_WIDTH = 2000  # px: figuras com resolução de tela, não de impressão
MAX_FIGURE_BYTES = 400 * 1024
# WCAG 2.1, critério 1.4.11 (contraste de elementos não textuais): linhas, marcadores e áreas de
# um gráfico precisam de 3:1 contra o fundo vizinho, aqui o branco das figuras.
MIN_GRAPHIC_CONTRAST = 3.0


def _page_paths(html: Path) -> list[Path]:
    return [html / f"{name}.html" for name in toc_files()]


def _article(path: Path) -> BeautifulSoup:
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.select_one("article.bd-article")
    assert article is not None, f"{path.name}: não achei o conteúdo (article.bd-article)"
    return article


# --------------------------------------------------------------------------- ortografia


def _dictionary(name: str) -> None:
    if not any((d / f"{name}.dic").exists() for d in HUNSPELL_DIRS):
        pytest.fail(f"Falta o dicionário {name} do hunspell. Instale com `make sysdeps` "
                    "(apt-get install hunspell hunspell-pt-br hunspell-en-us).")


def _unknown_words(text: str, dictionaries: str, words: Path | None) -> set[str]:
    """Palavras do texto que o hunspell não reconhece (um processo só para o texto todo)."""
    command = ["hunspell", "-d", dictionaries, "-l", "-i", "utf-8"]
    if words is not None:
        command += ["-p", str(words)]
    result = subprocess.run(command, input=text, capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def _found_in(unknown: set[str], text: str) -> list[str]:
    """As palavras de ``unknown`` que aparecem em ``text``, na ordem do texto."""
    tokens = re.findall(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", text)
    parts = [part for token in tokens for part in (token, *re.split(r"[-'’]", token))]
    return list(dict.fromkeys(part for part in parts if part in unknown))


@pytest.fixture(scope="module")
def hunspell(tmp_path_factory) -> Path:
    """Confere o hunspell e os dicionários; devolve a lista de palavras sem comentários (as
    palavras com hífen ficam de fora: o hunspell pt_BR confere as partes separadas, então elas
    são tiradas do texto antes, por ``_without_compounds``)."""
    if shutil.which("hunspell") is None:
        pytest.fail("Falta o hunspell. Instale com `make sysdeps` "
                    "(apt-get install hunspell hunspell-pt-br hunspell-en-us).")
    _dictionary("pt_BR")
    _dictionary("en_US")
    words = _word_list()
    repeated = [w for w, n in Counter(words).items() if n > 1]
    assert not repeated, f"palavras repetidas em {WORDS.name}: {repeated}"
    path = tmp_path_factory.mktemp("hunspell") / "palavras.dic"
    path.write_text("\n".join(w for w in words if "-" not in w) + "\n", encoding="utf-8")
    return path


def _word_list() -> list[str]:
    lines = [line.strip() for line in WORDS.read_text(encoding="utf-8").splitlines()]
    return [w for w in lines if w and not w.startswith("#")]


def _without_compounds(text: str) -> str:
    """Tira do texto os termos com hífen da lista (scikit-learn, one-hot, ...)."""
    for term in (w for w in _word_list() if "-" in w):
        text = re.sub(rf"(?<![\w-]){re.escape(term)}(?![\w-])", " ", text, flags=re.IGNORECASE)
    return text


def _book_prose() -> list[Prose]:
    pieces: list[Prose] = []
    for name in toc_files():
        path = ROOT / name
        if path.with_suffix(".ipynb").exists():
            pieces += notebook_prose(path.with_suffix(".ipynb"))
        elif path.with_suffix(".md").exists():
            pieces += page_prose(path.with_suffix(".md"))
    return pieces


def test_spelling_of_all_prose(hunspell):
    """Revisão ortográfica pt_BR de toda a prosa (itálicos e a coluna "inglês": pt_BR + en_US)."""
    pieces = [Prose(p.where, _without_compounds(p.portuguese), _without_compounds(p.foreign))
              for p in _book_prose()]
    assert len(pieces) > 20, "pouca prosa encontrada: o extrator quebrou?"
    unknown_pt = _unknown_words("\n".join(p.portuguese for p in pieces), "pt_BR", hunspell)
    unknown_foreign = _unknown_words("\n".join(p.foreign for p in pieces), "pt_BR,en_US",
                                     hunspell)
    problems = []
    for piece in pieces:
        unknown = _found_in(unknown_pt, piece.portuguese)
        unknown += _found_in(unknown_foreign, piece.foreign)
        if unknown:
            problems.append(f"{piece.where}: {', '.join(dict.fromkeys(unknown))}")
    assert not problems, (
        "Palavras desconhecidas (corrija o texto ou, se estiverem certas, acrescente-as a "
        f"tests/{WORDS.name}):\n" + "\n".join(problems))
    # só informa (não reprova, para não travar quem reescreve um capítulo): entradas mortas
    text = "\n".join(f"{p.portuguese}\n{p.foreign}" for p in _book_prose()).lower()
    unused = [w for w in _word_list() if not re.search(rf"(?<![\w-]){re.escape(w.lower())}"
                                                       rf"(?![\w-])", text)]
    if unused:
        print(f"\nPalavras de tests/{WORDS.name} que o livro não usa mais: {', '.join(unused)}")


def test_spell_checker_catches_a_typo(hunspell):
    """O próprio verificador funciona: acha um erro plantado e aceita português correto."""
    assert _unknown_words("A conecção residual soma a entrada.", "pt_BR", hunspell) == {"conecção"}
    assert _unknown_words("O gradiente atravessa o *shortcut*.", "pt_BR,en_US", hunspell) == set()
    portuguese, foreign = split_prose("O *skip connection* soma $x + f(x)$ e `h + f(h)`.")
    assert (portuguese.split(), foreign.split()) == (["O", "soma", "e", "."],
                                                     ["skip", "connection"])


# --------------------------------------------------------------------------- acessibilidade


def test_every_figure_has_portuguese_alt_text_or_caption(built_site):
    """Cada imagem tem texto alternativo (ou, sem ele, legenda) e esse texto é português: ao
    menos 75% das palavras estão no dicionário pt_BR (sem a lista do projeto)."""
    html, _ = built_site
    texts: dict[str, str] = {}
    problems = []
    for path in _page_paths(html):
        for img in _article(path).find_all("img"):
            alt = (img.get("alt") or "").strip()
            figure = img.find_parent("figure")
            caption = figure.find("figcaption") if figure else None
            caption_text = caption.get_text(" ", strip=True) if caption else ""
            text = alt if len(alt.split()) >= 3 else caption_text
            where = f"{path.name}: {img.get('src')}"
            if text:
                texts[where] = text
            else:
                problems.append(f"{where} sem texto alternativo nem legenda")
    assert texts or problems, "nenhuma imagem nas páginas"
    unknown = _unknown_words("\n".join(texts.values()), "pt_BR", None)
    for where, text in texts.items():
        words = re.findall(r"[^\W\d_]{2,}", text)
        share = 1 - sum(w in unknown for w in words) / max(len(words), 1)
        if share < 0.75:
            problems.append(f"{where}: o texto não parece português: {text[:80]!r}")
    assert not problems, "\n".join(problems)


def test_heading_levels_are_in_order(built_site):
    """Um h1 por página, no início; nenhum nível pulado (h2 → h4)."""
    html, _ = built_site
    problems = []
    for path in _page_paths(html):
        levels = [int(h.name[1]) for h in _article(path).find_all(re.compile(r"^h[1-6]$"))]
        if not levels or levels[0] != 1 or levels.count(1) != 1:
            problems.append(f"{path.name}: precisa de exatamente um h1, no início: {levels}")
        for previous, level in itertools.pairwise(levels):
            if level > previous + 1:
                problems.append(f"{path.name}: título pula de h{previous} para h{level}")
    assert not problems, "\n".join(problems)


def test_pages_declare_brazilian_portuguese(built_site):
    html, _ = built_site
    for path in html.rglob("*.html"):
        if "_static" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "<html" in text:
            assert '<html lang="pt-BR"' in text, f"{path.relative_to(html)} sem lang=pt-BR"


def contrast_ratio(color: str | tuple, background: str = "#FFFFFF") -> float:
    """Razão de contraste WCAG 2.1 entre duas cores (de 1 a 21)."""
    from matplotlib.colors import to_rgb

    def luminance(c) -> float:
        channels = [ch / 12.92 if ch <= 0.04045 else ((ch + 0.055) / 1.055) ** 2.4
                    for ch in to_rgb(c)]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    lighter, darker = sorted((luminance(color), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_ratio_matches_wcag_examples():
    assert contrast_ratio("#000000") == pytest.approx(21.0)
    assert contrast_ratio("#FFFFFF") == pytest.approx(1.0)
    assert contrast_ratio("#767676") == pytest.approx(4.54, abs=0.01)  # o cinza AA clássico


def palette_contrasts() -> dict[str, float]:
    """Contraste contra o branco de cada cor da paleta e dos tons extremos de depth_color."""
    ratios = {name: contrast_ratio(color) for name, color in PALETTE.items()}
    for kind in ("sequencial", "residual"):
        ratios[f"depth_color {kind}, mais claro"] = contrast_ratio(depth_color(kind, 0, 4))
        ratios[f"depth_color {kind}, mais escuro"] = contrast_ratio(depth_color(kind, 3, 4))
    return ratios


def test_figure_palette_contrast_against_white():
    ratios = palette_contrasts()
    print("\nContraste contra o branco (mínimo 3:1, WCAG 1.4.11):")
    for name, ratio in sorted(ratios.items(), key=lambda item: -item[1]):
        print(f"  {name:36} {ratio:5.2f}  {'passa' if ratio >= MIN_GRAPHIC_CONTRAST else 'NÃO'}")
    failing = sorted(name for name, ratio in ratios.items() if ratio < MIN_GRAPHIC_CONTRAST)
    assert not failing, f"cores com contraste abaixo de 3:1 contra o branco: {failing}"


# --------------------------------------------------------------------------- peso e recursos


def _local_target(page: Path, url: str) -> Path | None:
    url = url.split("#")[0].split("?")[0]
    if not url or re.match(r"^[a-z]+:", url):
        return None
    return (page.parent / url).resolve()


def page_weight(page: Path) -> tuple[int, int]:
    """(bytes da página + imagens, bytes incluindo CSS, JS e o MathJax que ela carrega)."""
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    images = {_local_target(page, img["src"]) for img in soup.find_all("img", src=True)}
    assets = {_local_target(page, s["src"]) for s in soup.find_all("script", src=True)}
    assets |= {_local_target(page, link["href"]) for link in soup.find_all("link", href=True)
               if {"stylesheet", "preload"} & set(link.get("rel", []))}
    own = page.stat().st_size + sum(p.stat().st_size for p in images if p and p.exists())
    return own, own + sum(p.stat().st_size for p in assets if p and p.exists())


def test_page_weight_with_images_at_most_2_mb(built_site):
    html, _ = built_site
    print("\nPeso das páginas (página + imagens | com CSS, JS e MathJax):")
    heavy = []
    for path in _page_paths(html):
        own, total = page_weight(path)
        print(f"  {path.name:36} {own / 1024:7.0f} KB | {total / 1024:7.0f} KB")
        if own > MAX_PAGE_BYTES:
            heavy.append(f"{path.name}: {own / 1024 / 1024:.2f} MB")
    assert not heavy, "páginas acima de 2 MB com as imagens:\n" + "\n".join(heavy)


def test_figures_have_screen_resolution(built_site):
    html, _ = built_site
    problems = []
    for png in sorted((html / "_images").glob("*.png")):
        width, _height = Image.open(png).size
        if width > MAX_FIGURE_WIDTH or png.stat().st_size > MAX_FIGURE_BYTES:
            problems.append(f"{png.name}: {width} px, {png.stat().st_size // 1024} KB")
    assert not problems, "figuras grandes demais:\n" + "\n".join(problems)


def test_no_page_loads_anything_from_outside(built_site):
    """Nenhum script, estilo, imagem ou fonte vem de outro servidor; o MathJax é local."""
    html, _ = built_site
    assert (html / "_static" / "mathjax" / "tex-chtml.js").exists(), (
        "o MathJax não foi copiado para o site: rode `make mathjax`")
    assert list((html / "_static" / "mathjax" / "output" / "chtml" / "fonts").rglob("*.woff"))
    external = []
    for path in html.rglob("*.html"):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for tag in soup.find_all(["script", "img", "iframe", "source", "video", "audio"]):
            if re.match(r"^(https?:)?//", tag.get("src", "")):
                external.append(f"{path.relative_to(html)}: {tag['src']}")
        for link in soup.find_all("link", href=True):
            rel = set(link.get("rel", []))
            if rel & {"stylesheet", "preload", "icon", "modulepreload"} and re.match(
                    r"^(https?:)?//", link["href"]):
                external.append(f"{path.relative_to(html)}: {link['href']}")
    assert not external, "recursos de fora do site:\n" + "\n".join(external)
