"""Conjuntos de dados do livro, todos gerados localmente e com semente fixa (nada é baixado).

MNIST-1D (Greydanus e Kobak) é gerado pelo pacote ``mnist1d``: sequências de 40 pontos, 10
classes. Gerar 5.000 exemplos leva alguns segundos, então o resultado é guardado num cache em
disco (``~/.cache/residuais`` ou ``$RESIDUAIS_CACHE``); apagar o cache só custa regerar.
"""

from __future__ import annotations

import functools
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class Dataset:
    """Um problema de classificação já dividido em treino e teste (tensores float32/int64)."""

    x_train: torch.Tensor  # (N_treino, n_features)
    y_train: torch.Tensor  # (N_treino,)
    x_test: torch.Tensor  # (N_teste, n_features)
    y_test: torch.Tensor  # (N_teste,)
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def cache_dir() -> Path:
    """Pasta do cache de dados gerados (criada se não existir)."""
    base = os.environ.get("RESIDUAIS_CACHE") or Path.home() / ".cache" / "residuais"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def generate_mnist1d(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    """Gera MNIST-1D com os parâmetros do artigo (80% treino), sem tocar no estado global
    dos geradores aleatórios de quem chama (o pacote ``mnist1d`` usa ``np.random.seed``)."""
    from mnist1d.data import get_dataset_args, make_dataset  # importação lenta: só aqui

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {key: np.asarray(data[key]) for key in ("x", "y", "x_test", "y_test")}


@functools.cache
def load_mnist1d(num_samples: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D: ``num_samples`` exemplos, 80% para treino e 20% para teste.

    Com os valores padrão: 4.000 exemplos de treino e 1.000 de teste, 40 atributos, 10 classes.
    """
    if not isinstance(num_samples, int) or num_samples < 10:
        raise ValueError(f"num_samples deve ser um inteiro ≥ 10; recebeu {num_samples!r}.")
    path = cache_dir() / f"mnist1d_n{num_samples}_seed{seed}.npz"
    try:
        with np.load(path) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, KeyError):
        arrays = generate_mnist1d(num_samples, seed)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)  # escrita atômica: dois processos podem gerar ao mesmo tempo
    return Dataset(
        x_train=torch.tensor(arrays["x"], dtype=torch.float32),
        y_train=torch.tensor(arrays["y"], dtype=torch.int64),
        x_test=torch.tensor(arrays["x_test"], dtype=torch.float32),
        y_test=torch.tensor(arrays["y_test"], dtype=torch.int64),
        n_classes=10,
    )
