"""Conjuntos de dados do livro, todos disponíveis localmente (gerados com semente fixa ou já
incluídos nos pacotes; nada é baixado).

MNIST-1D (Greydanus e Kobak) é gerado pelo pacote ``mnist1d``: sequências de 40 pontos, 10
classes. Gerar 5.000 exemplos leva alguns segundos, então o resultado é guardado num cache em
disco (``~/.cache/residuais`` ou ``$RESIDUAIS_CACHE``), com a versão do ``mnist1d`` no nome
(outra versão pode gerar outros dados); apagar o cache só custa regerar. A divisão dos dígitos
do scikit-learn fica no mesmo cache: importar o scikit-learn custa 1,6 s.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import random
from collections.abc import Callable
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


def cached_arrays(name: str, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Os arrays guardados em ``<cache>/<name>.npz``; na primeira vez (ou se o arquivo estiver
    corrompido), ``make()`` os produz e eles são gravados."""
    path = cache_dir() / f"{name}.npz"
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, KeyError):
        arrays = make()
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)  # escrita atômica: dois processos podem gerar ao mesmo tempo
        return arrays


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
    version = importlib.metadata.version("mnist1d")  # outra versão pode gerar outros dados
    arrays = cached_arrays(f"mnist1d_n{num_samples}_seed{seed}_mnist1d{version}",
                           lambda: generate_mnist1d(num_samples, seed))
    return Dataset(
        x_train=torch.tensor(arrays["x"], dtype=torch.float32),
        y_train=torch.tensor(arrays["y"], dtype=torch.int64),
        x_test=torch.tensor(arrays["x_test"], dtype=torch.float32),
        y_test=torch.tensor(arrays["y_test"], dtype=torch.int64),
        n_classes=10,
    )


def split_digits(test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """A divisão estratificada dos dígitos do scikit-learn, ainda sem padronizar."""
    from sklearn.datasets import load_digits as sklearn_digits  # importação lenta (1,6 s): só aqui
    from sklearn.model_selection import train_test_split

    bunch = sklearn_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        bunch.data.astype(np.float32), bunch.target, test_size=test_fraction,
        random_state=seed, stratify=bunch.target,
    )
    return {"x": x_train, "y": y_train, "x_test": x_test, "y_test": y_test}


@functools.cache
def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Os dígitos 8×8 do scikit-learn (1.797 imagens, já incluídos no pacote), padronizados
    (média 0, desvio-padrão 1 no treino) e achatados em 64 atributos; divisão estratificada.

    A divisão fica no cache de disco, como o MNIST-1D (a chave inclui a versão do
    scikit-learn): depois da primeira vez, o scikit-learn nem é importado."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction deve estar entre 0 e 1; recebeu {test_fraction!r}.")
    version = importlib.metadata.version("scikit-learn")
    arrays = cached_arrays(f"digits_test{test_fraction}_seed{seed}_sklearn{version}",
                           lambda: split_digits(test_fraction, seed))
    x_train, x_test = arrays["x"], arrays["x_test"]
    mean, std = x_train.mean(), x_train.std()
    return Dataset(
        x_train=torch.tensor((x_train - mean) / std),
        y_train=torch.tensor(arrays["y"], dtype=torch.int64),
        x_test=torch.tensor((x_test - mean) / std),
        y_test=torch.tensor(arrays["y_test"], dtype=torch.int64),
        n_classes=10,
    )


def make_shapes(
    n_images: int, size: int = 32, noise: float = 0.5, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Segmentação sintética: imagens (N, 1, size, size) com 1 a 3 discos e anéis finos sobre
    ruído gaussiano, e as máscaras binárias (N, size, size) dos objetos (1 = objeto)."""
    if n_images < 1 or size < 8:
        raise ValueError("n_images deve ser ≥ 1 e size ≥ 8.")
    gen = torch.Generator().manual_seed(seed)
    coords = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (size, size)
    masks = torch.zeros(n_images, size, size)
    for i in range(n_images):
        for _ in range(int(torch.randint(1, 4, (1,), generator=gen))):
            cy, cx = (torch.rand(2, generator=gen) * (size - 8) + 4).tolist()
            radius = float(torch.rand(1, generator=gen) * size / 6 + 2)
            dist = ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt()
            if torch.rand(1, generator=gen) < 0.5:
                shape = dist <= radius  # disco
            else:
                shape = (dist <= radius + 1) & (dist >= radius - 1)  # anel de espessura ~2
            masks[i][shape] = 1.0
    images = masks.unsqueeze(1) + noise * torch.randn(n_images, 1, size, size, generator=gen)
    return images, masks


def make_reversal(
    n_sequences: int, length: int = 8, vocab_size: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tarefa de inversão: sequências de ``length`` símbolos em {0, …, vocab_size − 1} e, como
    alvo, a mesma sequência de trás para a frente. Devolve (entradas, alvos), int64 (N, T)."""
    if n_sequences < 1 or length < 2 or vocab_size < 2:
        raise ValueError("n_sequences ≥ 1, length ≥ 2 e vocab_size ≥ 2 são obrigatórios.")
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab_size, (n_sequences, length), generator=gen)
    return tokens, tokens.flip(dims=[1])
