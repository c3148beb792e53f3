"""O que a correção aponta ao professor sem mudar a nota: a resposta que menciona uma função que
o exercício proíbe, e o resumo de cada resposta (para achar respostas idênticas).

“Não chame a função pronta” não se pode garantir num processo que o estudante controla: a nota
vem do que a função devolve (``harness``), e os exercícios são pensados para que a função pronta
não os responda. Aqui só se lê o código, sem executá-lo: a definição de cada nome testado e, por
nome, tudo o que ela alcança no notebook (funções auxiliares, valores padrão de argumentos,
importações com outro nome). Uma regra (``residuais.checks.core.Rule``) é apontada quando o
caminho completo aparece numa importação ou numa cadeia de atributos, ou o nome final aparece
como atributo, nome ou texto (``getattr(F, "scaled_dot_product_attention")``).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from coursetools.coursework import notebooks
from coursetools.coursework.manifest import Chapter

CONVENTIONAL_ALIASES = {"np": "numpy", "nn": "torch.nn", "F": "torch.nn.functional"}


def _trees(notebook: dict[str, Any]) -> list[tuple[str, ast.Module]]:
    """As células de código (sem mágicas nem comandos de terminal) e a árvore de cada uma."""
    found = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        code = notebooks.source(cell)
        try:
            found.append((code, ast.parse(notebooks.disable_shell(
                notebooks.strip_magics(code))[0])))
        except SyntaxError:
            continue
    return found


def _binds(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Store)}


def _free_names(node: ast.stmt) -> set[str]:
    """Os nomes que a instrução lê de fora: numa função ou classe, sem os argumentos e as
    variáveis locais (uma variável local ``x`` não é o ``x`` de outra célula)."""
    loaded = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Load)}
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return loaded
    local = {a.arg for n in ast.walk(node) if isinstance(n, ast.arguments)
             for a in [*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg] if a}
    local |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Store)}
    local |= {n.name for n in ast.walk(node) if n is not node and isinstance(
        n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    return loaded - local


def reachable(trees: Iterable[ast.Module], names: Iterable[str]) -> list[ast.stmt]:
    """As instruções de nível de cima que definem ``names`` e, por nome, tudo o que elas leem
    de fora (até fechar)."""
    statements = [node for tree in trees for node in tree.body]
    wanted, chosen = set(names), []
    changed = True
    while changed:
        changed = False
        for node in statements:
            if node not in chosen and _binds(node) & wanted:
                chosen.append(node)
                wanted |= _free_names(node)
                changed = True
    return chosen


def _aliases(nodes: Iterable[ast.stmt]) -> dict[str, str]:
    """O caminho completo de cada nome importado (``F`` → ``torch.nn.functional``)."""
    found = dict(CONVENTIONAL_ALIASES)
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                found[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(
                    ".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                found[a.asname or a.name] = f"{node.module}.{a.name}"
    return found


def _mentions(nodes: list[ast.stmt]) -> tuple[set[str], set[str]]:
    """Os caminhos completos (importações, cadeias de atributos resolvidas) e os nomes soltos
    (atributos, nomes, textos) que as instruções mencionam."""
    aliases = _aliases(nodes)
    paths, words = set(), set()
    for path in aliases.values():
        paths.add(path)
    for node in (n for statement in nodes for n in ast.walk(statement)):
        if isinstance(node, ast.Attribute):
            words.add(node.attr)
            chain = ast.unparse(node)
            root, _, rest = chain.partition(".")
            paths.add(f"{aliases.get(root, root)}.{rest}")
        elif isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words |= {w.strip() for w in node.value.replace(".", " ").split()}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            words |= {a.name.rsplit(".", 1)[-1] for a in node.names}
    return paths, words


def flags(notebook: dict[str, Any], chapter: Chapter,
          rules: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    """Para cada exercício, as funções proibidas (``rules``: alvo → motivo, por exercício) que
    a resposta menciona."""
    trees = [tree for _, tree in _trees(notebook)]
    found = {}
    for q in chapter.questions:
        targets = rules.get(q.name, {})
        if not targets:
            continue
        paths, words = _mentions(reachable(trees, q.names))
        hits = [t for t in targets if t in paths or t.rsplit(".", 1)[-1] in words]
        if hits:
            found[q.name] = hits
    return found


def fingerprints(notebook: dict[str, Any], chapter: Chapter,
                 distributed: Iterable[str]) -> dict[str, str]:
    """O resumo (da árvore sintática, sem comentários nem espaços) das células que o estudante
    escreveu e que definem os nomes de cada exercício; ``""`` se não há nenhuma."""
    original = {_normalized(s) for s in distributed}
    cells = [(code, tree) for code, tree in _trees(notebook) if _normalized(code) not in original]
    found = {}
    for q in chapter.questions:
        own = [ast.dump(tree) for _, tree in cells
               if any(_binds(node) & set(q.names) for node in tree.body)]
        found[q.name] = hashlib.sha256("\n".join(own).encode()).hexdigest()[:16] if own else ""
    return found


def _normalized(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())
