"""Trabalhos avaliados: liberação para os estudantes e correção automática de cada capítulo.

Os capítulos em ``book/`` são notebooks do professor no formato do otter-grader 7 (soluções e
testes marcados em células ``raw``). Este pacote embrulha o ``otter assign`` e o ``otter run``
(local, sem Docker) em dois comandos::

    python -m coursetools.coursework release [--out release]
    python -m coursetools.coursework grade ENTREGAS [--release release] [--out PASTA]
                                               [--timeout 180] [--cell-timeout 30] [--jobs 2]
                                               [--hide-hidden]

``release`` gera, para cada capítulo do ``_toc.yml``, o notebook do estudante (sem as soluções,
com as verificações no lugar), o arquivo do corretor (.zip) e o notebook de referência, mais um
``LEIA-ME.md`` e um ``manifesto.json`` que o ``grade`` lê.

``grade`` corrige cada arquivo da pasta de entregas num subprocesso próprio (que é encerrado se
passar do tempo), reconhece o capítulo pelo próprio notebook e escreve ``notas.csv`` e uma
devolutiva em português por entrega. Nenhuma entrega se perde: arquivo que não é notebook,
notebook corrompido, capítulo desconhecido, erro na execução, laço infinito ou células apagadas
ou reordenadas, cada caso vira uma linha da planilha com uma mensagem clara.

Os módulos: ``common`` (nomes, situações, ``Result``), ``notebooks`` (leitura e exame dos
notebooks), ``manifest`` (capítulos e exercícios), ``release`` (liberação), ``submissions``
(capítulo e estrutura de cada entrega), ``worker`` (o subprocesso de correção), ``grading``
(a correção de uma pasta), ``report`` (planilha e devolutivas) e ``cli`` (linha de comando).
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
from coursetools.coursework.grading import grade
from coursetools.coursework.manifest import Chapter, Question, load_release
from coursetools.coursework.release import release

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
