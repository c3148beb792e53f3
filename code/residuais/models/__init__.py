"""Redes do livro, uma família por módulo, todas importáveis daqui.

- ``mlp``: redes totalmente conectadas, sequencial (``PlainMLP``) e residual (``ResidualBlock``,
  ``ResidualMLP``), e as funções ``he_init_``, ``linear_layers`` e ``count_parameters``;
- ``resnet``: blocos ``BasicBlock`` e ``Bottleneck``, a ``ResNet`` (``resnet18`` … ``resnet200``)
  e a rede pequena ``ConvNet`` dos dígitos;
- ``densenet``: blocos densos e a ``densenet121``;
- ``unet``: a ``UNet`` e o recorte central dos atalhos (``center_crop``);
- ``vgg``: a ``vgg16``, sequencial.

Os capítulos importam daqui, por exemplo ``from residuais.models import PlainMLP, resnet``.
"""

from residuais.models.densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121
from residuais.models.mlp import (
    BLOCK_ORDERS,
    PlainMLP,
    ResidualBlock,
    ResidualMLP,
    count_parameters,
    he_init_,
    linear_layers,
)
from residuais.models.resnet import (
    RESNET_LAYERS,
    BasicBlock,
    Bottleneck,
    ConvNet,
    ResNet,
    conv1x1,
    conv3x3,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet200,
)
from residuais.models.unet import UNet, center_crop
from residuais.models.vgg import VGG16_CONFIG, vgg16

__all__ = [
    "BLOCK_ORDERS",
    "RESNET_LAYERS",
    "VGG16_CONFIG",
    "BasicBlock",
    "Bottleneck",
    "ConvNet",
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "PlainMLP",
    "ResNet",
    "ResidualBlock",
    "ResidualMLP",
    "Transition",
    "UNet",
    "center_crop",
    "conv1x1",
    "conv3x3",
    "count_parameters",
    "densenet121",
    "he_init_",
    "linear_layers",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet200",
    "vgg16",
]
