"""O fio entre o avaliador e a caixa do estudante: valores como dados, nunca como objetos.

O avaliador (``harness``) chama as funções do estudante, que moram noutro processo, dentro da
caixa de areia (``worker``). Argumentos e resultados atravessam um cano em **quadros**: um
cabeçalho JSON com o esqueleto do valor e um bloco ``safetensors`` com os tensores (sem
``pickle``: quem lê só monta números, textos, listas, tuplas, dicionários e tensores comuns).

Codificação do esqueleto (JSON):

- ``None``, ``bool``, ``int``, ``float``, ``str``: como estão;
- lista ``{"l": [...]}``, tupla ``{"t": [...]}``, dicionário ``{"d": [[chave, valor], ...]}``;
- tensor ``{"T": nome no bloco, "g": requires_grad}``; ``torch.dtype`` ``{"dtype": "float64"}``;
- módulo ``{"M": "torch.nn.modules.linear.Linear", "a": atributos, "p": parâmetros,
  "b": buffers, "s": submódulos}``, remontado só se a classe for de um pacote permitido;
- função do PyTorch ``{"F": "torch.nn.functional.relu"}``;
- outro chamável, do lado do avaliador: ``{"C": número}``, uma *chamada de volta* que a caixa
  pede ao avaliador (os módulos das verificações, como os que anotam as próprias chamadas);
- qualquer outra coisa: ``{"O": nome do tipo}``, que chega como ``Opaque`` (sem comportamento).

Este arquivo roda também dentro da caixa (copiado ao lado de ``worker.py``): só importa a
biblioteca padrão, o PyTorch e o ``safetensors``.
"""

from __future__ import annotations

import importlib
import json
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import torch
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

FRAME = struct.Struct(">IQ")  # tamanho do cabeçalho JSON, tamanho do bloco de tensores
HEADER_LIMIT = 4 * 1024 * 1024
BLOB_LIMIT = 256 * 1024 * 1024
DEPTH_LIMIT = 32  # aninhamento máximo de um valor
# atributos que todo ``nn.Module`` cria no ``__init__`` (não viajam: o destino cria os seus)
_MODULE_INTERNALS = frozenset(nn.Module().__dict__) - {"training"}


class WireError(ValueError):
    """Um quadro malformado, grande demais ou com um valor que não pode ser montado."""


