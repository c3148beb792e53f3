"""A caixa do estudante: executa o notebook da entrega e responde às chamadas do avaliador.

Roda dentro da caixa de areia (``python -I worker.py``), sem as ferramentas do curso: só a
biblioteca padrão, o IPython, o PyTorch, o ``safetensors`` e ``wire.py``, copiado ao lado. Não
tem testes, respostas de referência nem canal de resultados: recebe do avaliador, pela entrada
padrão, as células a executar e, depois, pedidos de chamada (“chame ``attention`` com estes
tensores”), e devolve pela saída padrão só valores (``wire``). Se o código do estudante tomar
conta deste processo, o pior que consegue é devolver valores errados.

Antes da primeira célula, a caixa se tranca (``lock``, com a libseccomp): nenhum processo novo
(só linhas de execução), nenhum programa executado, nenhuma depuração de processos. Assim a
caixa é um processo só, e o limite de memória do processo (``RLIMIT_AS``) vale para a caixa
inteira; um ``os.fork()`` recebe ``PermissionError``.

Protocolo (cada mensagem, um quadro de ``wire``, um dicionário com ``op``):

- avaliador → caixa: ``init`` (células e limite de tempo por célula), depois ``call`` (nome,
  argumentos), ``get`` (nome de um valor) ou, durante uma chamada, ``value``/``error`` (a
  resposta de uma chamada de volta);
- caixa → avaliador: ``cell`` (a célula que vai rodar), ``ready`` (erros das células, nomes
  definidos), ``return`` (valor e o
  estado final dos argumentos, para o avaliador ver o que a função mudou neles), ``raise``
  (tipo e mensagem do erro) ou ``callback`` (a função chamou um chamável que mora no avaliador).
"""

import contextlib
import ctypes
import errno
import os
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ``-I`` tira a pasta do script

import wire  # (depois da linha acima)

PR_SET_DUMPABLE = 4
CLONE_THREAD = 0x00010000
MESSAGE_LIMIT = 2000  # caracteres da mensagem de um erro do estudante que voltam


class Channel:
    """Os dois canos com o avaliador, guardados em descritores próprios: 0 e 1 passam a ser
    ``/dev/null`` (o que as células imprimem não se mistura às respostas)."""

    def __init__(self) -> None:
        self.inp = os.fdopen(os.dup(0), "rb")
        self.out = os.fdopen(os.dup(1), "wb")
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1):
            os.dup2(devnull, fd)

    def send(self, message: dict) -> None:
        """Manda um valor; um chamável que veio do avaliador volta como o número dele."""
        self.out.write(wire.pack(message, lambda v: v.handle if isinstance(v, Callback) else None))
        self.out.flush()

    def receive(self):
        skeleton, tensors = wire.read_frame(self.inp)
        return wire.unpack(skeleton, tensors, trusted=True, callback=self.remote)

    def remote(self, handle: int) -> "Callback":
        return Callback(self, handle)


class Callback:
    """Um chamável que mora no avaliador (um módulo de uma verificação): chamá-lo pede ao
    avaliador que o execute com estes argumentos."""

    def __init__(self, channel: Channel, handle: int) -> None:
        self.channel, self.handle = channel, handle

    def __call__(self, *args, **kwargs):
        self.channel.send({"op": "callback", "id": self.handle, "args": args, "kwargs": kwargs})
        reply = self.channel.receive()
        if reply.get("op") == "value":
            return reply.get("value")
        raise RuntimeError(str(reply.get("message", "a chamada de volta falhou")))


def lock() -> None:
    """Tranca este processo e os que vierem dele (sem volta): seccomp pela libseccomp."""
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    # processos novos, não linhas de execução (clone sem CLONE_THREAD); o clone3 não deixa o
    # filtro ler os seus argumentos: recusado com ENOSYS, a glibc volta ao clone
    rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for name in ("fork", "vfork", "execve", "execveat", "ptrace", "process_vm_writev",
                 "process_vm_readv", "pidfd_getfd"):
        with contextlib.suppress(RuntimeError, ValueError, OSError):  # ausente nesta arquitetura
            rules.add_rule(deny, name)
    rules.load()


