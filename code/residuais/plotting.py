"""Estilo das figuras do livro: uma paleta (Okabe–Ito, adequada para daltônicos), rótulos em
português e tamanhos legíveis na largura de um celular."""

from __future__ import annotations

import io

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

# Okabe e Ito (2008): distinguíveis para os tipos comuns de daltonismo. O laranja e o celeste
# originais (#E69F00, #56B4E9) têm contraste abaixo de 3:1 contra o fundo branco (WCAG 2.1,
# critério 1.4.11); aqui vão escurecidos, com o mesmo matiz, para passar desse limite.
PALETTE = {
    "sequencial": "#D55E00",  # vermelhão: redes sem atalho
    "residual": "#0072B2",  # azul: redes com conexões residuais
    "verde": "#009E73",
    "laranja": "#B07A00",
    "rosa": "#CC79A7",
    "celeste": "#2F8FC8",
    "preto": "#000000",
}
CYCLE = [PALETTE[k] for k in ("residual", "sequencial", "verde", "laranja", "rosa", "celeste")]


def use_book_style() -> None:
    """Aplica o estilo do livro às próximas figuras do matplotlib."""
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (7.0, 3.4),
            "figure.constrained_layout.use": True,
            "font.size": 11,
            "axes.titlesize": 11,
            "axes.labelsize": 11,
            "legend.fontsize": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.prop_cycle": mpl.cycler(color=CYCLE),
            "lines.linewidth": 1.8,
        }
    )


def number(value: float, digits: int = 2) -> str:
    """O número com ``digits`` casas e vírgula decimal, como na prosa: ``number(1.066) == "1,07"``.
    O sinal de menos é o tipográfico (−), como nos eixos das figuras."""
    text = f"{value:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":  # -0,00 vira 0,00
        text = text.lstrip("-")
    return text.replace("-", "\u2212").replace(".", ",")


class DecimalCommaFormatter(ScalarFormatter):
    """Os rótulos de um eixo linear com vírgula decimal (0,5 em vez de 0.5)."""

    def __call__(self, x, pos=None) -> str:
        return super().__call__(x, pos).replace(".", "{,}" if self._useMathText else ",")

    def get_offset(self) -> str:
        return super().get_offset().replace(".", "{,}" if self._useMathText else ",")


def use_decimal_comma(*axes: Axes) -> None:
    """Põe vírgula decimal nos rótulos dos eixos lineares de ``axes`` (``subplots`` já faz isso;
    use em eixos criados de outro jeito, como o de uma barra de cores). Chame depois de
    ``set_xscale``/``set_yscale``: trocar a escala troca também o formatador."""
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "linear":
                axis.set_major_formatter(DecimalCommaFormatter())


def subplots(ncols: int = 1, nrows: int = 1, **kwargs) -> tuple[Figure, Axes | list[Axes]]:
    """``plt.subplots`` com o estilo do livro; devolve (figura, eixos) com eixos achatados."""
    use_book_style()
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, **kwargs)
    flat = list(axes.flat)
    use_decimal_comma(*flat)
    return fig, flat[0] if len(flat) == 1 else flat


def depth_color(kind: str, i: int, n: int) -> tuple[float, float, float, float]:
    """Cor da i-ésima profundidade (de n) de uma família ("sequencial" ou "residual"):
    mais clara para a rasa, mais escura para a profunda. O tom mais claro (0,65 do mapa de cores)
    ainda tem contraste de 3:1 contra o branco."""
    if kind not in ("sequencial", "residual"):
        raise ValueError(f"kind deve ser 'sequencial' ou 'residual'; recebeu {kind!r}.")
    cmap = plt.get_cmap("Oranges" if kind == "sequencial" else "Blues")
    return cmap(0.65 + 0.35 * i / max(n - 1, 1))


def plot_seeds(ax: Axes, curves, color: str, label: str, x=None, marker: str | None = None) -> None:
    """Uma curva por semente, finas e claras, e a média delas por cima, com ``label``.

    ``curves`` é uma lista de sequências (uma por semente); as mais curtas (um treino que
    divergiu e parou) entram na média só até onde vão.
    """
    curves = [list(c) for c in curves]
    if not curves or not all(curves):
        raise ValueError("plot_seeds precisa de pelo menos uma curva não vazia por semente.")
    length = max(len(c) for c in curves)
    x = list(range(1, length + 1)) if x is None else list(x)
    for curve in curves:
        ax.plot(x[: len(curve)], curve, color=color, linewidth=0.8, alpha=0.45)
    mean = [sum(c[i] for c in curves if len(c) > i) / sum(len(c) > i for c in curves)
            for i in range(length)]
    ax.plot(x[:length], mean, color=color, linewidth=2.0, marker=marker, markersize=4,
            label=f"{label} (média de {len(curves)} sementes)")


def show(fig: Figure) -> None:
    """Mostra a figura no notebook só como PNG e a fecha.

    A saída guardada fica sem texto (nada de ``<Figure size ...>`` ou do valor da última linha),
    o que mantém a validação do nbval estável. Fora de um notebook, só fecha a figura.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is not None:
        display({"image/png": buffer.getvalue()}, raw=True)
