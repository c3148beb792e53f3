"""Verificações públicas dos exercícios de programação do capítulo 2 (conexões residuais)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.checks.core import as_float, call, expect_tensor, fail


def check_path_counts(fn: Callable[[int], Any], thorough: bool = False) -> None:
    """Confere ``fn(K) -> (total, por_bloco)``: o número de caminhos da entrada à saída de uma
    rede com K blocos residuais e, para cada bloco k = 1..K, quantos deles passam pelo ramo f_k."""
    from residuais.analysis import enumerate_paths

    sizes = [1, 2, 4] + ([0, 3, 5, 8, 10] if thorough else [])
    for n_blocks in sizes:
        case = f"K = {n_blocks}"
        got = call(fn, case, n_blocks)
        if not (isinstance(got, tuple | list) and len(got) == 2):
            fail(f"No caso “{case}” esperava um par (total, por_bloco); recebeu {got!r}.")
        total, per_block = got
        paths = enumerate_paths(n_blocks)
        if as_float(total, case) != len(paths):
            fail(f"No caso “{case}” o total de caminhos é {len(paths)}; sua função devolveu "
                  f"{total}. Cada bloco pode ser atravessado pelo ramo ou pulado pelo atalho.")
        expected = [sum(k in p for p in paths) for k in range(1, n_blocks + 1)]
        got_list = [as_float(v, case) for v in per_block]
        if got_list != expected:
            hint = ""
            if got_list == [2 ** (n_blocks - k) for k in range(1, n_blocks + 1)]:
                hint = (" Você contou 2^(K−k), os caminhos que começam *depois* do bloco k (os "
                        "termos de ∂y/∂h_k); a pergunta é quantos caminhos da entrada à saída "
                        "passam pelo bloco k.")
            fail(f"No caso “{case}” os caminhos por bloco deviam ser {expected}; sua função "
                  f"devolveu {[int(v) for v in got_list]}.{hint}")


def check_preactivation_block(
    fn: Callable[[torch.Tensor, nn.Module, nn.Module], Any], thorough: bool = False
) -> None:
    """Confere ``fn(h, norm, linear)``: o bloco de pré-ativação h + linear(ReLU(norm(h))),
    contra ``residuais.models.ResidualBlock(order="pre")`` com os mesmos pesos."""
    from residuais.models import ResidualBlock

    widths = [8] + ([1, 32] if thorough else [])
    modes = ["treino"] + (["avaliação"] if thorough else [])
    for width in widths:
        for mode in modes:
            case = f"largura {width}, modo de {mode}"
            torch.manual_seed(width)
            block = ResidualBlock(width, order="pre").train(mode == "treino")
            norm, _, linear = block.branch
            with torch.no_grad():
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.5, 0.5)
            h = torch.randn(16, width)
            with torch.no_grad():
                expected = block(h)
                got = call(fn, case, h.clone(), norm, linear)
            expect_tensor(got, h.shape, case, type_first=True,
                           expected=f"a saída deve ter a forma da entrada, {tuple(h.shape)}")
            if not torch.allclose(got, expected, atol=1e-5):
                with torch.no_grad():
                    no_skip = linear(torch.relu(norm(h)))
                    wrong_order = torch.relu(linear(norm(h))) + h
                hint = ""
                if torch.allclose(got, no_skip, atol=1e-5):
                    hint = " Faltou somar a entrada h (o atalho)."
                elif torch.allclose(got, wrong_order, atol=1e-5):
                    hint = " A ordem do ramo é BN → ReLU → linear, não BN → linear → ReLU."
                fail(f"No caso “{case}” a saída difere da referência (erro máximo "
                      f"{(got - expected).abs().max().item():.3g}).{hint}")

