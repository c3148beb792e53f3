"""Os controles de uma figura interativa. Cada um tem um nome (identificador Python, que vira o
argumento da função que calcula a visão), um rótulo em português e a lista dos seus valores."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


def _check_name(name: str) -> None:
    if not name.isidentifier():
        raise ValueError(f"o nome do controle precisa ser um identificador Python, não {name!r}")


def _check_options(kind: str, name: str, options: Sequence[tuple[Any, str]]) -> None:
    if not options:
        raise ValueError(f"o controle {kind} {name!r} precisa de pelo menos uma opção")
    for option in options:
        if not (isinstance(option, tuple) and len(option) == 2 and isinstance(option[1], str)):
            raise ValueError(f"cada opção de {name!r} é um par (valor, rótulo em texto); "
                             f"recebi {option!r}")
    values = [value for value, _ in options]
    if len(set(map(repr, values))) != len(values):
        raise ValueError(f"o controle {name!r} tem valores repetidos: {values}")


@dataclass(frozen=True)
class Choice:
    """Uma escolha entre opções (botões de opção); ``options``: lista de pares (valor, rótulo)."""

    name: str
    label: str
    options: Sequence[tuple[Any, str]]

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_options("Choice", self.name, self.options)

    def states(self) -> Iterator[tuple[int, Any]]:
        """Os estados do controle: (código, valor passado à função da visão)."""
        for code, (value, _) in enumerate(self.options):
            yield code, value

    def code_of(self, value: Any) -> int:
        for code, (option, _) in enumerate(self.options):
            if option == value:
                return code
        raise ValueError(f"{value!r} não é uma opção do controle {self.name!r}: "
                         f"{[v for v, _ in self.options]}")

    def spec(self) -> dict:
        return {"type": "choice", "name": self.name, "label": self.label,
                "options": [label for _, label in self.options]}


@dataclass(frozen=True)
class Toggle:
    """Liga/desliga (uma caixa de seleção): a função da visão recebe ``True`` ou ``False``."""

    name: str
    label: str

    def __post_init__(self) -> None:
        _check_name(self.name)

    def states(self) -> Iterator[tuple[int, bool]]:
        yield 0, False
        yield 1, True

    def code_of(self, value: Any) -> int:
        if not isinstance(value, bool):
            raise ValueError(f"o valor inicial de {self.name!r} é True ou False, não {value!r}")
        return int(value)

    def spec(self) -> dict:
        return {"type": "toggle", "name": self.name, "label": self.label}


@dataclass(frozen=True)
class Subset:
    """Qualquer subconjunto de itens (caixas de seleção): a função da visão recebe o
    ``frozenset`` dos valores marcados. São 2**len(items) estados."""

    name: str
    label: str
    items: Sequence[tuple[Any, str]]

    MAX_ITEMS = 12  # 4096 estados

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_options("Subset", self.name, self.items)
        if len(self.items) > self.MAX_ITEMS:
            raise ValueError(f"o controle {self.name!r} tem {len(self.items)} itens; com mais de "
                             f"{self.MAX_ITEMS} seriam estados demais para guardar na página")

    def states(self) -> Iterator[tuple[int, frozenset]]:
        values = [value for value, _ in self.items]
        for bits in itertools.product((0, 1), repeat=len(values)):
            code = sum(bit << i for i, bit in enumerate(bits))
            yield code, frozenset(v for v, bit in zip(values, bits, strict=True) if bit)

    def code_of(self, value: Any) -> int:
        chosen = set(value)
        values = [v for v, _ in self.items]
        unknown = chosen - set(values)
        if unknown:
            raise ValueError(f"{sorted(unknown)} não são itens do controle {self.name!r}")
        return sum(1 << i for i, v in enumerate(values) if v in chosen)

    def spec(self) -> dict:
        return {"type": "subset", "name": self.name, "label": self.label,
                "options": [label for _, label in self.items]}


Control = Choice | Toggle | Subset
