"""Verificações públicas dos exercícios de programação do capítulo 2 (conexões residuais).

As células de teste do capítulo importam as quatro verificações daqui; cada uma mora no módulo
do seu exercício, com as dicas, os casos e as ferramentas que os testes ocultos reaproveitam:

- ``residual_blocks``: exercícios 1 e 2, as representações bloco a bloco e o jacobiano do bloco
  original (pós-ativação);
- ``path_lengths``: exercícios 3 e 4, a saída separada por comprimento de caminho e a fração do
  gradiente por comprimento.
"""

from residuais.checks.path_lengths import (
    check_gradient_share_by_path_length,
    check_outputs_by_length,
)
from residuais.checks.residual_blocks import check_post_block_jacobian, check_residual_forward

__all__ = [
    "check_gradient_share_by_path_length",
    "check_outputs_by_length",
    "check_post_block_jacobian",
    "check_residual_forward",
]
