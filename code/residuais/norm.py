"""Normalização em lote (*batch norm*, Ioffe e Szegedy 2015) escrita do zero.

Segue as convenções do ``torch.nn.BatchNorm1d/2d`` (e é testada contra eles):

- normaliza com √(σ² + ε), não com σ + ε;
- a variância do lote usada para normalizar é a *viesada* (divide por n), mas a que entra na
  média móvel é a *não viesada* (divide por n − 1);
- a média móvel segue ``running = (1 − momentum) · running + momentum · estatística_do_lote``,
  com ``momentum = 0,1``: o "momento" do PyTorch é o peso da estatística *nova*.

As convenções das notas de aula (σ + ε; média móvel de σ com peso α no valor antigo) estão em
``lecture_normalize`` e ``lecture_running_update``, para comparação.
"""

from __future__ import annotations

import torch
from torch import nn

from residuais.shapes import check_positive, check_tensor


class BatchNorm(nn.Module):
    """Normalização em lote sobre o eixo 1 (atributos ou canais); as estatísticas são calculadas
    sobre todos os outros eixos: o lote, e no caso 2d também as posições (altura × largura)."""

    expected_dims: int = 0  # definido pelas subclasses

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        check_positive(num_features=num_features)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(num_features))  # γ, aprendido
        self.bias = nn.Parameter(torch.zeros(num_features))  # β, aprendido
        self.register_buffer("running_mean", torch.zeros(num_features))  # μ móvel, calculado
        self.register_buffer("running_var", torch.ones(num_features))  # σ² móvel, calculado

    def _check_input(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        layout = "(B, C)" if self.expected_dims == 2 else "(B, C, H, W)"
        check_tensor(x, name, layout, C=self.num_features)
        values_per_channel = x.numel() // self.num_features
        if self.training and values_per_channel < 2:
            raise ValueError(
                f"{name}: em modo de treino, cada canal precisa de mais de um valor para estimar "
                f"a variância; recebeu forma {tuple(x.shape)}. Use lotes maiores ou model.eval()."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        dims = [d for d in range(x.dim()) if d != 1]  # tudo menos o eixo dos canais
        shape = [1, -1] + [1] * (x.dim() - 2)  # para alinhar (C,) com x
        if self.training:
            mean = x.mean(dim=dims)  # (C,)
            var = x.var(dim=dims, unbiased=False)  # (C,) viesada: normaliza o lote
            n = x.numel() // self.num_features
            with torch.no_grad():
                unbiased = var * n / (n - 1)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return self.weight.view(shape) * x_hat + self.bias.view(shape)  # γ x̂ + β


class BatchNorm1d(BatchNorm):
    """Normalização em lote para camadas densas: entrada (B, C), estatísticas por unidade."""

    expected_dims = 2


class BatchNorm2d(BatchNorm):
    """Normalização em lote para convoluções: entrada (B, C, H, W), estatísticas por canal."""

    expected_dims = 4


def lecture_normalize(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """A normalização das notas de aula: (x − μ)/(σ + ε), com σ o desvio-padrão viesado do lote
    (eixo 0). O PyTorch usa (x − μ)/√(σ² + ε)."""
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    return (x - mean) / (std + eps)


def lecture_running_update(
    running_mean: torch.Tensor, running_std: torch.Tensor, x: torch.Tensor, alpha: float = 0.9
) -> tuple[torch.Tensor, torch.Tensor]:
    """A média móvel das notas de aula: μ_mov ← α μ_mov + (1 − α) μ e σ_mov ← α σ_mov + (1 − α) σ,
    com σ o desvio-padrão viesado do lote. Devolve (μ_mov, σ_mov) novos."""
    mean = x.mean(dim=0)
    std = x.std(dim=0, unbiased=False)
    return alpha * running_mean + (1 - alpha) * mean, alpha * running_std + (1 - alpha) * std
