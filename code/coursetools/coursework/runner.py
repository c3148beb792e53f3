"""A execução de diagnóstico: roda dentro da caixa de areia o notebook inteiro da entrega.

Executado como script (``python -I runner.py``), sem importar nada das ferramentas do curso. Lê
o notebook (já preparado pelo corretor) da entrada padrão, executa-o num kernel com o
``nbclient`` — pulando, como o otter, as células marcadas ``otter_ignore`` — e escreve na saída
padrão, em JSON, os erros de cada célula. Nenhum ponto sai daqui: a nota vem do avaliador
(``scorer.py``), que roda noutra caixa. Um arquivo de inicialização do IPython interrompe, com
``TimeoutError``, a célula que passar do limite, e a execução continua.

Tudo o que a execução escreve fica numa pasta própria, criada dentro da pasta temporária
(``TMPDIR``: na caixa, a pasta de trabalho em memória; sem isolamento, a pasta da entrega dentro
de ``.trabalho``): ela é o ``HOME``, a pasta do IPython (``IPYTHONDIR``, com o arquivo de
inicialização), as pastas de configuração e de cache e a pasta em que o notebook roda. Assim,
nem sem isolamento a correção escreve no ``HOME`` do professor.
"""

import ctypes
import json
import os
import sys
import tempfile
from pathlib import Path

PR_SET_DUMPABLE = 4
IGNORE_TAG = "otter_ignore"

KERNEL_STARTUP = '''\
# Instalado pelo corretor do curso no kernel de cada correção.
import signal as _signal

_LIMIT = {limit!r}


def _residuais_timeout(signum, frame):
    raise TimeoutError(
        f"a execução passou de {{_LIMIT:g}} s e foi interrompida pelo corretor (laço infinito?)"
    )


_signal.signal(_signal.SIGALRM, _residuais_timeout)
_ip = get_ipython()
_ip.events.register(
    "pre_run_cell", lambda info: _signal.setitimer(_signal.ITIMER_REAL, _LIMIT, _LIMIT)
)
_ip.events.register("post_run_cell", lambda result: _signal.setitimer(_signal.ITIMER_REAL, 0))
del _ip
'''


def ignored(cell):
    """Se a célula é pulada na correção, como o otter faz (etiqueta ou metadado)."""
    metadata = cell.get("metadata", {})
    otter = metadata.get("otter", {})
    return IGNORE_TAG in metadata.get("tags", []) or (isinstance(otter, dict)
                                                      and otter.get("ignore", False))


def errors(notebook):
    """Os erros das células executadas: a posição original, o tipo e a mensagem."""
    found = []
    for cell in notebook.cells:
        index = cell.get("metadata", {}).get("residuais_cell")
        for out in cell.get("outputs", []) if index is not None else []:
            if out.get("output_type") == "error":
                found.append({"cell": index, "name": str(out.get("ename", ""))[:200],
                              "value": str(out.get("evalue", ""))[:2000]})
    return found


def private_home():
    """Cria a pasta própria desta execução dentro de ``TMPDIR`` e a torna o ``HOME``, a pasta
    do IPython, a do Jupyter, a do matplotlib, as pastas XDG e a pasta atual (o kernel herda
    tudo isso)."""
    home = Path(tempfile.mkdtemp(prefix="diagnostico-")).resolve()
    os.environ["HOME"] = str(home)
    os.environ["IPYTHONDIR"] = str(home / ".ipython")
    os.environ["JUPYTER_RUNTIME_DIR"] = str(home / ".jupyter" / "runtime")
    os.environ["MPLCONFIGDIR"] = str(home / ".config" / "matplotlib")
    for name, folder in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache"),
                         ("XDG_DATA_HOME", ".local/share")):
        os.environ[name] = str(home / folder)
    os.environ.pop("XDG_RUNTIME_DIR", None)
    os.chdir(home)
    return home


def main():
    job = json.loads(sys.stdin.buffer.read())
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    home = private_home()
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-corretor.py").write_text(KERNEL_STARTUP.format(limit=job["cell_timeout"]),
                                            encoding="utf-8")
    sys.modules.setdefault("rfc3987_syntax", None)  # importação lenta e inútil aqui

    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    notebook = nbformat.from_dict(job["notebook"])
    notebook.cells = [c for c in notebook.cells if not ignored(c)]
    client = NotebookClient(notebook, timeout=job["cell_timeout"] + 10, allow_errors=True,
                            kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(home)}})
    result = {"cell_errors": [], "error": None}
    try:
        client.execute()
    except DeadKernelError as exc:
        result["error"] = {"name": "DeadKernelError", "value": str(exc)[:500]}
    except Exception as exc:
        result["error"] = {"name": type(exc).__name__, "value": str(exc)[:500]}
    result["cell_errors"] = errors(notebook)
    out.write(json.dumps(result, ensure_ascii=False))
    out.close()


if __name__ == "__main__":
    main()
