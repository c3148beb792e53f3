"""A caixa de areia da correção (``coursetools.coursework.sandbox``), atacada diretamente.

Cada teste roda, na caixa, o código que uma entrega hostil rodaria, e confere de fora que o
ataque não passou: bomba de processos, de memória, disco cheio, rede, processo que sobrevive à
caixa, leitura dos arquivos do professor (também por ``/proc``), escrita fora da pasta própria.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import FORK_BOMB, ROOT

from coursetools.coursework import sandbox
from coursetools.coursework.common import CourseworkError
from coursetools.coursework.sandbox import Limits, Sandbox

pytestmark = pytest.mark.usefixtures("bwrap")  # sem o bubblewrap, falha (não pula)


@pytest.fixture(scope="module")
def box() -> Sandbox:
    return Sandbox.create(True)


def _run(box: Sandbox, code: str, seconds: float = 60, **limits) -> sandbox.Outcome:
    return box.run([sys.executable, "-I", "-c", code], b"", Limits(seconds=seconds, **limits))


def _json(outcome: sandbox.Outcome) -> dict:
    assert outcome.returncode == 0, outcome.stderr.decode()
    return json.loads(outcome.stdout)


def test_runs_as_an_unprivileged_user_in_its_own_process_namespace(box):
    data = _json(_run(box, "import os, json; print(json.dumps({'uid': os.getuid(), "
                      "'pids': [p for p in os.listdir('/proc') if p.isdigit()]}))"))
    assert data["uid"] != 0
    assert len(data["pids"]) <= 3  # o init da caixa, o Python e nada mais


def test_instructor_files_are_invisible(box):
    """Nem o repositório (os notebooks do professor em book/), nem /root, nem /proc de fora."""
    targets = [str(ROOT / "book"), str(ROOT / "code" / "coursetools"), str(ROOT / "_build"),
               "/root/.bash_history", "/etc/passwd", str(Path.home())]
    code = f"""
import json, os
targets = {targets!r}
found = [t for t in targets if os.path.exists(t) and t not in ('/root',)]
cwds = []
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            cwds.append(os.readlink(f'/proc/{{pid}}/cwd'))
        except OSError:
            pass
solutions = []
for top in ['/work', '/root', '/home', '/tmp', '/entrega', '/srv', '/opt', '/mnt']:
    for folder, _, files in os.walk(top):
        solutions += [os.path.join(folder, f) for f in files if f.endswith('.ipynb')]
print(json.dumps({{'found': found, 'cwds': cwds, 'solutions': solutions}}))
"""
    data = _json(_run(box, code))
    environment = (sys.prefix, sys.base_prefix)  # o ambiente (somente leitura) pode ter notebooks
    assert data["found"] == []
    assert [s for s in data["solutions"] if not s.startswith(environment)] == []
    assert all(not cwd.startswith(str(ROOT)) for cwd in data["cwds"])


def test_writes_only_in_its_own_scratch_folder(box, tmp_path):
    outside = tmp_path / "fora.txt"
    code = f"""
import json
results = {{}}
for path in [{str(outside)!r}, {str(ROOT / 'code' / 'residuais' / 'x.py')!r}, '/usr/x',
             '/entrega/dentro.txt']:
    try:
        open(path, 'w').write('x')
        results[path] = 'escreveu'
    except OSError as exc:
        results[path] = exc.strerror
print(json.dumps(results))
"""
    data = _json(_run(box, code))
    assert data.pop("/entrega/dentro.txt") == "escreveu"
    assert "escreveu" not in data.values() and not outside.exists()


def test_fork_bomb_stops_at_the_process_limit(box):
    outcome = _run(box, FORK_BOMB, seconds=30, processes=64)
    assert outcome.returncode == 0, outcome.stderr.decode()
    assert 10 < int(outcome.stdout) < 64
    assert outcome.seconds < 25  # os filhos morreram com a caixa, ninguém esperou por eles


def test_memory_bomb_gets_memory_error(box):
    code = "x = bytearray(8 * 1024 ** 3)\nprint('alocou')"
    outcome = _run(box, code, memory=1024 * sandbox.MB)
    assert b"MemoryError" in outcome.stderr and b"alocou" not in outcome.stdout


def test_disk_filler_is_stopped_by_the_file_and_folder_limits(box):
    code = """
