"""O que a resposta do estudante usa, lido sem executá-la: os objetos globais que ela (e as
funções do mesmo módulo que ela chama) referencia e os acessos a atributo do seu código-fonte.
``core.forbidden`` confere com isso as funções proibidas antes de chamar a resposta.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import textwrap
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from residuais.checks.core import Rule


def referenced_objects(fn: Any, depth: int = 3) -> Iterator[Any]:
    """Os objetos globais que a função (e as funções do mesmo módulo que ela usa) referenciam."""
    seen: set[int] = set()
    stack = [(fn, depth)]
    while stack:
        item, level = stack.pop()
        code = getattr(item, "__code__", None)
        if code is None or id(code) in seen:
            continue
        seen.add(id(code))
        namespace = getattr(item, "__globals__", {})
        codes = [code]
        while codes:
            current = codes.pop()
            codes += [c for c in current.co_consts if isinstance(c, types.CodeType)]
            for name in current.co_names:
                if name in namespace:
                    value = namespace[name]
                    yield value
                    same_module = getattr(value, "__module__", None) == getattr(
                        item, "__module__", object())
                    if level > 0 and same_module and callable(value):
                        stack.append((value, level - 1))
                        call_method = getattr(value, "forward", None)
                        if call_method is not None:
                            stack.append((call_method, level - 1))


def attribute_chains(fn: Any, depth: int = 3) -> set[str]:
    """Os acessos a atributo (``torch._C._nn.scaled_dot_product_attention``, ``F.batch_norm``) no
    código-fonte da função e das funções do mesmo módulo que ela usa: pegam a mesma função
    quando ela chega por outro caminho."""
    names: set[str] = set()
    functions = [fn] + [obj for obj in referenced_objects(fn, depth)
                        if callable(obj) and getattr(obj, "__module__", None)
                        == getattr(fn, "__module__", object())]
    for function in functions:
        code = getattr(function, "__code__", None)
        if code is None:  # uma classe: o código-fonte inteiro dela
            names |= _source_chains(function)
        else:
            if code not in _CHAINS_BY_CODE:
                _CHAINS_BY_CODE[code] = _source_chains(function)
            names |= _CHAINS_BY_CODE[code]
    return names


# os acessos a atributo do código-fonte de cada função, pelo objeto de código: o mesmo código
# tem a mesma fonte, e ler e analisar a fonte custa ~1 ms (uma verificação chama a função do
# estudante até 1.600 vezes, cada uma dentro de ``forbidden``). Redefinir a função cria outro
# objeto de código, que é analisado de novo.
_CHAINS_BY_CODE: dict[types.CodeType, frozenset[str]] = {}


def _source_chains(function: Any) -> frozenset[str]:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # sem fonte (código gerado): só o resto vale
        return frozenset()
    return frozenset(ast.unparse(node) for node in ast.walk(tree)
                     if isinstance(node, ast.Attribute))


def static_uses(fn: Any, rules: Sequence[Rule], originals: Mapping[int, Rule]) -> list[Rule]:
    """As regras que a resposta usa, lidas antes de chamá-la: um objeto proibido (com qualquer
    apelido) entre os globais que ela e as funções do mesmo módulo que ela usa referenciam, ou
    um acesso a atributo com o caminho da regra (``nn.BatchNorm1d`` → ``torch.nn.BatchNorm1d``)
    ou, senão, com o mesmo nome final por outro caminho
    (``torch._C._nn.scaled_dot_product_attention``). ``originals`` leva o ``id`` de cada objeto
    proibido à sua regra."""
    used = []
    for value in referenced_objects(fn):
        with contextlib.suppress(TypeError):
            if id(value) in originals:
                used.append(originals[id(value)])
    chains = attribute_chains(fn)
    exact = [rule for rule in rules
             if any(rule.target == c or rule.target.endswith("." + c) for c in chains)]
    names = {c.rsplit(".", 1)[-1] for c in chains} - {r.target.rsplit(".", 1)[-1] for r in exact}
    by_name: dict[str, Rule] = {}  # uma regra por nome
    for rule in rules:
        by_name.setdefault(rule.target.rsplit(".", 1)[-1], rule)
    return used + exact + [rule for name, rule in by_name.items() if name in names]
