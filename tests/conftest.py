"""Peças comuns dos testes: a raiz do repositório, os capítulos do _toc.yml e o site construído."""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from coursetools import book, build, editions
from coursetools.coursework import sandbox

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def hidden_module(name: str) -> ModuleType:
    """O módulo dos testes ocultos ``book/ocultos/<name>.py`` (só o professor o tem; no corretor,
    o otter o copia ao lado do notebook), carregado pelo caminho."""
    path = ROOT / "book" / "ocultos" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ocultos.{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bwrap() -> None:
    """Os testes da caixa de areia precisam do bubblewrap: sem ele, falham (não são pulados),
    para que uma máquina sem isolamento nunca pareça aprovada."""
    if not sandbox.bwrap_works():
        pytest.fail("O bubblewrap (bwrap) não funciona nesta máquina, e a correção depende dele. "
                    "Instale-o com `make sysdeps` (ou `sudo apt-get install bubblewrap`).")


def toc_files() -> list[str]:
    """Os documentos do _toc.yml, na ordem (sem extensão), começando pela raiz."""
    return book.toc_files(ROOT)


def chapter_notebooks() -> list[Path]:
    """Os capítulos (notebooks) listados no _toc.yml."""
    return book.chapter_notebooks(ROOT)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> tuple[Path, str]:
    """Constrói a edição do estudante (o site que se publica) numa pasta temporária, com avisos
    tratados como erros, a partir de uma liberação feita ali mesmo."""
    out = tmp_path_factory.mktemp("site")
    try:
        return editions.build_student_edition(ROOT, out, release_dir=out / "liberacao",
                                              log=lambda _: None)
    except build.BuildError as exc:
        pytest.fail(f"A construção do site falhou:\n{exc.log[-5000:]}")


# --------------------------------------------------------------------------------------------
# faixas de testes (marcadores) e execução em paralelo (pytest-xdist, --dist loadfile: cada
# arquivo, e cada capítulo, inteiro num processo, porque o nbval executa as células em ordem)
# --------------------------------------------------------------------------------------------

# a faixa de cada arquivo de testes; os que não estão aqui são testes de unidade
LANES = {
    "test_site": "site",
    "test_quality": "site",
    "test_leaks": "site",
    "test_cloud_notebook": "grading",
    "test_browser": "browser",
    "test_pdf": "browser",
    "test_coursework": "grading",
    "test_grading": "grading",
    "test_harness": "grading",
    "test_hostile": "grading",
    "test_sandbox": "grading",
}


def pytest_configure(config: pytest.Config) -> None:
    # Com o pytest-xdist, dois processos dividem os 2 núcleos: com duas threads do PyTorch em
    # cada um, as threads disputam a CPU e tudo fica várias vezes mais lento (medido). Uma thread
    # por processo; os kernels dos capítulos e das correções herdam a variável.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("MKL_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        lane = "notebooks" if path.suffix == ".ipynb" else LANES.get(path.stem, "unit")
        item.add_marker(getattr(pytest.mark, lane))


# Uma bomba de processos, para os testes da caixa de areia: imprime quantos filhos conseguiu criar.
FORK_BOMB = """
import os, time
children = 0
try:
    while children < 5000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError:
    pass
print(children)
"""
