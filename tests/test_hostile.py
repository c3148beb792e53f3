"""Entregas hostis, corrigidas de ponta a ponta, e o que o professor precisa de uma correção:
retomar depois de interrompida, mesclar uma nova correção, ajustes manuais e o Moodle.

Todas as entregas hostis são do capítulo 1 e são corrigidas juntas, numa passada, ao lado de uma
entrega correta (a vítima). Cada ataque deve dar zero no que atacou (ou não ter efeito), sem
mudar a nota nem o arquivo de ninguém, a liberação ou a planilha.
"""

import csv
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psutil
import pytest
from conftest import FORK_BOMB, ROOT

from coursetools import coursework
from coursetools.editions import ensure_release

pytestmark = pytest.mark.usefixtures("bwrap")  # sem o bubblewrap, falha (não pula)
CHAPTER = "01_processamento_sequencial"


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "coursetools.coursework", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _save(notebook: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _code(source: str) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
            "execution_count": None}


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "notas.csv", encoding="utf-8-sig", newline="") as f:
        return {row["entrega"]: row for row in csv.DictReader(f)}


def _digest(folder: Path) -> str:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return ensure_release(ROOT, tmp_path_factory.mktemp("hostis") / "liberacao", log=lambda _: 0)


def _blank(release: Path) -> dict:
    return _load(release / "estudantes" / f"{CHAPTER}.ipynb")


def _filled(release: Path) -> dict:
    """O notebook do estudante com as respostas da referência."""
    student, solution = _blank(release), _load(release / "solucoes" / f"{CHAPTER}.ipynb")
    answers = [i for i, c in enumerate(student["cells"])
               if "otter_answer_cell" in c["metadata"].get("tags", [])]
    solutions = [i for i, c in enumerate(solution["cells"])  # as de markdown são gabaritos
                 if "otter_assign_solution_cell" in c["metadata"].get("tags", [])
                 and c["cell_type"] == "code"]
    for a, s in zip(answers, solutions, strict=True):
        code = re.sub(r"^\s*# (BEGIN|END) SOLUTION\n", "", _src(solution["cells"][s]), flags=re.M)
        student["cells"][a]["source"] = code
    return student


def _with_cell(notebook: dict, source: str, at: int = 3) -> dict:
    notebook["cells"].insert(at, _code(source))
    return notebook


def _answer_index(notebook: dict, question: str) -> int:
    check = next(i for i, c in enumerate(notebook["cells"]) if f'grader.check("{question}")'
                 in _src(c))
    return max(i for i, c in enumerate(notebook["cells"][:check])
               if "otter_answer_cell" in c["metadata"].get("tags", []))


PATCH_CHECKS = """
import residuais.checks.sequential as checks
import otter.test_files.ok_test as ok_test
for name in dir(checks):
    if name.startswith("check_"):
        setattr(checks, name, lambda *args, **kwargs: None)
ok_test.run_doctest = lambda *args, **kwargs: (True, "")
"""

REWRITE_TESTS = """
import os
passing = "OK_FORMAT = True\\ntest = {{'name': 'q', 'points': 2, 'suites': [{{'cases': []}}]}}\\n"
for folder in ["tests", "../tests", "/tmp/tests", {release!r} + "/tests"]:
    try:
        os.makedirs(folder, exist_ok=True)
        for q in ["q1_espectro", "q2_jacobiano_relu", "q3_normas_do_jacobiano",
                  "q4_dois_gradientes"]:
            open(os.path.join(folder, q + ".py"), "w").write(passing)
    except OSError:
        pass
try:
    open({zip_path!r}, "wb").write(b"corretor trocado")
except OSError:
    pass
"""

FIND_SOLUTIONS = """
import os
found = []
for pid in os.listdir("/proc"):
    for link in ("cwd", "root"):
        try:
            target = os.readlink(f"/proc/{{pid}}/{{link}}")
        except OSError:
            continue
        for folder, _, files in os.walk(target if link == "cwd" else "/proc/1/cwd"):
            found += [os.path.join(folder, f) for f in files
                      if f.endswith(".ipynb") or f.endswith(".zip")]
            break
for top in [{root!r}, {release!r}, "/work", "/root", "/home", "/tmp"]:
    for folder, _, files in os.walk(top):
        found += [os.path.join(folder, f) for f in files if "solucoes" in folder
                  or "ocultos" in folder or f.startswith("0") and f.endswith(".zip")]
found = [f for f in found if not f.startswith({prefix!r})]
raise RuntimeError("ACHEI " + found[0] if found else "NADA")
"""

