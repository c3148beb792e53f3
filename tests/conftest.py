"""Peças comuns dos testes: a raiz do repositório, os capítulos do _toc.yml e o site construído."""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from coursetools import book, build, editions

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


# --------------------------------------------------------------------------------------------
# respostas que atacam o avaliador (test_scorer.py e, de ponta a ponta, test_hostile.py): todas
# respondem o exercício 1 do capítulo 1 com 0,0 (errado) e tentam passar assim mesmo
# --------------------------------------------------------------------------------------------

FORGED_RESULT = '{"name": "q1_autocorrelacao", "load_error": null, "cases": [' + ", ".join(
    ['{"passed": true, "message": "ok"}'] * 8) + "]}"

# ataques que a inspeção reconhece no código
ATTACKS = {
    # desliga a verificação por um caminho de atributos (sem importar residuais.checks)
    "desliga_fail": '''
import torch, residuais
core = residuais.checks.core
core.fail = lambda *a, **k: None
def autocorrelation(g, lag):
    return 0.0
''',
    # envenena o cache da análise da fonte de ``forbidden`` (residuais.checks.core): a resposta
    # passaria por limpa mesmo chamando uma função proibida por outro caminho
    "envenena_cache": '''
import torch, residuais
cache = residuais.checks.core._CHAINS_BY_CODE
def autocorrelation(g, lag):
    return 0.0
cache[autocorrelation.__code__] = frozenset()
''',
    # chega ao módulo os por um atributo do torch e escreve um resultado forjado no cano
    "forja_por_os": f'''
import torch
o = torch.serialization.os
def forge():
    for fd in range(3, 64):
        try:
            o.write(fd, {FORGED_RESULT!r}.encode())
        except OSError:
            pass
    o._exit(0)
done = forge()
def autocorrelation(g, lag):
    return 0.0
''',
}

# ataques que a inspeção não reconhece: a defesa é do avaliador em tempo de execução
RUNTIME_ATTACKS = {
    # escreve o resultado forjado pelo caminho /proc/self/fd/N, sem o módulo os
    "forja_por_arquivo": f'''
import numpy as np
def forge():
    for fd in range(3, 64):
        try:
            np.savetxt(f"/proc/self/fd/{{fd}}", [], header={FORGED_RESULT!r}, comments="")
        except Exception:
            pass
done = forge()
def autocorrelation(g, lag):
    return 0.0
''',
    # troca um método do tensor por um apelido da classe: a comparação passaria a mentir
    "remenda_tensor": '''
import torch
def autocorrelation(g, lag):
    Tensor = torch.Tensor
    Tensor.item = lambda self: 0.0
    Tensor.__float__ = lambda self: 0.0
    return 0.0
''',
}
