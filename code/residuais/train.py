"""Um laço de treinamento pequeno e a avaliação, devolvendo históricos como dados simples.

``fit`` treina um modelo; ``fit_seeds`` e ``fit_seed_models`` treinam várias cópias (uma por
semente) juntas, num objeto só (``residuais.copies``): os mesmos números de rodar ``fit`` uma
vez por semente, em bem menos tempo na CPU. ``fit_copies`` faz o mesmo com modelos já montados,
que podem ser variantes diferentes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from residuais.copies import classes_on_dim1, stack_copies
from residuais.data import Dataset
from residuais.optim import SGD, Adam, Optimizer


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
    eval_train: bool = False  # mede também, a cada época, a perda no treino inteiro (modo eval)
    eval_train_size: int | None = None  # com eval_train: só os primeiros N exemplos de treino
    warmup_steps: int = 0  # aquecimento: a taxa sobe linearmente de lr/warmup_steps até lr

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer deve ser 'sgd' ou 'adam'; recebeu {self.optimizer!r}.")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(
                "epochs deve ser ≥ 1 e batch_size ≥ 2 (a normalização em lote precisa de lote > 1)."
            )
        if self.eval_train_size is not None and self.eval_train_size < 1:
            raise ValueError(f"eval_train_size deve ser ≥ 1; recebeu {self.eval_train_size!r}.")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps deve ser ≥ 0; recebeu {self.warmup_steps!r}.")
        if not self.lr > 0:
            raise ValueError(f"A taxa de aprendizado deve ser positiva; recebeu {self.lr!r}.")


@dataclass
class History:
    """Uma entrada por época. ``train_*``: média sobre os minilotes da época (modo treino,
    com os pesos mudando durante a época); ``train_eval_*`` (com ``eval_train``): o conjunto de
    treino inteiro (ou os primeiros ``eval_train_size`` exemplos) em modo de avaliação ao fim da
    época, medido como o teste; ``test_*``: o conjunto de teste inteiro em modo de avaliação."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    train_eval_loss: list[float] = field(default_factory=list)
    train_eval_acc: list[float] = field(default_factory=list)


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
    logits = classes_on_dim1(model(x), y)  # (N, n_classes, ...)
    model.train(was_training)
    loss = F.cross_entropy(logits, y).item()
    acc = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, acc


def _optimizer(parameters: Sequence[torch.Tensor], config: TrainConfig) -> Optimizer:
    """SGD com momento ou Adam (``residuais.optim``: as contas do PyTorch, sem importar o
    compilador), com o aquecimento linear da taxa de ``config.warmup_steps`` passos."""
    if config.optimizer == "adam":
        return Adam(parameters, lr=config.lr, weight_decay=config.weight_decay,
                    warmup_steps=config.warmup_steps)
    return SGD(parameters, lr=config.lr, momentum=config.momentum,
               weight_decay=config.weight_decay, warmup_steps=config.warmup_steps)


