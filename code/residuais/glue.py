"""Números da prosa tirados das saídas: o ``glue`` do myst-nb, com a vírgula decimal do livro.

Um número que a prosa cita de uma célula cuja saída varia de uma máquina para outra entra no texto
com ``{glue:text}`nome```: o site mostra o valor guardado na saída da célula, e texto e saída não
se separam quando o capítulo é reexecutado.

:func:`glue` grava a saída no formato que o myst-nb lê (o mesmo da função ``myst_nb.glue``), sem
importar o myst-nb: importá-lo custava cerca de 1,5 s por capítulo (ele traz o nbformat e o
jsonschema, que montam gramáticas na importação). Só grava onde o myst-nb está instalado (quem
constrói o livro): no Colab ou no Jupyter do estudante, uma saída nesse formato apareceria como
“nenhum renderizador”, e o valor já aparece onde a célula o imprime.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from residuais.plotting import number

GLUE_PREFIX = "application/papermill.record/"  # onde o myst-nb procura as saídas guardadas


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Guarda a representação de ``variable`` na saída da célula sob ``name``, para a prosa do
    site citar com ``{glue:text}`` ou ``{glue:md}``; com ``display=True``, mostra-a também."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as show

    if importlib.util.find_spec("myst_nb") is None:  # ninguém vai ler: só mostra, se pedido
        if display:
            show(variable)
        return
    bundle, metadata = format_display_data(variable)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    show({prefix + kind: value for kind, value in bundle.items()}, raw=True, metadata=metadata)


def glue_number(name: str, value: float, digits: int = 2) -> str:
    """Guarda ``value`` com ``digits`` casas e vírgula decimal sob ``name`` (sem mostrá-lo na
    saída) e devolve o texto guardado, como ``number(value, digits)``."""
    text = number(value, digits)
    glue(name, text, display=False)
    return text