class Opaque:
    """Um valor que não atravessa o fio (um objeto qualquer): fica só o nome do tipo."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name}>"


def opaque(type_name: str) -> Opaque:
    """Um ``Opaque`` cujo ``type(...).__name__`` é o do valor original (as mensagens das
    verificações citam o tipo recebido)."""
    name = type_name if type_name.isidentifier() and len(type_name) <= 60 else "objeto"
    return type(name, (Opaque,), {})(name)


# --------------------------------------------------------------------------------------------
# codificação
# --------------------------------------------------------------------------------------------


class Encoder:
    """Transforma um valor em esqueleto + tensores. ``callback`` dá um número a um chamável que
    não viaja (ou ``None``); sem número, o chamável vira ``Opaque``. No avaliador, o número é de
    uma chamada de volta; na caixa, o de um chamável que o avaliador mandou e que volta a ele."""

    def __init__(self, callback: Callable[[Any], int | None] | None = None) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self.callback = callback

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > DEPTH_LIMIT:
            raise WireError("valor aninhado demais")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, torch.Tensor):
            return self._tensor(value)
        if isinstance(value, torch.dtype):
            return {"dtype": str(value).removeprefix("torch.")}
        if type(value) in (list, tuple, torch.Size):
            items = [self.encode(v, depth + 1) for v in value]
            return {"l": items} if type(value) is list else {"t": items}
        if type(value) is dict:
            return {"d": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                          for k, v in value.items()]}
        if isinstance(value, nn.Module) and _class_path(type(value)) is not None:
            return self._module(value, depth)
        if callable(value) and _torch_function(value) is not None:
            return {"F": _torch_function(value)}
        handle = self.callback(value) if callable(value) and self.callback else None
        if handle is not None:
            return {"C": handle}
        return {"O": type(value).__name__}

    def _tensor(self, value: torch.Tensor) -> dict[str, Any]:
        name = f"t{len(self.tensors)}"
        # um tensor comum, com memória própria (uma subclasse vira um tensor comum aqui)
        detached = torch.Tensor.detach(value)
        self.tensors[name] = torch.Tensor.clone(torch.Tensor.contiguous(detached))
        return {"T": name, "g": bool(torch.Tensor.requires_grad.__get__(value))}

    def _module(self, module: nn.Module, depth: int) -> dict[str, Any]:
        attributes = {key: self.encode(v, depth + 1) for key, v in vars(module).items()
                      if key not in _MODULE_INTERNALS}
        return {
            "M": _class_path(type(module)),
            "a": attributes,
            "p": {k: None if p is None else self._tensor(p) for k, p in module._parameters.items()},
            "b": {k: None if b is None else self._tensor(b) for k, b in module._buffers.items()},
            "s": {k: None if m is None else self.encode(m, depth + 1)
                  for k, m in module._modules.items()},
        }


def _class_path(cls: type) -> str | None:
    module = getattr(cls, "__module__", "")
    if not module or module == "__main__" or "<" in cls.__qualname__:
        return None
    return f"{module}:{cls.__qualname__}"


def _torch_function(value: Any) -> str | None:
    """O caminho de uma função do PyTorch (``torch.nn.functional:relu``), se for uma."""
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not (isinstance(module, str) and isinstance(name, str)) or not module.startswith("torch"):
        return None
    if isinstance(value, type) or "." in name or "<" in name:
        return None
    return f"{module}:{name}"


def pack(value: Any, callback: Callable[[Any], int | None] | None = None) -> bytes:
    """O quadro de ``value``: cabeçalho JSON e bloco ``safetensors``."""
    encoder = Encoder(callback)
    header = json.dumps(encoder.encode(value), ensure_ascii=False).encode()
    blob = save_tensors(encoder.tensors) if encoder.tensors else b""
    return FRAME.pack(len(header), len(blob)) + header + blob


# --------------------------------------------------------------------------------------------
# decodificação
# --------------------------------------------------------------------------------------------


class Decoder:
    """Monta um valor do esqueleto.

    Módulos só de classes de ``torch.nn`` e do ``residuais``; ``callback`` diz o que fazer com
    ``{"C": n}`` (na caixa, uma chamada de volta; no avaliador, o próprio objeto que ele mandou
    com esse número, e nenhum outro). Na caixa (``trusted=True``: quem manda é o avaliador),
    também funções do PyTorch. No avaliador, que lê o que a caixa devolve, os atributos de um
    módulo só são postos se forem dados (números, textos, tensores) e não encobrirem nada da
    classe: uma função (``torch.load``, ``torch.save``) nunca chega por este fio ao avaliador.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], trusted: bool = False,
                 callback: Callable[[int], Any] | None = None) -> None:
        self.tensors = tensors
        self.trusted = trusted
        self.callback = callback
        self.modules = ("torch.nn", "residuais")

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > DEPTH_LIMIT:
            raise WireError("valor aninhado demais")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or len(node) == 0:
            raise WireError("esqueleto inválido")
        tag = next(iter(node))
        if tag == "T":
            return self._tensor(node)
        if tag in ("l", "t"):
            items = [self.decode(v, depth + 1) for v in _list(node[tag])]
            return items if tag == "l" else tuple(items)
        if tag == "d":
            pairs = [_list(pair) for pair in _list(node["d"])]
            if any(len(pair) != 2 for pair in pairs):
                raise WireError("dicionário inválido")
            return {_key(self.decode(k, depth + 1)): self.decode(v, depth + 1) for k, v in pairs}
        if tag == "M":
            return self._module(node, depth)
        return self._leaf(tag, node[tag])

    def _leaf(self, tag: str, value: Any) -> Any:
        """Os valores sem partes: tipo de tensor, função do PyTorch, chamada de volta, opaco."""
        if tag == "dtype":
            dtype = getattr(torch, str(value), None)
            if not isinstance(dtype, torch.dtype):
                raise WireError("tipo de tensor desconhecido")
            return dtype
        if tag == "F" and self.trusted:
            return _resolve(str(value), ("torch",), callable)
        if tag == "C" and self.callback is not None and type(value) is int:
            return self.callback(value)
        if tag == "O":
            return opaque(str(value))
        raise WireError(f"esqueleto inválido ({tag})")

    def _tensor(self, node: dict[str, Any]) -> torch.Tensor:
        tensor = self.tensors.get(node["T"]) if type(node["T"]) is str else None
        if tensor is None:
            raise WireError("tensor ausente do bloco")
        if node.get("g") is True and (tensor.is_floating_point() or tensor.is_complex()):
            tensor = tensor.clone().requires_grad_(True)
        return tensor

    def _module(self, node: dict[str, Any], depth: int) -> nn.Module:
        cls = _resolve(str(node["M"]), self.modules,
                       lambda c: isinstance(c, type) and issubclass(c, nn.Module))
        module = cls.__new__(cls)
        nn.Module.__init__(module)
        for key, value in _dict(node.get("a")).items():
            if key in _MODULE_INTERNALS or key.startswith("__") or (
                    not self.trusted and hasattr(cls, key)):
                raise WireError("atributo de módulo inválido")
            attribute = self.decode(value, depth + 1)
            if self.trusted or plain(attribute):  # do lado do avaliador, só dados
                object.__setattr__(module, key, attribute)
        for key, value in _dict(node.get("p")).items():
            tensor = None if value is None else self._tensor(_dict(value))
            module._parameters[key] = (None if tensor is None else
                                       nn.Parameter(tensor.detach(), tensor.requires_grad))
        for key, value in _dict(node.get("b")).items():
            module._buffers[key] = None if value is None else self._tensor(_dict(value))
        for key, value in _dict(node.get("s")).items():
            child = None if value is None else self.decode(value, depth + 1)
            if child is not None and not isinstance(child, nn.Module):
                raise WireError("submódulo inválido")
            module._modules[key] = child
        return module


