"""Verificações públicas dos exercícios de programação do capítulo 4 (batch norm).

Os valores esperados vêm do próprio PyTorch (``nn.BatchNorm1d``, ``F.batch_norm``,
``torch.nn.utils.fusion``), calculados fora da resposta e antes dela; os erros típicos, que viram
dicas, também são obtidos pelo PyTorch com a convenção errada (outro ε, outra variância, outro
``momentum``). Nenhuma resposta é calculada aqui.
"""

from __future__ import annotations

import copy
import math
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


def _rules(reason: str) -> tuple[Rule, ...]:
    return tuple(Rule(target, reason) for target in NORMALIZATIONS)


RULES_BATCH_NORM_EVAL = _rules("o exercício pede a BN de avaliação escrita por você.")
RULES_BATCH_NORM_TRAIN = _rules("o exercício pede a BN de treino escrita por você.")
RULES_RUNNING_STATS = _rules("o exercício pede a atualização das médias móveis escrita por você; "
                             "a BN do PyTorch a faz sozinha.")
_FUSE = "o exercício pede o dobramento escrito por você; essa função o faz sozinha."
RULES_FOLD = (
    Rule("torch.nn.utils.fusion.fuse_linear_bn_eval", _FUSE),
    Rule("torch.nn.utils.fusion.fuse_linear_bn_weights", _FUSE),
    Rule("torch.ao.quantization.fuse_modules", _FUSE),
    Rule("torch.ao.quantization.fuse_modules_qat", _FUSE),
    Rule("torch.ao.quantization.fuser_method_mappings.fuse_linear_bn", _FUSE),
)

HINT_BATCH_STATS = ("em avaliação, use as médias móveis recebidas (running_mean, running_var), "
                    "não a média e a variância do lote.")
HINT_LECTURE_EPS = "use √(σ² + ε), como o PyTorch, e não σ + ε (a convenção das notas de aula)."
HINT_NO_EPS = "faltou o ε dentro da raiz, √(σ² + ε)."
HINT_UNBIASED = ("para normalizar, a BN usa a variância viesada do lote (divide por B, "
                 "não por B − 1).")
HINT_WRONG_AXIS = ("as estatísticas são por unidade (coluna), sobre o lote: média e variância no "
                   "eixo 0, não no eixo 1.")
HINT_NO_AFFINE = "faltou aplicar γ e β depois de normalizar."


def batch_norm_module(gamma: torch.Tensor, beta: torch.Tensor, mean: torch.Tensor,
                      var: torch.Tensor, eps: float) -> nn.BatchNorm1d:
    """Um ``nn.BatchNorm1d`` em ``float64`` e em modo de avaliação, com γ, β e as médias móveis
    dadas."""
    bn = nn.BatchNorm1d(len(gamma), eps=eps).double().eval()
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    return bn


# --------------------------------------------------------------------------------------------
# exercício 1: batch norm em modo de avaliação
# --------------------------------------------------------------------------------------------

# (caso, tamanho do lote, média móvel, variância móvel, ε); com variâncias pequenas, onde o ε
# entra importa
EVAL_CASES = [
    ("lote de 6, variâncias móveis de 0,25 a 4", 6, (0.5, -1.0, 2.0), (1.0, 4.0, 0.25), 1e-5),
    ("lote de 5, variâncias móveis pequenas (10⁻⁴ a 10⁻⁶)", 5, (1.0, 0.0, -0.5),
     (1e-4, 2.5e-5, 1e-6), 1e-5),
    ("um exemplo só (B = 1)", 1, (0.5, -1.0, 2.0), (1.0, 4.0, 0.25), 1e-3),
]


