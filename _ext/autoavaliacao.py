"""Perguntas de autoavaliação que funcionam na página estática: sem núcleo, sem rede, pelo
teclado e com leitor de tela.

Uma pergunta é a diretiva ``autoavaliacao`` numa célula markdown; as opções, as explicações e os
erros comuns são diretivas dentro dela::

    ::::{autoavaliacao}
    :label: aa-3-soma
    Enunciado, em MyST.

    :::{opcao} Texto da opção (a).
    Por que está errada.
    :::

    :::{opcao} Texto da opção (b).
    :correta:
    Por que está certa.
    :::
    ::::

Uma pergunta numérica tem ``:resposta:`` e ``:tolerancia:`` e, no lugar das opções, uma
``{explicacao}``, ``{erro-comum} valor`` (com a explicação de por que aquele valor está errado) e,
se quiser, uma ``{dica}`` para os outros valores errados.

No HTML, a pergunta é um formulário nativo (botões de opção ou campo de texto, ``Conferir``) e o
retorno vai para uma região ``role="status"``, que o leitor de tela anuncia; o programa
``_tema/autoavaliacao.js`` só decide qual explicação mostrar. Cada explicação existe uma vez, na
**resposta comentada**, um ``<details>`` recolhido: sem JavaScript, e no PDF (que o move para o fim
do capítulo), é ali que se lê a resposta. O elemento de fora tem a classe ``autoavaliacao``.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)
LETTERS = "abcdefgh"
_LABEL = re.compile(r"aa-\d+-[a-z0-9-]+|aa-[a-z][a-z0-9-]*")


class quiz(nodes.General, nodes.Element):
    """A pergunta inteira."""


class quiz_option(nodes.General, nodes.Element):
    """Uma opção: o texto (``quiz_option_text``) e a explicação (o resto dos filhos)."""


class quiz_option_text(nodes.General, nodes.TextElement):
    """O texto de uma opção, que vira o rótulo do botão de opção."""


class quiz_explanation(nodes.General, nodes.Element):
    """Explicação da resposta certa de uma pergunta numérica, de um erro comum ou a dica."""


def _number(text: str) -> float:
    """Um número escrito com vírgula ou ponto decimal."""
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"esperava um número, recebi {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"esperava um número finito, recebi {text!r}")
    return value


def _tolerance(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError("a tolerância não pode ser negativa")
    return value


class QuizDirective(SphinxDirective):
    has_content = True
    option_spec: ClassVar[dict] = {"label": directives.unchanged_required, "resposta": _number,
                   "tolerancia": _tolerance}

    def run(self) -> list[nodes.Node]:
        label = self.options.get("label", "")
        if not _LABEL.fullmatch(label):
            raise self.error(f"a pergunta de autoavaliação precisa de :label: no formato "
                             f"aa-<capítulo>-<assunto> (minúsculas e hífens); recebi {label!r}")
        node = quiz(label=label, ids=[label])
        self.set_source_info(node)
        self.state.nested_parse(self.content, self.content_offset, node)
        options = [c for c in node.children if isinstance(c, quiz_option)]
        explanations = [c for c in node.children if isinstance(c, quiz_explanation)]
        statement = [c for c in node.children if not isinstance(c, quiz_option | quiz_explanation)]
        if not statement:
            raise self.error(f"{label}: falta o enunciado (o texto antes das opções)")
        node["statement"] = len(statement)
        if "resposta" in self.options:
            node["kind"] = "numero"
            node["answer"] = self.options["resposta"]
            node["tolerance"] = self.options.get("tolerancia", 0.0)
            if options:
                raise self.error(f"{label}: pergunta numérica (:resposta:) não tem {{opcao}}")
            if not any(e["role"] == "explicacao" for e in explanations):
                raise self.error(f"{label}: a pergunta numérica precisa de uma {{explicacao}}")
        else:
            node["kind"] = "escolha"
            correct = [o for o in options if o["correct"]]
            if not 2 <= len(options) <= len(LETTERS) or len(correct) != 1:
                raise self.error(f"{label}: uma pergunta de múltipla escolha tem de 2 a "
                                 f"{len(LETTERS)} {{opcao}} e exatamente uma com :correta: "
                                 f"(recebi {len(options)} opções, {len(correct)} corretas)")
            if explanations:
                raise self.error(f"{label}: {{explicacao}}, {{erro-comum}} e {{dica}} são de "
                                 "perguntas numéricas; numa de múltipla escolha, a explicação "
                                 "fica dentro de cada {opcao}")
            for letter, option in zip(LETTERS, options, strict=False):
                option["letter"] = letter
        for child in node.children:
            if isinstance(child, quiz_option | quiz_explanation) and len(child.children) < (
                    2 if isinstance(child, quiz_option) else 1):
                raise self.error(f"{label}: cada opção e cada erro comum precisa de uma "
                                 "explicação (por que está certo ou errado)")
        return [node]


class OptionDirective(SphinxDirective):
    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec: ClassVar[dict] = {"correta": directives.flag}

    def run(self) -> list[nodes.Node]:
        node = quiz_option(correct="correta" in self.options)
        text, messages = self.state.inline_text(self.arguments[0], self.lineno)
        node += quiz_option_text("", "", *text)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node, *messages]


class ExplanationDirective(SphinxDirective):
    """``explicacao``, ``erro-comum`` (com o valor errado como argumento) e ``dica``."""

    has_content = True
    optional_arguments = 1
    option_spec: ClassVar[dict] = {"tolerancia": _tolerance}

    def run(self) -> list[nodes.Node]:
        role = self.name
        node = quiz_explanation(role=role)
        if role == "erro-comum":
            if not self.arguments:
                raise self.error("{erro-comum} precisa do valor errado como argumento")
            try:
                node["value"] = _number(self.arguments[0])
            except ValueError as exc:
                raise self.error(f"{{erro-comum}}: {exc}") from None
            node["tolerance"] = self.options.get("tolerancia", 0.0)
        elif self.arguments:
            raise self.error(f"{{{role}}} não tem argumento")
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def _number_quizzes(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Numera as perguntas na ordem da página: ``Autoavaliação 3.2`` no capítulo 3."""
    chapter = app.builder.env.toc_secnumbers.get(docname, {}).get("")
    prefix = f"{chapter[0]}." if chapter else ""
    for k, node in enumerate(doctree.findall(quiz), start=1):
        node["title"] = f"Autoavaliação {prefix}{k}"


