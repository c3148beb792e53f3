"""Ferramentas comuns das verificações: chamar a função do estudante, comparar, proibir atalhos.

Toda falha é um ``AssertionError`` com uma frase em português que diz o que está errado, em que
caso e, quando o erro é típico, uma dica. As verificações públicas de cada capítulo (nos outros
módulos deste pacote) usam só casos fixos com os valores esperados escritos; as ocultas ficam
com o professor, no arquivo do corretor.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import textwrap
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


class ForbiddenCall(AssertionError):
    """A resposta usou uma função que o exercício pede para escrever (ou que faz tudo sozinha)."""


def fail(message: str) -> None:
    """Falha a verificação com ``message`` (em português)."""
    raise AssertionError(message)


def call(fn: Callable[..., Any], case: str, *args: Any, **kwargs: Any) -> Any:
    """Chama a função do estudante; um erro dentro dela vira uma mensagem que nomeia o caso."""
    try:
        return fn(*args, **kwargs)
    except ForbiddenCall:
        raise
    except Exception as exc:  # o erro é do código do estudante: explicamos e repassamos
        raise AssertionError(
            f"Sua função levantou {type(exc).__name__} no caso “{case}”: {exc}"
        ) from exc


def as_float(value: Any, case: str) -> float:
    """``value`` como número; falha, nomeando o caso, se não for um número (ou tensor de 1 item)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            fail(f"No caso “{case}” esperava um número, mas recebeu um tensor de forma "
                 f"{tuple(value.shape)}.")
        return float(value.item())
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            return float(value)
        except (TypeError, ValueError):
            fail(f"No caso “{case}” esperava um número, mas recebeu {type(value).__name__}.")
    return float(value)


def expect_tensor(
    value: Any, shape: Sequence[int], case: str, expected: str | None = None,
    *, type_first: bool = False,
) -> None:
    """Falha, com uma mensagem que nomeia o caso, se ``value`` não for um tensor de forma ``shape``.

    ``expected`` diz o que se esperava (padrão: “esperava um tensor de forma …”), e a mensagem
    termina com “; recebeu” e a forma ou o tipo recebido. Com ``type_first=True``, quem não é
    tensor ouve “esperava um torch.Tensor, recebeu …” e a forma errada, “…, mas tem forma …”.
    """
    is_tensor = isinstance(value, torch.Tensor)
    if is_tensor and tuple(value.shape) == tuple(shape):
        return
    if type_first and not is_tensor:
        fail(f"No caso “{case}” esperava um torch.Tensor, recebeu {type(value).__name__}.")
    expected = expected or f"esperava um tensor de forma {tuple(shape)}"
    if type_first:
        fail(f"No caso “{case}” {expected}, mas tem forma {tuple(value.shape)}.")
    fail(f"No caso “{case}” {expected}; recebeu {getattr(value, 'shape', type(value).__name__)}.")


def expect_close(
    got: Any,
    expected: torch.Tensor | float,
    case: str,
    tol: float = 1e-4,
    hints: Mapping[str, torch.Tensor | float] | None = None,
) -> None:
    """Falha se ``got`` não estiver a ``tol`` de ``expected`` (maior diferença absoluta).

    ``hints`` liga uma dica a um valor errado típico: se ``got`` coincidir com ele, a mensagem
    traz a dica (por exemplo, “parece que a média não foi subtraída”).
    """
    if isinstance(expected, torch.Tensor):
        expect_tensor(got, expected.shape, case, type_first=True)
        got_t = got.detach().to(torch.float64)
        expected_t = expected.detach().to(torch.float64)
        if not torch.isfinite(got_t).all():
            fail(f"No caso “{case}” sua resposta tem valores infinitos ou NaN.")
        error = (got_t - expected_t).abs().max().item() if got_t.numel() else 0.0
        shown = f"a maior diferença para o valor correto é {error:.2e}"
    else:
        got_f = as_float(got, case)
        error = abs(got_f - float(expected))
        shown = f"sua função devolveu {got_f:.6g}, mas o valor correto é {float(expected):.6g}"
        got_t = torch.tensor(got_f, dtype=torch.float64)
    if error <= tol:
        return
    hint = ""
    for text, wrong in (hints or {}).items():
        wrong_t = torch.as_tensor(wrong, dtype=torch.float64)
        if wrong_t.shape == got_t.shape and (got_t - wrong_t).abs().max().item() <= tol:
            hint = f" Dica: {text}"
            break
    fail(f"No caso “{case}” {shown} (tolerância {tol:g}).{hint}")