# o veredito forjado em todo descritor aberto (JSON do avaliador antigo e quadros do fio, com o
# wire.py que está na caixa), sem nomear o os, e o processo morto em seguida
FORGE_AND_KILL = """
import json, operator, signal
_os = operator.attrgetter("__self__.__import__")(len)("os")
verdicts = b"".join(json.dumps({{"name": q, "load_error": None, "cases": [{{"passed": True,
    "message": "ok"}}] * 8}}).encode() + b"\\n" for q in ["q1_espectro", "q2_jacobiano_relu",
    "q3_normas_do_jacobiano", "q4_dois_gradientes"]) + b'{{"fim": true}}\\n'
try:
    import wire
    frames = wire.pack({{"op": "ready", "errors": [], "fatal": None, "names": {{}}}})
    frames += b"".join(wire.pack({{"op": "return", "value": 0.5}}) for _ in range(50))
except Exception:
    frames = b""
for fd in _os.listdir("/proc/self/fd"):
    try:
        _os.write(int(fd), frames + verdicts)
    except OSError:
        pass
for pid in _os.listdir("/proc"):
    if pid.isdigit() and int(pid) != _os.getpid():
        try:
            _os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
_os._exit(0)
"""

ATTACK_FILES = """
import os, socket, subprocess
targets = {targets!r}
for path in targets:
    try:
        open(path, "w").write("destruído")
    except OSError:
        pass
try:
    subprocess.Popen(["/usr/bin/sh", "-c", "sleep 3; " + "; ".join(
        f"echo destruido > '{{t}}'" for t in targets)], start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
except OSError:
    pass
get_ipython().system("touch {outside}_shell")
try:
    subprocess.run(["/usr/bin/touch", "{outside}_subprocess"])
except OSError:
    pass
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3)
except OSError:
    pass
"""

# memória: 5 filhos com 1 GB cada (a caixa não cria processos) e, no próprio processo, 5 GB
# em blocos de 1 GB (o limite da caixa para antes); disco: arquivos até o limite
BOMBS = """
import os, time
children = []
for _ in range(5):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        block = bytearray(1024 ** 3)
        time.sleep(60)
        os._exit(0)
    children.append(pid)
held = []
try:
    for _ in range(5):
        held.append(bytearray(1024 ** 3))
except MemoryError:
    pass
del held
try:
    for i in range(20):
        with open(f"enche_{i}", "wb") as f:
            for _ in range(100):
                f.write(b"0" * 1024 * 1024)
except OSError:
    pass
""" + FORK_BOMB

# q1 por introspecção: sobe a pilha até a verificação oculta e chama a referência dela
INTROSPECTION = """
import inspect


def spectral_slope(g):
    frame = inspect.currentframe()
    while frame is not None:
        for value in list(frame.f_globals.values()):
            if getattr(value, "__name__", "") == "reference_spectral_slope":
                return value(g)
        frame = frame.f_back
    return 0.0
"""

