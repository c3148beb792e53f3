"""A caixa de areia (bubblewrap) em que roda o código de cada entrega.

Cada execução ganha os seus próprios espaços de nomes de processos, de rede, de IPC e de nome
de máquina (nada sobrevive a ela; não há rede), vê só o ambiente do Python (somente leitura), o
pacote ``residuais`` e o que a chamada lhe der, escreve só numa pasta própria em memória com
tamanho limitado, roda com um usuário sem privilégios e com limites de memória, de processos,
de tamanho de arquivo e de tempo. As entradas chegam pela entrada padrão e o resultado sai pela
saída padrão: nenhum arquivo do professor é montado.

Como root (o CI, um servidor), o ``bwrap`` monta tudo e o ``setpriv`` troca para um usuário sem
privilégios antes do Python: sem isso o limite de processos não vale (o kernel não o aplica a
root). Cada caixa aberta ao mesmo tempo na máquina tem o seu usuário, de uma faixa reservada
(``UIDS``): o limite de processos é por usuário, e duas correções ao mesmo tempo com o mesmo
usuário dividiam esse limite (um ``fork`` falhava com EAGAIN na caixa de outra correção). O
usuário é reservado com uma trava de arquivo (``flock``) em ``LOCKS``, que o sistema solta se a
correção morrer. Como usuário comum, o ``bwrap`` usa um espaço de nomes de usuário e a caixa
roda com o usuário de quem corrige; o avaliador tenta de novo a partida que falha por falta de
recurso da máquina.

Orçamento de memória de uma caixa: ``Limits.memory`` de espaço de endereçamento para o seu
único processo (a caixa do estudante não cria processos: ``worker.lock``), mais as duas pastas
em memória (``/tmp`` e ``/entrega``, ``Limits.scratch`` cada).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coursetools.coursework.common import CourseworkError

SCRATCH = "/entrega"  # a única pasta em que o código da entrega escreve, dentro da caixa
NOBODY = 65534  # o usuário sem privilégios das caixas sem reserva (a sonda ``bwrap_works``)
UIDS = range(1_500_000, 1_501_000)  # usuários das caixas, quando o corretor roda como root
LOCKS = Path("/tmp/residuais-caixas")  # as travas que reservam cada usuário da faixa
MB = 1024 * 1024
OUTPUT_LIMIT = 8 * MB  # o que lemos, no máximo, da saída de uma execução
SYSTEM = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/fonts")
NO_ISOLATION = ("Não achei o bubblewrap (bwrap), que isola o código de cada entrega. Instale-o "
                "(Debian/Ubuntu: `sudo apt-get install bubblewrap`; ou `make sysdeps`). Só para "
                "entregas em que você confia, corrija sem isolamento com --sem-isolamento: o "
                "código dos estudantes rodará então com o seu usuário e verá os seus arquivos.")


@dataclass(frozen=True)
class Limits:
    """Os limites de uma execução."""

    seconds: float = 180.0  # tempo total: depois disso a caixa inteira é encerrada
    memory: int = 3072 * MB  # espaço de endereçamento por processo (RLIMIT_AS)
    processes: int = 256  # processos e threads do usuário da caixa (RLIMIT_NPROC)
    file_size: int = 64 * MB  # tamanho máximo de um arquivo escrito (RLIMIT_FSIZE)
    scratch: int = 128 * MB  # tamanho da pasta de trabalho em memória
    open_files: int = 256  # descritores de arquivo abertos (RLIMIT_NOFILE)


@dataclass
class Outcome:
    """O que uma execução devolveu."""

    returncode: int | None  # ``None`` se passou do tempo
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class Sandbox:
    """Como rodar um comando isolado: com ``bwrap`` ou, se ``isolated`` é falso, sem caixa."""

    isolated: bool = True
    uid: int = NOBODY
    binds: tuple[Path, ...] = field(default_factory=tuple)  # somente leitura, no mesmo caminho

    @classmethod
    def create(cls, isolated: bool = True) -> Sandbox:
        """A caixa para este ambiente, com um usuário só dela (reservado até ``release`` ou o
        fim do processo). Sem ``bwrap`` e com ``isolated``, recusa."""
        if isolated and not bwrap_works():
            raise CourseworkError(NO_ISOLATION)
        return cls(isolated, lease_uid(), tuple(environment_paths()))

    def release(self) -> None:
        """Solta o usuário reservado por ``create``."""
        fd = _LEASES.pop(self.uid, None)
        if fd is not None:
            os.close(fd)

    def command(self, argv: Sequence[str], extra: Sequence[Path] = (),
                env: dict[str, str] | None = None) -> list[str]:
        """A linha de comando completa que roda ``argv`` na caixa, com as variáveis ``env``."""
        if not self.isolated:
            return list(argv)
        mounts = _mounts([*self.binds, *extra])
        variables = [arg for name, value in (env or {}).items()
                     for arg in ("--setenv", name, value)]
        common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                  "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                  *mounts, "--proc", "/proc", "--dev", "/dev",
                  "--chdir", SCRATCH, "--clearenv", "--setenv", "HOME", SCRATCH,
                  "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "TMPDIR", SCRATCH, *variables]
        if os.geteuid() == 0:
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
            return ["bwrap", "--cap-add", "CAP_SETUID,CAP_SETGID", *common, *drop, *argv]
        return ["bwrap", "--unshare-user", *common, *argv]

    def popen(self, argv: Sequence[str], limits: Limits, extra: Sequence[Path] = (),
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Abre a caixa com ``argv``, com canos na entrada, na saída e no stderr, numa sessão
        própria (``stop`` encerra tudo o que estiver nela)."""
        environment = {"LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
        return subprocess.Popen(
            self.command(argv, extra, environment), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_inner_env(environment) if not self.isolated else _outer_env(),
            preexec_fn=_limiter(limits, self.isolated), start_new_session=True,
        )

    @staticmethod
    def stop(process: subprocess.Popen) -> None:
        """Encerra a caixa aberta por ``popen``, com todos os seus processos."""
        _kill_group(process)

    def run(self, argv: Sequence[str], stdin: bytes, limits: Limits,
            extra: Sequence[Path] = (), env: dict[str, str] | None = None) -> Outcome:
        """Roda ``argv`` na caixa, com ``stdin`` na entrada; a caixa inteira morre no fim."""
        start = time.perf_counter()
        process = self.popen(argv, limits, extra, env)
        return _communicate(process, stdin, limits.seconds, start)


_LEASES: dict[int, int] = {}  # usuário reservado → descritor da trava


def lease_uid() -> int:
    """Reserva um usuário livre da faixa ``UIDS`` para uma caixa: trava exclusiva no arquivo
    ``LOCKS/<uid>``, válida em toda a máquina. Sem ser root, o usuário não importa (o ``bwrap``
    usa um espaço de nomes de usuário): devolve ``NOBODY`` sem travar nada."""
    if os.geteuid() != 0:
        return NOBODY
    LOCKS.mkdir(mode=0o755, exist_ok=True)
    for uid in UIDS:
        if uid in _LEASES:
            continue
        fd = os.open(LOCKS / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _LEASES[uid] = fd
        return uid
    raise CourseworkError(f"Todos os {len(UIDS)} usuários das caixas estão em uso por outras "
                          "correções nesta máquina; espere uma terminar.")


def _inner_env(environment: dict[str, str]) -> dict[str, str]:
    """Sem caixa: o ambiente de quem corrige, menos o ``PYTHONPATH`` (o do avaliador aponta os
    testes ocultos, que nunca chegam ao código do estudante)."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **environment}


def _outer_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


def _limiter(limits: Limits, isolated: bool):
    """A função que aplica os limites no processo filho, antes do ``exec``.

    Com a caixa, o limite de memória e de processos vale para o ``bwrap`` e tudo o que ele
    abrir (os limites são herdados); o de processos conta os processos do usuário da caixa.
    """
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if isolated and os.geteuid() == 0:  # root: o setpriv troca de usuário depois
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        elif isolated:  # usuário comum: os processos dele já contam no limite
            running = _user_processes()
            total = running + limits.processes
            resource.setrlimit(resource.RLIMIT_NPROC, (total, total))
    return apply


def _user_processes() -> int:
    """Quantos processos (e threads) o usuário atual já tem."""
    uid, count = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(list((entry / "task").iterdir()))
    return count


def _communicate(process: subprocess.Popen, stdin: bytes, seconds: float,
                 start: float) -> Outcome:
    """Entrega ``stdin``, lê as saídas (até ``OUTPUT_LIMIT``) e encerra a caixa no fim."""
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    truncated = threading.Event()

    def reader(stream, key: str) -> None:
        total = 0
        while chunk := stream.read(65536):
            total += len(chunk)
            if total <= OUTPUT_LIMIT:
                chunks[key].append(chunk)
            else:
                truncated.set()

    threads = [threading.Thread(target=reader, args=(process.stdout, "out"), daemon=True),
               threading.Thread(target=reader, args=(process.stderr, "err"), daemon=True)]
    for thread in threads:
        thread.start()
    with contextlib.suppress(BrokenPipeError, OSError):
        process.stdin.write(stdin)
        process.stdin.close()
    timed_out = False
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(process)
    for thread in threads:
        thread.join(timeout=5)
    return Outcome(None if timed_out else process.returncode, b"".join(chunks["out"]),
                   b"".join(chunks["err"]), time.perf_counter() - start, timed_out,
                   truncated.is_set())


def _kill_group(process: subprocess.Popen) -> None:
    """Encerra o ``bwrap`` e o seu grupo: com ``--die-with-parent`` e o espaço de nomes de
    processos próprio, todos os processos da caixa morrem juntos."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    process.wait()


def _mounts(paths: Sequence[Path]) -> list[str]:
    """As opções do ``bwrap`` que montam o sistema, ``paths`` (somente leitura, no mesmo
    caminho, com as pastas acima acessíveis) e a pasta de trabalho em memória."""
    size = str(Limits().scratch)
    args: list[str] = ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]  # antes das montagens
    for top in SYSTEM:
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    args += ["--perms", "0755", "--dir", "/etc"]  # sem isto, /etc nasce fechada (0700, root)
    for name in SYSTEM_FILES:
        args += ["--ro-bind-try", name, name]
    made: set[Path] = {Path("/"), Path("/tmp"), Path("/etc")}
    for path in sorted({Path(p).resolve() for p in paths}):
        for parent in reversed(path.parents):
            if parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(path), str(path)]
        made.add(path)
    return [*args, "--perms", "1777", "--size", size, "--tmpfs", SCRATCH]


