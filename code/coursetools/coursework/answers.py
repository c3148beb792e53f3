"""As respostas de uma entrega, separadas do resto do notebook pela árvore sintática (AST).

O avaliador não executa o notebook: para cada exercício, executa só as definições que valem
na célula de verificação — importações, funções e classes de qualquer célula anterior a ela e,
nas células de resposta (as que definem um nome que algum exercício testa), também as
atribuições. Chamadas soltas, laços e comandos de terminal ficam de fora.

Cada trecho que não é idêntico a uma célula distribuída passa ainda por uma inspeção: o que
permite a uma resposta mexer no avaliador (importar ``os``, ``sys``, ``inspect``...; ``eval``,
``open``, ``getattr``; atributos como ``__globals__`` ou ``f_back``; ``torch.load``) não tem uso
numa resposta destes exercícios, e nem trocar um atributo de um módulo
(``torch.allclose = ...``). O exercício que usa algo assim fica com zero e é marcado para
o professor revisar.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from coursetools.coursework import notebooks
from coursetools.coursework.manifest import Chapter

ALLOWED_MODULES = frozenset({
    "torch", "numpy", "math", "cmath", "functools", "itertools", "collections", "typing",
    "dataclasses", "statistics", "operator", "string", "random", "residuais", "einops",
    "__future__", "copy",
})
FORBIDDEN_MODULES = ("residuais.checks", "ocultos", "otter")
FORBIDDEN_NAMES = frozenset({
    "eval", "exec", "compile", "__import__", "open", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "breakpoint", "input", "memoryview", "exit", "quit", "help",
    "__builtins__", "__loader__", "__spec__", "get_ipython",
})
ALLOWED_DUNDERS = frozenset({"__init__", "__call__", "__name__", "__len__", "__getitem__",
                             "__repr__", "__version__"})
FORBIDDEN_ATTRIBUTES = frozenset({
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "gi_frame", "tb_frame",
    "cr_frame", "ag_frame", "tb_next", "co_code", "_C", "ops", "load", "hub", "package",
    "multiprocessing", "library", "_dynamo", "ctypeslib", "f2py", "cpp_extension", "system",
    "popen", "modules", "fromfile", "tofile", "save", "jit", "compile", "_ops", "classes",
})
# Os nomes com que os módulos costumam ser importados: trocar um atributo deles (uma função do
# PyTorch, uma verificação do curso) mudaria o que o teste mede. Trocar o atributo de um objeto
# da própria resposta (``self.peso = ...``, ``conv.weight.data = ...``) é normal.
MODULE_NAMES = ALLOWED_MODULES | {"nn", "F", "np", "plt", "checks", "builtins", "sys", "os",
                                  "otter", "ocultos", "inspect", "doctest", "linecache"}
# nomes que, na raiz de uma cadeia de atributos, são o módulo (por convenção ou por serem o
# próprio nome do módulo): ``torch.serialization.os`` é resolvida a partir de ``torch``
CONVENTIONAL_ALIASES = {"np": "numpy", "nn": "torch.nn", "F": "torch.nn.functional"}
# usados como valor (``T = torch``), dariam outro nome ao módulo, fora do alcance da inspeção
MODULE_VALUES = frozenset({"torch", "numpy", "np", "nn", "F", "residuais", "einops"})
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
ANSWER_STATEMENTS = (*DEFINITIONS, ast.Assign, ast.AnnAssign)


@dataclass
class Answer:
    """O código que o avaliador executa para um exercício e o que a inspeção achou nele."""

    question: str
    source: str
    findings: list[str] = field(default_factory=list)
    fingerprint: str = ""  # resumo das células de resposta escritas pelo estudante ("" se nenhuma)
    modules: list[str] = field(default_factory=list)  # os módulos que o código importa


@dataclass
class _Statement:
    """Uma instrução de nível de cima de uma célula: o texto, o que define e o que usa."""

    text: str
    defines: set[str]
    uses: set[str]
    findings: list[str]
    answer: bool  # vem de uma célula de resposta (que define um nome testado)
    modules: set[str]  # os módulos que importa
    trusted: bool = False  # vem de uma célula idêntica a uma distribuída
    cell_defines: frozenset[str] = frozenset()  # tudo o que a célula dela define


def answers(notebook: dict[str, Any], chapter: Chapter,
            distributed: Iterable[str]) -> dict[str, Answer]:
    """O código de cada exercício de ``chapter`` nesta entrega; ``distributed`` são as células
    de código do notebook como foi distribuído (não são inspecionadas).

    Para cada exercício: todas as definições das células de resposta anteriores à verificação
    e, das outras células, só as definições e importações de que elas precisam (por nome, até
    fechar); assim o avaliador não importa nem define o que a resposta não usa.
    """
    cells = [notebooks.source(c) for c in notebook["cells"] if c.get("cell_type") == "code"]
    original = {_normalized(s) for s in distributed}
    tested = {n for q in chapter.questions for n in q.names}
    cleaned = [notebooks.disable_shell(notebooks.strip_magics(code))[0] for code in cells]
    bindings = module_bindings(_parsed(code) for code in cleaned)
    statements = [_statements(clean, tested, _normalized(code) in original, bindings)
                  for code, clean in zip(cells, cleaned, strict=True)]
    found = {}
    for q in chapter.questions:
        check = next((i for i, s in enumerate(cells)
                      if q.name in notebooks.CHECK_CALL.findall(s)), len(cells))
        kept = _needed([st for cell in statements[:check] for st in cell], set(q.names))
        findings = sorted({f for st in kept for f in st.findings})
        own = [st.text for st in kept
               if st.answer and not st.trusted and st.defines & set(q.names)]
        source = "\n\n".join(st.text for st in kept) + "\n"
        modules = sorted({m for st in kept for m in st.modules})
        found[q.name] = Answer(q.name, source, findings, _fingerprint(own), modules)
    return found


def _needed(statements: list[_Statement], names: set[str]) -> list[_Statement]:
    """As instruções das células de resposta deste exercício (as que definem ``names``) e, das
    outras, as que definem algo que as escolhidas usam (até fechar), na ordem do notebook."""
    chosen = [st.answer and bool(st.cell_defines & names) for st in statements]
    needed = {name for st, ok in zip(statements, chosen, strict=True) if ok for name in st.uses}
    changed = True
    while changed:
        changed = False
        for i, st in enumerate(statements):
            if not chosen[i] and st.defines & needed:
                chosen[i], changed = True, True
                needed |= st.uses
    return [st for st, ok in zip(statements, chosen, strict=True) if ok]


def _fingerprint(sources: list[str]) -> str:
    """O resumo da árvore sintática das respostas (sem comentários nem espaços)."""
    if not sources:
        return ""
    try:
        dumped = "\n".join(ast.dump(ast.parse(s)) for s in sources)
    except SyntaxError:
        dumped = "\n".join(sources)
    return hashlib.sha256(dumped.encode()).hexdigest()[:16]


def _normalized(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def _parsed(code: str) -> ast.AST:
    """A árvore de uma célula já sem mágicas (vazia se ela não compila)."""
    try:
        return ast.parse(code)
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def _statements(code: str, tested: set[str], trusted: bool,
                bindings: dict[str, set[str]]) -> list[_Statement]:
    """As instruções que uma célula (já sem mágicas nem comandos de shell) contribui, com o que
    cada uma define e usa."""
    defined = set(notebooks.defined_names(code))
    try:
        tree = ast.parse(code)
    except SyntaxError:  # a resposta com erro de sintaxe vai assim mesmo: o erro é a devolutiva
        answer = bool(defined & tested)
        return ([_Statement(code, defined, set(), [], True, set(), False, frozenset(defined))]
                if answer else [])
    answer_cell = bool(defined & tested)
    kinds = ANSWER_STATEMENTS if answer_cell else DEFINITIONS
    lines = code.splitlines()
    found = []
    for node in tree.body:
        if not isinstance(node, kinds) or _course_tooling(node):
            continue
        text = "\n".join(lines[_first_line(node) - 1:node.end_lineno])
        findings = [] if trusted else inspect_code([node], bindings)
        found.append(_Statement(text, _defines(node), _uses(node), findings, answer_cell,
                                _modules(node), trusted, frozenset(defined)))
    return found


def _defines(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name for a in node.names}
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _uses(node: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _modules(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return {node.module}
    return set()


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _course_tooling(node: ast.stmt) -> bool:
    """As importações do otter e do ``Notebook`` do curso (a célula de inicialização), que o
    avaliador não usa."""
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[0] == "otter" for a in node.names)
    return isinstance(node, ast.ImportFrom) and tooling_module(node.module or "")


def tooling_module(name: str) -> bool:
    return name.split(".")[0] == "otter" or name == "residuais.checks.display"


def inspect_code(nodes: Sequence[ast.AST],
                 bindings: dict[str, set[str]] | None = None) -> list[str]:
    """O que, no código, uma resposta não deve usar, descrito em português. ``bindings``: os
    nomes que as importações da entrega inteira ligam a módulos (``module_bindings``), para
    seguir também cadeias que começam num apelido importado em outra célula."""
    findings = set()
    for tree in nodes:
        bound = _merge(module_bindings([tree]), bindings or {})
        chain_roots = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(tree):
            findings |= _node_findings(node, bound)
            if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                    and id(node) not in chain_roots
                    and (node.id in MODULE_VALUES or node.id in bound)
                    and any(isinstance(v, types.ModuleType) for v in _named(node.id, bound))):
                findings.add(f"usa o módulo `{node.id}` como valor")
    return sorted(findings)


def module_bindings(trees: Iterable[ast.AST]) -> dict[str, set[str]]:
    """Cada nome que uma importação liga, com os caminhos a que pode se referir:
    ``import torch.nn.functional as G`` → G: torch.nn.functional; ``import torch.nn`` → torch:
    torch; ``from torch import serialization`` → serialization: torch.serialization. Um nome
    importado de vários jeitos guarda todos (a inspeção confere cada um)."""
    bound: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    first = a.name.split(".")[0]  # sem apelido, liga só o primeiro nome
                    bound.setdefault(a.asname or first, set()).add(a.name if a.asname else first)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    bound.setdefault(a.asname or a.name, set()).add(f"{node.module}.{a.name}")
    return bound


def _merge(a: dict[str, set[str]], b: dict[str, set[str]]) -> dict[str, set[str]]:
    return {name: a.get(name, set()) | b.get(name, set()) for name in a.keys() | b.keys()}


def _root_paths(name: str, bound: dict[str, set[str]]) -> set[str]:
    """Os caminhos que ``name`` pode nomear na raiz de uma cadeia: o módulo de mesmo nome ou de
    apelido convencional (``np`` → numpy) e o que as importações ligaram a ele."""
    return {CONVENTIONAL_ALIASES.get(name, name)} | bound.get(name, set())


def _named(name: str, bound: dict[str, set[str]]) -> list[object]:
    """Os objetos desses caminhos (``_root_paths``) que existem."""
    return [value for value in map(_resolve, _root_paths(name, bound)) if value is not None]


def _resolve(path: str) -> object:
    """O módulo (ou o atributo de um módulo) em ``path``, se o módulo for permitido e estiver
    instalado; senão ``None``."""
    if not _allowed_module(path):
        return None
    try:
        return importlib.import_module(path)
    except Exception:  # não é módulo: talvez um atributo de um (``from m import nome``)
        parent, _, attribute = path.rpartition(".")
        try:
            return getattr(importlib.import_module(parent), attribute, None) if parent else None
        except Exception:  # não instalado: nada a resolver
            return None


def _chain_findings(node: ast.Attribute, bound: dict[str, set[str]]) -> set[str]:
    """Segue ``a.b.c`` pelos módulos de verdade, a partir de cada coisa que ``a`` pode nomear:
    chegar a um módulo não permitido por um atributo (``torch.serialization.os``,
    ``residuais.checks.core``, ``serialization.os`` depois de ``from torch import
    serialization``) é como importá-lo."""
    parts = []
    root: ast.AST = node
    while isinstance(root, ast.Attribute):
        parts.append(root.attr)
        root = root.value
    if not isinstance(root, ast.Name):
        return set()
    # pelo nome: ``residuais.checks.core`` é proibido mesmo que ``residuais.checks`` ainda não
    # tenha sido importado neste processo (aí o atributo ainda não existe no módulo)
    for path in _root_paths(root.id, bound):
        dotted = ".".join([path, *reversed(parts)])
        reached = [f for f in FORBIDDEN_MODULES if dotted == f or dotted.startswith(f + ".")]
        if reached and _allowed_module(path):
            return {f"chega ao módulo `{reached[0]}` por `{ast.unparse(node)}`"}
    for value in _named(root.id, bound):
        for part in reversed(parts):
            if not isinstance(value, types.ModuleType):
                break
            value = getattr(value, part, None)
            if isinstance(value, types.ModuleType) and not _allowed_module(value.__name__):
                return {f"chega ao módulo `{value.__name__}` por `{ast.unparse(node)}`"}
    return set()


def _import_from_findings(node: ast.ImportFrom) -> set[str]:
    """``from m import a``: ``m`` e também cada ``m.a`` têm de ser permitidos
    (``from residuais import checks``; ``from torch.serialization import os``)."""
    module = "." * node.level + (node.module or "")
    if node.level or not _allowed_module(module):
        return {f"importa `{module}`"}
    found, parent = set(), _resolve(module)
    for alias in node.names:
        value = getattr(parent, alias.name, None)
        inner = value.__name__ if isinstance(value, types.ModuleType) else ""
        if not _allowed_module(f"{module}.{alias.name}") or (inner and not _allowed_module(inner)):
            found.add(f"importa `{inner or module + '.' + alias.name}`")
    return found


def _node_findings(node: ast.AST, bound: dict[str, set[str]]) -> set[str]:
    if isinstance(node, ast.Import):
        return {f"importa `{a.name}`" for a in node.names if not _allowed_module(a.name)}
    if isinstance(node, ast.ImportFrom):
        return _import_from_findings(node)
    if isinstance(node, ast.Attribute) and (found := _chain_findings(node, bound)):
        return found
    if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
        return {f"usa `{node.id}`"}
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in MODULE_NAMES:  # torch.allclose = ...
            return {f"altera `{ast.unparse(node)}`"}
    if isinstance(node, ast.Attribute):
        dunder = node.attr.startswith("__") and node.attr not in ALLOWED_DUNDERS
        if dunder or node.attr in FORBIDDEN_ATTRIBUTES:
            return {f"usa o atributo `.{node.attr}`"}
    return set()


def _allowed_module(name: str) -> bool:
    if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_MODULES):
        return False
    return name.split(".")[0] in ALLOWED_MODULES
