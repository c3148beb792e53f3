"""As figuras interativas (residuais.interactive): os estados, os dados gravados no HTML e as
mensagens de erro. O desenho no navegador é testado em tests/test_browser.py."""

import json
import re

import pytest

from residuais.interactive import (
    BarPlot,
    Choice,
    HeatMap,
    InteractiveFigure,
    LinePlot,
    Series,
    Subset,
    Toggle,
)
from residuais.plotting import subplots


def _static():
    fig, ax = subplots()
    ax.plot([0, 1], [0, 1])
    return fig


def _data(figure: InteractiveFigure) -> dict:
    html = figure._repr_html_()
    text = re.search(r'<script type="application/json" class="fi-dados">(.*?)</script>', html, re.S)
    return json.loads(text.group(1).replace("<\\/", "</"))


def _lines(scale, residual):
    y = [((1 + scale**2) if residual else scale**2) ** k for k in range(1, 6)]
    return LinePlot([1, 2, 3, 4, 5], [Series("variância", y)], "camada", "variância", log_y=True)


def test_every_state_is_computed_once_with_the_values_of_its_controls():
    calls = []

    def view(scale, residual, removed):
        calls.append((scale, residual, removed))
        return BarPlot(["a"], [scale + residual + len(removed) / 10], "y", y_range=(0, 3),
                       colors=["residual"])

    figure = InteractiveFigure(
        title="t", alt="a", caption="c",
        controls=[Choice("scale", "Escala", [(0.5, "0,5"), (1.0, "1")]), Toggle("residual", "R"),
                  Subset("removed", "Removidos", [(3, "3"), (7, "7")])],
        view=view, initial=dict(scale=1.0, residual=True, removed=frozenset({7})), static=_static())
    assert figure.n_states == len(calls) == 2 * 2 * 4
    assert len(set(calls)) == len(calls)
    data = _data(figure)
    # a chave é o código de cada controle: índice da opção, 0/1, máscara de bits dos itens
    assert data["initial"] == "1-1-2"
    assert data["states"]["1-1-2"]["values"] == [1.0 + 1 + 0.1]
    assert data["states"]["0-0-3"]["values"] == [0.5 + 0 + 0.2]
    # o que é igual em todos os estados fica uma vez só
    assert data["common"]["labels"] == ["a"] and "labels" not in data["states"]["0-0-0"]


def test_the_html_has_the_class_the_fallback_image_and_no_early_script_end():
    figure = InteractiveFigure(
        title="Título", alt="Texto alternativo", caption="Legenda </script> com tag",
        controls=[Choice("scale", "Escala", [(0.5, "0,5"), (1.0, "1")]), Toggle("residual", "R")],
        view=_lines, initial=dict(scale=1.0, residual=False), static=_static())
    html = figure._repr_html_()
    assert html.startswith('<figure class="figura-interativa"')
    assert 'class="fi-estatica" src="data:image/png;base64,' in html
    assert 'alt="Texto alternativo"' in html
    assert html.count("</script>") == 2  # só os fins dos dois scripts
    assert 'value="1" data-controle="0" checked' in html  # a escala 1 começa marcada
    assert figure._repr_mimebundle_()["text/plain"].startswith("Figura interativa: Título")
    assert 'role="img" aria-label="Texto alternativo"' in html  # sem description, o alt


def test_the_drawing_can_have_its_own_description_for_screen_readers():
    figure = InteractiveFigure(
        title="t", alt="Resumo: o maior peso de cada consulta", caption="c",
        description="Mapa de calor dos pesos de atenção do bloco e da cabeça escolhidos",
        controls=[Toggle("residual", "R")], view=lambda residual: _lines(1.0, residual),
        initial=dict(residual=True), static=_static())
    html = figure._repr_html_()
    assert 'alt="Resumo: o maior peso de cada consulta"' in html
    assert 'role="img" aria-label="Mapa de calor dos pesos de atenção' in html


def test_small_values_keep_their_significant_digits():
    view = LinePlot([1, 2], [Series("s", [3.14159e-12, 2.0])], "x", "y", log_y=True).to_json()
    assert view["series"][0]["y"] == [3.1416e-12, 2.0]


@pytest.mark.parametrize("make, message", [
    (lambda: LinePlot([1, 2], [Series("s", [1.0])], "x", "y").to_json(), "tem 1 valores"),
    (lambda: LinePlot([1], [Series("s", [0.0])], "x", "y", log_y=True).to_json(), "logarítmica"),
    (lambda: LinePlot([1], [Series("s", [float("inf")])], "x", "y").to_json(), "não finito"),
    (lambda: LinePlot([1], [Series("s", [1.0], color="roxo")], "x", "y").to_json(), "cor 'roxo'"),
    (lambda: HeatMap([[1.0, 2.0]], ["a"], ["b"], "x", "y").to_json(), "forma"),
    (lambda: BarPlot(["a", "b"], [1.0], "y").to_json(), "2 rótulos para 1 barras"),
    (lambda: Choice("escala da init", "E", [(1, "1")]), "identificador"),
    (lambda: Choice("s", "E", [(1, "1"), (1, "um")]), "repetidos"),
    (lambda: Subset("s", "E", [(k, str(k)) for k in range(13)]), "estados demais"),
])
def test_bad_input_gets_a_portuguese_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_figure_needs_an_initial_value_for_each_control_and_one_kind_of_view():
    controls = [Toggle("residual", "R")]
    with pytest.raises(ValueError, match="valor a cada controle"):
        InteractiveFigure(title="t", alt="a", caption="", controls=controls,
                          view=lambda residual: None, initial={}, static=_static())
    with pytest.raises(ValueError, match="devolveu NoneType"):
        InteractiveFigure(title="t", alt="a", caption="", controls=controls,
                          view=lambda residual: None, initial=dict(residual=True),
                          static=_static())

    def mixed(residual):
        if residual:
            return BarPlot(["a"], [1.0], "y", colors=["residual"])
        return _lines(1.0, False)

    with pytest.raises(ValueError, match="mesmo tipo"):
        InteractiveFigure(title="t", alt="a", caption="", controls=controls, view=mixed,
                          initial=dict(residual=True), static=_static())
    with pytest.raises(ValueError, match="não é uma opção"):
        InteractiveFigure(title="t", alt="a", caption="",
                          controls=[Choice("scale", "E", [(1, "1")])], view=lambda scale: None,
                          initial=dict(scale=2), static=_static())