def environment_paths() -> list[Path]:
    """O que o Python da correção precisa ver: a instalação do Python, o ambiente virtual e o
    pacote ``residuais`` (se instalado fora do ambiente, em modo editável). Nada mais do
    repositório: nem ``book/``, nem as ferramentas do professor."""
    import residuais

    paths = [Path(sys.base_prefix), Path(sys.prefix)]
    package = Path(residuais.__file__).resolve().parent
    if not any(package.is_relative_to(p.resolve()) for p in paths):
        paths.append(package)
    return _outermost(paths)


def _outermost(paths: Sequence[Path]) -> list[Path]:
    resolved = sorted({p.resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


_PROBE: dict[str, bool] = {}


def bwrap_works() -> bool:
    """Se o ``bwrap`` existe e consegue criar uma caixa aqui (conferido uma vez)."""
    if "ok" not in _PROBE:
        ok = shutil.which("bwrap") is not None and (os.geteuid() != 0
                                                     or shutil.which("setpriv") is not None)
        if ok:
            box = Sandbox(True, NOBODY, tuple(environment_paths()))
            outcome = box.run(["/usr/bin/true"], b"", Limits(seconds=30))
            ok = outcome.returncode == 0
        _PROBE["ok"] = ok
    return _PROBE["ok"]
