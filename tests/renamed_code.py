"""Código comparado a menos de nomes: a peça do teste de vazamento que acusa um exercício que se
responde copiando e renomeando código que o estudante vê (páginas, ``literalinclude``, páginas de
código-fonte do site) ou instala (o pacote ``residuais``).

Cada função vira a sua árvore sintática sem docstrings, comentários e anotações de tipo, com todo
nome local — argumentos, variáveis, atributos de ``self`` — trocado por um mesmo marcador. Somem
também as grafias que não mudam a conta: ``x.view(shape)`` e ``x.detach()`` valem ``x``, e
``math.sqrt(a)``, ``torch.sqrt(a)`` e ``a.sqrt()`` valem ``a ** 0.5``. Ficam os nomes globais
(``torch``, ``nn``), os atributos de outros objetos (``bn.running_var`` é a API do PyTorch) e as
constantes.

Uma solução é uma **cópia** de uma unidade mostrada (uma função, um método, o código solto de uma
célula) quando as subárvores que as duas têm em comum (de ``MIN_NODES`` nós ou mais, maximais)
cobrem ``MIN_COVERAGE`` da solução, ou quando uma delas, sozinha, tem ``DISTINCTIVE`` nós ou
mais: uma fórmula desse tamanho não se repete por acaso.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

LOCAL = "_"  # o marcador de todo nome local
# x.view(s), x.reshape(a, b) (só com nomes como argumentos), x.detach() … valem x para a cópia
RESHAPES = {"view", "reshape", "view_as", "expand_as", "to"}
NO_OPS = {"detach", "clone", "contiguous", "double", "float"}
SQRT = {("math", "sqrt"), ("torch", "sqrt"), ("np", "sqrt"), ("numpy", "sqrt")}
MIN_NODES = 8  # subárvores menores (``x.mean(0)``, ``(a * b).sum()``) são genéricas demais
MIN_COVERAGE = 0.4
DISTINCTIVE = 15


def _size(node: ast.AST) -> int:
    return sum(1 for sub in ast.walk(node) if not isinstance(sub, ast.expr_context))


def _key(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False)


def bound_names(node: ast.AST) -> set[str]:
    """Os nomes locais de uma função (ou de uma célula): argumentos e tudo o que ela atribui."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            names.add(sub.id)
    return names - {"self"}


class _Normalizer(ast.NodeTransformer):
    def __init__(self, local: set[str]) -> None:
        self.local = local

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(LOCAL, node.ctx) if node.id in self.local else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "self":  # estado do objeto
            return ast.Name(LOCAL, node.ctx)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = self.generic_visit(node)  # primeiro os argumentos e o objeto, já normalizados
        func = node.func
        if isinstance(func, ast.Attribute):
            only_names = all(isinstance(a, ast.Name) for a in node.args) and not node.keywords
            if func.attr in NO_OPS or (func.attr in RESHAPES and only_names):
                return func.value
            if isinstance(func.value, ast.Name) and (func.value.id, func.attr) in SQRT \
                    and len(node.args) == 1:
                return ast.BinOp(node.args[0], ast.Pow(), ast.Constant(0.5))
            if func.attr == "sqrt" and not node.args:
                return ast.BinOp(func.value, ast.Pow(), ast.Constant(0.5))
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.annotation = None
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        return self.visit(ast.Assign([node.target], node.value or ast.Constant(None)))


def _statements(body: list[ast.stmt]) -> list[ast.stmt]:
    """As instruções, achatadas: o cabeçalho de cada ``for``/``if``/``with``/``while`` e, uma a
    uma, as instruções de dentro, inclusive das funções aninhadas; docstrings e ``pass`` saem."""
    flat = []
    for stmt in body:
        if (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)) or \
                isinstance(stmt, ast.Pass | ast.Import | ast.ImportFrom | ast.ClassDef):
            continue
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            flat += _statements(stmt.body)
        elif isinstance(stmt, ast.For | ast.While | ast.If | ast.With | ast.Try):
            if isinstance(stmt, ast.For):
                flat.append(ast.Expr(ast.Tuple([stmt.target, stmt.iter], ast.Load())))
            elif isinstance(stmt, ast.While | ast.If):
                flat.append(ast.Expr(stmt.test))
            elif isinstance(stmt, ast.With):
                flat.append(ast.Expr(ast.Tuple([i.context_expr for i in stmt.items],
                                               ast.Load())))
            for name in ("body", "orelse", "finalbody"):
                flat += _statements(getattr(stmt, name, []))
            for handler in getattr(stmt, "handlers", []):
                flat += _statements(handler.body)
        else:
            flat.append(stmt)
    return flat


