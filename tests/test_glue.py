"""residuais.glue: as saídas guardadas para a prosa do site são as mesmas que o ``myst_nb.glue``
grava (o myst-nb as lê na construção), sem importar o myst-nb."""

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from residuais.glue import glue, glue_number


def _outputs(call) -> list[tuple[dict, dict]]:
    InteractiveShell.instance()  # o display precisa de um shell, como num núcleo
    with capture_output() as captured:
        call()
    return [(o.data, o.metadata) for o in captured.outputs]


@pytest.mark.parametrize("value, display", [("1,38", False), (3.5, True), ("*ênfase*", False)])
def test_glue_writes_what_myst_nb_glue_writes(value, display):
    from myst_nb import glue as reference

    ours = _outputs(lambda: glue("c0_valor", value, display=display))
    theirs = _outputs(lambda: reference("c0_valor", value, display=display))
    assert ours == theirs and len(ours) == 1
    data, metadata = ours[0]
    assert metadata["scrapbook"]["name"] == "c0_valor"
    assert all(kind.startswith("application/papermill.record/") != display for kind in data)


def test_glue_number_stores_the_comma_text_and_returns_it():
    [(data, metadata)] = _outputs(lambda: glue_number("c3_teste", 1.3849, 2))
    assert data == {"application/papermill.record/text/plain": "'1,38'"}
    assert metadata["scrapbook"] == {"name": "c3_teste",
                                     "mime_prefix": "application/papermill.record/"}
    assert glue_number("c3_teste", 2.0, 1) == "2,0"


def test_without_myst_nb_nothing_is_stored_only_shown(monkeypatch):
    """No Colab e no Jupyter do estudante (sem o myst-nb), nenhuma saída no formato do myst-nb,
    que apareceria como “nenhum renderizador”; com display=True, o valor aparece como sempre."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "myst_nb" else real(name, *a))
    assert _outputs(lambda: glue_number("c3_teste", 1.3849, 2)) == []
    [(data, _)] = _outputs(lambda: glue("c0_valor", 3.5, display=True))
    assert data == {"text/plain": "3.5"}
