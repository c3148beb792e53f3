"""A extensão da página da referência (_ext/api_pages.py): as fórmulas das docstrings, escritas
em texto (``h_{k-1}``), viram índices e expoentes de verdade; os identificadores ficam."""

from conftest import ROOT


def _render(text: str) -> str:
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_pages", ROOT / "_ext" / "api_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parts = []
    for node in module.scripted(text):
        name = type(node).__name__
        inner = node.astext()
        parts.append({"subscript": f"<sub>{inner}</sub>", "superscript": f"<sup>{inner}</sup>"}
                     .get(name, inner))
    return "".join(parts)


def test_subscripts_and_superscripts_of_formulas():
    assert _render("h_k = h_{k-1} + f_k[h_{k-1}]") == (
        "h<sub>k</sub> = h<sub>k-1</sub> + f<sub>k</sub>[h<sub>k-1</sub>]")
    assert _render("Σ (g_i − ḡ)(g_{i+1} − ḡ)") == "Σ (g<sub>i</sub> − ḡ)(g<sub>i+1</sub> − ḡ)"
    assert _render("W^O_h e a^(h)") == "W<sup>O</sup><sub>h</sub> e a<sup>(h)</sup>"
    assert _render("A_{k_m}···A_{k_1} x") == "A<sub>km</sub>···A<sub>k1</sub> x"


def test_identifiers_are_left_alone():
    text = "x_train, lag1_autocorrelation, n_blocks, init_scale e zero_init_last"
    assert _render(text) == text