def _fmt(value: float) -> str:
    text = f"{value:.10g}"
    return text.replace(".", ",")


def visit_quiz(self: HTML5Translator, node: quiz) -> None:
    label = node["label"]
    kind = node["kind"]
    data = f' data-tipo="{kind}"'
    if kind == "numero":
        data += f' data-resposta="{node["answer"]!r}" data-tolerancia="{node["tolerance"]!r}"'
    self.body.append(
        f'<section class="autoavaliacao" id="{label}" aria-labelledby="{label}-titulo"{data}>'
        f'<p class="aa-titulo" id="{label}-titulo">{node.get("title", "Autoavaliação")}</p>'
        f'<form class="aa-form" novalidate><div class="aa-enunciado" id="{label}-enunciado">')
    node["_open_statement"] = node["statement"]


def _close_statement(self: HTML5Translator, node: quiz) -> None:
    """Fecha o enunciado e, numa pergunta numérica, põe o campo da resposta."""
    label = node["label"]
    self.body.append(f'</div><fieldset class="aa-campos" aria-labelledby="{label}-enunciado">')
    if node["kind"] == "numero":
        self.body.append(
            f'<label for="{label}-valor">Sua resposta:</label> '
            f'<input type="text" inputmode="decimal" autocomplete="off" id="{label}-valor" '
            f'name="{label}-valor" class="aa-valor" size="10">')
    else:
        self.body.append('<div class="aa-opcoes">')


