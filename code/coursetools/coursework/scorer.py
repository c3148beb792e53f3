"""O avaliador: roda dentro da caixa de areia e dá os pontos de cada exercício.

Executado como script (``python -I scorer.py``), sem importar nada das ferramentas do curso.
Lê da entrada padrão um JSON com, para cada exercício, as definições da resposta (só elas, já
separadas do resto do notebook pelo corretor) e os casos de teste; escreve na saída padrão uma
linha JSON por exercício.

Antes de qualquer código do estudante, importa as funções de verificação que os testes usam
(as linhas ``from ... import ...`` dos casos) e guarda as referências. Cada exercício roda num
processo filho próprio (``fork``): as definições da resposta são executadas num espaço de nomes
novo, as verificações já importadas são postas por cima, e os casos rodam como doctests. O
filho não herda a saída padrão (o canal dos resultados): fala só pelo seu próprio cano, e este
processo, que nunca executa código do estudante, fica sem permissão de depuração
(``PR_SET_DUMPABLE = 0``) para que nenhum filho reabra os seus descritores por ``/proc``.
"""

import ast
import builtins
import ctypes
import doctest
import io
import json
import linecache
import os
import select
import signal
import sys
import time
from contextlib import redirect_stderr, redirect_stdout, suppress

RESULT_FD = []  # o descritor do canal dos resultados, que os filhos fecham
RESULT_LIMIT = 1 << 20  # bytes que lemos, no máximo, do resultado de um exercício
PR_SET_DUMPABLE = 4


def is_import(source):
    """Se um exemplo do doctest é só uma importação (``from x import y``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return bool(tree.body) and all(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body)


def split_case(code, name):
    """Os exemplos de um caso: as importações (rodam antes do estudante) e o resto."""
    examples = [e for e in doctest.DocTestParser().parse(code, name)
                if isinstance(e, doctest.Example)]
    imports = [e for e in examples if is_import(e.source)]
    return imports, [e for e in examples if not is_import(e.source)]


def run_examples(examples, namespace, name):
    """Roda os exemplos como o otter roda um caso (doctest); ``(passou, mensagem)``."""
    test = doctest.DocTest(examples, namespace, name, None, None, None)
    runner = doctest.DocTestRunner(verbose=True)
    output = io.StringIO()
    with redirect_stdout(output), redirect_stderr(output):
        runner.run(test, clear_globs=False)
    failed = runner.failures > 0
    if not failed:
        return True, "✅ Test case passed"
    return False, "❌ Test case failed\n" + output.getvalue()


def child(question, bound, write_fd):
    """No processo filho: carrega a resposta, roda os casos e manda o resultado pelo cano."""
    for fd in RESULT_FD:
        os.close(fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.setpgid(0, 0)
    filename = f"<resposta {question['name']}>"
    source = question["source"]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    result = {"name": question["name"], "load_error": None, "cases": []}
    try:
        exec(compile(source, filename, "exec"), namespace)
    except BaseException as exc:
        result["load_error"] = f"{type(exc).__name__}: {exc}"[:2000]
    for index, (examples, names) in enumerate(question["prepared"]):
        namespace.update({n: bound[n] for n in names})
        passed, message = run_examples(examples, namespace, f"{question['name']} {index}")
        result["cases"].append({"passed": passed, "message": message[:20000]})
    data = json.dumps(result, ensure_ascii=False).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(write_fd, view[:65536]):]
    os._exit(0)


def score(question, bound, timeout):
    """Roda um exercício num filho, com limite de tempo; o resultado (ou o motivo da falha)."""
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            child(question, bound, write_fd)
        finally:
            os._exit(1)
    os.close(write_fd)
    data, deadline, timed_out = bytearray(), time.monotonic() + timeout, False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 65536)
        if not chunk or len(data) > RESULT_LIMIT:
            break
        data += chunk
    os.close(read_fd)
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        with suppress(OSError):
            kill()
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return {"name": question["name"], "error": "tempo"}
    try:
        result = json.loads(bytes(data))
    except ValueError:
        code = os.waitstatus_to_exitcode(status)
        return {"name": question["name"], "error": "morreu", "exit": code}
    if not isinstance(result, dict) or result.get("name") != question["name"]:
        return {"name": question["name"], "error": "resultado"}
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def prepare(questions):
    """Importa as verificações de todos os casos e separa o que roda depois da resposta."""
    bound = {}
    for question in questions:
        question["prepared"] = []
        for index, case in enumerate(question["cases"]):
            imports, rest = split_case(case, f"{question['name']} {index}")
            names = []
            for example in imports:
                scope = {}
                exec(compile(example.source, "<verificação>", "exec"), scope)
                scope.pop("__builtins__", None)
                bound.update(scope)
                names += list(scope)
            question["prepared"].append((rest, names))
    return bound


def main():
    job = json.loads(sys.stdin.buffer.read())
    sys.path[:0] = job["paths"]
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    RESULT_FD.append(out.fileno())
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    for module in job.get("warm", []):  # importações comuns, feitas uma vez antes dos filhos
        with suppress(Exception):  # o filho verá o erro, se importar
            __import__(module)
    bound = prepare(job["questions"])
    for question in job["questions"]:
        result = score(question, bound, job["timeout"])
        result.pop("prepared", None)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    out.write(json.dumps({"fim": True}) + "\n")
    out.close()


if __name__ == "__main__":
    main()
