"""Números da prosa tirados das saídas: o ``glue`` do myst-nb, com a vírgula decimal do livro.

Um número que a prosa cita de uma célula cuja saída varia de uma máquina para outra entra no texto
com ``{glue:text}`nome```: o site mostra o valor guardado na saída da célula, e texto e saída não
se separam quando o capítulo é reexecutado. Fora do site (no Colab, por exemplo, onde o myst-nb
não está instalado), o número só aparece na saída impressa.
"""

from __future__ import annotations

from residuais.plotting import number


def glue_number(name: str, value: float, digits: int = 2) -> str:
    """Guarda ``value`` com ``digits`` casas e vírgula decimal sob ``name`` (sem mostrá-lo na
    saída) e devolve o texto guardado, como ``number(value, digits)``."""
    text = number(value, digits)
    try:
        from myst_nb import glue
    except ImportError:  # fora do site não há para onde colar
        return text
    glue(name, text, display=False)
    return text
