"""Testes de residuais.plotting."""

import matplotlib.pyplot as plt
import pytest

from residuais import plotting
from residuais.plotting import PALETTE, plot_seeds, subplots


def test_plot_seeds_draws_each_seed_and_their_mean():
    fig, ax = subplots()
    plot_seeds(ax, [[3.0, 2.0, 1.0], [5.0, 4.0]], PALETTE["residual"], "residual")
    lines = ax.get_lines()
    assert len(lines) == 3
    assert list(lines[-1].get_ydata()) == [4.0, 3.0, 1.0]  # a segunda parou na época 2
    assert "média de 2 sementes" in lines[-1].get_label()
    plt.close(fig)
    with pytest.raises(ValueError, match="semente"):
        plot_seeds(ax, [[]], PALETTE["residual"], "x")


def test_number_uses_decimal_comma_and_typographic_minus():
    assert plotting.number(1.066) == "1,07"
    assert plotting.number(-0.5, 1) == "\u22120,5"
    assert plotting.number(-0.001) == "0,00"
    assert plotting.number(12345.678, 0) == "12346"


def test_axis_ticks_use_decimal_comma():
    fig, ax = plotting.subplots()
    ax.plot([0, 0.5, 1.0], [0.25, 0.5, 0.75])
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all("." not in t for t in labels)
    assert any("," in t for t in labels), labels
    ax.set_yscale("log")  # a escala log troca o formatador: os rótulos continuam legíveis
    plotting.use_decimal_comma(ax)
    fig.canvas.draw()
    plotting.show(fig)
