"""Testes de residuais.data (MNIST-1D gerado localmente, com cache em disco)."""

import importlib.metadata
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from residuais.data import generate_mnist1d, load_digits, load_mnist1d, make_shapes, split_digits


def test_default_split_shapes_and_classes():
    data = load_mnist1d()
    assert data.x_train.shape == (4000, 40) and data.x_test.shape == (1000, 40)
    assert data.y_train.shape == (4000,) and data.y_test.shape == (1000,)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.int64
    assert data.n_classes == 10 and data.n_features == 40
    counts = torch.bincount(data.y_train, minlength=10)
    assert counts.min() > 300  # 500 por classe no total, embaralhados


def test_cache_reproduces_generation(tmp_path, monkeypatch):
    monkeypatch.setenv("RESIDUAIS_CACHE", str(tmp_path))
    load_mnist1d.cache_clear()
    try:
        first = load_mnist1d(num_samples=100, seed=3)  # gera e grava
        assert list(tmp_path.glob("*.npz"))
        load_mnist1d.cache_clear()
        second = load_mnist1d(num_samples=100, seed=3)  # lê do disco
    finally:
        load_mnist1d.cache_clear()
    fresh = generate_mnist1d(100, 3)
    torch.testing.assert_close(first.x_train, second.x_train)
    np.testing.assert_allclose(second.x_train.numpy(), fresh["x"].astype(np.float32))
    assert first.x_train.shape == (80, 40)


def test_cache_key_carries_the_mnist1d_version(tmp_path, monkeypatch):
    """Outra versão do mnist1d pode gerar outros dados: o arquivo do cache tem a versão no nome,
    e com outra versão instalada os dados são gerados de novo, noutro arquivo."""
    monkeypatch.setenv("RESIDUAIS_CACHE", str(tmp_path))
    real = importlib.metadata.version
    installed = real("mnist1d")
    load_mnist1d.cache_clear()
    try:
        load_mnist1d(num_samples=20, seed=1)
        assert [p.name for p in tmp_path.glob("*.npz")] == [
            f"mnist1d_n20_seed1_mnist1d{installed}.npz"]
        monkeypatch.setattr(importlib.metadata, "version",
                            lambda name: "9.9.9" if name == "mnist1d" else real(name))
        load_mnist1d.cache_clear()
        load_mnist1d(num_samples=20, seed=1)
    finally:
        load_mnist1d.cache_clear()
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [
        f"mnist1d_n20_seed1_mnist1d{installed}.npz", "mnist1d_n20_seed1_mnist1d9.9.9.npz"]


def test_generation_does_not_touch_global_random_state():
    np.random.seed(5)
    random.seed(5)
    generate_mnist1d(20, 0)
    assert np.random.rand() == np.random.RandomState(5).rand()
    assert random.random() == random.Random(5).random()


def test_bad_num_samples():
    with pytest.raises(ValueError, match="num_samples"):
        load_mnist1d(num_samples=3)


def test_digits_split_is_standardized_and_stratified():
    data = load_digits()
    assert data.x_train.shape == (1437, 64) and data.x_test.shape == (360, 64)
    assert abs(data.x_train.mean().item()) < 1e-5 and abs(data.x_train.std().item() - 1) < 1e-3
    counts = torch.bincount(data.y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.5)


def test_shapes_images_and_masks():
    images, masks = make_shapes(20, size=24, noise=0.0, seed=3)
    assert images.shape == (20, 1, 24, 24) and masks.shape == (20, 24, 24)
    torch.testing.assert_close(images.squeeze(1), masks)  # sem ruído, a imagem é a máscara
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    assert (masks.flatten(1).sum(1) > 0).all()  # todo exemplo tem algum objeto
    again, _ = make_shapes(20, size=24, noise=0.5, seed=3)
    torch.testing.assert_close(again, make_shapes(20, size=24, noise=0.5, seed=3)[0])
    with pytest.raises(ValueError):
        make_shapes(0)


def test_digits_cache_reproduces_split_without_sklearn(tmp_path, monkeypatch):
    """A divisão lida do cache é a do scikit-learn, e lê-la não importa o scikit-learn."""
    monkeypatch.setenv("RESIDUAIS_CACHE", str(tmp_path))
    load_digits.cache_clear()
    try:
        first = load_digits(test_fraction=0.25, seed=1)  # divide e grava
        assert len(list(tmp_path.glob("digits_*.npz"))) == 1
        load_digits.cache_clear()
        second = load_digits(test_fraction=0.25, seed=1)  # lê do disco
    finally:
        load_digits.cache_clear()
    fresh = split_digits(0.25, 1)
    for got in (first, second):
        np.testing.assert_array_equal(got.y_train.numpy(), fresh["y"])
        np.testing.assert_array_equal(got.y_test.numpy(), fresh["y_test"])
        mean, std = fresh["x"].mean(), fresh["x"].std()
        np.testing.assert_allclose(got.x_test.numpy(), (fresh["x_test"] - mean) / std, rtol=1e-6)
    code = ("import sys; from residuais.data import load_digits; d = load_digits(0.25, 1); "
            "print(d.x_train.shape[0], 'sklearn' in sys.modules)")
    env = {**os.environ, "RESIDUAIS_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [str(first.x_train.shape[0]), "False"]