@dataclass
class Unit:
    """Uma função, um método ou o código solto de uma célula, já normalizado."""

    origin: str
    statements: list[ast.stmt]
    size: int = 0
    subtrees: dict[str, int] = field(default_factory=dict)  # chave → nós, das de MIN_NODES ou mais
    nodes: dict[int, tuple[str, int]] = field(default_factory=dict)  # id do nó → (chave, nós)

    def __post_init__(self) -> None:
        self.size = sum(_size(stmt) for stmt in self.statements)
        for stmt in self.statements:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.expr | ast.stmt) and (n := _size(sub)) >= MIN_NODES:
                    self.subtrees[_key(sub)] = n
                    self.nodes[id(sub)] = (_key(sub), n)


def _unit(origin: str, body: list[ast.stmt], local: set[str]) -> Unit:
    normalizer = _Normalizer(local)
    # cada instrução é copiada (unparse e parse) antes de normalizar: a árvore original fica intacta
    return Unit(origin, [normalizer.visit(ast.parse(ast.unparse(stmt)).body[0])
                         for stmt in _statements(body)])


def _parse(source: str) -> ast.Module | None:
    """A árvore do código de uma célula, sem as linhas de magia do IPython (``%``, ``!``)."""
    source = "\n".join(line for line in source.splitlines()
                       if not line.lstrip().startswith(("%", "!")))
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def shown_units(source: str, origin: str) -> list[Unit]:
    """Tudo o que o estudante vê num código: cada função e método (inclusive os aninhados) e o
    código solto do nível de cima."""
    tree = _parse(source)
    if tree is None:
        return []
    found = [_unit(f"{origin}: {node.name}", node.body, bound_names(node))
             for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    top = [stmt for stmt in tree.body if not isinstance(stmt, ast.FunctionDef | ast.ClassDef)]
    return [*found, _unit(origin, top, bound_names(tree) - set(dir(builtins)))]


def solution_units(source: str, origin: str) -> list[Unit]:
    """As funções de uma célula de solução (as do nível de cima, com as aninhadas dentro)."""
    tree = _parse(source)
    return [_unit(f"{origin}: {node.name}", node.body, bound_names(node))
            for node in (tree.body if tree else []) if isinstance(node, ast.FunctionDef)]


@dataclass(frozen=True)
class Copy:
    """Uma solução que o código mostrado responde."""

    solution: str
    shown: str
    coverage: float  # fração dos nós da solução nas subárvores em comum
    largest: int  # nós da maior subárvore em comum

    def __str__(self) -> str:
        return (f"{self.solution} ← {self.shown}: {100 * self.coverage:.0f}% da solução igual a "
                f"menos de nomes (maior trecho em comum: {self.largest} nós)")


def _shared(node: ast.AST, solution: Unit, shown: Unit, found: list[int]) -> None:
    """As subárvores maximais de ``node`` (da solução) que também estão em ``shown``."""
    key, size = solution.nodes.get(id(node), ("", 0))
    if key in shown.subtrees:
        found.append(size)
        return
    for child in ast.iter_child_nodes(node):
        _shared(child, solution, shown, found)


def compare(solution: Unit, shown: Unit) -> Copy:
    """Quanto da solução está, a menos de nomes, na unidade mostrada."""
    found: list[int] = []
    for stmt in solution.statements:
        _shared(stmt, solution, shown, found)
    return Copy(solution.origin, shown.origin, sum(found) / max(solution.size, 1),
                max(found, default=0))


def copies(solutions: list[Unit], shown: list[Unit]) -> list[Copy]:
    """Para cada solução que é cópia de alguma unidade mostrada, a comparação mais forte."""
    found = []
    for solution in solutions:
        matches = [c for c in (compare(solution, unit) for unit in shown)
                   if c.coverage >= MIN_COVERAGE or c.largest >= DISTINCTIVE]
        if matches:
            found.append(max(matches, key=lambda c: (c.coverage, c.largest)))
    return found
