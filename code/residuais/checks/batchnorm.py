"""Verificações públicas dos exercícios de programação 1 a 3 do capítulo 4 (normalização em
lote); o 4, o dobramento da BN numa convolução, está em ``residuais.checks.folding``.

Os valores esperados vêm do próprio PyTorch (``nn.BatchNorm1d`` em avaliação, o autograd de
``F.batch_norm``), calculados fora da resposta e antes dela; os erros típicos, que viram dicas,
também são obtidos pelo PyTorch com a conta errada (outro ε, um termo a menos, o eixo errado).
Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from residuais.checks.core import Rule, call, expect_close, expect_tensor, fail, forbidden

# as funções que normalizam sozinhas (ou quase: layer_norm da transposta é o batch norm de treino)
NORMALIZATIONS = (
    "torch.nn.functional.batch_norm",
    "torch.batch_norm",
    "torch.native_batch_norm",
    "torch.nn.functional.layer_norm",
    "torch.layer_norm",
    "torch.nn.functional.instance_norm",
    "torch.instance_norm",
    "torch.nn.functional.group_norm",
    "torch.group_norm",
    "torch.nn.BatchNorm1d",
    "torch.nn.BatchNorm2d",
    "residuais.norm.BatchNorm1d",
    "residuais.norm.BatchNorm2d",
    "residuais.norm.BatchNorm",
)
# o que deriva sozinho: o autograd inteiro e a passagem para trás pronta do PyTorch
AUTOGRAD = (
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.Tensor.backward",
    "torch.autograd.functional.jacobian",
    "torch.autograd.functional.vjp",
    "torch.func.vjp",
    "torch.func.grad",
    "torch.func.jacrev",
    "torch.ops.aten.native_batch_norm_backward",
)


def _rules(targets: tuple[str, ...], reason: str) -> tuple[Rule, ...]:
    return tuple(Rule(target, reason) for target in targets)


RULES_EVAL_AFFINE = _rules(NORMALIZATIONS, "o exercício pede a e c pela fórmula, sem passar "
                                           "valores por uma BN pronta.")
_BACKWARD = "o exercício pede o gradiente pela fórmula derivada no capítulo, sem o autograd."
RULES_BACKWARD = _rules(AUTOGRAD + NORMALIZATIONS, _BACKWARD)

HINT_LECTURE_EPS = "use √(σ̂² + ε), como o PyTorch, e não σ̂ + ε (a convenção das notas de aula)."
HINT_NO_EPS = "faltou o ε dentro da raiz, √(σ̂² + ε)."
HINT_SHIFT_SIGN = "c = β − a·μ̂: a média móvel entra com sinal de menos."
HINT_SHIFT_SCALE = "c = β − a·μ̂: a média móvel também é multiplicada pela escala a."


def eval_module(gamma: torch.Tensor, beta: torch.Tensor, mean: torch.Tensor, var: torch.Tensor,
                eps: float) -> nn.BatchNorm1d:
    """Um ``nn.BatchNorm1d`` em ``float64`` e em modo de avaliação, com γ, β e as médias móveis
    dadas."""
    bn = nn.BatchNorm1d(len(gamma), eps=eps).double().eval()
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    return bn


def expect_tensors(got: Any, count: int, names: tuple[str, ...], shapes: list[tuple[int, ...]],
                   case: str) -> list[torch.Tensor]:
    """Os ``count`` tensores devolvidos (uma tupla), cada um com a sua forma."""
    if not (isinstance(got, tuple | list) and len(got) == count):
        fail(f"No caso “{case}” esperava {count} tensores ({', '.join(names)}); recebeu "
             f"{type(got).__name__}" + (f" com {len(got)} itens." if isinstance(got, tuple | list)
                                        else "."))
    for value, name, shape in zip(got, names, shapes, strict=True):
        expect_tensor(value, shape, f"{case}, {name}", type_first=True)
    return list(got)


# --------------------------------------------------------------------------------------------
# exercício 1: a BN de avaliação como função afim, y = a·h + c
# --------------------------------------------------------------------------------------------

# (caso, média móvel, variância móvel, ε): com variâncias pequenas, onde o ε entra importa
AFFINE_CASES = [
    ("3 unidades, variâncias móveis de 0,25 a 4", (0.5, -1.0, 2.0), (1.0, 4.0, 0.25), 1e-5),
    ("variâncias móveis pequenas (10⁻⁴ a 10⁻⁶)", (1.0, 0.0, -0.5), (1e-4, 2.5e-5, 1e-6), 1e-5),
]


def affine_hints(gamma: torch.Tensor, beta: torch.Tensor, mean: torch.Tensor, var: torch.Tensor,
                 eps: float, expected: tuple[torch.Tensor, torch.Tensor]
                 ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """As dicas dos erros típicos: para a escala a e para o deslocamento c (calculados sondando
    BNs do PyTorch com a conta errada)."""
    def probe(bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
        zero, one = bn(torch.zeros(1, len(gamma), dtype=torch.float64)), bn(
            torch.ones(1, len(gamma), dtype=torch.float64))
        return (one - zero)[0], zero[0]

    with torch.no_grad():
        lecture, _ = probe(eval_module(gamma, beta, mean, (var.sqrt() + eps) ** 2 - eps, eps))
        no_eps, _ = probe(eval_module(gamma, beta, mean, var, 0.0))
    scale = expected[0]
    return ({HINT_LECTURE_EPS: lecture, HINT_NO_EPS: no_eps},
            {HINT_SHIFT_SIGN: beta + scale * mean, HINT_SHIFT_SCALE: beta - mean})


def check_eval_affine(fn: Callable[..., Any]) -> None:
    """Confere ``fn(running_mean, running_var, gamma, beta, eps) -> (a, c)``: a BN de avaliação
    de cada unidade como y = a·h + c, contra um ``nn.BatchNorm1d`` em avaliação sondado em h = 0
    (dá c) e h = 1 (dá a + c)."""
    gen = torch.Generator().manual_seed(41)
    for case, mean, var, eps in AFFINE_CASES:
        running_mean = torch.tensor(mean, dtype=torch.float64)
        running_var = torch.tensor(var, dtype=torch.float64)
        gamma = torch.rand(3, generator=gen, dtype=torch.float64) + 0.5
        beta = torch.randn(3, generator=gen, dtype=torch.float64)
        bn = eval_module(gamma, beta, running_mean, running_var, eps)
        with torch.no_grad():
            shift = bn(torch.zeros(1, 3, dtype=torch.float64))[0]
            scale = bn(torch.ones(1, 3, dtype=torch.float64))[0] - shift
        scale_hints, shift_hints = affine_hints(gamma, beta, running_mean, running_var, eps,
                                                (scale, shift))
        with forbidden(fn, RULES_EVAL_AFFINE):
            got = call(fn, case, running_mean.clone(), running_var.clone(), gamma.clone(),
                       beta.clone(), eps)
        a, c = expect_tensors(got, 2, ("a", "c"), [(3,), (3,)], case)
        expect_close(a, scale, f"{case}, a", tol=1e-6, hints=scale_hints)
        expect_close(c, shift, f"{case}, c", tol=1e-6, hints=shift_hints)


# --------------------------------------------------------------------------------------------
# exercícios 2 e 3: a passagem para trás da BN de treino, (B, C) e (B, C, H, W)
# --------------------------------------------------------------------------------------------

HINT_ONLY_SCALE = ("faltaram os dois termos que vêm de μ e σ dependerem de h: "
                   "γ/√(σ² + ε)·(g − ḡ − ĥ·média(g ĥ)).")
HINT_NO_MEAN_TERM = "faltou subtrair ḡ, a média de g sobre os valores de cada canal."
HINT_NO_HAT_TERM = "faltou o termo ĥ·média(g ĥ), que vem de σ depender de h."
HINT_GAMMA_BETA = "∂L/∂γ = Σ g·ĥ e ∂L/∂β = Σ g (somas sobre os valores de cada canal)."
HINT_CONV_AXES = ("numa convolução, as estatísticas (e as médias da fórmula) são de cada canal "
                  "sobre o lote *e* as posições: os eixos 0, 2 e 3, com n = B·H·W.")


def _dims(x: torch.Tensor) -> list[int]:
    return [d for d in range(x.dim()) if d != 1]


def _per_channel(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.view([1, -1] + [1] * (x.dim() - 2))


def autograd_backward(x: torch.Tensor, gamma: torch.Tensor, eps: float, grad_out: torch.Tensor,
                      dims: list[int] | None = None,
                      frozen: tuple[str, ...] = ()
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β) pelo autograd, com L = Σ g·y e y a BN de treino de x.

    Com os padrões, é o autograd do ``F.batch_norm`` (estatísticas de cada canal sobre todos os
    outros eixos, variância viesada). Os outros valores dão as contas erradas das dicas:
    estatísticas só sobre ``dims``, ou a média e/ou o desvio-padrão tratados como constantes
    (``frozen`` com "média", "desvio")."""
    x = x.detach().clone().requires_grad_(True)
    gamma = gamma.detach().clone().requires_grad_(True)
    beta = torch.zeros_like(gamma, requires_grad=True)
    if dims is None and not frozen and x.numel() > x.shape[1]:
        y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
    else:  # um valor por canal (o F.batch_norm recusa) ou a conta errada de uma dica
        dims = dims if dims is not None else _dims(x)
        mean = x.mean(dim=dims, keepdim=True)
        std = torch.sqrt(x.var(dim=dims, keepdim=True, correction=0) + eps)
        mean = mean.detach() if "média" in frozen else mean
        std = std.detach() if "desvio" in frozen else std
        y = _per_channel(gamma, x) * (x - mean) / std + _per_channel(beta, x)
    grads = torch.autograd.grad((y * grad_out).sum(), (x, gamma, beta))
    return grads[0].detach(), grads[1].detach(), grads[2].detach()


