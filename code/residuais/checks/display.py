"""O resultado de ``grader.check(...)`` no notebook do estudante, numa frase em português.

O otter-grader mostra, quando um teste falha, a saída inteira do doctest (em inglês, com o
traceback e caminhos da máquina). O notebook do estudante usa ``Notebook`` daqui, igual ao do
otter em tudo, menos no que mostra: “✅ q1: passou nos testes públicos” ou “❌ q1: <o motivo>”;
e de onde lê os testes públicos: do próprio pacote (``testes/<capítulo>.json``, escritos pela
liberação), não do arquivo do notebook — no Colab, o notebook não está no disco, e o otter
recusava começar (“Tests directory ./tests does not exist”).
"""

from __future__ import annotations

import html
import importlib.resources
import inspect
import json
import tempfile
from pathlib import Path
from typing import Any

import otter

from residuais.checks.failure import failure_reason


class CheckResult:
    """O resultado de uma verificação, mostrado numa frase (texto e HTML)."""

    def __init__(self, result: Any) -> None:
        self.result = result  # o TestFile do otter, para quem quiser os detalhes

    @property
    def passed(self) -> bool:
        return bool(getattr(self.result, "passed_all", False))

    def summary(self) -> str:
        name = getattr(self.result, "name", "exercício")
        if self.passed:
            return f"✅ {name}: passou nos testes públicos."
        failed = [r for r in self.result.test_case_results if not r.passed]
        reason = failure_reason(failed[0].message or "") if failed else "O teste não passou."
        return f"❌ {name}: {reason}"

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        color = "#1b7837" if self.passed else "#b2182b"
        return f'<p style="color: {color}; white-space: pre-wrap">{html.escape(self.summary())}</p>'


def public_tests_dir(chapter: str) -> str | None:
    """Uma pasta temporária com os testes públicos do capítulo, um arquivo por exercício (o
    formato que o otter lê), a partir do pacote; ``None`` se o pacote não os tem."""
    source = importlib.resources.files("residuais.checks") / "testes" / f"{chapter}.json"
    if not source.is_file():
        return None
    folder = Path(tempfile.mkdtemp(prefix=f"residuais-testes-{chapter}-"))
    for question, test in json.loads(source.read_text(encoding="utf-8")).items():
        (folder / f"{question}.py").write_text(f"OK_FORMAT = True\n\ntest = {test!r}\n",
                                              encoding="utf-8")
    return str(folder)


class Notebook(otter.Notebook):
    """O ``otter.Notebook`` com os testes públicos do pacote e o resultado de ``check`` em
    português (uma frase, sem traceback)."""

    def __init__(self, nb_path: str | None = None, tests_dir: str | None = None,
                 **kwargs: Any) -> None:
        packaged = public_tests_dir(Path(nb_path).stem) if nb_path else None
        on_disk = nb_path if nb_path and Path(nb_path).is_file() else None  # no Colab, não está
        super().__init__(on_disk, tests_dir=tests_dir or packaged or "./tests", **kwargs)

    def check(self, question: str, global_env: dict[str, Any] | None = None) -> Any:
        if global_env is None:
            frame = inspect.currentframe()
            global_env = frame.f_back.f_globals if frame and frame.f_back else {}
        result = super().check(question, global_env)
        return CheckResult(result) if result is not None else result