# --------------------------------------------------------------------------------------------
# atalhos proibidos
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Uma função proibida num exercício: onde ela mora e por que não vale usá-la."""

    target: str  # caminho pontuado, como "torch.nn.functional.scaled_dot_product_attention"
    reason: str  # o que o exercício pede, em português

    def resolve(self) -> tuple[Any, str, Any] | None:
        """(objeto dono, nome do atributo, valor atual), ou ``None`` se não existir aqui."""
        module_path, _, attribute = self.target.rpartition(".")
        owner: Any = None
        parts = module_path.split(".")
        for cut in range(len(parts), 0, -1):  # o maior prefixo que é um módulo importável
            try:
                owner = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for name in parts[cut:]:  # o resto são atributos (classes)
                owner = getattr(owner, name, None)
            break
        if owner is None or not hasattr(owner, attribute):
            return None
        return owner, attribute, getattr(owner, attribute)


@dataclass
class _Guard:
    rules: Sequence[Rule]
    used: list[Rule] = field(default_factory=list)

    def message(self) -> str:
        used = list(dict.fromkeys(self.used))  # cada regra uma vez, na ordem em que apareceu
        calls = " e ".join(f"`{rule.target.rsplit('.', 1)[-1]}` ({rule.target})" for rule in used)
        verb = "vale" if len(used) == 1 else "valem"
        return (f"Sua resposta usa {calls}, que não {verb} neste exercício: {used[0].reason} "
                "Esta questão fica com zero enquanto ela for usada.")


def _referenced_objects(fn: Any, depth: int = 3) -> Iterator[Any]:
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


def _attribute_chains(fn: Any, depth: int = 3) -> set[str]:
    """Os acessos a atributo (``torch._C._nn.scaled_dot_product_attention``, ``F.batch_norm``) no
    código-fonte da função e das funções do mesmo módulo que ela usa: pegam a mesma função
    quando ela chega por outro caminho."""
    names: set[str] = set()
    functions = [fn] + [obj for obj in _referenced_objects(fn, depth)
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


@contextlib.contextmanager
def forbidden(fn: Any, rules: Sequence[Rule]) -> Iterator[None]:
    """Durante o bloco, cada função de ``rules`` é trocada por uma que falha com uma explicação.

    Antes disso, os nomes globais que a resposta usa são conferidos: um apelido de uma função
    proibida (``from torch.nn.functional import scaled_dot_product_attention as sdpa``) também
    conta, e também um atributo com o nome dela por outro caminho
    (``torch._C._nn.scaled_dot_product_attention``). Se a resposta usar uma delas, mesmo
    capturando o erro, a verificação falha com
    ``ForbiddenCall``.

    Na correção, a resposta roda noutro processo e o avaliador a chama pelo fio (``fn`` tem
    ``remote_rules``): não há o que trocar aqui, e as regras são só anotadas; a correção aponta
    ao professor a resposta que menciona uma delas, sem mudar a nota.
    """
    remote_rules = getattr(fn, "remote_rules", None)
    if isinstance(remote_rules, list):  # na correção, a resposta roda noutro processo
        remote_rules.extend(rules)  # só se anotam as regras, para a revisão do professor
        yield
        return
    guard = _Guard(rules)
    resolved = [(rule, rule.resolve()) for rule in rules]
    present = [(rule, found) for rule, found in resolved if found is not None]
    originals = {id(found[2]): rule for rule, found in present}
    for value in _referenced_objects(fn):
        with contextlib.suppress(TypeError):
            if id(value) in originals:
                guard.used.append(originals[id(value)])
    chains = _attribute_chains(fn)
    # o caminho escrito igual ao da regra (``nn.BatchNorm1d`` → ``torch.nn.BatchNorm1d``) ou,
    # senão, o mesmo nome final (``torch._C._nn.scaled_dot_product_attention``), uma regra por nome
    exact = [rule for rule in rules
             if any(rule.target == c or rule.target.endswith("." + c) for c in chains)]
    names = {c.rsplit(".", 1)[-1] for c in chains}
    by_name: dict[str, Rule] = {}
    for rule in rules:
        by_name.setdefault(rule.target.rsplit(".", 1)[-1], rule)
    covered = {rule.target.rsplit(".", 1)[-1] for rule in exact}
    guard.used += exact + [rule for name, rule in by_name.items()
                           if name in names and name not in covered]
    if guard.used:
        raise ForbiddenCall(guard.message())

    def stub_for(rule: Rule) -> Callable[..., Any]:
        def stub(*args: Any, **kwargs: Any) -> Any:
            guard.used.append(rule)
            raise ForbiddenCall(guard.message())

        return stub

    # o que estava no próprio dono volta; o que vinha de uma classe base (``torch.Tensor.corrcoef``
    # mora em ``TensorBase``) é apagado do dono, para que a base volte a valer
    own = [attribute in vars(owner) for _, (owner, attribute, _) in present]
    try:
        for rule, (owner, attribute, _) in present:
            setattr(owner, attribute, stub_for(rule))
        yield
    finally:
        for was_own, (_rule, (owner, attribute, original)) in zip(own, present, strict=True):
            if was_own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
    if guard.used:
        raise ForbiddenCall(guard.message())
