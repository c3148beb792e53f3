"""O avaliador: dá os pontos de uma entrega sem que o código do estudante rode neste processo.

Roda fora da caixa de areia, como um processo próprio por entrega
(``python -m coursetools.coursework.harness``, com a pasta dos testes ocultos no
``PYTHONPATH``): recebe da correção, pela entrada padrão, um JSON com as células do notebook,
os casos de teste de cada exercício e a caixa a usar; escreve na saída padrão um JSON com o
resultado de cada caso. Só código do curso roda aqui: as verificações públicas
(``residuais.checks``), as ocultas (``ocultos``) e as referências.

O código do estudante roda na caixa (``worker.py``), que executa o notebook e depois só
responde a chamadas. Nos testes, o nome de cada resposta (``attention``) é um ``Remote``: um
chamável que pede à caixa “chame ``attention`` com estes valores” e recebe de volta só dados
(``wire``), que as verificações conferem aqui, com os valores esperados calculados aqui. Uma
caixa tomada pelo estudante só consegue devolver valores errados.

Ordem: primeiro os casos públicos de todos os exercícios, depois os ocultos. As mensagens dos
públicos (as únicas que o estudante vê) saem antes de a caixa receber qualquer entrada oculta.
Se a caixa morre ou trava numa chamada, o caso falha e uma caixa nova (o notebook executado de
novo) atende os casos seguintes, até ``RESTARTS`` vezes.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import doctest
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import torch
from torch import nn

from coursetools.coursework import wire
from coursetools.coursework.common import STUCK_CELLS, student_text
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


def apply_state(original: Any, returned: Any) -> None:
    """O que a função fez nos argumentos, de volta nos originais: tensores mudados no lugar,
    parâmetros, buffers, modo treino/avaliação e atributos de dados dos módulos (o que as
    verificações conferem, como “não altere o bn recebido”)."""
    if isinstance(original, torch.Tensor):
        if (isinstance(returned, torch.Tensor) and returned.shape == original.shape
                and returned.dtype == original.dtype and not torch.equal(returned, original)):
            with torch.no_grad():
                original.copy_(returned)
    elif isinstance(original, nn.Module) and isinstance(returned, nn.Module):
        _apply_module_state(original, returned)
    elif isinstance(original, list | tuple) and isinstance(returned, list | tuple):
        for a, b in zip(original, returned, strict=False):
            apply_state(a, b)
    elif isinstance(original, dict) and isinstance(returned, dict):
        for key, value in original.items():
            apply_state(value, returned.get(key))


def _apply_module_state(original: nn.Module, returned: nn.Module) -> None:
    original.training = bool(returned.training)
    for kind in ("_parameters", "_buffers"):
        theirs = getattr(returned, kind)
        for key, tensor in getattr(original, kind).items():
            if tensor is not None:
                apply_state(tensor, theirs.get(key))
    mine, theirs = vars(original), vars(returned)
    for key in [k for k in mine if not k.startswith("_") and k in theirs]:
        if wire.plain(mine[key]) and wire.plain(theirs[key]):
            setattr(original, key, theirs[key])
    for key, child in original._modules.items():
        apply_state(child, returned._modules.get(key))


class Remote:
    """O nome de uma resposta nos testes: chamá-lo chama a função na caixa. As verificações
    reconhecem ``remote_rules`` (``residuais.checks.core.forbidden``): as funções proibidas
    não são trocadas aqui (não há o que trocar), só anotadas para a revisão do professor."""

    def __init__(self, box: Box, name: str, timeout: float) -> None:
        self.box, self.name, self.timeout = box, name, timeout
        self.remote_rules: list[Any] = []
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            if self.box.process is None:
                self.box.restart()
            return self.box.call(self.name, args, kwargs, self.timeout)
        except BoxFailure as failure:
            raise failure.for_student(self.timeout) from None

    def __repr__(self) -> str:
        return f"<resposta {self.name}>"


# --------------------------------------------------------------------------------------------
# os casos de teste
# --------------------------------------------------------------------------------------------


def names_used(code: str) -> set[str]:
    """Os nomes que os exemplos de um caso leem e não importam (as respostas)."""
    loaded, bound = set(), set()
    for example in doctest.DocTestParser().get_examples(code):
        with contextlib.suppress(SyntaxError):
            for node in ast.walk(ast.parse(example.source)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    loaded.add(node.id)
                elif isinstance(node, ast.Import | ast.ImportFrom):
                    bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
                elif isinstance(node, ast.Name):
                    bound.add(node.id)
    return loaded - bound - set(dir(builtins))


def run_case(code: str, namespace: dict[str, Any], name: str) -> tuple[bool, str]:
    """Roda um caso como o otter (doctest); ``(passou, saída do doctest)``."""
    examples = doctest.DocTestParser().get_examples(code)
    test = doctest.DocTest(examples, dict(namespace), name, None, None, None)
    runner = doctest.DocTestRunner(verbose=True)
    output = io.StringIO()
    with redirect_stdout(output), redirect_stderr(output):
        runner.run(test, clear_globs=False)
    if runner.failures == 0:
        return True, ""
    return False, output.getvalue()


def grade(job: dict[str, Any]) -> dict[str, Any]:
    """Corrige uma entrega: ``job`` vem da correção (``grading``)."""
    box = Box(job)
    try:
        ready = box.start()
    except BoxFailure as failure:
        box.kill()
        return {"failure": failure.kind, "detail": str(failure), "skipped_cells": box.skipped,
                "log": "".join(box.log)}
    names = ready.get("names") if isinstance(ready.get("names"), dict) else {}
    call_timeout = float(job["call_timeout"])
    used = {q["name"]: {n for c in q["cases"] for n in names_used(c["code"])}
            for q in job["questions"]}
    namespace: dict[str, Any] = {}
    for name in set().union(*used.values()):
        if names.get(name) == "f":
            namespace[name] = Remote(box, name, call_timeout)
        elif names.get(name) == "v":
            with contextlib.suppress(BoxFailure):
                namespace[name] = box.get(name, call_timeout)
    outcomes = {q["name"]: [None] * len(q["cases"]) for q in job["questions"]}
    for hidden in (False, True):  # os públicos de todos antes de qualquer oculto
        for question in job["questions"]:
            for index, case in enumerate(question["cases"]):
                if case["hidden"] == hidden:
                    outcomes[question["name"]][index] = _run_one(case, namespace, question["name"],
                                                                 index)
    rules = {question: {rule.target: rule.reason for n in names_of
                        if isinstance(namespace.get(n), Remote)
                        for rule in namespace[n].remote_rules}
             for question, names_of in used.items()}
    box.kill()
    return {"questions": outcomes, "rules": rules, "cell_errors": ready.get("errors", []),
            "fatal": ready.get("fatal"), "starts": box.starts, "peak_memory": box.peak_memory,
            "skipped_cells": box.skipped, "log": "".join(box.log)}


def _run_one(case: dict[str, Any], namespace: dict[str, Any], question: str,
             index: int) -> dict[str, Any]:
    start = time.monotonic()
    torch.manual_seed(0)  # cada caso começa do mesmo estado, como num processo novo
    passed, output = run_case(case["code"], namespace, f"{question} {index}")
    return {"passed": passed, "output": output[:20000],
            "seconds": round(time.monotonic() - start, 2)}


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # só o resultado sai pela saída padrão
    result = grade(job)
    out.write(json.dumps(result, ensure_ascii=False))
    out.close()


if __name__ == "__main__":
    main()
