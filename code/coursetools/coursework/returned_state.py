"""O que a função do estudante fez nos argumentos, de volta nos originais.

A função roda na caixa, sobre cópias; a caixa devolve os argumentos como ficaram, só dados
(``wire``). Aqui essas mudanças são aplicadas aos objetos que a verificação passou, para que ela
confira o que confere num processo só (“não altere o bn recebido”, o modo de treino)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from coursetools.coursework import wire


def apply_state(original: Any, returned: Any) -> None:
    """O que a função fez nos argumentos, de volta nos originais: tensores mudados no lugar,
    parâmetros, buffers, modo treino/avaliação e atributos de dados dos módulos (o que as
    verificações conferem, como “não altere o bn recebido”)."""
    if isinstance(original, torch.Tensor):
        if (isinstance(returned, torch.Tensor) and returned.shape == original.shape
                and returned.dtype == original.dtype and not torch.equal(returned, original)):
            with torch.no_grad():
                original.copy_(returned)
    elif isinstance(original, nn.Module) and isinstance(returned, nn.Module):
        _apply_module_state(original, returned)
    elif isinstance(original, list | tuple) and isinstance(returned, list | tuple):
        for a, b in zip(original, returned, strict=False):
            apply_state(a, b)
    elif isinstance(original, dict) and isinstance(returned, dict):
        for key, value in original.items():
            apply_state(value, returned.get(key))


def _apply_module_state(original: nn.Module, returned: nn.Module) -> None:
    original.training = bool(returned.training)
    for kind in ("_parameters", "_buffers"):
        theirs = getattr(returned, kind)
        for key, tensor in getattr(original, kind).items():
            if tensor is not None:
                apply_state(tensor, theirs.get(key))
    mine, theirs = vars(original), vars(returned)
    for key in [k for k in mine if not k.startswith("_") and k in theirs]:
        if wire.plain(mine[key]) and wire.plain(theirs[key]):
            setattr(original, key, theirs[key])
    for key, child in original._modules.items():
        apply_state(child, returned._modules.get(key))
