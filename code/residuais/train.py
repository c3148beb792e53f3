"""Um laço de treinamento pequeno e a avaliação, devolvendo históricos como dados simples."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from residuais.data import Dataset


@dataclass(frozen=True)
class TrainConfig:
    """Hiperparâmetros de ``fit``: SGD com momento (ou Adam), lotes embaralhados com semente
    fixa."""

    epochs: int = 10
    lr: float = 0.05
    momentum: float = 0.9
    batch_size: int = 100
    weight_decay: float = 0.0
    seed: int = 0
    optimizer: str = "sgd"

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer deve ser 'sgd' ou 'adam'; recebeu {self.optimizer!r}.")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(
                "epochs deve ser ≥ 1 e batch_size ≥ 2 (o batch norm precisa de lote > 1)."
            )
        if not self.lr > 0:
            raise ValueError(f"A taxa de aprendizado deve ser positiva; recebeu {self.lr!r}.")


@dataclass
class History:
    """Uma entrada por época. ``train_*``: média sobre os minilotes da época (modo treino);
    ``test_*``: conjunto de teste inteiro em modo de avaliação."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)


def _classes_on_dim1(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Põe as classes no eixo 1, como a entropia cruzada do PyTorch espera: sequências vêm como
    (B, T, V) com rótulos (B, T) e viram (B, V, T); os outros casos já estão assim."""
    if logits.dim() == 3 and y.dim() == 2:
        return logits.transpose(1, 2)
    return logits


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Perda de entropia cruzada média e acurácia de ``model`` em (x, y), em modo de avaliação.

    Serve também para segmentação — logits (N, C, H, W), rótulos (N, H, W), acurácia por pixel —
    e para sequências — logits (N, T, V), rótulos (N, T), acurácia por posição.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x tem {x.shape[0]} exemplos e y tem {y.shape[0]}; deveriam ser iguais.")
    was_training = model.training
    model.eval()
    logits = _classes_on_dim1(model(x), y)  # (N, n_classes, ...)
    model.train(was_training)
    loss = F.cross_entropy(logits, y).item()
    acc = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, acc


def fit(model: nn.Module, data: Dataset, config: TrainConfig | None = None) -> History:
    """Treina ``model`` com SGD com momento (ou Adam, conforme ``config.optimizer``) e entropia
    cruzada; devolve o histórico por época.

    Interrompe o treino e devolve o histórico até ali se a perda deixar de ser finita.
    """
    config = config or TrainConfig()
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(
            model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
    else:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay,
        )
    generator = torch.Generator().manual_seed(config.seed)
    n = data.x_train.shape[0]
    history = History()
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        total_loss, total_correct = 0.0, 0.0
        for start in range(0, n - config.batch_size + 1, config.batch_size):
            idx = order[start : start + config.batch_size]
            logits = _classes_on_dim1(model(data.x_train[idx]), data.y_train[idx])  # (B, V, ...)
            loss = F.cross_entropy(logits, data.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            # fração de acertos (por exemplo ou, em segmentação, por pixel) vezes o lote
            hits = (logits.argmax(dim=1) == data.y_train[idx]).float().mean().item()
            total_correct += hits * len(idx)
        seen = (n // config.batch_size) * config.batch_size
        history.train_loss.append(total_loss / seen)
        history.train_acc.append(total_correct / seen)
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        if not torch.isfinite(torch.tensor(history.train_loss[-1])):
            break
    return history
