"""Código compartilhado do livro “Conexões residuais”.

Cada módulo trata de um conceito só:

- ``models``: redes sequenciais (``PlainMLP``) e residuais (``ResidualBlock``, ``ResidualMLP``);
- ``data``: conjuntos de dados gerados localmente e com semente fixa (MNIST-1D);
- ``train``: um laço de treinamento pequeno (``fit``) e a avaliação;
- ``analysis``: medições (normas de gradiente por camada, autocorrelação, Jacobianos);
- ``plotting``: o estilo das figuras do livro;
- ``checks``: verificações dos exercícios de programação, com mensagens em português.

Importe dos módulos, por exemplo ``from residuais.models import PlainMLP``.
"""

__version__ = "0.1.0"