def fit(model: nn.Module, data: Dataset, config: TrainConfig | None = None) -> History:
    """Treina ``model`` com SGD com momento (ou Adam, conforme ``config.optimizer``) e entropia
    cruzada; devolve o histórico por época.

    Interrompe o treino (no meio da época) e devolve o histórico até ali se a perda deixar de
    ser finita.
    """
    config = config or TrainConfig()
    optimizer = _optimizer(list(model.parameters()), config)
    generator = torch.Generator().manual_seed(config.seed)
    n = data.x_train.shape[0]
    history = History()
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        total_loss, total_correct = 0.0, 0.0
        for start in range(0, n - config.batch_size + 1, config.batch_size):
            idx = order[start : start + config.batch_size]
            logits = classes_on_dim1(model(data.x_train[idx]), data.y_train[idx])  # (B, V, ...)
            loss = F.cross_entropy(logits, data.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(idx)
            # fração de acertos (por exemplo ou, em segmentação, por pixel) vezes o lote
            hits = (logits.argmax(dim=1) == data.y_train[idx]).float().mean().item()
            total_correct += hits * len(idx)
            if not math.isfinite(total_loss):  # divergiu: o resto da época só somaria NaN
                break
        seen = (n // config.batch_size) * config.batch_size
        history.train_loss.append(total_loss / seen)
        history.train_acc.append(total_correct / seen)
        test_loss, test_acc = evaluate(model, data.x_test, data.y_test)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        if config.eval_train:
            n_eval = config.eval_train_size  # None: todos
            train_loss, train_acc = evaluate(model, data.x_train[:n_eval], data.y_train[:n_eval])
            history.train_eval_loss.append(train_loss)
            history.train_eval_acc.append(train_acc)
        if not torch.isfinite(torch.tensor(history.train_loss[-1])):
            break
    return history


def fit_seeds(make_model: Callable[[int], nn.Module], data: Dataset, seeds: Sequence[int],
              config: TrainConfig | None = None) -> list[History]:
    """Treina uma cópia de modelo por semente, todas juntas; devolve um histórico por semente
    (os modelos treinados, com ``fit_seed_models``)."""
    return fit_seed_models(make_model, data, seeds, config)[0]


def fit_seed_models(make_model: Callable[[int], nn.Module], data: Dataset, seeds: Sequence[int],
                    config: TrainConfig | None = None, lrs: Sequence[float] | None = None,
                    ) -> tuple[list[History], list[nn.Module]]:
    """Treina uma cópia de modelo por semente, todas juntas; devolve um histórico por semente e
    os modelos treinados (os de ``make_model``, com os pesos e as estatísticas do fim do treino).

    A cópia ``i`` começa de ``make_model(seeds[i])`` e vê os minilotes na ordem da semente
    ``seeds[i]``: é o mesmo treino de ``fit(make_model(s), data, replace(config, seed=s))``,
    com as cópias num objeto só (``residuais.copies``: lado a lado no eixo dos atributos ou,
    para os outros modelos, com os pesos empilhados e ``torch.vmap``). Os otimizadores agem
    elemento a elemento e a perda é a soma das perdas das cópias, então cada cópia recebe o
    próprio gradiente e os mesmos passos. O histórico de uma cópia cuja perda deixa de ser
    finita para naquela época, como em ``fit``.

    ``lrs`` (opcional, só com SGD): uma taxa de aprendizado por cópia, no lugar de ``config.lr``;
    a cópia ``i`` treina como ``fit(make_model(seeds[i]), data, replace(config, seed=seeds[i],
    lr=lrs[i]))``. Repetindo as sementes, uma por taxa, uma varredura de taxas cabe numa chamada.
    O otimizador anda com taxa 1 e o gradiente de cada cópia (com o decaimento de pesos somado)
    é multiplicado pela taxa dela: no SGD com momento, os mesmos passos.
    """
    if not seeds:
        raise ValueError("Dê pelo menos uma semente.")
    models = [make_model(seed) for seed in seeds]
    return fit_copies(models, data, seeds, config, lrs), models


def fit_copies(models: Sequence[nn.Module], data: Dataset, seeds: Sequence[int],
               config: TrainConfig | None = None, lrs: Sequence[float] | None = None,
               ) -> list[History]:
    """Como ``fit_seed_models``, com os modelos já montados: ``models[i]`` treina com os
    minilotes na ordem de ``seeds[i]`` (e a taxa ``lrs[i]``), e termina com os pesos do fim do
    treino. Os modelos precisam ter a mesma estrutura; numa ``ResidualMLP`` as escalas α e c
    podem variar de um para outro (variantes diferentes numa chamada só)."""
    config = config or TrainConfig()
    if not seeds or len(seeds) != len(models):
        raise ValueError(f"Dê uma semente por modelo; recebeu {len(models)} modelos e "
                         f"{len(seeds)} sementes.")
    weight_decay = config.weight_decay
    config = _rates_in_gradient(config, seeds, lrs)
    copies = stack_copies(models, data.y_train)  # lado a lado ou com vmap (residuais.copies)
    rates = None if lrs is None else torch.tensor(lrs, dtype=torch.float64)  # (S,)
    optimizer = _optimizer(copies.parameters, config)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    n, size = data.x_train.shape[0], config.batch_size
    histories = [History() for _ in seeds]
    alive = [True] * len(seeds)
    for _ in range(config.epochs):
        orders = torch.stack([torch.randperm(n, generator=g) for g in generators])  # (S, N)
        total_loss = torch.zeros(len(seeds), dtype=torch.float64)
        total_hits = torch.zeros(len(seeds), dtype=torch.float64)
        for start in range(0, n - size + 1, size):
            idx = orders[:, start : start + size]  # (S, B): o minilote de cada cópia
            losses, hits = copies.losses(data.x_train[idx], data.y_train[idx])  # (S,), (S,)
            optimizer.zero_grad()
            _backward_scaled(losses, copies.parameters, rates, weight_decay)
            optimizer.step()
            total_loss += losses.detach().double() * size
            total_hits += hits.double() * size
            if not torch.isfinite(total_loss).any():  # todas divergiram: o resto seria NaN
                break
        seen = (n // size) * size
        test = copies.evaluate(data.x_test, data.y_test)
        n_eval = config.eval_train_size  # None: todos
        train = (copies.evaluate(data.x_train[:n_eval], data.y_train[:n_eval])
                 if config.eval_train else None)
        for i, history in enumerate(histories):
            if not alive[i]:
                continue
            history.train_loss.append(total_loss[i].item() / seen)
            history.train_acc.append(total_hits[i].item() / seen)
            history.test_loss.append(test[0][i])
            history.test_acc.append(test[1][i])
            if train is not None:
                history.train_eval_loss.append(train[0][i])
                history.train_eval_acc.append(train[1][i])
            alive[i] = bool(torch.isfinite(total_loss[i]))
        if not any(alive):
            break
    copies.unstack_into(models)
    return histories


def _rates_in_gradient(config: TrainConfig, seeds: Sequence[int],
                       lrs: Sequence[float] | None) -> TrainConfig:
    """Com ``lrs``, confere as taxas e devolve a configuração com taxa 1 e sem decaimento de
    pesos: os dois passam a entrar no gradiente de cada cópia (``_backward_scaled``)."""
    if lrs is None:
        return config
    if len(lrs) != len(seeds) or config.optimizer != "sgd" or not all(lr > 0 for lr in lrs):
        raise ValueError("lrs: uma taxa positiva por semente, e só com o otimizador 'sgd'.")
    return replace(config, lr=1.0, weight_decay=0.0)


def _backward_scaled(losses: torch.Tensor, parameters: Sequence[torch.Tensor],
                     rates: torch.Tensor | None, weight_decay: float) -> None:
    """O gradiente da soma das perdas das cópias. Com ``rates`` (uma taxa por cópia), o de cada
    cópia sai multiplicado pela sua taxa — o gradiente de r·L é r vezes o de L, e a perda da
    cópia i só depende dos pesos dela — com o decaimento de pesos somado antes; com taxa 1, o SGD
    com momento dá então os passos de cada taxa. A cópia ``i`` de cada tensor é
    ``p.view(S, -1)[i]`` (``residuais.copies``)."""
    if rates is None:
        losses.sum().backward()
        return
    (losses * rates.to(losses.dtype)).sum().backward()
    if weight_decay:
        with torch.no_grad():
            for p in parameters:
                if p.grad is not None:
                    decay = p.view(len(rates), -1) * rates.to(p.dtype).view(-1, 1)  # (S, ·)
                    p.grad.view(len(rates), -1).add_(decay, alpha=weight_decay)