import json
errors = []
for name, size in [('um_grande', 200), ('a', 60), ('b', 60), ('c', 60)]:
    try:
        with open(f'/entrega/{name}', 'wb') as f:
            for _ in range(size):
                f.write(b'0' * 1024 * 1024)
    except OSError as exc:
        errors.append(exc.errno)
print(json.dumps(errors))
"""
    errors = _json(_run(box, code))
    assert 27 in errors and 28 in errors  # EFBIG (arquivo grande) e ENOSPC (pasta cheia)


def test_no_network_not_even_to_this_machine(box):
    """A caixa não alcança a internet nem um servidor aberto nesta máquina."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(8)
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(_accept(server)), daemon=True)
    thread.start()
    code = f"""
import json, socket
results = []
for address in [('1.1.1.1', 80), ('127.0.0.1', {port})]:
    try:
        socket.create_connection(address, timeout=3)
        results.append('conectou')
    except OSError as exc:
        results.append(type(exc).__name__)
print(json.dumps(results))
"""
    results = _json(_run(box, code))
    thread.join()
    server.close()
    assert "conectou" not in results and accepted == [None]


def _accept(server: socket.socket):
    try:
        return server.accept()
    except OSError:
        return None


def test_a_detached_daemon_dies_with_the_sandbox(box, tmp_path):
    marker = f"sleep {int(time.time() * 1000) % 100000 + 1000}"
    code = f"""
import subprocess
subprocess.Popen(['/usr/bin/sh', '-c', {marker!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('lançado')
"""
    outcome = _run(box, code)
    assert outcome.stdout.strip() == "lançado".encode()
    time.sleep(0.5)
    survivors = [p for p in psutil.process_iter(["cmdline"])
                 if marker in " ".join(p.info["cmdline"] or [])]
    assert survivors == []


def test_time_limit_kills_the_whole_sandbox(box):
    outcome = _run(box, "import time\nwhile True:\n    time.sleep(0.1)", seconds=2)
    assert outcome.timed_out and outcome.returncode is None and outcome.seconds < 10


def test_refuses_without_bubblewrap_unless_told(monkeypatch):
    monkeypatch.setitem(sandbox._PROBE, "ok", False)
    with pytest.raises(CourseworkError, match="--sem-isolamento"):
        Sandbox.create(True)
    assert not Sandbox.create(False).isolated


def test_each_box_gets_a_user_of_its_own_across_grading_runs(box):
    """Como root, cada caixa tem um usuário reservado (trava na máquina inteira): outra correção
    que rode ao mesmo tempo, noutro processo, recebe outro."""
    if os.geteuid() != 0:
        assert box.uid == sandbox.NOBODY  # sem root, o bwrap usa um espaço de nomes de usuário
        return
    assert box.uid in sandbox.UIDS
    other = subprocess.run([sys.executable, "-c", (
        "from coursetools.coursework.sandbox import Sandbox; print(Sandbox.create(True).uid)")],
        capture_output=True, text=True, check=True, timeout=120)
    assert int(other.stdout) in sandbox.UIDS and int(other.stdout) != box.uid
    inside = _run(box, "import os; print(os.getuid())")
    assert int(inside.stdout) == box.uid


def test_two_boxes_at_once_do_not_share_the_process_limit(box):
    """Duas caixas ao mesmo tempo, cada uma com 30 processos sob um limite de 40: com o mesmo
    usuário (o limite é por usuário), a segunda não passaria de ~10."""
    second = Sandbox.create(True)
    hold = ("import os, time\nn = 0\nfor _ in range(30):\n    if os.fork() == 0:\n"
            "        time.sleep(8)\n        os._exit(0)\n    n += 1\nprint(n)\ntime.sleep(4)")
    results = {}
    threads = [threading.Thread(target=lambda key, b: results.__setitem__(
        key, _run(b, hold, seconds=30, processes=40)), args=(key, b))
        for key, b in (("a", box), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    second.release()
    assert [int(results[k].stdout) for k in ("a", "b")] == [30, 30], {
        k: r.stderr.decode()[-500:] for k, r in results.items()}
