"""A execução de diagnóstico: roda dentro da caixa de areia o notebook inteiro da entrega.

Executado como script (``python -I runner.py``), sem importar nada das ferramentas do curso. Lê
o notebook (já preparado pelo corretor) da entrada padrão, executa as células de código em
ordem num shell do IPython neste mesmo processo — pulando, como o otter, as células marcadas
``otter_ignore`` — e escreve no canal dos resultados, em JSON, os erros de cada célula. Nenhum
ponto sai daqui: a nota vem do avaliador (``scorer.py``), que roda noutra caixa; por isso não
há um kernel à parte (o notebook roda como num kernel: ``get_ipython()``, mágicas, ``display``),
o que poupa a partida do kernel e do ZeroMQ em cada entrega. Um alarme (``SIGALRM``) interrompe,
com ``TimeoutError``, a célula que passar do limite, e a execução continua.

Tudo o que a execução escreve fica numa pasta própria, criada dentro da pasta temporária
(``TMPDIR``: na caixa, a pasta de trabalho em memória; sem isolamento, a pasta da entrega dentro
de ``.trabalho``): ela é o ``HOME``, a pasta do IPython (``IPYTHONDIR``), as pastas de
configuração e de cache e a pasta em que o notebook roda. Assim, nem sem isolamento a correção
escreve no ``HOME`` do professor. O que as células imprimem vai para ``/dev/null``.
"""

import ctypes
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

PR_SET_DUMPABLE = 4
IGNORE_TAG = "otter_ignore"


def ignored(cell):
    """Se a célula é pulada na correção, como o otter faz (etiqueta ou metadado)."""
    metadata = cell.get("metadata", {})
    otter = metadata.get("otter", {})
    return IGNORE_TAG in metadata.get("tags", []) or (isinstance(otter, dict)
                                                      and otter.get("ignore", False))


def source(cell):
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def private_home():
    """Cria a pasta própria desta execução dentro de ``TMPDIR`` e a torna o ``HOME``, a pasta
    do IPython, a do Jupyter, a do matplotlib, as pastas XDG e a pasta atual."""
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


def timeout(limit):
    def interrupt(signum, frame):
        raise TimeoutError(
            f"a execução passou de {limit:g} s e foi interrompida pelo corretor (laço infinito?)")
    return interrupt


def run_cells(cells, limit):
    """Executa as células em ordem; os erros: a posição original, o tipo e a mensagem."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    signal.signal(signal.SIGALRM, timeout(limit))
    found = []
    for cell in cells:
        if cell.get("cell_type") != "code" or ignored(cell):
            continue
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            result = shell.run_cell(source(cell), store_history=True)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        error = result.error_in_exec or result.error_before_exec
        index = cell.get("metadata", {}).get("residuais_cell")
        if error is not None and index is not None:
            found.append({"cell": index, "name": type(error).__name__[:200],
                          "value": str(error)[:2000]})
    return found


def main():
    job = json.loads(sys.stdin.buffer.read())
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # o que as células imprimem não é o resultado (o stderr é o registro)
        os.dup2(devnull, fd)
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    private_home()
    result = {"cell_errors": [], "error": None}
    try:
        result["cell_errors"] = run_cells(job["notebook"]["cells"], job["cell_timeout"])
    except BaseException as exc:  # o notebook encerrou o Python (SystemExit) ou algo pior
        result["error"] = {"name": type(exc).__name__, "value": str(exc)[:500]}
    out.write(json.dumps(result, ensure_ascii=False))
    out.close()
    os._exit(0)  # sem esperar linhas de execução que o notebook tenha deixado


if __name__ == "__main__":
    main()