def backward_hints(x: torch.Tensor, gamma: torch.Tensor, eps: float, g: torch.Tensor
                   ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Dicas para ∂L/∂x e para (∂L/∂γ, ∂L/∂β): os erros típicos, cada um o autograd de uma conta
    errada (a média ou o desvio-padrão tratados como constantes, outros eixos)."""
    hints_x = {
        HINT_ONLY_SCALE: autograd_backward(x, gamma, eps, g, frozen=("média", "desvio"))[0],
        HINT_NO_MEAN_TERM: autograd_backward(x, gamma, eps, g, frozen=("média",))[0],
        HINT_NO_HAT_TERM: autograd_backward(x, gamma, eps, g, frozen=("desvio",))[0],
    }
    if x.dim() == 4 and x.shape[0] > 1:
        hints_x[HINT_CONV_AXES] = autograd_backward(x, gamma, eps, g, dims=[0])[0]
    _, grad_gamma, grad_beta = autograd_backward(x, gamma, eps, g)
    return hints_x, {HINT_GAMMA_BETA: torch.cat([grad_beta, grad_gamma])}


def check_backward_case(fn: Callable[..., Any], case: str, x: torch.Tensor, gamma: torch.Tensor,
                        eps: float, grad_out: torch.Tensor, tol: float = 1e-8) -> None:
    """Um caso: chama ``fn(grad_out, x, gamma, eps)`` e compara os três gradientes com os do
    autograd (em ``float64``)."""
    x64, g64, gamma64 = x.double(), grad_out.double(), gamma.double()
    expected = autograd_backward(x64, gamma64, eps, g64)
    hints_x, hints_affine = backward_hints(x64, gamma64, eps, g64)
    channels = x.shape[1]
    with forbidden(fn, RULES_BACKWARD):
        got = call(fn, case, grad_out.clone(), x.clone(), gamma.clone(), eps)
    grad_x, grad_gamma, grad_beta = expect_tensors(
        got, 3, ("∂L/∂x", "∂L/∂γ", "∂L/∂β"), [tuple(x.shape), (channels,), (channels,)], case)
    expect_close(grad_x, expected[0], f"{case}, ∂L/∂x", tol=tol, hints=hints_x)
    expect_close(torch.cat([grad_gamma.detach().double(), grad_beta.detach().double()]),
                 torch.cat([expected[1], expected[2]]), f"{case}, ∂L/∂γ e ∂L/∂β", tol=tol,
                 hints=hints_affine)


def backward_inputs(shape: tuple[int, ...], scale: float, seed: int,
                    dtype: torch.dtype = torch.float64
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (média 1, desvio-padrão ``scale``), γ e o gradiente que chega, de uma semente."""
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(shape, generator=gen, dtype=dtype) + 1
    gamma = torch.rand(shape[1], generator=gen, dtype=dtype) + 0.5
    return x, gamma, torch.randn(shape, generator=gen, dtype=dtype)


# (forma, desvio-padrão dos dados): com desvio-padrão pequeno, o ε importa
BACKWARD_CASES = [((16, 4), 2.0), ((8, 3), 1e-3), ((1, 3), 1.0)]
BACKWARD_CONV_CASES = [((4, 3, 5, 5), 2.0), ((1, 2, 4, 3), 1.0), ((6, 2, 1, 1), 1.0)]


def check_batch_norm_backward(fn: Callable[..., Any]) -> None:
    """Confere ``fn(grad_out, x, gamma, eps) -> (grad_x, grad_gamma, grad_beta)``, a passagem para
    trás da BN de treino de uma entrada (B, C), contra o autograd de ``F.batch_norm``. Inclui o
    lote de 1, em que o gradiente em relação à entrada é zero."""
    for seed, (shape, scale) in enumerate(BACKWARD_CASES):
        case = f"x de forma {shape} e desvio-padrão {scale:g}"
        x, gamma, grad_out = backward_inputs(shape, scale, seed)
        check_backward_case(fn, case, x, gamma, 1e-5, grad_out)


def check_batch_norm2d_backward(fn: Callable[..., Any]) -> None:
    """Confere ``fn(grad_out, x, gamma, eps) -> (grad_x, grad_gamma, grad_beta)`` para uma entrada
    (B, C, H, W) de convolução (estatísticas de cada canal sobre o lote e as posições) contra o
    autograd de ``F.batch_norm``. Um exemplo só ainda tem H·W valores por canal: o gradiente não
    é zero."""
    for seed, (shape, scale) in enumerate(BACKWARD_CONV_CASES, start=10):
        case = f"x de forma {shape}"
        x, gamma, grad_out = backward_inputs(shape, scale, seed)
        check_backward_case(fn, case, x, gamma, 1e-5, grad_out)
