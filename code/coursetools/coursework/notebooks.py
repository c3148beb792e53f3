"""Leitura e exame dos notebooks: abrir (e validar, com o ``nbformat``) um arquivo entregue,
o código das células, os nomes que ele define, os módulos que importa, os comandos mágicos e de
terminal, e a cópia que vai para a correção."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import warnings
from pathlib import Path
from typing import Any

import yaml

from coursetools.coursework.common import CORRUPTED, NOT_NOTEBOOK, skip_slow_import

CHECK_CALL = re.compile(r"""grader\.check\(\s*["']([^"']+)["']\s*\)""")
OTTER_INIT = re.compile(r"""\bNotebook\(\s*["']([^"']+?)(?:\.ipynb)?["']\s*\)""")
SHELL_LINE = re.compile(r"^(\s*)(!|%(?:pip|conda|mamba|system|sx)\b)")
SHELL_CELL = re.compile(r"^\s*%%(?:bash|sh|script|system|sx)\b")
GRADER_LINE = re.compile(r"^(\s*)(?:import otter\b"
                         r"|from residuais\.checks\.display import Notebook\b"
                         r"|grader\s*=\s*(?:otter\.)?Notebook\(|grader\.check\()")

ASK_AGAIN = "Peça ao estudante que o envie de novo."
STRUCTURE = ("O arquivo é JSON, mas não tem a estrutura de um notebook do Jupyter (versão 4, com a "
             f"lista de células). {ASK_AGAIN}")


def source(cell: dict[str, Any]) -> str:
    """O código (ou texto) de uma célula, numa string só."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else str(text)


def assignment_config(notebook: dict[str, Any]) -> dict[str, Any] | None:
    """A configuração da célula ``# ASSIGNMENT CONFIG`` de um notebook do professor, se houver."""
    for cell in notebook.get("cells", []):
        text = source(cell).lstrip()
        if cell.get("cell_type") == "raw" and text.startswith("# ASSIGNMENT CONFIG"):
            return yaml.safe_load(text.split("\n", 1)[1] if "\n" in text else "") or {}
    return None


def title(notebook: dict[str, Any], default: str) -> str:
    """O título do notebook: o primeiro cabeçalho ``# ...`` de uma célula de texto."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            match = re.search(r"^#\s+(.+)$", source(cell), flags=re.M)
            if match:
                return match.group(1).strip()
    return default


def strip_magics(code: str) -> str:
    """O código sem as linhas de comandos mágicos do IPython (``%``, ``!``), que não são Python."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()
    )


def defined_names(code: str) -> list[str]:
    """Os nomes definidos no nível de cima de um trecho de código (def, class, atribuições)."""
    try:
        tree = ast.parse(strip_magics(code))
    except SyntaxError:
        return re.findall(r"^def\s+(\w+)", code, flags=re.M)
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def imported_modules(notebook: dict[str, Any], full: bool = False) -> set[str]:
    """Os módulos importados nas células de código do notebook: só o nível mais alto
    (``torch``) ou, com ``full``, o nome completo (``torch.nn.functional``)."""
    modules = set()
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(strip_magics(source(cell)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module)
    return modules if full else {m.split(".")[0] for m in modules}


def missing_imports(notebook: dict[str, Any]) -> list[str]:
    """Os módulos que o notebook importa e que não estão instalados neste ambiente."""
    return sorted(m for m in imported_modules(notebook) if importlib.util.find_spec(m) is None)


# --------------------------------------------------------------------------------------------
# o arquivo entregue
# --------------------------------------------------------------------------------------------


def _not_notebook(path: Path) -> tuple[None, str, str]:
    if path.suffix.lower() == ".zip":
        return None, NOT_NOTEBOOK, ("É um arquivo .zip, não um notebook: extraia dele o .ipynb "
                                    "e ponha o notebook na pasta das entregas.")
    kind = f"arquivo {path.suffix}" if path.suffix else "arquivo sem extensão"
    return None, NOT_NOTEBOOK, (f"Não é um notebook ({kind}): entregue o arquivo .ipynb do "
                                "capítulo.")


def _parse(text: str) -> tuple[dict[str, Any] | None, str]:
    """O notebook lido e validado pelo ``nbformat`` (convertido para a versão 4), ou ``None`` e
    o motivo, em português, de não ser um notebook válido."""
    skip_slow_import()
    import nbformat
    from nbformat.reader import NotJSONError
    from nbformat.warnings import MissingIDFieldWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingIDFieldWarning)
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except NotJSONError as exc:
        cause = exc.__cause__
        where = (f" na linha {cause.lineno}, coluna {cause.colno}"
                 if isinstance(cause, json.JSONDecodeError) else "")
        return None, (f"O notebook está corrompido: o JSON é inválido{where} (o arquivo foi "
                      f"cortado ou editado à mão?). {ASK_AGAIN}")
    except nbformat.ValidationError as exc:
        path = list(exc.absolute_path)
        if path[:1] == ["cells"] and len(path) > 1:  # um notebook, com uma célula fora do formato
            return None, (f"O notebook não segue o formato do Jupyter: a célula {path[1] + 1} "
                          f"está incompleta ou tem campos inválidos. {ASK_AGAIN}")
        return None, STRUCTURE
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, STRUCTURE
    return notebook, ""


