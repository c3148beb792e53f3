"""Verificações dos exercícios de programação, com mensagens em português.

- ``core``: chamar a função do estudante, comparar com tolerância e dicas, proibir atalhos
  (``forbidden``: a função que o exercício pede para escrever não pode ser chamada);
- ``reading``: o que a resposta usa, lido sem executá-la (o que ``forbidden`` confere antes);
- ``display`` e ``failure``: o resultado de ``grader.check(...)`` numa frase, no notebook do
  estudante e nas devolutivas;
- as verificações públicas de cada capítulo: ``sequential`` (1; reúne ``spectral_slope``,
  ``relu_jacobians`` e ``bias_free_gradient``), ``residual`` (2; reúne ``residual_blocks`` e
  ``path_lengths``), ``variance`` (3), ``batchnorm`` e ``folding`` (4), ``architectures`` e
  ``unet_skips`` (5), ``transformer`` (6); ``autograd_rules``: as funções do autograd proibidas
  nos capítulos 1 e 2;
- ``avaliador_exemplos``: verificações que foram exercícios (a atenção e o bloco pré-LN do
  capítulo 6) e hoje só servem de exemplo aos testes do avaliador; a página as responde.

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
