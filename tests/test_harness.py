"""O avaliador (``coursetools.coursework.harness``) com a caixa do estudante (``worker``), sem
o bubblewrap: o protocolo, as chamadas de volta, o estado dos argumentos, a ordem públicos →
ocultos e o que uma caixa tomada pelo estudante consegue (só valores errados).

A caixa aqui é o processo do ``worker`` sem isolamento de arquivos (``isolated=False``); a
tranca (seccomp) vale igual. O isolamento do bubblewrap é conferido em ``test_sandbox`` e, de
ponta a ponta, em ``test_hostile``.
"""

from pathlib import Path

import pytest

from coursetools.coursework import box, harness
from coursetools.coursework.common import STUDENT_TEXT_LIMIT
from coursetools.coursework.sandbox import MB

TOOLS = Path(harness.__file__).parent  # worker.py e wire.py
SETUP = "import math, os, torch\nfrom torch import nn\n"
ANSWERS = {
    "attention": '''
def attention(q, k, v):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v
''',
    "pre_ln_block": '''
def pre_ln_block(x, ln1, attn, ln2, ffn):
    x = x + attn(ln1(x))
    return x + ffn(ln2(x))
''',
    "fold_batch_norm": '''
def fold_batch_norm(conv, bn):
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                           stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                           groups=conv.groups, bias=True)
        folded.weight.copy_(scale[:, None, None, None] * conv.weight)
        bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
        folded.bias.copy_(scale * (bias - bn.running_mean) + bn.bias)
    return folded
''',
    # a mesma conta, mas chama bn em modo de treino: muda as médias móveis do bn recebido
    "fold_touching_bn": '''
def fold_touching_bn(conv, bn):
    bn.train()
    bn(torch.randn(4, conv.out_channels, 3, 3))
    return fold_batch_norm(conv, bn)
''',
    "unet_output_size": '''
def unet_output_size(input_size, depth):
    side = input_size
    for level in range(depth):
        side -= 4
        if side < 1 or side % 2:
            raise ValueError("o max pooling recebe um lado ímpar")
        side //= 2
    side -= 4
    for _ in range(depth):
        side = 2 * side - 4
    if side < 1:
        raise ValueError("não chega à saída")
    return side
''',
    # um tensor que mente no avaliador: .item() e a comparação dariam 0
    "liar": '''
class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.item, torch.Tensor.abs):
            return torch.zeros(()) if func is torch.Tensor.abs else 0.0
        return super().__torch_function__(func, types, args, kwargs or {})
def liar(q, k, v):
    return torch.zeros_like(v).as_subclass(Liar)
''',
    # a referência oculta, se estivesse na caixa
    "hidden_reference": '''
def hidden_reference(q, k, v):
    import importlib
    return importlib.import_module("ocultos.transformer").reference_attention(q, k, v)
''',
    # forja um quadro de resposta em todo descritor aberto e mata o processo
    "forger": '''
def forger(q, k, v):
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__ if "__file__" in dir() else ".")))
    forged = b"\\x00\\x00\\x00\\x02" + b"\\x00" * 8 + b"{}"
    for fd in range(3, 64):
        try:
            os.write(fd, forged * 50)
        except OSError:
            pass
    os._exit(0)
''',
    "spin": "def spin(q, k, v):\n    while True:\n        pass\n",
    # processos novos e programas: a caixa não deixa
    "escape": '''
def escape():
    found = []
    for attempt in (os.fork, lambda: os.execv("/bin/true", ["true"]),
                    lambda: __import__("subprocess").run(["/bin/true"])):
        try:
            attempt()
            found.append("conseguiu")
        except OSError as exc:
            found.append(type(exc).__name__)
    return found
''',
    # 4 GB de uma vez: o orçamento da caixa (3 GB de espaço de endereçamento) não deixa
    "hog": '''
def hog():
    try:
        block = bytearray(4 * 1024 ** 3)
        return len(block)
    except MemoryError:
        return "MemoryError"
''',
    # guarda cada entrada; nos casos públicos, conta o que viu
    "spy": '''
SEEN = []
def spy(value):
    SEEN.append(value)
    raise ValueError("vi " + repr(SEEN))
''',
}


def _case(code: str, hidden: bool = False) -> dict:
    return {"code": "".join(f">>> {line}\n" if not line.startswith("#") else f"{line[1:]}\n"
                            for line in code.splitlines()), "hidden": hidden}


def _check(module: str, check: str, name: str, hidden: bool = False) -> dict:
    return _case(f"from residuais.checks.{module} import {check}\n{check}({name})", hidden)


