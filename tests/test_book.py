"""A estrutura do livro (residuais.book): raiz, ordem do sumário e capítulos que faltam."""

import pytest
from conftest import ROOT

from residuais import book

TOC = """\
format: jb-book
root: book/intro
parts:
  - caption: Capítulos
    chapters:
      - file: book/02_b
      - file: book/01_a
  - caption: Apoio
    chapters:
      - file: book/glossario
"""


@pytest.fixture
def tiny_book(tmp_path):
    (tmp_path / "_toc.yml").write_text(TOC, encoding="utf-8")
    (tmp_path / "book").mkdir()
    for name in ("intro.md", "glossario.md", "01_a.ipynb", "02_b.ipynb"):
        (tmp_path / "book" / name).write_text("{}", encoding="utf-8")
    return tmp_path


def test_documents_and_notebooks_follow_the_toc_order(tiny_book):
    assert book.toc_files(tiny_book) == ["book/intro", "book/02_b", "book/01_a", "book/glossario"]
    assert book.chapter_notebooks(tiny_book) == [tiny_book / "book" / "02_b.ipynb",
                                                 tiny_book / "book" / "01_a.ipynb"]


def test_a_listed_document_that_does_not_exist_is_an_error(tiny_book):
    (tiny_book / "book" / "01_a.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match=r"não existem: book/01_a \(\.ipynb ou \.md\)"):
        book.chapter_notebooks(tiny_book)


def test_root_is_found_from_a_subfolder_and_from_elsewhere(tiny_book, tmp_path_factory):
    assert book.find_root(tiny_book / "book") == tiny_book
    # fora de qualquer livro, vale a raiz do repositório do próprio pacote
    assert book.find_root(tmp_path_factory.mktemp("solta")) == ROOT


def test_the_course_lists_its_six_chapters():
    names = [path.stem for path in book.chapter_notebooks(ROOT)]
    assert names[0].startswith("01_") and len(names) == 6
    assert names == sorted(names)