# ataques na célula de resposta do exercício 1 (que devolve 0,0, errado): cada um tenta passar
# assim mesmo; os outros exercícios têm a resposta certa
ANSWER_ATTACKS = {
    # o veredito forjado na hora da chamada: o os por uma anotação em texto
    "forja_por_anotacao": """
import typing
def _reach(x: "__import__('os')"):
    pass
def spectral_slope(g):
    _os = typing.get_type_hints(_reach)["x"]
    for fd in range(3, 64):
        try:
            _os.write(fd, b'{"name": "q1_espectro", "cases": [{"passed": true}]}\\n')
        except OSError:
            pass
    _os._exit(0)
""",
    # a referência oculta pelo nome, e procurada no disco se o nome não servir
    "referencia_oculta": """
import importlib, os
def spectral_slope(g):
    try:
        return importlib.import_module("ocultos.sequential").reference_spectral_slope(g)
    except ImportError:
        for top in ("/", "/tmp", os.getcwd()):
            for folder, _, files in os.walk(top):
                if "ocultos" in folder:
                    raise RuntimeError("achei " + folder)
        return 0.0
""",
    # só quando roda no avaliador (pelo nome do programa)
    "so_no_avaliador": """
import importlib, sys
def spectral_slope(g):
    if any(part in " ".join(sys.argv) for part in ("scorer", "harness", "worker")):
        return importlib.import_module("ocultos.sequential").reference_spectral_slope(g)
    return 0.0
""",
    # um tensor que mente: .item(), float() e a comparação dariam o valor esperado
    "subclasse_mentirosa": """
import torch
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.item, torch.Tensor.__float__, torch.Tensor.tolist):
            return 0.0
        if func in (torch.Tensor.abs, torch.Tensor.max, torch.Tensor.__sub__):
            return torch.zeros(()).as_subclass(Liar)
        return super().__torch_function__(func, types, args, kwargs or {})
def spectral_slope(g):
    return torch.zeros(()).as_subclass(Liar)
""",
    # troca a comparação e a falha das verificações durante a chamada e as restaura depois
    "troca_e_restaura": """
import residuais.checks.core as core
def spectral_slope(g):
    saved = core.expect_close, core.fail
    core.expect_close, core.fail = (lambda *a, **k: None), (lambda *a, **k: None)
    try:
        return 0.0
    finally:
        core.expect_close, core.fail = saved
""",
    # remenda o tensor para sempre
    "remenda_tensor": """
import torch
def spectral_slope(g):
    torch.Tensor.item = lambda self: 0.0
    torch.Tensor.__float__ = lambda self: 0.0
    return 0.0
""",
    # o texto dos testes ocultos como mensagem de erro (aparece sob um caso público)
    "fonte_oculta": """
import importlib, inspect
def spectral_slope(g):
    try:
        raise RuntimeError(inspect.getsource(importlib.import_module("ocultos.sequential")))
    except ImportError as exc:
        raise RuntimeError(f"sem ocultos aqui: {exc}") from None
""",
}

# respostas honestas, com o que um estudante faz de verdade: nota máxima
HONEST = {
    "rascunho_com_os": ("import os, torch\nprint(os.getcwd(), torch.__version__)", None),
    "constante_fora": ("CENTRALIZA = True", """
import torch
def spectral_slope(g):
    g = torch.as_tensor(g, dtype=torch.float64).flatten()
    centered = g - g.mean() if CENTRALIZA else g
    power = torch.fft.rfft(centered).abs() ** 2
    k = torch.arange(1, g.numel() // 2 + 1, dtype=torch.float64).log()
    logp = power[1 : g.numel() // 2 + 1].log()
    k = k - k.mean()
    return ((k * (logp - logp.mean())).sum() / (k * k).sum()).item()
"""),
}

# a resposta certa do exercício 2 (o jacobiano de uma camada ReLU) que usa a função proibida
# (o autograd) por um valor padrão de argumento: a nota é a que a função devolve, e o professor
# é avisado
DEFAULT_QUESTION = "q2_jacobiano_relu"
DEFAULT_ARGUMENT = """
import torch
from torch.autograd.functional import jacobian as _j
def relu_layer_jacobian(weight, bias, h, _derive=_j):
    return _derive(lambda v: torch.relu(weight @ v + bias), h)
"""


