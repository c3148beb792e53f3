"""As peças comuns da liberação e da correção: nomes das pastas e arquivos, situações de uma
entrega, limites de tempo padrão, o erro de uso e o resultado da correção de um arquivo."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

# pastas e arquivos de uma liberação
STUDENT_DIR = "estudantes"
AUTOGRADER_DIR = "corretor"
SOLUTIONS_DIR = "solucoes"
MANIFEST = "manifesto.json"
README = "LEIA-ME.md"
# e de uma correção
GRADEBOOK = "notas.csv"
FEEDBACK_DIR = "devolutivas"

DEFAULT_TIMEOUT = 180.0  # s por entrega, no total: depois disso o subprocesso é encerrado
DEFAULT_CELL_TIMEOUT = 30.0  # s por célula: a célula é interrompida e a correção continua

# situações de uma entrega na planilha
GRADED = "corrigida"
NOT_NOTEBOOK = "não é notebook"
CORRUPTED = "notebook corrompido"
UNKNOWN_CHAPTER = "capítulo desconhecido"
TIMED_OUT = "tempo esgotado"
GRADER_ERROR = "erro na correção"

COMMAND = "python -m coursetools.coursework"  # como se chama a linha de comando
WORKER_COMMAND = "_worker"  # o subcomando interno que corrige uma entrega num subprocesso


class CourseworkError(Exception):
    """Erro de uso (capítulo ausente, liberação não encontrada...), com mensagem em português."""


@dataclass
class Result:
    """A correção de um arquivo da pasta de entregas: uma linha da planilha e uma devolutiva."""

    submission: str
    status: str
    message: str
    chapter: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    possible: float | None = None
    details: list[str] = field(default_factory=list)  # linhas da devolutiva, por exercício
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def skip_slow_import() -> None:
    """Evita importar o ``rfc3987_syntax``, que monta um analisador sintático ao ser importado.

    O ``jsonschema`` (usado pelo ``nbformat``, que o otter importa) só o usa, se estiver
    instalado, para validar o formato “iri”, que nenhum notebook usa; nesta máquina a importação
    custa uns 6 s por processo. Sem ele, o ``jsonschema`` simplesmente não confere esse formato.
    Precisa rodar antes da primeira importação do ``nbformat``.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
