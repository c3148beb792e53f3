"""A figura interativa: enumera os estados dos controles, calcula a visão de cada um e monta o
HTML da saída da célula (dados, controles, programa e imagem de reserva)."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from residuais.interactive.controls import Choice, Control, Toggle
from residuais.interactive.views import View

MAX_DATA_BYTES = 1_500_000  # a página inteira tem orçamento de 2 MB


def _asset(name: str) -> str:
    return resources.files("residuais.interactive").joinpath(name).read_text(encoding="utf-8")


def _factor(views: dict[str, dict]) -> tuple[dict, dict[str, dict]]:
    """Separa o que é igual em todas as visões (rótulos, eixos) do que muda de estado a estado,
    para o JSON não repetir os rótulos milhares de vezes."""
    first = next(iter(views.values()))
    common = {k: v for k, v in first.items() if all(view.get(k) == v for view in views.values())}
    return common, {key: {k: v for k, v in view.items() if k not in common}
                    for key, view in views.items()}


class InteractiveFigure:
    """Uma figura que o leitor controla, com todos os estados calculados de antemão.

    ``view`` é chamada uma vez para cada combinação dos valores dos ``controls`` (com os nomes
    dos controles como argumentos) e devolve um :class:`LinePlot`, :class:`HeatMap` ou
    :class:`BarPlot`. ``static`` (uma figura do matplotlib) é a imagem de reserva, para o PDF e
    para quem lê sem JavaScript; ``alt`` a descreve. ``description`` descreve o desenho
    interativo para o leitor de tela (o padrão é ``alt``; dê um texto próprio quando a reserva
    for um resumo diferente do desenho). A última expressão da célula mostra a figura.
    """

    def __init__(self, *, title: str, alt: str, caption: str, controls: Sequence[Control],
                 view: Callable[..., View], initial: Mapping[str, Any], static: Figure,
                 description: str | None = None) -> None:
        if not controls:
            raise ValueError("uma figura interativa precisa de pelo menos um controle")
        names = [c.name for c in controls]
        if len(set(names)) != len(names):
            raise ValueError(f"nomes de controles repetidos: {names}")
        if set(initial) != set(names):
            raise ValueError(f"o estado inicial precisa dar um valor a cada controle {names}; "
                             f"recebi {sorted(initial)}")
        if not alt.strip() or not title.strip():
            raise ValueError("a figura precisa de título e de texto alternativo (alt)")
        if not isinstance(static, Figure):
            raise ValueError("static é a figura do matplotlib usada como imagem de reserva")
        self.title, self.alt, self.caption = title, alt, caption
        self.description = description or alt
        self.controls = list(controls)
        self.initial = "-".join(str(c.code_of(initial[c.name])) for c in self.controls)
        self.views = self._all_views(view)
        self.png = self._png(static)
        self.data = self._data()

    def _all_views(self, view: Callable[..., View]) -> dict[str, dict]:
        views: dict[str, dict] = {}
        kinds = set()
        for combination in itertools.product(*(list(c.states()) for c in self.controls)):
            key = "-".join(str(code) for code, _ in combination)
            arguments = {c.name: value for c, (_, value) in zip(self.controls, combination,
                                                                 strict=True)}
            result = view(**arguments)
            if not hasattr(result, "to_json"):
                raise ValueError(f"a função da visão devolveu {type(result).__name__} para "
                                 f"{arguments}; esperava LinePlot, HeatMap ou BarPlot")
            views[key] = result.to_json()
            kinds.add(views[key]["kind"])
        if len(kinds) > 1:
            raise ValueError(f"todas as visões de uma figura são do mesmo tipo; recebi {kinds}")
        return views

    @staticmethod
    def _png(static: Figure) -> str:
        buffer = io.BytesIO()
        static.savefig(buffer, format="png")
        plt.close(static)  # senão o Jupyter a mostra de novo no fim da célula
        return base64.b64encode(buffer.getvalue()).decode("ascii")

    def _data(self) -> str:
        common, states = _factor(self.views)
        payload = {"controls": [c.spec() for c in self.controls], "initial": self.initial,
                   "common": common, "states": states}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if len(text.encode()) > MAX_DATA_BYTES:
            raise ValueError(f"os dados da figura têm {len(text.encode()) / 1e6:.1f} MB; o limite "
                             f"é {MAX_DATA_BYTES / 1e6:.1f} MB (menos estados ou menos pontos)")
        return text.replace("</", "<\\/")  # nada fecha o <script> por dentro

    @property
    def n_states(self) -> int:
        return len(self.views)

    def _controls_html(self, uid: str) -> str:
        parts = []
        initial = [int(code) for code in self.initial.split("-")]
        for i, (control, code) in enumerate(zip(self.controls, initial, strict=True)):
            name = f"{uid}-{control.name}"
            if isinstance(control, Toggle):
                checked = " checked" if code else ""
                parts.append(f'<label class="fi-alternar"><input type="checkbox" name="{name}" '
                             f'data-controle="{i}"{checked}> {html.escape(control.label)}</label>')
                continue
            kind = "radio" if isinstance(control, Choice) else "checkbox"
            options = []
            for j, (_, label) in enumerate(control.options if isinstance(control, Choice)
                                           else control.items):
                on = (code == j) if isinstance(control, Choice) else bool(code >> j & 1)
                options.append(f'<label><input type="{kind}" name="{name}" value="{j}" '
                               f'data-controle="{i}"{" checked" if on else ""}> '
                               f"{html.escape(label)}</label>")
            parts.append(f'<fieldset><legend>{html.escape(control.label)}</legend>'
                         f'{"".join(options)}</fieldset>')
        return "".join(parts)

    def _repr_html_(self) -> str:
        uid = "fi-" + hashlib.sha256(self.data.encode()).hexdigest()[:10]
        title, alt = html.escape(self.title), html.escape(self.alt, quote=True)
        description = html.escape(self.description, quote=True)
        return (
            f'<figure class="figura-interativa" id="{uid}" aria-labelledby="{uid}-titulo">'
            f"<style>{_asset('figura.css')}</style>"
            f'<figcaption id="{uid}-titulo"><strong>{title}.</strong> '
            f"{html.escape(self.caption)}</figcaption>"
            f'<img class="fi-estatica" src="data:image/png;base64,{self.png}" alt="{alt}">'
            f'<div class="fi-interativa" hidden>'
            f'<form class="fi-controles" aria-label="Controles da figura: {title}">'
            f"{self._controls_html(uid)}</form>"
            f'<div class="fi-desenho" role="img" aria-label="{description}"></div>'
            f'<div class="fi-legenda"></div>'
            f'<p class="fi-leitura" aria-live="polite"></p></div>'
            f'<script type="application/json" class="fi-dados">{self.data}</script>'
            f"<script>{_asset('figura.js')}</script></figure>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/html": self._repr_html_(),
                "text/plain": f"Figura interativa: {self.title} ({self.n_states} estados)"}