@pytest.fixture(scope="module")
def hostile(release, tmp_path_factory):
    """Corrige numa passada as entregas hostis e a vítima; devolve o que os testes conferem."""
    base = tmp_path_factory.mktemp("ataques")
    folder = base / "turma"
    out = base / "correcao"
    outside = base / "fora"
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(1)
    port = server.getsockname()[1]
    connections: list = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    zip_path = str(release / "corretor" / f"{CHAPTER}.zip")
    victim = folder / "vitima.ipynb"
    _save(_filled(release), victim)
    _save(_with_cell(_blank(release), PATCH_CHECKS), folder / "troca_verificacao.ipynb")
    _save(_with_cell(_blank(release), REWRITE_TESTS.format(release=str(release),
                                                           zip_path=zip_path)),
          folder / "reescreve_testes.ipynb")
    _save(_with_cell(_blank(release), FIND_SOLUTIONS.format(
        root=str(ROOT), release=str(release), prefix=sys.prefix)), folder / "procura_solucao.ipynb")
    _save(_with_cell(_blank(release), FORGE_AND_KILL.format(chapter=CHAPTER)),
          folder / "forja_e_mata.ipynb")
    targets = [str(victim), str(folder / "novo_arquivo.ipynb"), str(out / "notas.csv"),
               zip_path, str(ROOT / "book" / f"{CHAPTER}.ipynb")]
    _save(_with_cell(_filled(release), ATTACK_FILES.format(targets=targets, outside=outside,
                                                           port=port)),
          folder / "ataca_arquivos.ipynb")
    _save(_with_cell(_filled(release), BOMBS), folder / "bombas.ipynb")
    for name, source in {**ANSWER_ATTACKS, "atalho_introspeccao": INTROSPECTION}.items():
        attacker = _filled(release)
        attacker["cells"][_answer_index(attacker, "q1_espectro")]["source"] = source
        _save(attacker, folder / f"{name}.ipynb")
    shortcut = _filled(release)
    shortcut["cells"][_answer_index(shortcut, DEFAULT_QUESTION)]["source"] = DEFAULT_ARGUMENT
    _save(shortcut, folder / "atalho_valor_padrao.ipynb")
    for name, (cell, answer) in HONEST.items():
        honest = _with_cell(_filled(release), cell, at=len(_filled(release)["cells"]) // 2)
        if answer is not None:
            honest["cells"][_answer_index(honest, "q1_espectro")]["source"] = answer
        _save(honest, folder / f"{name}.ipynb")

    before = {"turma": _digest(folder), "liberacao": _digest(release),
              "files": sorted(p.name for p in folder.iterdir())}
    result = _cli("grade", str(folder), "--release", str(release), "--out", str(out),
                  "--cell-timeout", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    gradebook = (out / "notas.csv").read_bytes()
    time.sleep(5)  # um processo que tenha sobrado teria escrito aqui
    stop.set()
    thread.join()
    server.close()
    return {"out": out, "rows": _rows(out), "before": before, "folder": folder,
            "outside": outside, "connections": connections, "gradebook": gradebook,
            "base": base}


def _feedback(hostile, name: str) -> str:
    return (hostile["out"] / "devolutivas" / f"{name}.txt").read_text(encoding="utf-8")


def test_the_victim_keeps_full_marks_and_every_file_is_graded(hostile):
    rows = hostile["rows"]
    assert set(rows) == set(hostile["before"]["files"])
    assert all(row["situacao"] == coursework.GRADED for row in rows.values()), rows
    assert rows["vitima.ipynb"]["total"] == rows["vitima.ipynb"]["maximo"] == "10"


@pytest.mark.parametrize("name", ["troca_verificacao.ipynb", "reescreve_testes.ipynb",
                                  "procura_solucao.ipynb", "forja_e_mata.ipynb"])
def test_blank_answers_score_zero_whatever_the_notebook_does(hostile, name):
    """Trocar as verificações, o executor do otter ou os arquivos de teste, procurar a solução
    do professor (também por /proc), forjar o resultado e matar os processos: nada dá pontos."""
    row = hostile["rows"][name]
    assert float(row["total"]) == 0, _feedback(hostile, name)


def test_the_instructor_solution_cannot_be_found(hostile):
    text = _feedback(hostile, "procura_solucao.ipynb")
    assert "RuntimeError: NADA" in text and "ACHEI" not in text, text


def test_attacks_change_no_file_outside_the_sandbox(hostile):
    before = hostile["before"]
    assert _digest(hostile["folder"]) == before["turma"]
    assert sorted(p.name for p in hostile["folder"].iterdir()) == before["files"]
    # o notebook do professor que o ataque tentou sobrescrever (só o alvo: book/ pode estar
    # sendo editado por quem desenvolve o livro enquanto os testes rodam)
    assert "destru" not in (ROOT / "book" / f"{CHAPTER}.ipynb").read_text(encoding="utf-8")
    assert not list(hostile["base"].glob("fora*"))
    assert hostile["connections"] == []


def test_the_release_is_untouched(hostile, release):
    assert _digest(release) == hostile["before"]["liberacao"]


def test_nothing_survives_the_grading(hostile):
    assert (hostile["out"] / "notas.csv").read_bytes() == hostile["gradebook"]
    leftovers = []
    for process in psutil.process_iter():
        try:
            if any(str(hostile["base"]) in part for part in process.cmdline()):
                leftovers.append(process)
        except (psutil.Error, OSError):
            continue
    assert leftovers == []
    assert not (hostile["out"] / ".trabalho").exists()


def test_bombs_cost_the_student_nothing_and_the_class_nothing(hostile):
    row = hostile["rows"]["bombas.ipynb"]
    assert row["total"] == row["maximo"], _feedback(hostile, "bombas.ipynb")
    assert hostile["rows"]["ataca_arquivos.ipynb"]["total"] == "10"


@pytest.mark.parametrize("name", sorted([*ANSWER_ATTACKS, "atalho_introspeccao"]))
def test_answers_that_attack_the_grader_can_only_be_wrong(hostile, name):
    """Forjar o veredito, buscar a referência oculta, mentir com uma subclasse de tensor, trocar
    e restaurar as verificações, remendar o tensor, inspecionar a pilha: a resposta (0,0) fica
    com zero, e os outros exercícios com no máximo os pontos deles (remendar o tensor na caixa
    também quebra as outras respostas do próprio estudante, como quebraria no kernel dele)."""
    row = hostile["rows"][f"{name}.ipynb"]
    text = _feedback(hostile, f"{name}.ipynb")
    assert float(row["q1_espectro"]) == 0, text
    assert float(row["total"]) <= 8, text
    if name != "remenda_tensor":
        assert float(row["total"]) == 8, text


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_notebooks_are_graded_as_they_run(hostile, name):
    """Um rascunho que importa os e torch, uma constante definida fora da célula da resposta:
    nota máxima, como o grader.check diz no notebook."""
    row = hostile["rows"][f"{name}.ipynb"]
    assert row["total"] == row["maximo"] == "10", _feedback(hostile, f"{name}.ipynb")


def test_a_forbidden_function_reached_by_a_default_argument_is_flagged_not_hidden(hostile):
    row = hostile["rows"]["atalho_valor_padrao.ipynb"]
    assert row["total"] == "10" and "jacobian" in row["revisar"]
    text = _feedback(hostile, "atalho_valor_padrao.ipynb")
    assert "Em revisão pelo professor" in text
    with open(hostile["out"] / "resumo.csv", encoding="utf-8-sig", newline="") as f:
        summary = {r["exercicio"]: r for r in csv.DictReader(f)}
    assert summary[DEFAULT_QUESTION]["em_revisao"] == "1"


def test_feedback_never_shows_hidden_source_inputs_or_expected_values(hostile):
    for path in (hostile["out"] / "devolutivas").rglob("*.txt"):
        text = path.read_text(encoding="utf-8")
        assert "reference_" not in text and "def check_" not in text, path.name
        for line in text.splitlines():
            if "(oculto)" in line:
                assert line.strip().endswith(("passou", "não passou")), (path.name, line)
    assert "sem ocultos aqui" in _feedback(hostile, "fonte_oculta.ipynb")


def test_feedback_has_no_teacher_log(hostile):
    for path in (hostile["out"] / "devolutivas").rglob("*.txt"):
        text = path.read_text(encoding="utf-8")
        assert "IPKernelApp" not in text and "WARNING" not in text and "Traceback" not in text
    assert list((hostile["out"] / "registro").glob("*.log"))


# --------------------------------------------------------------------------------------------
# interromper e retomar; Moodle, mesclagem e ajustes
# --------------------------------------------------------------------------------------------


def test_killing_the_grader_loses_nothing_and_a_rerun_resumes(release, tmp_path):
    folder = tmp_path / "turma"
    for name in ["a", "b", "c"]:
        _save(_filled(release), folder / f"{name}.ipynb")
    out = tmp_path / "correcao"
    command = [sys.executable, "-m", "coursetools.coursework", "grade", str(folder),
               "--release", str(release), "--out", str(out), "--jobs", "1"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and not (out / "notas.csv").exists():
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = _rows(out)
    assert 1 <= len(first) < 3 and all(r["total"] == "10" for r in first.values())
    assert all((out / "devolutivas" / f"{key}.txt").exists() for key in first)
    result = _cli("grade", str(folder), "--release", str(release), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"{len(first)} entrega(s) já corrigida(s)" in result.stdout
    assert set(_rows(out)) == {"a.ipynb", "b.ipynb", "c.ipynb"}
    assert not (out / ".trabalho").exists()
    assert list((out / "copias").glob("notas-*.csv"))


def test_two_grading_runs_at_once_both_grade_everything(release, tmp_path):
    """Duas correções ao mesmo tempo na mesma máquina (dois terminais, ou os testes ao lado de
    uma correção): cada caixa tem o seu usuário, e todas as entregas das duas tiram 10."""
    runs = []
    for run in ("a", "b"):
        folder = tmp_path / run / "turma"
        for index in range(3):
            _save(_filled(release), folder / f"{run}{index}.ipynb")
        command = [sys.executable, "-m", "coursetools.coursework", "grade", str(folder),
                   "--release", str(release), "--out", str(tmp_path / run / "correcao")]
        runs.append(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    for process in runs:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    for run in ("a", "b"):
        rows = _rows(tmp_path / run / "correcao")
        assert len(rows) == 3 and all(r["total"] == "10" for r in rows.values()), rows


def test_moodle_download_is_graded_merged_adjusted_and_returned(release, tmp_path):
    archive = tmp_path / "tarefa.zip"
    filled = json.dumps(_filled(release))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"Ana Souza_101_assignsubmission_file_/{CHAPTER}.ipynb", filled)
        zf.writestr("Bruno Lima_102_assignsubmission_file_/capitulo1.ipynb", filled)
        zf.writestr("Carla Dias_103_assignsubmission_file_/resposta.pdf", b"%PDF-1.4")
    out = tmp_path / "correcao"
    result = _cli("grade", str(archive), "--release", str(release), "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    ana = rows[f"Ana Souza_101_assignsubmission_file_/{CHAPTER}.ipynb"]
    assert (ana["participante"], ana["estudante"], ana["total"]) == ("101", "Ana Souza", "10")
    bruno_key = "Bruno Lima_102_assignsubmission_file_/capitulo1.ipynb"
    assert rows[bruno_key]["total"] == "10"
    with open(out / "moodle.csv", encoding="utf-8-sig", newline="") as f:
        sheet = list(csv.DictReader(f))
    assert [(r["Identificador"], r["Nota"]) for r in sheet] == [
        ("Participante101", "10"), ("Participante102", "10"), ("Participante103", "0")]
    assert {"Última modificação (nota)", "Comentários de feedback"} <= set(sheet[0])
    with zipfile.ZipFile(out / "devolutivas.zip") as zf:
        assert f"Ana Souza_101_assignsubmission_file_/{CHAPTER}.ipynb.txt" in zf.namelist()
    with open(out / "respostas_identicas.csv", encoding="utf-8-sig", newline="") as f:
        duplicates = list(csv.DictReader(f))
    assert {d["exercicio"] for d in duplicates} == {
        "q1_espectro", "q2_jacobiano_relu", "q3_normas_do_jacobiano", "q4_dois_gradientes"}
    assert all("Ana Souza" in d["entregas"] and "Bruno Lima" in d["entregas"] for d in duplicates)
    with open(out / "resumo.csv", encoding="utf-8-sig", newline="") as f:
        summary = {r["exercicio"]: r for r in csv.DictReader(f)}
    assert summary["q1_espectro"]["fracao_nota_maxima"] == "1.00"

    # o professor zera q1 do Bruno e corrige de novo só o arquivo dele, com --refazer
    with open(out / "ajustes.csv", "a", encoding="utf-8") as f:
        f.write(f"{bruno_key},q1_espectro,0,resposta idêntica à de outra entrega\n")
    extracted = tmp_path / "extraido"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(extracted)
    single = extracted / bruno_key
    result = _cli("grade", str(single), "--release", str(release), "--out", str(out),
                  "--refazer")
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    assert len(rows) == 3 and rows[bruno_key]["total"] == "8"
    assert rows[bruno_key]["q1_espectro"] == "0"
    text = (out / "devolutivas" / f"{bruno_key}.txt").read_text(encoding="utf-8")
    assert "Ajuste do professor em q1_espectro: 0 pontos — resposta idêntica" in text
    assert "resposta idêntica" in (out / "ajustes.csv").read_text(encoding="utf-8")
    assert len(list((out / "copias").glob("notas-*.csv"))) >= 1


def test_grading_without_bubblewrap_is_refused_unless_told(release, tmp_path):
    folder = tmp_path / "turma"
    _save(_filled(release), folder / "a.ipynb")
    env = {**os.environ, "PATH": "/nenhum"}
    command = [sys.executable, "-m", "coursetools.coursework", "grade", str(folder),
               "--release", str(release), "--out", str(tmp_path / "correcao")]
    refused = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env,
                             timeout=300)
    assert refused.returncode == 2 and "bubblewrap" in refused.stderr
    assert "--sem-isolamento" in refused.stderr
    assert not (tmp_path / "correcao" / "notas.csv").exists()
