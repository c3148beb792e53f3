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
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import torch

from coursetools.coursework.box import Box, BoxFailure


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
