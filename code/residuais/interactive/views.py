"""As visões de uma figura interativa: o que se desenha em cada estado. Cada visão vira um
dicionário JSON que o programa da página (``figura.js``) desenha em SVG."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from residuais.plotting import PALETTE

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _numbers(name: str, values: Sequence[float], allow_nan: bool = False) -> list[float | None]:
    """Os valores como floats do JSON (NaN vira ``None``: um ponto que não se desenha)."""
    out = []
    for value in values:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: esperava números, recebi {value!r}") from None
        if math.isnan(number) and allow_nan:
            out.append(None)
        elif not math.isfinite(number):
            raise ValueError(f"{name}: valor não finito ({value!r}); troque por um número "
                             "ou, numa curva, por float('nan') para um ponto que falta")
        else:
            out.append(float(f"{number:.5g}"))  # 5 algarismos significativos bastam
    return out


def _color(color: str) -> str:
    if color in PALETTE:
        return PALETTE[color]
    if _HEX.fullmatch(color):
        return color
    raise ValueError(f"cor {color!r}: use um nome da paleta do curso ({', '.join(PALETTE)}) "
                     "ou '#rrggbb'")


@dataclass(frozen=True)
class Series:
    """Uma curva de um :class:`LinePlot`."""

    label: str
    y: Sequence[float]
    color: str = "residual"
    dashed: bool = False

    def to_json(self) -> dict:
        return {"label": self.label, "y": _numbers(f"série {self.label!r}", self.y, True),
                "color": _color(self.color), "dashed": self.dashed}


@dataclass(frozen=True)
class LinePlot:
    """Curvas contra um eixo x comum; ``log_y`` usa a escala logarítmica no eixo y."""

    x: Sequence[float]
    series: Sequence[Series]
    xlabel: str
    ylabel: str
    log_y: bool = False
    y_range: tuple[float, float] | None = None

    def to_json(self) -> dict:
        x = _numbers("x", self.x)
        if not 1 <= len(self.series) <= 4:
            raise ValueError(f"um LinePlot tem de 1 a 4 séries, não {len(self.series)}")
        series = [s.to_json() for s in self.series]
        for s in series:
            if len(s["y"]) != len(x):
                raise ValueError(f"a série {s['label']!r} tem {len(s['y'])} valores, mas x tem "
                                 f"{len(x)}")
            if self.log_y and any(v is not None and v <= 0 for v in s["y"]):
                raise ValueError(f"a série {s['label']!r} tem valores ≤ 0 numa escala "
                                 "logarítmica (log_y=True)")
        out = {"kind": "lines", "x": x, "series": series, "xlabel": self.xlabel,
               "ylabel": self.ylabel, "log_y": self.log_y}
        if self.y_range is not None:
            out["y_range"] = _numbers("y_range", self.y_range)
        return out


@dataclass(frozen=True)
class HeatMap:
    """Uma matriz de valores em cores (linha i, coluna j), de ``vmin`` (claro) a ``vmax``."""

    values: Sequence[Sequence[float]]
    row_labels: Sequence[str]
    col_labels: Sequence[str]
    xlabel: str
    ylabel: str
    vmin: float = 0.0
    vmax: float = 1.0
    value_label: str = "peso"

    MAX_SIDE = 32

    def to_json(self) -> dict:
        rows = [_numbers(f"linha {i}", row) for i, row in enumerate(self.values)]
        n_rows, n_cols = len(rows), len(self.col_labels)
        if len(self.row_labels) != n_rows or any(len(r) != n_cols for r in rows):
            raise ValueError(f"a matriz tem forma {n_rows}×{[len(r) for r in rows][:3]}…, mas os "
                             f"rótulos pedem {len(self.row_labels)}×{n_cols}")
        if max(n_rows, n_cols) > self.MAX_SIDE:
            raise ValueError(f"matriz grande demais para a página ({n_rows}×{n_cols}); o limite "
                             f"é {self.MAX_SIDE} de lado")
        if not self.vmin < self.vmax:
            raise ValueError(f"vmin ({self.vmin}) precisa ser menor que vmax ({self.vmax})")
        return {"kind": "heatmap", "values": rows, "row_labels": list(self.row_labels),
                "col_labels": list(self.col_labels), "xlabel": self.xlabel,
                "ylabel": self.ylabel, "vmin": float(self.vmin), "vmax": float(self.vmax),
                "value_label": self.value_label}


@dataclass(frozen=True)
class BarPlot:
    """Barras com rótulos; ``points`` dá, por barra, os valores de cada semente (pontos sobre a
    barra); ``reference`` é uma linha horizontal (o acaso, por exemplo)."""

    labels: Sequence[str]
    values: Sequence[float]
    ylabel: str
    y_range: tuple[float, float] = (0.0, 1.0)
    points: Sequence[Sequence[float]] | None = None
    reference: float | None = None
    reference_label: str | None = None
    colors: Sequence[str] = field(default_factory=lambda: ("residual", "sequencial", "verde",
                                                            "laranja"))

    def to_json(self) -> dict:
        values = _numbers("values", self.values)
        if len(self.labels) != len(values):
            raise ValueError(f"{len(self.labels)} rótulos para {len(values)} barras")
        if len(values) > len(self.colors):
            raise ValueError(f"{len(values)} barras, mas só {len(self.colors)} cores")
        out = {"kind": "bars", "labels": list(self.labels), "values": values,
               "ylabel": self.ylabel, "y_range": _numbers("y_range", self.y_range),
               "colors": [_color(c) for c in self.colors[: len(values)]]}
        if self.points is not None:
            if len(self.points) != len(values):
                raise ValueError(f"points tem {len(self.points)} listas para {len(values)} barras")
            out["points"] = [_numbers(f"points[{i}]", p) for i, p in enumerate(self.points)]
        if self.reference is not None:
            out["reference"] = float(self.reference)
            out["reference_label"] = self.reference_label or ""
        return out


View = LinePlot | HeatMap | BarPlot