def private_home() -> None:
    """Uma pasta própria dentro de ``TMPDIR`` vira o ``HOME``, a pasta do IPython, as de
    configuração e de cache e a pasta atual: nada é escrito fora dela."""
    home = Path(tempfile.mkdtemp(prefix="caixa-")).resolve()
    os.environ.update({"HOME": str(home), "IPYTHONDIR": str(home / ".ipython"),
                       "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
                       "XDG_CONFIG_HOME": str(home / ".config"),
                       "XDG_CACHE_HOME": str(home / ".cache"),
                       "XDG_DATA_HOME": str(home / ".local" / "share")})
    os.chdir(home)


def run_cells(cells: list, limit: float, channel: Channel, skip: set) -> tuple[dict, list]:
    """Executa as células em ordem num shell do IPython (como um kernel: mágicas, ``display``),
    menos as de ``skip``; avisa o avaliador antes de cada uma (``cell``), e ele pula, numa
    caixa nova, a que não parar. Uma célula que passa de ``limit`` s é interrompida (e de novo
    a cada segundo, se o código engolir a interrupção) e a execução segue. Devolve o espaço de
    nomes e os erros (posição da célula no notebook, tipo, mensagem)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance(history_length=0)
    shell.history_manager.enabled = False

    def interrupt(signum, frame):
        raise TimeoutError(f"a célula passou de {limit:g} s e foi interrompida pelo corretor "
                           "(laço infinito?)")

    signal.signal(signal.SIGALRM, interrupt)
    errors = []
    for cell in cells:
        if cell["index"] in skip:
            continue
        channel.send({"op": "cell", "index": cell["index"]})
        signal.setitimer(signal.ITIMER_REAL, limit, 1.0)
        try:
            result = shell.run_cell(str(cell["source"]), store_history=False)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        error = result.error_in_exec or result.error_before_exec
        if error is not None:
            errors.append({"cell": cell["index"], "name": type(error).__name__[:200],
                           "value": str(error)[:MESSAGE_LIMIT]})
    return shell.user_ns, errors


def defined_names(namespace: dict) -> dict:
    """Os nomes do notebook que o avaliador pode pedir: ``"f"`` (chamável) ou ``"v"`` (valor)."""
    return {name: "f" if callable(value) else "v" for name, value in list(namespace.items())
            if isinstance(name, str) and not name.startswith("_")}


def serve(channel: Channel, namespace: dict) -> None:
    """Responde aos pedidos até o avaliador fechar o cano."""
    while True:
        try:
            request = channel.receive()
        except EOFError:
            return
        op, name = request.get("op"), request.get("name")
        if op == "get":
            channel.send({"op": "return", "value": namespace.get(name)})
            continue
        if op != "call":
            continue
        args, kwargs = tuple(request.get("args", ())), dict(request.get("kwargs", {}))
        try:
            value = namespace[name](*args, **kwargs)
        except BaseException as exc:  # o erro é da resposta (até SystemExit): volta como dado
            channel.send({"op": "raise", "type": type(exc).__name__[:100],
                          "message": str(exc)[:MESSAGE_LIMIT]})
            continue
        try:
            channel.send({"op": "return", "value": value, "args": args, "kwargs": kwargs})
        except (wire.WireError, TypeError, ValueError, RuntimeError) as exc:
            channel.send({"op": "raise", "type": "ValueError",
                          "message": f"o valor devolvido não pôde ser enviado ({exc})"[:500]})


def main() -> None:
    channel = Channel()
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    private_home()
    init = channel.receive()
    lock()
    fatal = None
    try:
        namespace, errors = run_cells(init["cells"], float(init["cell_timeout"]), channel,
                                      set(init.get("skip", [])))
    except BaseException as exc:  # o notebook encerrou o Python (SystemExit) ou algo pior
        namespace, errors = {}, []
        fatal = f"{type(exc).__name__}: {exc}"[:500]
    channel.send({"op": "ready", "errors": errors, "fatal": fatal,
                  "names": defined_names(namespace)})
    serve(channel, namespace)
    os._exit(0)  # sem esperar linhas de execução que o notebook tenha deixado


if __name__ == "__main__":
    main()
