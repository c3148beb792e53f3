"""As perguntas de autoavaliação nos notebooks que o estudante abre no Jupyter ou no Colab.

No site, a diretiva ``{autoavaliacao}`` (``_ext/autoavaliacao.py``) vira um formulário. No
Jupyter, a mesma célula markdown mostraria o texto cru da diretiva, com ``:correta:`` embaixo da
opção certa. No repositório dos estudantes (``studentrepo``), cada pergunta é reescrita em
markdown comum: o enunciado, as opções (a), (b)… e a resposta comentada dentro de um
``<details>``, que o Jupyter e o Colab mostram recolhido.
"""

from __future__ import annotations

import json
import re

# a pergunta: um bloco de quatro (ou mais) dois-pontos; as partes: blocos de três
_QUIZ = re.compile(r"^(?P<fence>:{4,})\{autoavaliacao\}[^\n]*\n(?P<body>.*?)^(?P=fence)\s*$",
                   re.S | re.M)
_PART = re.compile(r"^:::\{(?P<kind>opcao|explicacao|erro-comum|dica)\}[ \t]*(?P<arg>[^\n]*)\n"
                   r"(?P<body>.*?)^:::\s*$", re.S | re.M)
_OPTION = re.compile(r"^:(?P<name>[\w-]+):[ \t]*(?P<value>[^\n]*)\n?", re.M)


def _options(text: str) -> tuple[dict[str, str], str]:
    """As opções ``:nome: valor`` do começo de um bloco e o resto do texto."""
    found = {}
    while match := _OPTION.match(text):
        found[match["name"]] = match["value"].strip()
        text = text[match.end():]
    return found, text.strip()


def _number(text: str) -> str:
    return text.strip().replace(".", ",")


def _rewrite(match: re.Match, title: str) -> str:
    options, body = _options(match["body"])
    parts = list(_PART.finditer(body))
    statement = body[: parts[0].start()].strip() if parts else body
    lines = [f"**{title}.** {statement}", ""]
    key = []
    if "resposta" in options:
        lines.append("*Responda com um número e confira abaixo.*")
        answer = f"**Resposta: {_number(options['resposta'])}"
        if options.get("tolerancia", "0") not in ("0", "0.0", "0,0"):
            answer += f" (aceita-se ± {_number(options['tolerancia'])})"
        for part in parts:
            flags, text = _options(part["body"])
            if part["kind"] == "explicacao":
                key.insert(0, f"{answer}.** {text}")
            elif part["kind"] == "erro-comum":
                key.append(f"**Se você respondeu {_number(part['arg'])}:** {text}")
            else:
                key.append(f"**Dica:** {text}")
    else:
        for letter, part in zip("abcdefgh", parts, strict=False):
            flags, text = _options(part["body"])
            lines.append(f"- **({letter})** {part['arg'].strip()}")
            verdict = "certa" if "correta" in flags else "errada"
            key.append(f"**({letter}) {verdict}.** {text}")
    lines += ["", "<details><summary>Resposta comentada</summary>", "", *[f"{k}\n" for k in key],
              "</details>"]
    return "\n".join(lines)


def rewrite_markdown(source: str, chapter: int | None, start: int = 1) -> tuple[str, int]:
    """O markdown com cada pergunta reescrita; devolve também o número da próxima pergunta."""
    counter = start

    def replace(match: re.Match) -> str:
        nonlocal counter
        title = f"Autoavaliação {chapter}.{counter}" if chapter else f"Autoavaliação {counter}"
        counter += 1
        return _rewrite(match, title)

    return _QUIZ.sub(replace, source), counter


def rewrite_file(data: bytes, name: str) -> bytes:
    """Um arquivo do repositório com as perguntas reescritas: um notebook (JSON) ou uma página
    ``.md``; os demais arquivos, e os que não têm perguntas, voltam com os mesmos bytes."""
    if b"{autoavaliacao}" not in data:
        return data
    if name.endswith(".md"):
        return rewrite_markdown(data.decode("utf-8"), None)[0].encode("utf-8")
    if not name.endswith(".ipynb"):
        return data
    notebook = json.loads(data)
    prefix = re.match(r"(\d+)_", name)
    chapter = int(prefix.group(1)) if prefix else None
    counter = 1
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "{autoavaliacao}" in source:
            cell["source"], counter = rewrite_markdown(source, chapter, counter)
    return (json.dumps(notebook, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
