"""Testes de residuais.plotting."""

import matplotlib.pyplot as plt
import pytest

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