def read_notebook(path: Path, data: bytes | None = None) -> tuple[dict[str, Any] | None, str, str]:
    """Lê um arquivo como notebook: ``(notebook, situação, mensagem)``; ``None`` se não der.

    ``data`` é o conteúdo já lido (senão, é lido de ``path``). Um arquivo com outra extensão
    que seja um notebook é aceito (quem o recebeu renomeou).
    """
    if path.is_dir():
        return None, NOT_NOTEBOOK, "É uma pasta, não um notebook: entregue o arquivo .ipynb."
    is_ipynb = path.suffix.lower() == ".ipynb"
    try:
        text = (path.read_bytes() if data is None else data).decode("utf-8-sig")
    except UnicodeDecodeError:
        if not is_ipynb:
            return _not_notebook(path)
        return None, CORRUPTED, ("O arquivo tem extensão .ipynb, mas não é texto UTF-8: está "
                                 f"corrompido. {ASK_AGAIN}")
    notebook, problem = _parse(text)
    if notebook is not None:
        return notebook, "", ""
    if not is_ipynb:
        return _not_notebook(path)
    return None, CORRUPTED, problem


# --------------------------------------------------------------------------------------------
# a cópia a corrigir
# --------------------------------------------------------------------------------------------


def disable_shell(code: str) -> tuple[str, list[str]]:
    """O código sem os comandos de terminal (``!pip install ...``, ``%pip``, ``%%bash``), que a
    correção não executa para não mexer no ambiente; devolve também as linhas tiradas."""
    if SHELL_CELL.match(code):
        first = code.strip().splitlines()[0]
        return "# célula de terminal não executada na correção\n", [first]
    removed, lines = [], []
    for line in code.splitlines():
        match = SHELL_LINE.match(line)
        if match:
            removed.append(line.strip())
            line = f"{match.group(1)}pass  # comando de terminal não executado na correção"
        lines.append(line)
    return ("\n".join(lines), removed) if removed else (code, [])


def neutralize_grader(code: str) -> str:
    """O código sem as linhas do otter (a criação do ``grader`` e os ``grader.check``): na
    caixa do estudante não há testes, e os pontos vêm do avaliador, fora dela."""
    lines = []
    for line in code.splitlines():
        match = GRADER_LINE.match(line)
        lines.append(f"{match.group(1)}pass  # verificação feita pelo avaliador" if match else line)
    return "\n".join(lines)


def cell_name(index: int, code: str) -> str:
    """Como a devolutiva chama uma célula: a posição e o começo do código."""
    first = next((line.strip() for line in code.splitlines() if line.strip()), "")
    if len(first) > 50:
        first = first[:47] + "..."
    return f"A célula {index}" + (f" (“{first}”)" if first else "")


def prepare_copy(notebook: dict[str, Any], chapter: str) -> tuple[dict[str, Any], list[str]]:
    """A cópia a executar: kernel padrão, nome da tarefa nos metadados, sem saídas e sem
    comandos de terminal, e cada célula marcada com sua posição original (para a devolutiva
    apontar a célula certa); e os avisos sobre o que foi tirado."""
    notebook = json.loads(json.dumps(notebook))
    metadata = notebook.setdefault("metadata", {})
    metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                              "language": "python"}
    otter_meta = metadata.get("otter")
    if not isinstance(otter_meta, dict):
        otter_meta = metadata["otter"] = {}
    otter_meta["assignment_name"] = chapter
    notes = []
    for index, cell in enumerate(notebook["cells"], start=1):
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
        cell["metadata"]["residuais_cell"] = index
        cell["source"] = source(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            original = cell["source"]
            cell["source"], removed = disable_shell(neutralize_grader(original))
            notes += [f"{cell_name(index, original)}: o comando de terminal “{line}” não é "
                          "executado na correção." for line in removed]
    return notebook, notes
