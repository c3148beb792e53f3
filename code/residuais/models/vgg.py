"""VGG-16 (Simonyan e Zisserman 2015): a rede sequencial profunda que precedeu a ResNet."""

from __future__ import annotations

from torch import nn

from residuais.shapes import check_positive

# Configuração "D" de Simonyan e Zisserman (2015): números são canais de convoluções 3×3,
# "M" é um agrupamento por máximo (*max pooling*) 2×2.
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
                512, 512, 512, "M", 512, 512, 512, "M")  # fmt: skip


def vgg16(num_classes: int = 1000) -> nn.Sequential:
    """VGG-16 (configuração D) para entradas 3×224×224, como no artigo e no torchvision.

    Use ``with torch.device("meta"):`` para contar parâmetros sem alocar memória.
    """
    check_positive(num_classes=num_classes)
    layers: list[nn.Module] = []
    channels = 3
    for item in VGG16_CONFIG:
        if item == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
            channels = item
    layers += [
        nn.Flatten(),  # (B, 512·7·7)
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
        nn.Linear(4096, num_classes),
    ]  # fmt: skip
    return nn.Sequential(*layers)
