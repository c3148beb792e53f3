"""A explicação em português de um caso de teste que falhou, a partir da saída do doctest do
otter (sem o cabeçalho em inglês nem o passo a passo). Serve ao notebook do estudante
(``display.Notebook``) e às devolutivas da correção, que assim não precisam importar o otter.
"""

from __future__ import annotations

import re


def failure_reason(message: str) -> str:
    """A explicação de um caso de teste que falhou, a partir da saída do doctest do otter.

    Para uma verificação de ``residuais.checks``, é a mensagem do ``AssertionError``, em
    português; para outros erros, uma frase que diz o que aconteceu.
    """
    lines = message.splitlines()
    exception = _raised_exception(lines)
    if exception is not None:
        kind, _, text = exception.partition(":")
        return _explain(kind.rsplit(".", 1)[-1], text.strip())
    if "Expected:" in lines or "Expected nothing" in lines:
        return ("A verificação produziu uma saída inesperada (a resposta imprime algo ao ser "
                "chamada?).")
    return _failed_case(lines)


# os títulos do relatório do doctest, traduzidos; as linhas sem tradução são omitidas
_DOCTEST_HEADINGS = {"Failed example:": "exemplo:", "Expected:": "esperado:",
                     "Expected nothing": "esperado: nada", "Got:": "obtido:",
                     "Got nothing": "obtido: nada"}


def _failed_case(lines: list[str]) -> str:
    """Um caso que falhou sem exceção nem saída inesperada (saída cortada, formato
    desconhecido): “O caso de teste falhou” e o que interessa do relatório do doctest, com os
    títulos em português; sem o cabeçalho do otter nem o passo a passo (“Trying:”)."""
    kept, skipping = [], False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("❌", "✅")) or set(stripped) == {"*"}:
            continue
        if stripped in ("Trying:", "Expecting:", "Expecting nothing"):
            skipping = True
            continue
        if stripped in _DOCTEST_HEADINGS:
            skipping = False
            kept.append(_DOCTEST_HEADINGS[stripped])
            continue
        if re.match(r"(Line \d+|File .*, line \d+), in ", stripped) or (skipping
                                                                     and line[:1] == " "):
            continue
        skipping = False
        if stripped:
            kept.append(line)
    return "\n".join(["O caso de teste falhou:", *kept]) if kept else "O caso de teste falhou."


def _raised_exception(lines: list[str]) -> str | None:
    """A última exceção do bloco “Exception raised:” do doctest (tipo e mensagem), se houver."""
    if "Exception raised:" not in lines:
        return None
    block = []
    for line in lines[lines.index("Exception raised:") + 1:]:
        if line.strip() and not line.startswith("    "):
            break
        block.append(line[4:])
    starts = [i for i, line in enumerate(block) if line.startswith("Traceback (most recent")]
    tail = block[starts[-1] + 1:] if starts else block
    first = next((i for i, line in enumerate(tail) if line and not line[0].isspace()), None)
    return None if first is None else "\n".join(tail[first:]).strip()


def _explain(kind: str, text: str) -> str:
    """A frase para uma exceção do tipo ``kind`` com a mensagem ``text``."""
    if kind in ("AssertionError", "ForbiddenCall") and text:
        return text
    if kind == "NameError":
        match = re.search(r"name '([^']+)' is not defined", text)
        missing = f"`{match.group(1)}`" if match else "um nome usado pelo teste"
        return (f"{missing} não está definido quando o teste roda: a célula da resposta "
                "foi apagada, vem depois da verificação ou deu erro ao ser executada.")
    if kind == "TimeoutError":
        return f"O teste passou do tempo e foi interrompido: {text}"
    return f"O teste levantou {kind}: {text}" if text else f"O teste levantou {kind}."
