"""A caixa do estudante vista de fora, pelo avaliador (``harness``): abre a caixa de areia com o
notebook do estudante (``worker.py`` lá dentro), conversa com ela só por dados (``wire``), mede a
memória e abre uma caixa nova quando uma morre ou trava; o que a função fez nos argumentos volta
aos originais (``returned_state``)."""

from __future__ import annotations

import builtins
import contextlib
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from coursetools.coursework import wire
from coursetools.coursework.common import STUCK_CELLS, student_text
from coursetools.coursework.returned_state import apply_state
from coursetools.coursework.sandbox import Limits, Sandbox

RESTARTS = 2  # caixas novas por entrega, depois de uma que morreu ou travou numa chamada
START_ATTEMPTS = 3  # tentativas de abrir a caixa quando falta recurso da máquina (EAGAIN)
GRACE = 5.0  # s além do limite por célula antes de dar a célula por travada
TRANSIENT = ("Resource temporarily unavailable", "Cannot allocate memory", "No space left",
             "Too many open files")


class BoxFailure(Exception):
    """A caixa não respondeu: ``kind`` é ``tempo``, ``morreu``, ``protocolo``, ``recurso`` ou
    ``desistiu``."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind

    def for_student(self, timeout: float) -> Exception:
        """O erro como a verificação o mostra ao estudante (``Sua função levantou …``)."""
        if self.kind == "tempo":
            return TimeoutError(f"a chamada passou de {timeout:g} s e foi interrompida (laço "
                                "infinito?)")
        if self.kind == "morreu":
            return RuntimeError("o Python da caixa morreu durante a chamada (a resposta encerra "
                                "o processo ou esgota a memória?)")
        if self.kind == "desistiu":
            return RuntimeError("a caixa morreu ou travou vezes demais nesta entrega; o caso "
                                "não foi executado")
        return RuntimeError("a caixa devolveu algo que não é um valor")


def student_error(type_name: str, message: str) -> Exception:
    """A exceção que a resposta levantou na caixa, refeita aqui: a mesma classe, se for uma
    exceção comum do Python (as verificações esperam ``ValueError`` em alguns casos), ou uma
    classe nova com o mesmo nome (as verificações o citam); a mensagem, cortada e sem caminhos
    de arquivo."""
    name = type_name if type_name.isidentifier() and len(type_name) <= 60 else "Exception"
    text = student_text(message)
    known = getattr(builtins, name, None)
    if isinstance(known, type) and issubclass(known, Exception):
        return known(text)
    return type(name, (Exception,), {"__module__": "caixa"})(text)


class Box:
    """A caixa do estudante e o canal com ela; aberta de novo se morrer."""

    def __init__(self, job: dict[str, Any]) -> None:
        spec = job["box"]
        self.sandbox = Sandbox(spec["isolated"], spec["uid"], tuple(Path(p) for p in spec["binds"]))
        self.tools = Path(spec["tools"])
        self.limits = Limits(seconds=float(job["timeout"]), memory=int(spec["memory"]))
        self.cells = job["cells"]
        self.cell_timeout = float(job["cell_timeout"])
        self.env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg",
                    "PYTHONWARNINGS": "ignore", **({} if spec["isolated"] else
                                                   {"TMPDIR": str(spec["scratch"])})}
        self.process: subprocess.Popen | None = None
        self.frames: queue.Queue = queue.Queue()
        self.drained = threading.Event()
        self.starts = 0
        self.crashes = 0
        self.skipped: list[int] = []  # células puladas por não pararem
        self.log: list[str] = []
        self.peak_memory = 0

    # --- a caixa ----------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Abre a caixa, executa o notebook e devolve a mensagem ``ready``. Falta de recurso da
        máquina na partida (outra correção ao mesmo tempo) é tentada de novo; uma célula que
        não para nem interrompida é pulada numa caixa nova."""
        attempts = 0
        while True:  # cada tentativa tem o limite inteiro: pular uma célula não custa ao estudante
            try:
                return self._start_once(time.monotonic() + self.limits.seconds)
            except BoxFailure as failure:
                if failure.kind == "recurso" and attempts < START_ATTEMPTS - 1:
                    time.sleep(0.5 * 2**attempts)
                    attempts += 1
                elif not (failure.kind == "celula" and len(self.skipped) <= STUCK_CELLS):
                    raise

    def _start_once(self, deadline: float) -> dict[str, Any]:
        self.kill()
        self.starts += 1
        argv = [sys.executable, "-I", str(self.tools / "worker.py")]
        self.process = self.sandbox.popen(argv, self.limits, [self.tools], self.env)
        self.frames = queue.Queue()
        self.drained = threading.Event()
        threading.Thread(target=self._read, args=(self.process, self.frames), daemon=True).start()
        threading.Thread(target=self._drain, args=(self.process,), daemon=True).start()
        threading.Thread(target=self._watch, args=(self.process,), daemon=True).start()
        self._send({"op": "init", "cells": self.cells, "cell_timeout": self.cell_timeout,
                    "skip": self.skipped})
        current = None
        while True:
            left = deadline - time.monotonic()
            try:
                message = self._receive(min(left, self.cell_timeout + GRACE))
            except BoxFailure as failure:
                if failure.kind == "morreu" and self._transient():
                    raise BoxFailure("recurso", "a máquina não tinha recurso para abrir a caixa"
                                     ) from failure
                if failure.kind == "tempo" and current is not None and left > self.cell_timeout:
                    self.skipped.append(current)
                    raise BoxFailure("celula", f"a célula {current} não parou") from failure
                raise
            if message.get("op") == "cell" and type(message.get("index")) is int:
                current = message["index"]
            elif message.get("op") == "ready":
                return message
            else:
                raise BoxFailure("protocolo", "a caixa não respondeu com ready")

    def restart(self) -> None:
        """Abre uma caixa nova depois de uma que morreu numa chamada, até ``RESTARTS`` vezes."""
        if self.crashes >= RESTARTS:
            raise BoxFailure("desistiu", f"a caixa já morreu {self.crashes + 1} vezes")
        self.crashes += 1
        self.start()

    def _transient(self) -> bool:
        """Se a caixa morreu na partida por falta de recurso da máquina (o ``bwrap`` ou o
        ``setpriv`` dizem, no stderr, EAGAIN, ENOMEM...), não por causa do notebook."""
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.drained.wait(timeout=5)
        text = "".join(self.log)[-2000:]
        return any(t in text for t in TRANSIENT) and "Traceback" not in text

    def kill(self) -> None:
        if self.process is not None:
            self.sandbox.stop(self.process)
            self.process = None

    def _read(self, process: subprocess.Popen, frames: queue.Queue) -> None:
        try:
            while True:
                frames.put(wire.read_frame(process.stdout))
        except EOFError:
            frames.put(BoxFailure("morreu", "a caixa fechou o canal"))
        except (wire.WireError, OSError, ValueError) as exc:
            frames.put(BoxFailure("protocolo", str(exc)))

    def _drain(self, process: subprocess.Popen) -> None:
        """O que a caixa escreve no stderr: o registro técnico, só para o professor."""
        total = 0
        while chunk := process.stderr.read(65536):
            total += len(chunk)
            if total <= 200_000:
                self.log.append(chunk.decode("utf-8", errors="replace"))
        self.drained.set()

    def _watch(self, process: subprocess.Popen) -> None:
        """A memória da caixa (o processo dela e os filhos), medida a cada 0,2 s."""
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(process.pid)
            while process.poll() is None:
                rss = 0
                for member in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        rss += member.memory_info().rss
                self.peak_memory = max(self.peak_memory, rss)
                time.sleep(0.2)

    def _send(self, message: dict[str, Any], callback: Callable[[Any], int] | None = None) -> None:
        assert self.process is not None
        try:
            self.process.stdin.write(wire.pack(message, callback))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise BoxFailure("morreu", "a caixa fechou o canal") from exc

    def _receive(self, timeout: float, callables: list | None = None) -> dict[str, Any]:
        """A próxima mensagem da caixa; ``{"C": n}`` nela só pode ser um dos ``callables`` que
        o avaliador mandou nesta chamada (volta o próprio objeto)."""
        try:
            frame = self.frames.get(timeout=timeout)
        except queue.Empty as exc:
            raise BoxFailure("tempo") from exc
        if isinstance(frame, BoxFailure):
            raise frame

        def mine(handle: int) -> Any:
            if callables is None or not 0 <= handle < len(callables):
                raise wire.WireError("chamada de volta desconhecida")
            return callables[handle]

        try:
            message = wire.unpack(*frame, callback=mine)
        except wire.WireError as exc:
            raise BoxFailure("protocolo", str(exc)) from exc
        if not isinstance(message, dict):
            raise BoxFailure("protocolo", "mensagem sem op")
        return message

    # --- as chamadas ------------------------------------------------------------------------

    def call(self, name: str, args: tuple, kwargs: dict, timeout: float) -> Any:
        """``name(*args, **kwargs)`` na caixa; o valor, já conferido como dado."""
        callables: list[Callable[..., Any]] = []

        def handle(value: Any) -> int:
            callables.append(value)
            return len(callables) - 1

        deadline = time.monotonic() + timeout
        try:
            self._send({"op": "call", "name": name, "args": args, "kwargs": kwargs}, handle)
            while True:
                message = self._receive(max(0.0, deadline - time.monotonic()), callables)
                op = message.get("op")
                if op == "callback":
                    self._answer_callback(message, callables)
                elif op == "raise":
                    raise student_error(str(message.get("type")), str(message.get("message")))
                elif op == "return":
                    apply_state(args, message.get("args"))
                    apply_state(kwargs, message.get("kwargs"))
                    return message.get("value")
                else:
                    raise BoxFailure("protocolo", f"op inesperada: {op!r}")
        except BoxFailure:
            self.kill()
            raise

    def get(self, name: str, timeout: float) -> Any:
        self._send({"op": "get", "name": name})
        message = self._receive(timeout)
        if message.get("op") != "return":
            raise BoxFailure("protocolo", "resposta inesperada a get")
        return message.get("value")

    def _answer_callback(self, message: dict[str, Any], callables: list) -> None:
        index = message.get("id")
        if type(index) is not int or not 0 <= index < len(callables):
            raise BoxFailure("protocolo", "chamada de volta desconhecida")
        args, kwargs = message.get("args", ()), message.get("kwargs", {})
        try:
            if not isinstance(args, tuple | list) or not isinstance(kwargs, dict):
                raise TypeError("argumentos inválidos")
            with torch.no_grad():
                value = callables[index](*args, **kwargs)
        except Exception as exc:
            self._send({"op": "error", "message": f"{type(exc).__name__}: {exc}"[:300]})
            return
        self._send({"op": "value", "value": value})
