"""Verificações dos exercícios de programação, com mensagens em português.

- ``core``: chamar a função do estudante, comparar com tolerância e dicas, proibir atalhos
  (``forbidden``: a função que o exercício pede para escrever não pode ser chamada);
- ``reading``: o que a resposta usa, lido sem executá-la (o que ``forbidden`` confere antes);
- ``display``: o resultado de ``grader.check(...)`` numa frase, no notebook do estudante;
- um módulo por capítulo com as verificações públicas: ``sequential`` (1), ``residual`` (2),
  ``variance`` (3), ``batchnorm`` (4), ``architectures`` (5), ``transformer`` (6).

As verificações públicas usam casos fixos, com os valores esperados escritos ou calculados pelo
PyTorch; não há nelas a resposta de nenhum exercício. Os testes ocultos ficam com o professor,
no arquivo do corretor (``book/ocultos/``), e nunca neste pacote.
"""

from residuais.checks.core import (
    ForbiddenCall,
    Rule,
    as_float,
    call,
    expect_close,
    expect_tensor,
    fail,
    forbidden,
)

__all__ = [
    "ForbiddenCall",
    "Rule",
    "as_float",
    "call",
    "expect_close",
    "expect_tensor",
    "fail",
    "forbidden",
]
