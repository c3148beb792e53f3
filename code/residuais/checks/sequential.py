"""Verificações públicas dos exercícios de programação do capítulo 1 (processamento sequencial).

As células de teste do capítulo importam as quatro verificações daqui; cada uma mora no módulo
do seu exercício, com as dicas, os casos e as ferramentas que os testes ocultos reaproveitam:

- ``spectral_slope``: exercício 1, a inclinação do espectro de potência;
- ``relu_jacobians``: exercícios 2 e 3, o jacobiano de uma camada ReLU e a norma do jacobiano
  camada a camada;
- ``bias_free_gradient``: exercício 4, os dois valores do gradiente de uma rede ReLU sem vieses;
- ``autograd_rules``: as funções do autograd proibidas (também no capítulo 2).
"""

from residuais.checks.bias_free_gradient import check_two_gradient_values
from residuais.checks.relu_jacobians import check_jacobian_norms, check_relu_layer_jacobian
from residuais.checks.spectral_slope import check_spectral_slope

__all__ = [
    "check_jacobian_norms",
    "check_relu_layer_jacobian",
    "check_spectral_slope",
    "check_two_gradient_values",
]