def check_batch_norm_eval(fn: Callable[..., Any]) -> None:
    """Confere ``fn(x, running_mean, running_var, gamma, beta, eps)``, o batch norm em modo de
    avaliação de uma entrada (B, C), contra ``nn.BatchNorm1d`` em modo de avaliação."""
    gen = torch.Generator().manual_seed(41)
    for case, batch, mean, var, eps in EVAL_CASES:
        running_mean = torch.tensor(mean, dtype=torch.float64)
        running_var = torch.tensor(var, dtype=torch.float64)
        gamma = torch.rand(3, generator=gen, dtype=torch.float64) + 0.5
        beta = torch.randn(3, generator=gen, dtype=torch.float64)
        noise = torch.randn(batch, 3, generator=gen, dtype=torch.float64)
        x = running_mean + 2 * running_var.sqrt() * noise  # (B, C), na escala das médias móveis
        with torch.no_grad():
            expected = batch_norm_module(gamma, beta, running_mean, running_var, eps)(x)
            hints = {
                HINT_LECTURE_EPS: batch_norm_module(
                    gamma, beta, running_mean, (running_var.sqrt() + eps) ** 2 - eps, eps)(x),
                HINT_NO_EPS: batch_norm_module(gamma, beta, running_mean, running_var, 0.0)(x),
                HINT_BATCH_STATS: (F.batch_norm(x, None, None, gamma, beta, training=True,
                                                eps=eps) if batch > 1 else beta.expand(1, 3)),
            }
        with forbidden(fn, RULES_BATCH_NORM_EVAL):
            got = call(fn, case, x.clone(), running_mean.clone(), running_var.clone(),
                       gamma.clone(), beta.clone(), eps)
        expect_tensor(got, x.shape, case, f"a saída deve ter a forma de x, {tuple(x.shape)}",
                      type_first=True)
        expect_close(got, expected, case, tol=1e-6, hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 2: batch norm em modo de treino
# --------------------------------------------------------------------------------------------

# (tamanho do lote, unidades, desvio-padrão dos dados): com desvio-padrão pequeno, o ε importa
TRAIN_CASES = [(16, 4, 2.0), (8, 3, 1e-3)]


def _eval_with(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, gamma: torch.Tensor,
               beta: torch.Tensor, eps: float) -> torch.Tensor:
    """O batch norm do PyTorch com as estatísticas dadas no lugar das do lote."""
    return F.batch_norm(x, mean, var, gamma, beta, training=False, eps=eps)


def check_batch_norm_train(fn: Callable[..., Any]) -> None:
    """Confere ``fn(x, gamma, beta, eps)``: batch norm em modo de treino de uma entrada (B, C),
    contra ``torch.nn.functional.batch_norm``."""
    gen = torch.Generator().manual_seed(3)
    eps = 1e-5
    for batch, channels, scale in TRAIN_CASES:
        case = f"x de forma ({batch}, {channels}) e desvio-padrão {scale:g}"
        x = scale * torch.randn(batch, channels, generator=gen, dtype=torch.float64) + 1
        gamma = torch.rand(channels, generator=gen, dtype=torch.float64) + 0.5
        beta = torch.randn(channels, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
            center, spread = x.mean(0), x.var(0, correction=0)
            hints = {
                HINT_UNBIASED: _eval_with(x, center, x.var(0, correction=1), gamma, beta, eps),
                HINT_LECTURE_EPS: _eval_with(x, center, (spread.sqrt() + eps) ** 2 - eps,
                                             gamma, beta, eps),
                HINT_NO_EPS: _eval_with(x, center, spread, gamma, beta, 0.0),
                HINT_WRONG_AXIS: F.layer_norm(x, (channels,), eps=eps) * gamma + beta,
                HINT_NO_AFFINE: F.batch_norm(x, None, None, training=True, eps=eps),
            }
        with forbidden(fn, RULES_BATCH_NORM_TRAIN):
            got = call(fn, case, x.clone(), gamma.clone(), beta.clone(), eps)
        expect_tensor(got, x.shape, case, f"a saída deve ter a forma de x, {tuple(x.shape)}",
                      type_first=True)
        expect_close(got, expected, case, tol=1e-5, hints=hints)


# --------------------------------------------------------------------------------------------
# exercício 3: as médias móveis, num passo e em 300 lotes
# --------------------------------------------------------------------------------------------

HINT_SWAPPED = ("no PyTorch, momentum é o peso da estatística *nova*: "
                "(1 − momentum)·antiga + momentum·nova (as notas de aula usam α = 1 − momentum).")
HINT_BIASED_RUNNING = ("a média móvel do PyTorch usa a variância *não viesada* do lote "
                       "(divide por B − 1).")

# o experimento: lotes de 8 exemplos de 8 unidades com desvio-padrão 2 (variância 4),
# momentum 0,1, começando de (0, 1)
EXPERIMENT_STEPS = 300
EXPERIMENT_BURN_IN = 50
TRUE_VARIANCE = 4.0
# A média de running_var nos passos 51 … 300 e nas 8 unidades ficou a até 0,09 de 4 nas 10
# sementes medidas com a resposta de referência; com a variância viesada, entre 3,43 e 3,58.
VARIANCE_MARGIN = 0.2


def experiment_batches(seed: int = 5) -> list[torch.Tensor]:
    """Os lotes do experimento: (8, 8), média 0 e desvio-padrão 2, em ``float64``."""
    gen = torch.Generator().manual_seed(seed)
    return [2 * torch.randn(8, 8, generator=gen, dtype=torch.float64)
            for _ in range(EXPERIMENT_STEPS)]


def _stats_after(start_mean: torch.Tensor, start_var: torch.Tensor, x: torch.Tensor,
                 momentum: float) -> tuple[torch.Tensor, torch.Tensor]:
    """running_mean e running_var de um ``nn.BatchNorm1d`` depois de um passo de treino em x."""
    bn = nn.BatchNorm1d(x.shape[1], momentum=momentum).double()
    with torch.no_grad():
        bn.running_mean.copy_(start_mean)
        bn.running_var.copy_(start_var)
        bn(x)
    return bn.running_mean.clone(), bn.running_var.clone()


def expect_pair(got: Any, case: str, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """O par (média, variância) devolvido, como tensores ``float64`` de forma (C,)."""
    if not (isinstance(got, tuple | list) and len(got) == 2):
        fail(f"No caso “{case}” esperava um par (média, variância); recebeu "
             f"{type(got).__name__}.")
    pair = []
    for value, name in zip(got, ("média", "variância"), strict=True):
        expect_tensor(value, (channels,), f"{case}, {name}", type_first=True)
        pair.append(value.detach().to(torch.float64))
    return pair[0], pair[1]


def check_running_stats_update(fn: Callable[..., Any]) -> None:
    """Confere ``fn(running_mean, running_var, x, momentum) -> (mean, var)`` contra os buffers
    de ``torch.nn.BatchNorm1d``: um passo a partir de médias móveis dadas e depois 300 lotes
    seguidos, em que a média de running_var deve ficar perto da variância verdadeira dos dados
    (a convenção do PyTorch acerta em média)."""
    gen = torch.Generator().manual_seed(4)
    momentum = 0.1
    start_mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    start_var = torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64)
    case = f"um passo, lote de 8, momentum = {momentum}"
    x = 3 * torch.randn(8, 3, generator=gen, dtype=torch.float64) + 1
    expected_mean, expected_var = _stats_after(start_mean, start_var, x, momentum)
    swapped_mean, swapped_var = _stats_after(start_mean, start_var, x, 1 - momentum)
    _, biased_var = _stats_after(start_mean, start_var, x * math.sqrt(7 / 8), momentum)
    with forbidden(fn, RULES_RUNNING_STATS):
        got = call(fn, case, start_mean.clone(), start_var.clone(), x.clone(), momentum)
    mean, var = expect_pair(got, case, 3)
    expect_close(mean, expected_mean, f"{case}, média móvel", tol=1e-6,
                 hints={HINT_SWAPPED: swapped_mean})
    expect_close(var, expected_var, f"{case}, variância móvel", tol=1e-6,
                 hints={HINT_SWAPPED: swapped_var, HINT_BIASED_RUNNING: biased_var})

    # o experimento: os buffers do PyTorch primeiro, depois a resposta, passo a passo
    batches = experiment_batches()
    bn = nn.BatchNorm1d(8, momentum=momentum).double()
    trajectory = []
    with torch.no_grad():
        for batch in batches:
            bn(batch)
            trajectory.append((bn.running_mean.clone(), bn.running_var.clone()))
    mean, var = torch.zeros(8, dtype=torch.float64), torch.ones(8, dtype=torch.float64)
    variances = []
    with forbidden(fn, RULES_RUNNING_STATS):
        for step, (batch, (bn_mean, bn_var)) in enumerate(zip(batches, trajectory,
                                                              strict=True), start=1):
            case = f"experimento de {EXPERIMENT_STEPS} lotes, passo {step}"
            mean, var = expect_pair(call(fn, case, mean, var, batch.clone(), momentum), case, 8)
            if not (torch.allclose(mean, bn_mean, atol=1e-6)
                    and torch.allclose(var, bn_var, atol=1e-6)):
                fail(f"No caso “{case}” as médias móveis se afastaram das do nn.BatchNorm1d "
                     f"alimentado com os mesmos lotes (maior diferença "
                     f"{max((mean - bn_mean).abs().max(), (var - bn_var).abs().max()):.2e}).")
            variances.append(var)
    average = torch.stack(variances[EXPERIMENT_BURN_IN:]).mean().item()
    if not abs(average - TRUE_VARIANCE) <= VARIANCE_MARGIN:
        fail(f"No experimento de {EXPERIMENT_STEPS} lotes, a média de running_var depois do "
             f"passo {EXPERIMENT_BURN_IN} deu {average:.3f}; a variância verdadeira dos dados é "
             f"{TRUE_VARIANCE:g} (± {VARIANCE_MARGIN:g}).")


# --------------------------------------------------------------------------------------------
# exercício 4: dobrar o batch norm na camada linear
# --------------------------------------------------------------------------------------------

HINT_FOLD_WEIGHTS = ("as linhas de W também precisam ser multiplicadas, cada uma pela escala "
                     "γ/√(σ² + ε) da sua unidade, não só o viés.")
HINT_FOLD_COLUMNS = ("a escala de cada unidade de saída multiplica uma *linha* de W "
                     "(forma (saídas, entradas)), não uma coluna.")
HINT_FOLD_MEAN = "faltou subtrair a média móvel μ (running_mean) no viés."
HINT_FOLD_EPS = "faltou o ε de bn.eps dentro da raiz, √(σ² + ε)."

# (caso, entradas, saídas, com viés, ε do batch norm, variâncias móveis)
FOLD_CASES = [
    ("Linear(4, 4) sem viés, ε = 10⁻³ e variâncias móveis pequenas", 4, 4, False, 1e-3,
     (1e-4, 0.5, 2.0, 1e-3)),
    ("Linear(5, 3) com viés", 5, 3, True, 1e-5, (0.5, 2.0, 1.5)),
]


def fold_case(inputs: int, outputs: int, bias: bool, eps: float,
              running_var: tuple[float, ...], seed: int) -> tuple[nn.Linear, nn.BatchNorm1d]:
    """Uma camada linear e um batch norm (em modo de treino, como ficam durante o treino) com γ,
    β e médias móveis não triviais."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        linear = nn.Linear(inputs, outputs, bias=bias)
        bn = nn.BatchNorm1d(outputs, eps=eps)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 2.0)
            bn.bias.normal_()
            bn.running_mean.normal_()
            bn.running_var.copy_(torch.tensor(running_var))
            bn.num_batches_tracked.fill_(100)
    return linear, bn


def module_state(*modules: nn.Module) -> list[Any]:
    return [(m.training, {k: v.clone() for k, v in m.state_dict().items()}) for m in modules]


def same_state(before: list[Any], after: list[Any]) -> bool:
    return all(t1 == t2 and all(torch.equal(s1[k], s2[k]) for k in s1)
               for (t1, s1), (t2, s2) in zip(before, after, strict=True))


def fold_hints(linear: nn.Linear, bn: nn.BatchNorm1d, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """As saídas, em x, dos dobramentos errados típicos (calculadas com o PyTorch)."""
    from torch.nn.utils.fusion import fuse_linear_bn_eval

    linear, bn = copy.deepcopy(linear).eval(), copy.deepcopy(bn).eval()
    fused = fuse_linear_bn_eval(linear, bn)
    scale = bn(torch.ones(1, bn.num_features)) - bn(torch.zeros(1, bn.num_features))  # (1, C)
    no_eps, no_mean = copy.deepcopy(bn), copy.deepcopy(bn)
    no_eps.eps = 0.0
    no_mean.running_mean.zero_()
    hints = {
        HINT_FOLD_EPS: no_eps(linear(x)),
        HINT_FOLD_MEAN: no_mean(linear(x)),
        HINT_FOLD_WEIGHTS: F.linear(x, linear.weight, fused.bias),
    }
    if linear.in_features == linear.out_features:
        hints[HINT_FOLD_COLUMNS] = F.linear(x, linear.weight * scale, fused.bias)
    return hints


def expect_folded(folded: Any, linear: nn.Linear, bn: nn.BatchNorm1d, x: torch.Tensor,
                  expected: torch.Tensor, case: str) -> None:
    """Falha se ``folded`` não for um ``nn.Linear`` com viés que dá ``expected`` em ``x``."""
    if not isinstance(folded, nn.Linear):
        fail(f"No caso “{case}” esperava um nn.Linear; recebeu {type(folded).__name__}.")
    shape = (linear.out_features, linear.in_features)
    if tuple(folded.weight.shape) != shape:
        fail(f"No caso “{case}” o peso do Linear devolvido deveria ter forma {shape}; tem "
             f"{tuple(folded.weight.shape)}.")
    if folded.bias is None:
        fail(f"No caso “{case}” o Linear devolvido não tem viés, mas a BN desloca a "
             f"saída (β e a média móvel): crie-o com bias=True.")
    with torch.no_grad():
        got = call(folded, f"{case}, aplicando o Linear devolvido", x)
        hints = fold_hints(linear, bn, x)
    expect_close(got, expected, case, tol=1e-4, hints=hints)


def check_fold_batch_norm(fn: Callable[..., Any]) -> None:
    """Confere ``fn(linear, bn)``: um ``nn.Linear`` novo que dá, em x, o mesmo que
    ``bn(linear(x))`` com o batch norm em modo de avaliação, sem alterar ``linear`` nem ``bn``."""
    for seed, (case, inputs, outputs, bias, eps, running_var) in enumerate(FOLD_CASES):
        linear, bn = fold_case(inputs, outputs, bias, eps, running_var, seed)
        x = torch.randn(32, inputs, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            expected = copy.deepcopy(bn).eval()(linear(x))
        before = module_state(linear, bn)
        with forbidden(fn, RULES_FOLD):
            folded = call(fn, case, linear, bn)
        if not same_state(before, module_state(linear, bn)):
            hint = ""
            if not torch.equal(before[1][1]["num_batches_tracked"], bn.num_batches_tracked):
                hint = (" Dica: chamar bn em modo de treino usa as estatísticas do lote e "
                        "atualiza as médias móveis; o dobramento usa running_mean e "
                        "running_var, como em avaliação.")
            fail(f"No caso “{case}” sua função alterou o linear ou o bn recebidos (pesos, "
                 f"buffers ou o modo treino/avaliação); crie um nn.Linear novo.{hint}")
        expect_folded(folded, linear, bn, x, expected, case)
