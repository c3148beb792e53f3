"""O ciclo de vida de uma correção: a pasta de trabalho (apagada antes e depois, também num
SIGTERM), os usuários reservados para as caixas (soltos no fim) e a interrupção (nenhuma caixa nova,
as em andamento encerradas com o seu grupo de processos)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from coursetools.coursework.sandbox import Sandbox


@contextlib.contextmanager
def released(boxes: list[Sandbox]) -> Iterator[None]:
    """Solta, no fim, os usuários reservados para as caixas."""
    try:
        yield
    finally:
        for box in boxes:
            box.release()


@contextlib.contextmanager
def workdir(path: Path) -> Iterator[None]:
    """A pasta de trabalho, apagada antes e depois; SIGTERM também passa pelo ``finally``."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    previous = signal.getsignal(signal.SIGTERM)
    with contextlib.suppress(ValueError):  # fora da thread principal não há o que trocar
        signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGTERM, previous)


def terminate(signum: int, frame: Any) -> None:
    raise SystemExit("correção interrompida (SIGTERM)")


def stop(pool: ThreadPoolExecutor, futures: list[Future], stop: threading.Event) -> None:
    """Para a correção sem esperar a fila: cancela as entregas que não começaram, encerra as
    caixas em andamento (nenhuma caixa nova é aberta) e espera só as threads terminarem."""
    stop.set()
    pool.shutdown(wait=False, cancel_futures=True)
    while not all(f.done() for f in futures):
        kill_boxes()
        wait(futures, timeout=0.2)


def kill_boxes() -> None:
    """Encerra as caixas em andamento: os processos filhos desta correção que abriram uma
    sessão própria (o avaliador de cada entrega), com todo o seu grupo; a caixa que o avaliador
    abriu morre com ele (``--die-with-parent``)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent, session = int(entry.name), int(fields[1]), int(fields[3])
        if parent == me and session == pid:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
