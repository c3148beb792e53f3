"""Validação de entradas das redes: formas de tensores e argumentos inteiros positivos.

Uma forma é escrita como no texto do livro, com um nome por eixo: ``"(B, C, H, W)"``. Os
nomes de uma letra que o livro usa são explicados na mensagem de erro (``B`` lote, ``C``
canais, ...); os outros (``d_model``) aparecem como estão.
"""

from __future__ import annotations

import torch

AXIS_MEANINGS = {
    "B": "lote",
    "C": "canais",
    "D": "atributos",
    "H": "altura",
    "T": "posições",
    "W": "largura",
}


def _axis_names(names: str) -> list[str]:
    """``"(B, C, H, W)"`` → ``["B", "C", "H", "W"]``."""
    if not (names.startswith("(") and names.endswith(")")):
        raise ValueError(f"A forma deve ser escrita entre parênteses, como '(B, C)'; recebeu "
                         f"{names!r}.")
    return [name.strip() for name in names[1:-1].split(",")]


def check_tensor(x: object, where: str, names: str, **sizes: int) -> None:
    """Confere que ``x`` é um tensor com um eixo para cada nome de ``names`` e com os tamanhos
    fixados em ``sizes``; caso contrário explica o erro em português.

    Exemplo: ``check_tensor(x, "BasicBlock", "(B, C, H, W)", C=64)`` aceita qualquer tensor
    de 4 eixos com 64 canais. Levanta ``TypeError`` se ``x`` não for um ``torch.Tensor`` e
    ``ValueError`` se a forma não servir; ``where`` diz quem recebeu a entrada.
    """
    axes = _axis_names(names)
    unknown = sorted(set(sizes) - set(axes))
    if unknown:
        raise ValueError(f"check_tensor: {unknown} não são eixos de {names}.")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: esperava um torch.Tensor, recebeu {type(x).__name__}.")
    if x.dim() == len(axes) and all(x.shape[axes.index(a)] == n for a, n in sizes.items()):
        return
    expected = names
    if sizes:  # "(B, C, H, W) com C = 8, isto é, (B, 8, H, W)"
        fixed = " e ".join(f"{a} = {n}" for a, n in sizes.items())
        concrete = ", ".join(str(sizes.get(a, a)) for a in axes)
        expected = f"{names} com {fixed}, isto é, ({concrete})"
    meaning = " × ".join(AXIS_MEANINGS.get(a, a) for a in axes)
    raise ValueError(
        f"{where}: esperava entrada de forma {expected} — {meaning} —, "
        f"mas recebeu forma {tuple(x.shape)}."
    )


def check_positive(**values: int) -> None:
    """Confere que cada argumento nomeado é um inteiro positivo (``depth=0`` é um erro)."""
    for name, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"O argumento {name} deve ser um inteiro positivo; recebeu {value!r}.")
