"""O subprocesso que corrige uma entrega com o ``otter run`` (sem Docker): o lado de dentro
(``python -m coursetools.coursework _worker``), o lado de fora, que o lança e o encerra se
passar do tempo, e o encerramento da árvore de processos, o kernel inclusive."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coursetools.cli import PortugueseParser
from coursetools.coursework.common import (
    COMMAND,
    DEFAULT_CELL_TIMEOUT,
    WORKER_COMMAND,
    skip_slow_import,
)

MARK = "RESIDUAIS_GRADING"  # a variável de ambiente que marca os processos de uma correção
TIMEOUT = "timeout"  # o erro de ``run_worker`` quando o subprocesso passa do tempo

KERNEL_STARTUP = '''\
# Instalado pelo corretor do curso (coursetools.coursework) no kernel de cada correção.
import signal as _signal
import sys as _sys

_sys.modules.setdefault("rfc3987_syntax", None)  # importação lenta e inútil aqui
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


# --------------------------------------------------------------------------------------------
# dentro do subprocesso
# --------------------------------------------------------------------------------------------


def work(notebook: Path, autograder: Path, output: Path, cell_timeout: float) -> int:
    """Corrige um notebook com o ``otter run`` (sem Docker) e grava o resultado em JSON.

    Roda num subprocesso próprio, que o processo principal encerra se passar do tempo. Um
    arquivo de inicialização do IPython no kernel interrompe, com ``TimeoutError``, a célula
    que passar de ``cell_timeout`` segundos, para que um laço infinito num exercício não tire
    os pontos dos outros.
    """
    skip_slow_import()
    ipython_dir = Path(tempfile.mkdtemp(prefix="ipython-", dir=notebook.parent))
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-corretor.py").write_text(KERNEL_STARTUP.format(limit=float(cell_timeout)),
                                            encoding="utf-8")
    os.environ["IPYTHONDIR"] = str(ipython_dir)

    import otter.run
    from nbclient import NotebookClient

    # Ao fim da execução o kernel não tem nada a salvar (o otter já gravou os resultados):
    # encerrá-lo de imediato poupa uns 2 s por entrega.
    NotebookClient.shutdown_kernel.default_value = "immediate"

    data: dict[str, Any] = {"questions": {}, "cell_errors": [], "error": None}
    try:
        results = otter.run.main(str(notebook), autograder=str(autograder), output_dir=None,
                                 no_logo=True)
    except Exception as exc:
        data["error"] = {"name": type(exc).__name__, "value": str(exc)}
    else:
        _collect(results, data)
    output.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return 0


def _collect(results: Any, data: dict[str, Any]) -> None:
    """Passa para ``data`` as notas de cada exercício e os erros das células da entrega."""
    if results.catastrophic_error is not None:
        exc = results.catastrophic_error
        data["error"] = {"name": type(exc).__name__, "value": str(exc)}
    for name, test_file in results.results.items():
        data["questions"][name] = {
            "score": test_file.score,
            "possible": test_file.possible,
            "cases": [{"hidden": r.test_case.hidden, "passed": r.passed,
                       "message": r.message or ""} for r in test_file.test_case_results],
        }
    for cell in (results.notebook or {}).get("cells", []):
        index = cell.get("metadata", {}).get("residuais_cell")
        for out in cell.get("outputs", []) if index is not None else []:
            if out.get("output_type") == "error":
                data["cell_errors"].append({"cell": index, "name": out.get("ename", ""),
                                            "value": out.get("evalue", "")})


def main(argv: Sequence[str]) -> int:
    """``python -m coursetools.coursework _worker NOTEBOOK CORRETOR SAÍDA``: uso interno."""
    parser = PortugueseParser(prog=f"{COMMAND} {WORKER_COMMAND}")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("autograder", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_TIMEOUT)
    args = parser.parse_args(argv)
    return work(args.notebook, args.autograder, args.output, args.cell_timeout)


# --------------------------------------------------------------------------------------------
# fora do subprocesso
# --------------------------------------------------------------------------------------------


def marked_processes(token: str) -> list[Any]:
    """Os processos que herdaram a marca ``token`` no ambiente (o subprocesso e o kernel)."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == token:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def kill(process: subprocess.Popen | None, token: str) -> None:
    """Encerra o subprocesso de correção e tudo o que ele abriu, o kernel inclusive.

    O kernel roda noutra sessão (o jupyter_client o separa) e pode ficar órfão, então, além dos
    filhos, procuramos os processos que herdaram a marca ``token`` no ambiente.
    """
    import psutil

    victims = []
    if process is not None and process.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(process.pid)
            victims = [parent, *parent.children(recursive=True)]
    victims += marked_processes(token)
    for victim in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            victim.kill()
    psutil.wait_procs(victims, timeout=10)
    if process is not None:
        process.wait()


def run_worker(
    notebook: Path, autograder: Path, timeout: float, cell_timeout: float
) -> tuple[dict[str, Any] | None, str]:
    """Corrige um notebook num subprocesso; ``(resultado, erro)``. O resultado é ``None`` se o
    subprocesso passou do tempo (erro ``TIMEOUT``) ou falhou (o erro diz como: o final do
    registro do subprocesso)."""
    output = notebook.with_suffix(".json")
    token = uuid.uuid4().hex
    env = {**os.environ, MARK: token, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "coursetools.coursework", WORKER_COMMAND, str(notebook),
               str(autograder), str(output), "--cell-timeout", str(cell_timeout)]
    log = notebook.with_suffix(".log")
    with open(log, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd=notebook.parent,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill(process, token)
            return None, TIMEOUT
        finally:
            kill(None, token)  # um kernel que tenha sobrado
    if output.exists():
        return json.loads(output.read_text(encoding="utf-8")), ""
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
    return None, "\n".join(tail)
