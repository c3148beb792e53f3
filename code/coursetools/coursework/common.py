"""As peças comuns da liberação e da correção: nomes das pastas e arquivos, situações de uma
entrega, limites de tempo padrão, o erro de uso e o resultado da correção de um arquivo."""

from __future__ import annotations

import re
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
FEEDBACK_ZIP = "devolutivas.zip"  # as devolutivas para devolver pelo Moodle
ADJUSTMENTS = "ajustes.csv"  # os ajustes manuais do professor, que nenhuma correção apaga
SUMMARY = "resumo.csv"  # por exercício: média, fração de notas máximas, falha mais comum
DUPLICATES = "respostas_identicas.csv"
MOODLE_SHEET = "moodle.csv"  # a planilha de notas no formato que o Moodle importa
MOODLE_CHAPTER_SHEET = "moodle-{}.csv"  # uma por capítulo, se a correção tem mais de um
LOG_DIR = "registro"  # o registro de cada entrega, só para o professor
BACKUP_DIR = "copias"  # as planilhas anteriores
STATE = ".estado.json"  # o que já foi corrigido, para retomar e mesclar
WORK_DIR = ".trabalho"  # pasta temporária, apagada no início e no fim

DEFAULT_TIMEOUT = 180.0  # s por entrega, no total: depois disso o subprocesso é encerrado
DEFAULT_CELL_TIMEOUT = 30.0  # s por célula: a célula é interrompida e a correção continua
STUCK_CELLS = 3  # células que não param nem interrompidas, puladas (cada uma, uma caixa nova)

# situações de uma entrega na planilha
GRADED = "corrigida"
NOT_NOTEBOOK = "não é notebook"
CORRUPTED = "notebook corrompido"
UNKNOWN_CHAPTER = "capítulo desconhecido"
TIMED_OUT = "tempo esgotado"
GRADER_ERROR = "erro na correção"
TAMPERED = "entrega alterada durante a correção"
REFUSED = "arquivo recusado"  # não foi extraído nem lido: caminho inseguro, ligação, grande demais
STATUSES = (GRADED, NOT_NOTEBOOK, CORRUPTED, UNKNOWN_CHAPTER, TIMED_OUT, GRADER_ERROR, TAMPERED,
            REFUSED)

COMMAND = "python -m coursetools.coursework"  # como se chama a linha de comando
STUDENT_TEXT_LIMIT = 300  # caracteres de um texto vindo do código do estudante, na devolutiva
_PATH = re.compile(r"(?:/[\w.\-]+){2,}/?")  # um caminho de arquivo


def student_text(text: str, limit: int = STUDENT_TEXT_LIMIT) -> str:
    """Um texto vindo do código do estudante (a mensagem de um erro), para a devolutiva: numa
    linha, sem caminhos de arquivo e cortado em ``limit`` caracteres."""
    text = _PATH.sub("…", " ".join(str(text).split()))
    return text if len(text) <= limit else text[:limit - 1] + "…"


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
    participant: str = ""  # o número do participante no Moodle, se a entrega veio de lá
    student: str = ""  # o nome do estudante, como o Moodle o escreve
    digest: str = ""  # SHA-256 da entrega corrigida
    release: str = ""  # o resumo da liberação (corretores) usada
    options: str = ""  # as opções da correção que mudam a devolutiva
    review: list[str] = field(default_factory=list)  # o que o professor deve revisar
    fingerprints: dict[str, str] = field(default_factory=dict)  # resumo de cada resposta
    failures: dict[str, str] = field(default_factory=dict)  # o primeiro motivo, por exercício
    log: str = ""  # o registro técnico (só para o professor; não vai para a devolutiva)

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
