"""Código compartilhado do livro “Conexões residuais”.

Cada módulo trata de um conceito só:

- ``models``: as redes do livro, uma família por submódulo — ``models.mlp`` (sequenciais e
  residuais totalmente conectadas: ``PlainMLP``, ``ResidualBlock``, ``ResidualMLP``),
  ``models.resnet`` (``BasicBlock``, ``Bottleneck``, ``resnet18`` … ``resnet200``, ``ConvNet``),
  ``models.densenet``, ``models.unet`` e ``models.vgg``;
- ``norm``: normalização em lote (BN) escrita do zero, com as convenções do PyTorch;
- ``transformer``: o Transformer como pilha de blocos residuais (capítulo 6);
- ``shapes``: a conferência das formas de entrada (``check_tensor``), com mensagens em português;
- ``data``: conjuntos de dados gerados localmente e com semente fixa (MNIST-1D);
- ``train``: um laço de treinamento pequeno (``fit``), várias sementes treinadas juntas
  (``fit_seeds``) e a avaliação;
- ``analysis``: medições (normas de gradiente por camada, autocorrelação, jacobianos);
- ``lesion``, ``paths`` e ``landscape``: os experimentos do capítulo 2 — estudos de lesão
  (remover e trocar blocos), o gradiente por comprimento de caminho e fatias da paisagem da perda;
- ``plotting``: o estilo das figuras do livro;
- ``checks``: verificações dos exercícios de programação, com mensagens em português.

Importe dos módulos, por exemplo ``from residuais.models import PlainMLP``.
"""

__version__ = "0.2.0"
