"""Verificações públicas do exercício de programação 4 do capítulo 4: dobrar a normalização em
lote (em avaliação) na convolução anterior.

O valor esperado é a saída do próprio par ``bn(conv(x))`` com a BN em avaliação; os erros típicos,
que viram dicas, vêm de ``torch.nn.utils.fusion.fuse_conv_bn_eval`` e de BNs do PyTorch com a
conta errada (sem ε, sem a média). Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.checks.core import Rule, call, expect_close, fail, forbidden

_FUSE = "o exercício pede o dobramento escrito por você; essa função o faz sozinha."
RULES_FOLD_CONV = tuple(Rule(target, _FUSE) for target in (
    "torch.nn.utils.fusion.fuse_conv_bn_eval",
    "torch.nn.utils.fusion.fuse_conv_bn_weights",
    "torch.ao.quantization.fuse_modules",
    "torch.ao.quantization.fuse_modules_qat",
    "torch.ao.quantization.fuser_method_mappings.fuse_conv_bn",
))

HINT_FOLD_WEIGHTS = ("os filtros também precisam ser multiplicados, cada um pela escala "
                     "γ/√(σ̂² + ε) do seu canal de saída, não só o viés.")
HINT_FOLD_IN_CHANNELS = ("a escala de cada canal de *saída* multiplica o filtro inteiro desse "
                         "canal, weight[o] (forma (saídas, entradas, kh, kw)): o eixo 0, não o 1.")
HINT_FOLD_MEAN = "faltou subtrair a média móvel μ̂ (running_mean) no viés."
HINT_FOLD_EPS = "faltou o ε de bn.eps dentro da raiz, √(σ̂² + ε)."

# (caso, entradas, saídas, núcleo, passo, preenchimento, com viés, ε, variâncias móveis)
FOLD_CASES = [
    ("Conv2d(3, 3, 3, padding=1) sem viés, ε = 10⁻³, variâncias pequenas", 3, 3, 3, 1, 1, False,
     1e-3, (1e-4, 0.5, 2.0)),
    ("Conv2d(2, 4, 3, stride=2) com viés", 2, 4, 3, 2, 0, True, 1e-5, (0.5, 2.0, 1.5, 0.1)),
]


def fold_case(inputs: int, outputs: int, kernel: int, stride: int, padding: int, bias: bool,
              eps: float, running_var: tuple[float, ...], seed: int
              ) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    """Uma convolução e uma BN (em modo de treino, como ficam durante o treino) com γ, β e médias
    móveis não triviais."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        conv = nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=padding, bias=bias)
        bn = nn.BatchNorm2d(outputs, eps=eps)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.normal_()
            bn.running_mean.normal_()
            bn.running_var.copy_(torch.tensor(running_var))
            bn.num_batches_tracked.fill_(100)
    return conv, bn


def module_state(*modules: nn.Module) -> list[Any]:
    return [(m.training, {k: v.clone() for k, v in m.state_dict().items()}) for m in modules]


def same_state(before: list[Any], after: list[Any]) -> bool:
    return all(t1 == t2 and all(torch.equal(s1[k], s2[k]) for k in s1)
               for (t1, s1), (t2, s2) in zip(before, after, strict=True))


def fold_hints(conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """As saídas, em x, dos dobramentos errados típicos (calculadas com o PyTorch)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    conv, bn = copy.deepcopy(conv).eval(), copy.deepcopy(bn).eval()
    fused = fuse_conv_bn_eval(conv, bn)
    no_eps, no_mean = copy.deepcopy(bn), copy.deepcopy(bn)
    no_eps.eps = 0.0
    no_mean.running_mean.zero_()
    hints = {HINT_FOLD_EPS: no_eps(conv(x)), HINT_FOLD_MEAN: no_mean(conv(x))}
    unscaled = copy.deepcopy(fused)
    unscaled.weight.copy_(conv.weight)
    hints[HINT_FOLD_WEIGHTS] = unscaled(x)
    if conv.in_channels == conv.out_channels:
        scale = fused.weight[:, 0, 0, 0] / conv.weight[:, 0, 0, 0]  # γ/√(σ̂² + ε), por canal
        across = copy.deepcopy(fused)
        across.weight.copy_(conv.weight * scale[None, :, None, None])
        hints[HINT_FOLD_IN_CHANNELS] = across(x)
    return hints


def expect_folded(folded: Any, conv: nn.Conv2d, bn: nn.BatchNorm2d, x: torch.Tensor,
                  expected: torch.Tensor, case: str) -> None:
    """Falha se ``folded`` não for um ``nn.Conv2d`` com viés que dá ``expected`` em ``x``."""
    if not isinstance(folded, nn.Conv2d):
        fail(f"No caso “{case}” esperava um nn.Conv2d; recebeu {type(folded).__name__}.")
    if tuple(folded.weight.shape) != tuple(conv.weight.shape):
        fail(f"No caso “{case}” os filtros da convolução devolvida deveriam ter forma "
             f"{tuple(conv.weight.shape)}; têm {tuple(folded.weight.shape)}.")
    for name in ("stride", "padding", "dilation", "groups"):
        if getattr(folded, name) != getattr(conv, name):
            fail(f"No caso “{case}” a convolução devolvida tem {name} = "
                 f"{getattr(folded, name)}, mas a original tem {getattr(conv, name)}: "
                 f"o dobramento muda os pesos, não a geometria.")
    if folded.bias is None:
        fail(f"No caso “{case}” a convolução devolvida não tem viés, mas a BN desloca a saída "
             f"(β e a média móvel): crie-a com bias=True.")
    with torch.no_grad():
        got = call(folded, f"{case}, aplicando a convolução devolvida", x)
        hints = fold_hints(conv, bn, x)
    expect_close(got, expected, case, tol=1e-4, hints=hints)


def check_fold_case(fn: Callable[..., Any], case: str, conv: nn.Conv2d, bn: nn.BatchNorm2d,
                    x: torch.Tensor) -> None:
    """Um caso do dobramento: a resposta não mexe nos originais e dá a saída da BN em
    avaliação."""
    with torch.no_grad():
        expected = copy.deepcopy(bn).eval()(conv(x))
    before = module_state(conv, bn)
    with forbidden(fn, RULES_FOLD_CONV):
        folded = call(fn, case, conv, bn)
    if not same_state(before, module_state(conv, bn)):
        hint = ""
        if not torch.equal(before[1][1]["num_batches_tracked"], bn.num_batches_tracked):
            hint = (" Dica: chamar bn em modo de treino usa as estatísticas do lote e atualiza "
                    "as médias móveis; o dobramento usa running_mean e running_var, como em "
                    "avaliação.")
        fail(f"No caso “{case}” sua função alterou a conv ou o bn recebidos (pesos, buffers ou "
             f"o modo treino/avaliação); crie um nn.Conv2d novo.{hint}")
    expect_folded(folded, conv, bn, x, expected, case)


def check_fold_batch_norm_conv(fn: Callable[..., Any]) -> None:
    """Confere ``fn(conv, bn)``: um ``nn.Conv2d`` novo que dá, em x, o mesmo que ``bn(conv(x))``
    com a BN em modo de avaliação, sem alterar ``conv`` nem ``bn``."""
    for seed, (case, *sizes) in enumerate(FOLD_CASES):
        conv, bn = fold_case(*sizes, seed=seed)
        x = torch.randn(2, conv.in_channels, 7, 7, generator=torch.Generator().manual_seed(seed))
        check_fold_case(fn, case, conv, bn, x)