QUESTIONS = [
    ("certa", [_check("avaliador_exemplos", "check_attention", "attention")]),
    ("chamadas_de_volta", [_check("avaliador_exemplos", "check_pre_ln_block", "pre_ln_block")]),
    ("modulo_devolvido", [_check("folding", "check_fold_batch_norm_conv", "fold_batch_norm")]),
    ("mexe_no_bn", [_check("folding", "check_fold_batch_norm_conv", "fold_touching_bn")]),
    ("value_error", [_check("architectures", "check_unet_output_size", "unet_output_size")]),
    ("tensor_mentiroso", [_check("avaliador_exemplos", "check_attention", "liar")]),
    ("referencia_oculta", [_check("avaliador_exemplos", "check_attention", "hidden_reference")]),
    ("fuga", [_case("escape()\n#['PermissionError', 'PermissionError', 'PermissionError']")]),
    ("memoria", [_case("hog()\n#'MemoryError'")]),
    ("espia", [_case("spy(12345)", hidden=True), _case("spy(0)")]),
    ("forja", [_check("avaliador_exemplos", "check_attention", "forger")]),
    ("depois_da_forja", [_check("avaliador_exemplos", "check_attention", "attention")]),
    ("laco", [_check("avaliador_exemplos", "check_attention", "spin")]),
    ("depois_do_laco", [_check("avaliador_exemplos", "check_attention", "attention")]),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("caixa")
    cells = [{"index": 1, "source": SETUP}] + [
        {"index": i, "source": code} for i, code in enumerate(ANSWERS.values(), start=2)]
    job = {"cells": cells, "timeout": 120, "cell_timeout": 20, "call_timeout": 8,
           "questions": [{"name": name, "cases": cases} for name, cases in QUESTIONS],
           "box": {"isolated": False, "uid": 0, "binds": [], "tools": str(TOOLS),
                   "memory": 3072 * MB, "scratch": str(scratch)}}
    return harness.grade(job)


def _outcome(graded, name: str) -> list[dict]:
    return graded["questions"][name]


@pytest.mark.parametrize("name", ["certa", "chamadas_de_volta", "modulo_devolvido",
                                  "value_error", "fuga"])
def test_honest_answers_pass_through_the_wire(graded, name):
    assert all(case["passed"] for case in _outcome(graded, name)), _outcome(graded, name)


def test_the_box_cannot_fork_or_run_programs(graded):
    assert _outcome(graded, "fuga")[0]["passed"]


def test_the_memory_budget_holds_for_the_box(graded):
    assert _outcome(graded, "memoria")[0]["passed"], _outcome(graded, "memoria")


def test_what_the_answer_does_to_its_arguments_comes_back(graded):
    (case,) = _outcome(graded, "mexe_no_bn")
    assert not case["passed"] and "alterou a conv ou o bn" in case["output"]


@pytest.mark.parametrize("name", ["tensor_mentiroso", "referencia_oculta", "forja", "laco"])
def test_a_compromised_box_can_only_be_wrong(graded, name):
    assert not any(case["passed"] for case in _outcome(graded, name))


def test_the_hidden_reference_does_not_exist_in_the_box(graded):
    assert "ModuleNotFoundError" in _outcome(graded, "referencia_oculta")[0]["output"]


def test_a_dead_or_stuck_box_is_replaced_for_the_next_cases(graded):
    assert "interrompida" in _outcome(graded, "laco")[0]["output"]
    assert _outcome(graded, "depois_da_forja")[0]["passed"]
    assert _outcome(graded, "depois_do_laco")[0]["passed"]
    assert graded["starts"] == 3


def test_public_messages_are_written_before_any_hidden_input_reaches_the_box(graded):
    hidden, public = _outcome(graded, "espia")
    assert "vi [0]" in public["output"] and "12345" not in public["output"]
    assert not hidden["passed"]


def test_rules_of_forbidden_functions_are_collected_for_review(graded):
    assert "torch.nn.functional.scaled_dot_product_attention" in graded["rules"]["certa"]
    assert graded["rules"]["fuga"] == {}


def test_student_error_text_is_cut_and_has_no_paths():
    error = box.student_error("ValueError", "em /home/ana/segredo/ocultos.py: " + "x" * 900)
    assert type(error) is ValueError
    assert "/home" not in str(error) and len(str(error)) <= STUDENT_TEXT_LIMIT
    assert type(box.student_error("Meu Erro", "a")).__name__ == "Exception"
    assert type(box.student_error("SystemExit", "a")).__name__ == "SystemExit"
    assert not isinstance(box.student_error("SystemExit", "a"), SystemExit)


def test_without_isolation_the_box_still_does_not_see_the_hidden_tests(tmp_path, monkeypatch):
    """O avaliador tem os testes ocultos no ``PYTHONPATH``; a caixa, mesmo sem o bubblewrap
    (``--sem-isolamento``), não o herda."""
    (tmp_path / "ocultos").mkdir()
    (tmp_path / "ocultos" / "__init__.py").write_text("")
    (tmp_path / "ocultos" / "segredo.py").write_text("RESPOSTA = 42\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    probe = ("def probe():\n    try:\n        import ocultos.segredo\n        return 'achou'\n"
             "    except ImportError:\n        return 'não achou'\n")
    job = {"cells": [{"index": 1, "source": probe}], "timeout": 60, "cell_timeout": 20,
           "call_timeout": 20,
           "questions": [{"name": "q", "cases": [_case("probe()\n#'não achou'")]}],
           "box": {"isolated": False, "uid": 0, "binds": [], "tools": str(TOOLS),
                   "memory": 3072 * MB, "scratch": str(tmp_path)}}
    assert harness.grade(job)["questions"]["q"][0]["passed"]
