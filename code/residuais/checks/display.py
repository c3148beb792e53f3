"""O resultado de ``grader.check(...)`` no notebook do estudante, numa frase em português.

O otter-grader mostra, quando um teste falha, a saída inteira do doctest (em inglês, com o
traceback e caminhos da máquina). O notebook do estudante usa ``Notebook`` daqui, igual ao do
otter em tudo, menos no que mostra: “✅ q1: passou nos testes públicos” ou “❌ q1: <o motivo>”.
"""

from __future__ import annotations

import html
import inspect
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


class Notebook(otter.Notebook):
    """O ``otter.Notebook`` com o resultado de ``check`` em português (uma frase, sem traceback)."""

    def check(self, question: str, global_env: dict[str, Any] | None = None) -> Any:
        if global_env is None:
            frame = inspect.currentframe()
            global_env = frame.f_back.f_globals if frame and frame.f_back else {}
        result = super().check(question, global_env)
        return CheckResult(result) if result is not None else result
