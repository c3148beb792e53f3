"""A estrutura do livro e a construção do site (coursetools.book, coursetools.build): raiz,
ordem do sumário, capítulos que faltam e o erro de uma construção que falha."""

import subprocess
import sys

import pytest
from conftest import ROOT

from coursetools import book, build

TOC = """\
format: jb-book
root: book/intro
parts:
  - caption: Capítulos
    chapters:
      - file: book/02_b
        sections:
          - file: book/02_b_extra
      - file: book/01_a.ipynb
  - caption: Apoio
    chapters:
      - file: book/glossario
"""


@pytest.fixture
def tiny_book(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC, encoding="utf-8")
    (tmp_path / "book").mkdir()
    for name in ("intro.md", "glossario.md", "01_a.ipynb", "02_b.ipynb", "02_b_extra.md"):
        (tmp_path / "book" / name).write_text("{}", encoding="utf-8")
    return tmp_path


def test_documents_and_notebooks_follow_the_toc_order(tiny_book):
    assert book.toc_files(tiny_book) == ["book/intro", "book/02_b", "book/02_b_extra",
                                         "book/01_a", "book/glossario"]
    assert book.chapter_notebooks(tiny_book) == [tiny_book / "book" / "02_b.ipynb",
                                                 tiny_book / "book" / "01_a.ipynb"]


