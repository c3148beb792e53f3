"""O analisador da linha de comando das ferramentas, com as mensagens em português.

``PortugueseParser`` é um ``argparse.ArgumentParser`` que escreve “uso:”, “argumentos”,
“opções” e “erro:”, e traduz as mensagens de erro do próprio ``argparse`` (argumento que falta,
opção desconhecida, valor inválido...). Os subcomandos criados com ``add_subparsers`` herdam a
tradução.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Collection
from typing import Any, NoReturn

# os títulos das seções da ajuda
HEADINGS = {
    "positional arguments": "argumentos",
    "options": "opções",
    "optional arguments": "opções",  # Python até 3.9
}

# uma escolha fora da lista; se o argumento é o de um subcomando, é um comando inválido
CHOICE = r"invalid choice: (?P<value>.*?) \(choose from (?P<choices>.*)\)"
COMMAND_CHOICE = "comando inválido: {value} (escolha entre {choices})"
# as mensagens de erro do argparse, em expressões regulares, e a tradução de cada uma
ERRORS = [
    (r"argument (?P<argument>.+?): (?P<message>.*)", "argumento {argument}: {message}"),
    (r"unrecognized arguments: (?P<values>.*)", "argumentos não reconhecidos: {values}"),
    (r"the following arguments are required: (?P<values>.*)", "faltam os argumentos: {values}"),
    (r"expected one argument", "falta o valor"),
    (r"expected at least one argument", "falta pelo menos um valor"),
    (r"expected at most one argument", "só aceita um valor"),
    (r"expected (?P<count>\d+) arguments?", "esperava {count} valores"),
    (r"ignored explicit argument (?P<value>.*)", "valor não esperado: {value}"),
    (r"ambiguous option: (?P<option>\S+) could match (?P<matches>.*)",
     "opção ambígua: {option} pode ser {matches}"),
    (r"invalid (?P<type>\S+) value: (?P<value>.*)", "valor inválido ({type}): {value}"),
    (CHOICE, "escolha inválida: {value} (escolha entre {choices})"),
    (r"not allowed with argument (?P<other>.*)", "não combina com o argumento {other}"),
    (r"one of the arguments (?P<values>.*) is required", "falta um dos argumentos {values}"),
]


def translate(message: str, commands: Collection[str] = ()) -> str:
    """A mensagem de erro do ``argparse`` em português; as que não reconhece ficam como estão
    (as das próprias ferramentas já são em português). ``commands`` são os nomes dos argumentos
    de subcomandos, para os quais uma escolha inválida é um “comando inválido”."""
    for pattern, text in ERRORS:
        match = re.fullmatch(pattern, message, flags=re.S)
        if match:
            parts = match.groupdict()
            if "message" in parts:
                command = parts["argument"] in commands and re.fullmatch(CHOICE, parts["message"])
                parts["message"] = (COMMAND_CHOICE.format(**command.groupdict()) if command
                                    else translate(parts["message"]))
            return text.format(**parts)
    return message


class PortugueseHelpFormatter(argparse.HelpFormatter):
    """O formatador da ajuda com “uso:” e os títulos das seções em português."""

    def add_usage(self, usage: str | None, actions: Any, groups: Any,
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "uso: " if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(HEADINGS.get(heading or "", heading))


class PortugueseParser(argparse.ArgumentParser):
    """Um ``ArgumentParser`` com a ajuda e os erros em português.

    Aceita os mesmos argumentos do ``argparse.ArgumentParser``; a opção ``-h/--help`` é
    acrescentada com a descrição em português (a não ser com ``add_help=False``).
    """

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", PortugueseHelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._commands: list[str] = []
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                              help="mostra esta ajuda e sai")

    def add_subparsers(self, **kwargs: Any) -> Any:
        """Como no ``argparse``; guarda o nome do argumento, para as mensagens de erro."""
        self._commands.append(kwargs.get("metavar") or kwargs.get("dest") or "")
        return super().add_subparsers(**kwargs)

    def error(self, message: str) -> NoReturn:
        """Escreve o uso e a mensagem de erro, em português, e sai com o código 2."""
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: erro: {translate(message, self._commands)}\n")