def depart_quiz(self: HTML5Translator, node: quiz) -> None:
    label = node["label"]
    if node["kind"] == "escolha":
        self.body.append("</div>")
    self.body.append(
        '</fieldset><button type="submit" class="aa-conferir">Conferir</button>'
        f'<div class="aa-retorno" role="status" aria-live="polite" id="{label}-retorno"></div>'
        "</form>")
    self.body.append(f'<details class="aa-resposta"><summary>Resposta comentada — '
                     f'{node.get("title", "")}</summary><div class="aa-chave">')
    self.body.extend(node["_key"])
    self.body.append("</div></details></section>\n")


def _before_child(self: HTML5Translator, child: nodes.Element) -> None:
    """Antes da primeira opção ou explicação, o enunciado acaba."""
    parent = child.parent
    if isinstance(parent, quiz) and parent.get("_open_statement") is not None:
        parent["_open_statement"] = None
        _close_statement(self, parent)


def visit_option(self: HTML5Translator, node: quiz_option) -> None:
    _before_child(self, node)
    quiz_node = node.parent
    label, letter = quiz_node["label"], node["letter"]
    self.body.append(
        f'<div class="aa-opcao"><input type="radio" name="{label}" id="{label}-{letter}" '
        f'value="{letter}"><label for="{label}-{letter}"><span class="aa-letra">({letter})</span> ')
    node["_start"] = len(self.body)


def visit_option_text(self: HTML5Translator, node: quiz_option_text) -> None:
    pass


def depart_option_text(self: HTML5Translator, node: quiz_option_text) -> None:
    self.body.append("</label></div>")
    # a explicação da opção não fica aqui: vai para a resposta comentada
    node.parent["_key_start"] = len(self.body)


def depart_option(self: HTML5Translator, node: quiz_option) -> None:
    explanation = self.body[node["_key_start"]:]
    del self.body[node["_key_start"]:]
    verdict = "certa" if node["correct"] else "errada"
    quiz_node = node.parent
    quiz_node.setdefault("_key", []).append(
        f'<div class="aa-explicacao" data-opcao="{node["letter"]}" data-correta="'
        f'{"sim" if node["correct"] else "nao"}"><p class="aa-veredito"><strong>'
        f'({node["letter"]}) {verdict}.</strong></p>{"".join(explanation)}</div>')


def visit_explanation(self: HTML5Translator, node: quiz_explanation) -> None:
    _before_child(self, node)
    node["_key_start"] = len(self.body)


def depart_explanation(self: HTML5Translator, node: quiz_explanation) -> None:
    body = "".join(self.body[node["_key_start"]:])
    del self.body[node["_key_start"]:]
    quiz_node = node.parent
    role = node["role"]
    if role == "explicacao":
        head = f"Resposta: {_fmt(quiz_node['answer'])}"
        if quiz_node["tolerance"]:
            head += f" (aceita-se ± {_fmt(quiz_node['tolerance'])})"
        attrs = 'data-papel="explicacao"'
    elif role == "erro-comum":
        head = f"Se você respondeu {_fmt(node['value'])}"
        attrs = (f'data-papel="erro-comum" data-valor="{node["value"]!r}" '
                 f'data-tolerancia="{node["tolerance"]!r}"')
    else:
        head = "Dica para outras respostas"
        attrs = 'data-papel="dica"'
    quiz_node.setdefault("_key", []).append(
        f'<div class="aa-explicacao" {attrs}><p class="aa-veredito"><strong>{head}.</strong>'
        f"</p>{body}</div>")


def _skip(self, node: nodes.Node) -> None:
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict[str, Any]:
    skip = (_skip, None)
    others = {b: skip for b in ("latex", "text", "man", "texinfo")}
    app.add_node(quiz, html=(visit_quiz, depart_quiz), **others)
    app.add_node(quiz_option, html=(visit_option, depart_option), **others)
    app.add_node(quiz_option_text, html=(visit_option_text, depart_option_text), **others)
    app.add_node(quiz_explanation, html=(visit_explanation, depart_explanation), **others)
    app.add_directive("autoavaliacao", QuizDirective)
    app.add_directive("opcao", OptionDirective)
    for name in ("explicacao", "erro-comum", "dica"):
        app.add_directive(name, ExplanationDirective)
    app.connect("doctree-resolved", _number_quizzes)
    app.add_js_file("autoavaliacao.js")
    app.add_css_file("autoavaliacao.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
