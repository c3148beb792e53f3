"""Ferramentas comuns das verificações: chamar a função do estudante, comparar, proibir atalhos.

Toda falha é um ``AssertionError`` com uma frase em português que diz o que está errado, em que
caso e, quando o erro é típico, uma dica. As verificações públicas de cada capítulo (nos outros
módulos deste pacote) usam só casos fixos com os valores esperados escritos; as ocultas ficam
com o professor, no arquivo do corretor.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from residuais.checks.reading import static_uses


class ForbiddenCall(AssertionError):
    """A resposta usou uma função que o exercício pede para escrever (ou que faz tudo sozinha)."""


def fail(message: str) -> None:
    """Falha a verificação com ``message`` (em português)."""
    raise AssertionError(message)


_NOTHING_RETURNED = "No caso “{case}” a função não devolveu nada (falta `return`?)."


def call(fn: Callable[..., Any], case: str, *args: Any, **kwargs: Any) -> Any:
    """Chama a função do estudante; um erro dentro dela vira uma mensagem que nomeia o caso, e
    uma função sem ``return`` (que devolve ``None``) ouve isso, em vez de “recebeu NoneType”."""
    try:
        result = fn(*args, **kwargs)
    except ForbiddenCall:
        raise
    except Exception as exc:  # o erro é do código do estudante: explicamos e repassamos
        raise AssertionError(
            f"Sua função levantou {type(exc).__name__} no caso “{case}”: {exc}"
        ) from exc
    if result is None:
        fail(_NOTHING_RETURNED.format(case=case))
    return result


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


def as_table(values: Any) -> torch.Tensor:
    """Uma constante escrita numa verificação (números em listas ou tuplas aninhadas) como
    tensor float64."""
    return torch.tensor(values, dtype=torch.float64)


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
    """Uma função proibida num exercício: onde ela mora e por que não vale usá-la.

    Uma função do pacote ``residuais`` se escreve uma vez, por qualquer um dos seus caminhos
    (``residuais.models.Bottleneck`` ou ``residuais.models.resnet.Bottleneck``): ``bindings``
    acha os outros lugares onde o mesmo objeto está ligado, e ``forbidden`` troca todos.
    """

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

    def bindings(self) -> list[tuple[Any, str, Any]]:
        """Cada (dono, atributo, valor) em que o objeto da regra está ligado: o caminho escrito e,
        para um objeto de ``residuais``, o módulo que o define e os pacotes entre os dois que o
        reexportam (os dois caminhos de importação); vazia se o objeto não existir aqui."""
        found = self.resolve()
        if found is None:
            return []
        owner, attribute, value = found
        home = getattr(value, "__module__", None)
        if not isinstance(owner, types.ModuleType) or not isinstance(home, str) \
                or not home.startswith("residuais."):
            return [found]
        parts = home.split(".")
        modules = [sys.modules.get(".".join(parts[:cut])) for cut in range(len(parts), 1, -1)]
        return [found] + [(module, attribute, value) for module in modules
                          if module is not None and module is not owner
                          and getattr(module, attribute, None) is value]


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


@contextlib.contextmanager
def forbidden(fn: Any, rules: Sequence[Rule]) -> Iterator[None]:
    """Durante o bloco, cada função de ``rules`` é trocada, em cada lugar onde está ligada
    (``Rule.bindings``), por uma que falha com uma explicação.

    Antes disso, a resposta é lida (``reading.static_uses``): se ela usar uma delas, mesmo
    capturando o erro, a verificação falha com ``ForbiddenCall``; e também se uma chamada
    trocada levantar ``ForbiddenCall`` dentro do bloco, ainda que a resposta o capture.

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
    places: dict[tuple[int, str], tuple[Rule, tuple[Any, str, Any]]] = {}
    for rule in rules:  # cada lugar é trocado uma vez, mesmo que duas regras o nomeiem
        for found in rule.bindings():
            places.setdefault((id(found[0]), found[1]), (rule, found))
    present = list(places.values())
    guard.used += static_uses(fn, rules, {id(found[2]): rule for rule, found in present})
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
    if guard.used:  # a resposta capturou o ForbiddenCall de uma chamada trocada
        raise ForbiddenCall(guard.message())