def test_a_listed_document_that_does_not_exist_is_an_error(tiny_book):
    (tiny_book / "book" / "01_a.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match=r"não existem: book/01_a \(\.ipynb ou \.md\)"):
        book.chapter_notebooks(tiny_book)


def test_a_toc_outside_the_jupyter_book_format_is_an_error(tiny_book):
    (tiny_book / "_toc.yml").write_text("format: jb-book\nparts: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="não está no formato do Jupyter Book"):
        book.toc_files(tiny_book)


def test_root_is_found_from_a_subfolder_and_from_elsewhere(tiny_book, tmp_path_factory):
    assert book.find_root(tiny_book / "book") == tiny_book
    # fora de qualquer livro, vale a raiz do repositório do próprio pacote
    assert book.find_root(tmp_path_factory.mktemp("solta")) == ROOT


def test_the_course_lists_its_six_chapters():
    names = [path.stem for path in book.chapter_notebooks(ROOT)]
    assert names[0].startswith("01_") and len(names) == 6
    assert names == sorted(names)


def test_build_command_treats_warnings_as_errors(tmp_path):
    command = build.command(ROOT, tmp_path)
    assert command[1:3] == ["-m", "coursetools.jupyterbook"]
    assert command[3:7] == ["build", str(ROOT), "--path-output", str(tmp_path)]
    assert {"--warningiserror", "--nitpick", "--keep-going"} <= set(command)
    assert "--path-output" not in build.command(ROOT)


def test_a_failed_build_raises_with_the_log(tmp_path):
    """Um livro com o _toc.yml quebrado: o Jupyter Book para logo, e o erro traz o registro."""
    (tmp_path / "_config.yml").write_text("title: Mínimo\n", encoding="utf-8")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                       "  - arquivo: capitulo\n", encoding="utf-8")
    (tmp_path / "intro.md").write_text("# Introdução\n", encoding="utf-8")
    with pytest.raises(build.BuildError) as info:
        build.build_site(tmp_path, tmp_path / "saida", timeout=120)
    assert str(info.value).startswith("a construção do site falhou:\n")
    assert "Table of Contents file is malformed" in info.value.log
    assert info.value.returncode != 0


def test_the_build_runner_skips_the_slow_imports_and_still_works():
    """coursetools.jupyterbook: o jsonschema passa sem o rfc3987_syntax e continua validando, e
    a busca de plugins do pybtex é memorizada e acha os mesmos plugins. Em processo novo, para
    que nada importado por outro teste interfira."""
    code = (
        "import sys\n"
        "from coursetools.jupyterbook import skip_slow_imports\n"
        "skip_slow_imports()\n"
        "import jsonschema, pybtex.plugin\n"
        "from jupyter_book.cli.main import main\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
        "schema = {'type': 'object', 'properties': {'title': {'type': 'string'}}}\n"
        "jsonschema.validate({'title': 'Conexões'}, schema)\n"
        "try:\n"
        "    jsonschema.validate({'title': 3}, schema)\n"
        "except jsonschema.ValidationError:\n"
        "    print('inválido recusado')\n"
        "style = pybtex.plugin.find_plugin('pybtex.style.formatting', 'plain')\n"
        "again = pybtex.plugin.find_plugin('pybtex.style.formatting', 'plain')\n"
        "print(style.__module__, again is style, pybtex.plugin.entry_points.cache_info().hits)\n"
        "import snowballstemmer\n"
        "from sphinx.search.pt import SearchPortuguese\n"
        "lang = SearchPortuguese.__new__(SearchPortuguese)\n"
        "lang.stemmer = snowballstemmer.stemmer('portuguese')\n"
        "words = ['conexões', 'residuais', 'conexões', 'normalização']\n"
        "same = [lang.stem(w) for w in words] == snowballstemmer.stemmer('portuguese')"
        ".stemWords(words)\n"
        "print(same, sorted(SearchPortuguese.stem.stems))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "inválido recusado"
    module, same, hits = out[1].split()
    assert module == "pybtex.style.formatting.plain" and same == "True" and int(hits) >= 1
    assert out[2] == "True ['conexões', 'normalização', 'residuais']"  # mesmos radicais, guardados


def test_numbered_references_read_each_target_once_and_still_resolve(tmp_path):
    """O atalho das referências numeradas: num projeto Sphinx mínimo, três {numref} para as
    figuras de outro documento resolvem para os números certos, e o documento delas é lido uma
    vez só pelas consultas (sem o atalho, seria uma vez por referência)."""
    source = tmp_path / "fontes"
    source.mkdir()
    (source / "conf.py").write_text("numfig = True\nnumfig_format = {'code-block': 'Lista %s'}\n",
                                      encoding="utf-8")
    (source / "index.rst").write_text(
        "Início\n======\n\n.. toctree::\n\n   a\n   b\n", encoding="utf-8")
    listing = ".. code-block:: python\n   :caption: {0}\n   :name: {0}\n\n   x = {1}\n\n"
    a_text = "A\n=\n\n" + listing.format("um", 1) + listing.format("dois", 2)
    (source / "a.rst").write_text(a_text, encoding="utf-8")
    b_text = "B\n=\n\n:numref:`um`, :numref:`dois` e de novo :numref:`um`.\n"
    (source / "b.rst").write_text(b_text, encoding="utf-8")

    def build(shortcut: bool, out: str) -> list[str]:
        code = (
            "from coursetools.jupyterbook import skip_slow_imports\n"
            + ("skip_slow_imports()\n" if shortcut else "")
            + "from sphinx.cmd.build import build_main\n"
            "from sphinx.environment import BuildEnvironment\n"
            "reads = []\n"
            "original = BuildEnvironment.get_doctree\n"
            "def counting(self, docname):\n"
            "    reads.append(docname)\n"
            "    return original(self, docname)\n"
            "BuildEnvironment.get_doctree = counting\n"
            f"code = build_main(['-q', '-b', 'html', {str(source)!r}, {out!r}])\n"
            "print(code, reads.count('a'))\n"
        )
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.split()

    (code, plain_reads), (code_short, short_reads) = (build(False, str(tmp_path / "sem")),
                                                      build(True, str(tmp_path / "out")))
    assert code == code_short == "0"
    assert int(short_reads) == int(plain_reads) - 2  # 3 consultas a "a", 1 leitura
    pages = [(tmp_path / out / "b.html").read_text(encoding="utf-8") for out in ("sem", "out")]
    assert pages[1].count("Lista 1") == 2 and pages[1].count("Lista 2") == 1
    assert pages[0] == pages[1]


def test_every_diagram_is_committed_as_the_svg_its_dot_draws():
    """O site usa o SVG guardado de cada diagrama (sem o Graphviz na construção); onde o
    Graphviz existe, cada SVG tem de ser o que o seu .dot desenha agora."""
    import shutil

    from coursetools import diagrams

    dots = sorted((ROOT / diagrams.FOLDER).glob("*.dot"))
    assert dots and all(d.with_suffix(".svg").is_file() for d in dots)
    if shutil.which("dot") is None:
        return
    args = diagrams.dot_args(ROOT)
    stale = [d.name for d in dots if diagrams.render(d, args) != d.with_suffix(".svg").read_bytes()]
    assert not stale, f"redesenhe com python -m coursetools.diagrams: {stale}"


def test_subscripts_become_one_line_the_browser_lays_out():
    """Os pedaços de um rótulo com índice viram um só <text> (sem baseline-shift, que deixava
    os índices do tamanho do texto e os pedaços sobrepostos: "hk= f k[hk−1]")."""
    from coursetools.diagrams import tidy_subscripts

    pieces = ('<text text-anchor="start" x="10" y="-5" font-family="DejaVu Sans" '
              'font-size="13.00">h</text>\n'
              '<text text-anchor="start" x="19" y="-5" font-family="DejaVu Sans" '
              'baseline-shift="sub" font-size="13.00">k</text>\n'
              '<text text-anchor="start" x="30" y="-20" font-size="13.00">outra linha</text>\n')
    tidy = tidy_subscripts(pieces)
    assert "baseline-shift" not in tidy and tidy.count("<text") == 2
    assert '<tspan dy="3.90" font-size="9.10">k</tspan>' in tidy and "outra linha" in tidy
    assert all("baseline-shift" not in (ROOT / "book" / "diagramas" / f).read_text()
               for f in ("bloco_residual.svg", "fluxo_residual.svg", "pos_pre_ln.svg"))
