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

Antes de carregar a resposta, o filho se tranca (``lock_down``): um filtro seccomp recusa abrir
arquivos para escrita (inclusive ``/proc/self/fd/N``, o caminho para escrever no cano um
resultado forjado), executar programas e depurar processos — nada disso serve a uma resposta. E
este processo anota, antes dos filhos, cada função, classe e módulo que os módulos carregados
expõem (``watch``): se, depois dos casos, algum foi trocado (``torch.Tensor.item = ...``, a
``fail`` das verificações), o exercício vale zero, seja qual for o resultado dos casos.
Escrever direto no cano (``os.write``) o filtro não impede; por isso a inspeção das respostas
recusa chegar ao ``os`` por qualquer caminho.
"""

import ast
import builtins
import ctypes
import doctest
import io
import json
import linecache
import os
import platform
import select
import signal
import struct
import sys
import time
import types
from contextlib import redirect_stderr, redirect_stdout, suppress

RESULT_FD = []  # o descritor do canal dos resultados, que os filhos fecham
RESULT_LIMIT = 1 << 20  # bytes que lemos, no máximo, do resultado de um exercício
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# chamadas de sistema recusadas depois de trancar: abrir arquivos, executar, depurar, roubar
# descritores de outro processo (números do Linux para cada arquitetura)
LOCKED_SYSCALLS = {
    "x86_64": (0xC000003E, {"open": 2, "creat": 85, "openat": 257, "openat2": 437,
                            "open_by_handle_at": 304, "execve": 59, "execveat": 322,
                            "ptrace": 101, "process_vm_writev": 311, "pidfd_getfd": 438}),
    "aarch64": (0xC00000B7, {"openat": 56, "openat2": 437, "open_by_handle_at": 265,
                             "execve": 221, "execveat": 281, "ptrace": 117,
                             "process_vm_writev": 271, "pidfd_getfd": 438}),
}
# módulos cujos valores todos são conferidos (as verificações e o próprio avaliador); nos
# outros, só funções, classes e módulos (contadores e caches mudam sozinhos)
WATCHED_FULLY = ("residuais", "ocultos", "__main__")


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


def _bpf(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def lock_down():
    """Instala o filtro seccomp (recusa com EACCES): abrir arquivo para escrita e as chamadas
    de ``LOCKED_SYSCALLS``. Abrir para leitura continua (o PyTorch importa módulos e lê
    ``/proc/cpuinfo`` sob demanda). Sem volta, e herdado pelos processos que o filho criar."""
    arch, numbers = LOCKED_SYSCALLS[platform.machine()]
    load, jump_eq, jump_ge, jump_set, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, deny = 0x7FFF0000, 0x00050000 | 13  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO(EACCES)
    # (chamada, posição do argumento com os modos de abertura) — open(path, flags),
    # openat(dirfd, path, flags); os argumentos começam no byte 16 de seccomp_data
    opens = [(numbers[name], 16 + 8 * index) for name, index in (("open", 1), ("openat", 2))
             if name in numbers]
    blocked = sorted(nr for name, nr in numbers.items() if name not in ("open", "openat"))
    # o programa, em blocos: [arquitetura][número][abre?…][proibidas…][libera][recusa]
    # [modos de open…] (cada bloco de modos: carrega o argumento; escrita → recusa; senão libera)
    n_opens, n_blocked = len(opens), len(blocked)
    allow_at = 5 + n_opens + n_blocked
    deny_at = allow_at + 1
    program = [_bpf(load, 4), _bpf(jump_eq, arch, jt=1), _bpf(ret, deny),  # outra arquitetura
               _bpf(load, 0), _bpf(jump_ge, 0x40000000, jt=deny_at - 5)]  # ABI x32
    for i, (nr, _) in enumerate(opens):
        here = 5 + i
        target = deny_at + 1 + 4 * i  # o bloco de modos desta chamada
        program.append(_bpf(jump_eq, nr, jt=target - here - 1))
    for i, nr in enumerate(blocked):
        here = 5 + n_opens + i
        program.append(_bpf(jump_eq, nr, jt=deny_at - here - 1))
    program += [_bpf(ret, allow), _bpf(ret, deny)]
    for _, offset in opens:  # O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND
        program += [_bpf(load, offset), _bpf(jump_set, 0x643, jt=0, jf=1), _bpf(ret, deny),
                    _bpf(ret, allow)]
    code = b"".join(program)
    buffer = ctypes.create_string_buffer(code)
    fprog = ctypes.create_string_buffer(
        struct.pack("HxxxxxxQ", len(program), ctypes.addressof(buffer)))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


WATCHED_KINDS = (types.FunctionType, types.BuiltinFunctionType, types.ModuleType,
                 types.MethodDescriptorType, types.WrapperDescriptorType, classmethod,
                 staticmethod, property)


def _watched(value):
    """Se ``value`` é o que se confere: função, classe, módulo ou descritor de método. Usa
    ``type(value)``, não ``isinstance`` (que lê ``__class__`` e dispara avisos de atributos
    obsoletos)."""
    return issubclass(type(value), type) or type(value) in WATCHED_KINDS


def watch(modules=sys.modules):
    """O que conferir depois dos casos: ``(nome, espaço de nomes, chave, valor)`` para cada
    módulo carregado (em ``sys.modules``), cada função, classe e módulo que os módulos expõem
    (todos os valores nos de ``WATCHED_FULLY``) e cada método dessas classes."""
    entries = [("sys.modules", modules, name, module) for name, module in list(modules.items())]
    classes = {}
    for name, module in list(modules.items()):
        namespace = getattr(module, "__dict__", None) if module is not None else None
        if type(namespace) is not dict:
            continue
        fully = name.split(".")[0] in WATCHED_FULLY
        for key, value in list(namespace.items()):
            if fully or _watched(value):
                entries.append((name, namespace, key, value))
            if issubclass(type(value), type):
                classes[id(value)] = value
    for cls in classes.values():
        owner = f"{cls.__module__}.{cls.__qualname__}"
        for key, value in list(cls.__dict__.items()):
            if _watched(value):
                entries.append((owner, cls.__dict__, key, value))
        # um método novo numa subclasse encobre o da base (torch.Tensor.item = ...)
        entries.append((owner, cls.__dict__, CLASS_KEYS, frozenset(cls.__dict__)))
    return entries


CLASS_KEYS = object()  # marca a entrada com o conjunto de nomes de uma classe
MISSING = object()


def changed_names(entries):
    """Os nomes de ``entries`` que agora apontam para outro objeto, ou sumiram, e os métodos
    novos nas classes conferidas."""
    changed = set()
    for owner, namespace, key, value in entries:
        if key is CLASS_KEYS:
            changed |= {f"{owner}.{name}" for name in set(namespace) - value
                        if _watched(namespace[name])}
        elif namespace.get(key, MISSING) is not value:
            changed.add(f"{owner}.{key}")
    return sorted(changed)


def child(question, bound, watched, write_fd):
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
    lock_down()
    try:
        exec(compile(source, filename, "exec"), namespace)
    except BaseException as exc:
        result["load_error"] = f"{type(exc).__name__}: {exc}"[:2000]
    for index, (examples, names) in enumerate(question["prepared"]):
        namespace.update({n: bound[n] for n in names})
        passed, message = run_examples(examples, namespace, f"{question['name']} {index}")
        result["cases"].append({"passed": passed, "message": message[:20000]})
    changed = changed_names(watched)
    if changed:
        result = {"name": question["name"], "error": "alterou", "changed": changed[:5]}
    data = json.dumps(result, ensure_ascii=False).encode()
    view = memoryview(data)
    while view:
        view = view[os.write(write_fd, view[:65536]):]
    os._exit(0)


def score(question, bound, watched, timeout):
    """Roda um exercício num filho, com limite de tempo; o resultado (ou o motivo da falha)."""
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            child(question, bound, watched, write_fd)
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
    watched = watch()
    for question in job["questions"]:
        result = score(question, bound, watched, job["timeout"])
        result.pop("prepared", None)
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
        out.flush()
    out.write(json.dumps({"fim": True}) + "\n")
    out.close()


if __name__ == "__main__":
    main()
