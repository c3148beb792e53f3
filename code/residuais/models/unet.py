"""U-Net: codificador–decodificador com atalhos por concatenação (Ronneberger et al. 2015).

Convenções de forma: ``B`` lote, ``C`` canais, ``H`` × ``W`` altura × largura.
"""

from __future__ import annotations

import torch
from torch import nn

from residuais.shapes import check_positive, check_tensor


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Recorta o centro de ``x`` (B, C, H, W) para (B, C, height, width), como a U-Net original
    faz com o atalho antes de concatenar."""
    h, w = x.shape[-2:]
    if height > h or width > w:
        raise ValueError(f"Não dá para recortar {h}×{w} para {height}×{width}: o alvo é maior.")
    top, left = (h - height) // 2, (w - width) // 2
    return x[..., top : top + height, left : left + width]


def _double_conv(
    in_channels: int, out_channels: int, padding: int, batch_norm: bool
) -> nn.Sequential:
    """Duas convoluções 3×3, cada uma seguida de (BN e) ReLU."""
    layers: list[nn.Module] = []
    for c_in in (in_channels, out_channels):
        layers.append(nn.Conv2d(c_in, out_channels, 3, padding=padding, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015): codificador–decodificador com atalhos por concatenação.

    Com os padrões (``padding=0``, canais 64…1024, entrada 1 canal, 2 classes) é a rede do
    artigo: convoluções sem preenchimento ("válidas"), então cada atalho é recortado no centro
    antes de ser concatenado, e uma entrada 572×572 dá uma saída 388×388. ``padding=1`` mantém
    o tamanho; ``skips=False`` tira os atalhos (o decodificador só vê o que subiu do fundo).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 4,
        *,
        padding: int = 0,
        batch_norm: bool = False,
        skips: bool = True,
    ) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, num_classes=num_classes,
                       base_channels=base_channels, depth=depth)
        self.in_channels = in_channels
        self.skips = skips
        widths = [base_channels * 2**i for i in range(depth + 1)]  # 64, 128, ..., 1024
        self.down = nn.ModuleList()
        c_in = in_channels
        for w in widths[:-1]:
            self.down.append(_double_conv(c_in, w, padding, batch_norm))
            c_in = w
        self.pool = nn.MaxPool2d(2)
        self.bottom = _double_conv(widths[-2], widths[-1], padding, batch_norm)
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        for w_low, w in zip(reversed(widths[1:]), reversed(widths[:-1]), strict=True):
            self.up.append(nn.ConvTranspose2d(w_low, w, 2, stride=2))  # dobra a resolução
            self.up_conv.append(_double_conv(2 * w if skips else w, w, padding, batch_norm))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "UNet", "(B, C, H, W)", C=self.in_channels)
        saved = []
        for down in self.down:
            x = down(x)  # (B, w, H, W)
            saved.append(x)  # o atalho: as características antes de reduzir a resolução
            x = self.pool(x)  # (B, w, H/2, W/2)
        x = self.bottom(x)
        for up, up_conv, skip in zip(self.up, self.up_conv, reversed(saved), strict=True):
            x = up(x)  # (B, w, 2H, 2W)
            if self.skips:
                skip = center_crop(skip, *x.shape[-2:])  # recorte: convoluções válidas encolhem
                x = torch.cat([skip, x], dim=1)  # (B, 2w, 2H, 2W)
            x = up_conv(x)
        return self.head(x)  # (B, num_classes, H_out, W_out)