def plain(value: Any) -> bool:
    """Se ``value`` é só dados: números, textos, tensores e coleções deles."""
    if value is None or type(value) in (bool, int, float, str) or isinstance(value, torch.Tensor):
        return True
    if isinstance(value, torch.dtype):
        return True
    if type(value) in (list, tuple):
        return all(plain(v) for v in value)
    if type(value) is dict:
        return all(plain(k) and plain(v) for k, v in value.items())
    return False


def _list(value: Any) -> list:
    if type(value) is not list:
        raise WireError("lista esperada")
    return value


def _dict(value: Any) -> dict:
    if value is None:
        return {}
    if type(value) is not dict or not all(type(k) is str for k in value):
        raise WireError("dicionário esperado")
    return value


def _key(value: Any) -> Any:
    if value is not None and type(value) not in (bool, int, float, str, tuple):
        raise WireError("chave de dicionário inválida")
    return value


def _resolve(path: str, prefixes: tuple[str, ...], accept: Callable[[Any], bool]) -> Any:
    """O objeto de ``pacote.módulo:Nome.Interno``, se o pacote for um dos ``prefixes``."""
    module_name, _, qualname = path.partition(":")
    if not any(module_name == p or module_name.startswith(p + ".") for p in prefixes):
        raise WireError(f"{module_name} não é um pacote permitido")
    try:
        value: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            if part.startswith("_") and part != "__init__":
                raise WireError("nome privado")
            value = getattr(value, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise WireError(f"{path} não existe aqui") from exc
    if not accept(value):
        raise WireError(f"{path} não é do tipo esperado")
    return value


def read_frame(stream: BinaryIO, blob_limit: int = BLOB_LIMIT) -> tuple[Any, dict[str, Any]]:
    """Lê um quadro: ``(esqueleto, tensores)``. ``EOFError`` se o cano fechou."""
    head = _read_exactly(stream, FRAME.size)
    header_size, blob_size = FRAME.unpack(head)
    if header_size > HEADER_LIMIT or blob_size > blob_limit:
        raise WireError("quadro grande demais")
    try:
        skeleton = json.loads(_read_exactly(stream, header_size))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError("cabeçalho inválido") from exc
    blob = _read_exactly(stream, blob_size) if blob_size else b""
    try:
        tensors = load_tensors(blob) if blob else {}
    except Exception as exc:  # o safetensors recusa com erros próprios
        raise WireError("bloco de tensores inválido") from exc
    return skeleton, tensors


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("o cano fechou")
        data += chunk
    return bytes(data)


def unpack(skeleton: Any, tensors: dict[str, Any], trusted: bool = False,
           callback: Callable[[int], Any] | None = None) -> Any:
    """O valor de um esqueleto já lido (``read_frame``); ``trusted`` só na caixa."""
    return Decoder(tensors, trusted, callback).decode(skeleton)
