"""As duas edições do site, feitas dos mesmos notebooks.

- **estudante** (``make book``, o que o curso publica): os capítulos são os notebooks do
  estudante da liberação (sem a solução de nenhum exercício de programação, sem teste oculto),
  com as saídas do notebook do professor nas demais células; o botão de download entrega esse
  notebook. As soluções dos exercícios conceituais continuam nos blocos recolhidos. Com
  ``--solucoes`` (``make book SOLUCOES=1``), as respostas de referência dos exercícios de
  programação aparecem também (um site para estudo individual, ou depois do prazo); os testes
  ocultos, nunca.
- **professor** (``make book-professor``): o livro como está em ``book/``, com tudo.

A edição do estudante é montada numa cópia das fontes em ``_build/fontes/estudante`` e
construída com ``coursetools.build.build_site``. A liberação (``otter assign``) é refeita só
quando algum capítulo mudou desde a última.

    python -m coursetools.editions estudante [--solucoes] [--out PASTA]
    python -m coursetools.editions professor [--out PASTA]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coursetools import book, build
from coursetools import student as student_notebook
from coursetools.cli import PortugueseParser

SOURCES = "_build/fontes/estudante"  # as fontes montadas da edição do estudante
RELEASE = "_build/liberacao"  # a liberação que a edição do estudante usa
PROFESSOR = "_build/professor"  # saída da edição do professor
STAMP = ".capitulos.sha256"  # na liberação: de que versão dos capítulos ela foi feita
# o que vai para as fontes da edição do estudante, além dos capítulos
COPIED = ("_config.yml", "_toc.yml", "_ext", "_tema", "_templates", "locale")


def chapters_digest(root: Path) -> str:
    """Uma impressão digital dos capítulos, dos testes ocultos e da configuração do livro."""
    digest = hashlib.sha256()
    files = [*book.chapter_notebooks(root), *sorted((root / "book" / "ocultos").glob("*.py")),
             root / "_config.yml"]
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


SITE_STAMP = ".edicao.json"  # no site construído: que edição é e de que fontes saiu
SITE_SOURCES = (*COPIED, "book", "code/residuais")


def sources_digest(root: Path) -> str:
    """Uma impressão digital de tudo de que o site é feito (capítulos, páginas, configuração,
    tema, extensões e o pacote que as páginas mostram)."""
    digest = hashlib.sha256()
    for name in SITE_SOURCES:
        path = root / name
        if not path.exists():
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix in (".pyc", ".mo"):
                continue
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def site_is_current(root: Path, site: Path) -> bool:
    """Se ``site`` é a edição do estudante (sem soluções) construída das fontes atuais."""
    stamp = site / SITE_STAMP
    if not stamp.exists():
        return False
    recorded = json.loads(stamp.read_text(encoding="utf-8"))
    return recorded == {"edicao": "estudante", "solucoes": False, "fontes": sources_digest(root)}


def ensure_release(root: Path, out: Path | None = None, log=print) -> Path:
    """A liberação em ``out`` (padrão: ``_build/liberacao``), refeita se os capítulos mudaram
    desde a última."""
    from coursetools.coursework import release

    out = out or root / RELEASE
    digest = chapters_digest(root)
    stamp = out / STAMP
    if stamp.exists() and stamp.read_text() == digest and (out / "manifesto.json").exists():
        return out
    log("Liberando os capítulos (otter assign) para a edição do estudante ...")
    release(out, root, log=log)
    stamp.write_text(digest)
    return out


def assemble_student_sources(root: Path, release_dir: Path, sources: Path,
                             solutions: bool = False) -> Path:
    """Monta em ``sources`` as fontes da edição do estudante e devolve a pasta."""
    from coursetools.coursework.manifest import load_release

    shutil.rmtree(sources, ignore_errors=True)
    (sources / "book").mkdir(parents=True)
    for name in COPIED:
        path = root / name
        if path.is_dir():
            shutil.copytree(path, sources / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
        else:
            shutil.copy(path, sources / name)
    for path in (root / "book").iterdir():
        if path.is_file() and path.suffix in (".md", ".bib"):
            shutil.copy(path, sources / "book" / path.name)
    shutil.copytree(root / "book" / "diagramas", sources / "book" / "diagramas")
    # o código do pacote, que as páginas mostram (literalinclude) e a referência documenta
    shutil.copytree(root / "code" / "residuais", sources / "code" / "residuais",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # o MathJax local, que o _config.yml publica de _build/static
    (sources / "_build").mkdir()
    (sources / "_build" / "static").symlink_to(root / "_build" / "static")
    released = load_release(release_dir)
    for notebook in book.chapter_notebooks(root):
        master = json.loads(notebook.read_text(encoding="utf-8"))
        chapter = released.get(notebook.stem)
        if chapter is None:  # capítulo sem exercícios avaliados: vai como está
            shutil.copy(notebook, sources / "book" / notebook.name)
            continue
        released_student = json.loads((release_dir / chapter.student).read_text(encoding="utf-8"))
        page = student_notebook.with_outputs(released_student, master, solutions=solutions)
        (sources / "book" / notebook.name).write_text(
            json.dumps(page, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return sources


def build_student_edition(root: Path, out: Path | None = None, solutions: bool = False,
                          release_dir: Path | None = None, log=print) -> tuple[Path, str]:
    """Constrói a edição do estudante em ``out/_build/html`` (padrão: ``_build/html`` do livro),
    com as fontes montadas em ``out/_build/fontes/estudante``; devolve a pasta do HTML e o
    registro da construção."""
    out = out or root
    release_dir = ensure_release(root, release_dir, log)
    digest = sources_digest(root)
    sources = assemble_student_sources(root, release_dir, out / SOURCES, solutions)
    _, log = build.build_site(sources, out)
    html = out / "_build" / "html"
    (html / SITE_STAMP).write_text(json.dumps(
        {"edicao": "estudante", "solucoes": solutions, "fontes": digest}), encoding="utf-8")
    return html, log


def build_professor_edition(root: Path, out: Path | None = None) -> tuple[Path, str]:
    """Constrói a edição do professor (o livro de ``book/`` como está)."""
    out = out or root / PROFESSOR
    _, log = build.build_site(root, out)
    return out / "_build" / "html", log


def main(argv: Sequence[str] | None = None) -> int:
    parser = PortugueseParser(prog="python -m coursetools.editions",
                              description="Constrói a edição do estudante ou a do professor.")
    parser.add_argument("edicao", choices=("estudante", "professor"), help="qual edição")
    parser.add_argument("--solucoes", action="store_true",
                        help="(estudante) publica também as soluções dos exercícios de "
                        "programação")
    parser.add_argument("--out", type=Path, default=None, metavar="PASTA",
                        help="o site vai para PASTA/_build/html")
    args = parser.parse_args(argv)
    root = book.find_root()
    start = time.perf_counter()
    try:
        if args.edicao == "estudante":
            html, _ = build_student_edition(root, args.out, args.solucoes)
        else:
            html, _ = build_professor_edition(root, args.out)
    except build.BuildError as exc:
        print(f"Erro: {exc}", file=sys.stderr)
        return 1
    print(f"Edição do {args.edicao} pronta em {time.perf_counter() - start:.1f} s: "
          f"abra {html / 'index.html'}")
    print(f"ou sirva com: {Path(sys.executable).parent / 'python'} -m http.server -d {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
