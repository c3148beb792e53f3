"""Trabalhos avaliados: liberação para os estudantes e correção automática de cada capítulo.

Os capítulos em ``book/`` são notebooks do professor no formato do otter-grader 7 (soluções e
testes marcados em células ``raw``). Dois comandos::

    python -m coursetools.coursework release [--out release]
    python -m coursetools.coursework grade ENTREGAS [--release release] [--out PASTA]
                    [--timeout 180] [--cell-timeout 30] [--jobs 2]
                    [--refazer] [--moodle-idioma pt_br|en] [--sem-isolamento]

``release`` roda o ``otter assign`` em cada capítulo do ``_toc.yml``: notebooks dos estudantes,
corretores (.zip), notebooks de referência, ``LEIA-ME.md`` e ``manifesto.json``.

``grade`` corrige cada entrega (um notebook, uma pasta, ou a pasta ou o .zip do Moodle): o
notebook roda numa caixa de areia do bubblewrap que só responde às chamadas do avaliador com
valores; o avaliador, fora da caixa, guarda os testes e as referências e dá os pontos. Cada
resultado é gravado assim que sai; rodar de novo retoma e mescla.

Os módulos: ``common`` (nomes, situações, ``Result``), ``notebooks`` (leitura e exame dos
notebooks), ``manifest`` (capítulos e exercícios), ``release`` (liberação), ``graders`` (a
liberação lida e conferida na correção), ``collect`` (as entregas, também do Moodle),
``submissions`` (capítulo e estrutura de cada entrega), ``sandbox`` (a caixa de areia),
``worker`` (o que roda dentro dela), ``wire`` (os valores entre a caixa e o avaliador, sem
``pickle``), ``harness`` (o avaliador), ``review`` (o que vai para a revisão do professor),
``grading`` (a correção), ``gradebook`` (planilha, estado, ajustes), ``report`` (devolutivas),
``classreport`` (resumo, respostas idênticas, Moodle) e ``cli``.
"""

from coursetools.coursework.common import (
    CORRUPTED,
    GRADED,
    GRADER_ERROR,
    NOT_NOTEBOOK,
    TIMED_OUT,
    UNKNOWN_CHAPTER,
    CourseworkError,
    Result,
)
from coursetools.coursework.manifest import Chapter, Question, load_release
from coursetools.coursework.release import release


def __getattr__(name: str):
    """``grade`` só é importado quando usado: a correção traz o PyTorch (as verificações de
    ``residuais.checks``), 2,4 s que a construção do site e a liberação não precisam pagar."""
    if name == "grade":
        from coursetools.coursework.grading import grade

        return grade
    raise AttributeError(f"o módulo {__name__!r} não tem o atributo {name!r}")


__all__ = [
    "CORRUPTED",
    "GRADED",
    "GRADER_ERROR",
    "NOT_NOTEBOOK",
    "TIMED_OUT",
    "UNKNOWN_CHAPTER",
    "Chapter",
    "CourseworkError",
    "Question",
    "Result",
    "grade",
    "load_release",
    "release",
]
