"""Verificações dos exercícios de programação.

Cada ``check_<coisa>(funcao_do_estudante)`` compara a função do estudante com a referência do
módulo ``residuais`` em casos fixos. Se algo estiver errado, levanta ``AssertionError`` com uma
mensagem em português que diz *o que* está errado (forma, valor, qual caso); se estiver tudo
certo, não imprime nada (os testes do otter-grader comparam a saída).
``thorough=True`` acrescenta os casos dos testes ocultos.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from residuais.analysis import lag1_autocorrelation


def _fail(message: str) -> None:
    raise AssertionError(message)


def _call(fn: Callable[..., Any], case: str, *args: Any) -> Any:
    """Chama a função do estudante; um erro dentro dela vira uma mensagem que nomeia o caso."""
    try:
        return fn(*args)
    except Exception as exc:  # o erro é do código do estudante: explicamos e repassamos
        raise AssertionError(
            f"Sua função levantou {type(exc).__name__} no caso “{case}”: {exc}"
        ) from exc


def _as_float(value: Any, case: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            _fail(f"No caso “{case}” esperava um número, mas recebeu um tensor de forma "
                  f"{tuple(value.shape)}.")
        return float(value.item())
    try:
        return float(value)
    except (TypeError, ValueError):
        _fail(f"No caso “{case}” esperava um número, mas recebeu {type(value).__name__}.")
        raise  # inalcançável: _fail sempre levanta


def _signals(thorough: bool) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(1234)
    white = torch.randn(500, generator=gen, dtype=torch.float64)
    cases = {
        "ruído branco (500 pontos)": white,
        "ruído marrom (soma acumulada do ruído branco)": white.cumsum(0),
    }
    if thorough:
        cases["sequência alternada +1, −1, +1, ..."] = torch.tensor([1.0, -1.0] * 20)
        cases["senoide com média 3 (a média deve ser subtraída)"] = (
            3 + torch.sin(torch.linspace(0, 12, 300))
        )
        cases["tensor float32 de forma (64, 1)"] = torch.randn(64, 1, generator=gen)
    return cases


def check_lag1_autocorrelation(fn: Callable[[torch.Tensor], Any], thorough: bool = False) -> None:
    """Confere uma implementação da autocorrelação com defasagem 1."""
    for case, signal in _signals(thorough).items():
        got = _as_float(_call(fn, case, signal.clone()), case)
        expected = lag1_autocorrelation(signal)
        if not abs(got - expected) <= 1e-4:
            hint = ""
            uncentered = (signal[:-1] * signal[1:]).sum() / (signal * signal).sum()
            if abs(got - uncentered.item()) < 1e-4:
                hint = " Parece que a média não foi subtraída antes de multiplicar."
            _fail(f"No caso “{case}” sua função devolveu {got:.4f}, mas o valor correto é "
                  f"{expected:.4f} (tolerância 1e-4).{hint}")


def relu_layer_jacobian_reference(
    weight: torch.Tensor, bias: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """Jacobiano de h ↦ ReLU(W h + b) calculado pelo autograd; forma (m, n)."""
    return torch.autograd.functional.jacobian(lambda v: torch.relu(weight @ v + bias), h)


def check_relu_layer_jacobian(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any], thorough: bool = False
) -> None:
    """Confere o Jacobiano analítico de uma camada linear + ReLU contra o autograd."""
    gen = torch.Generator().manual_seed(7)
    shapes = [(3, 4), (5, 5)] + ([(1, 6), (8, 2), (16, 16)] if thorough else [])
    for m, n in shapes:
        weight = torch.randn(m, n, generator=gen, dtype=torch.float64)
        bias = torch.randn(m, generator=gen, dtype=torch.float64)
        h = torch.randn(n, generator=gen, dtype=torch.float64)
        case = f"W com forma ({m}, {n})"
        got = _call(fn, case, weight.clone(), bias.clone(), h.clone())
        if not isinstance(got, torch.Tensor):
            _fail(f"No caso “{case}” esperava um torch.Tensor, recebeu {type(got).__name__}.")
        if tuple(got.shape) != (m, n):
            _fail(f"No caso “{case}” o Jacobiano deve ter forma ({m}, {n}) — saídas × entradas —, "
                  f"mas tem forma {tuple(got.shape)}.")
        expected = relu_layer_jacobian_reference(weight, bias, h)
        if not torch.allclose(got.to(torch.float64), expected, atol=1e-5):
            rows = (got.to(torch.float64) - expected).abs().sum(dim=1).nonzero().flatten().tolist()
            _fail(f"No caso “{case}” o Jacobiano está errado nas linhas {rows}. Lembre-se de que a "
                  f"linha i é zero quando a pré-ativação z_i = (W h + b)_i é negativa ou nula.")


def check_path_counts(fn: Callable[[int], Any], thorough: bool = False) -> None:
    """Confere ``fn(K) -> (total, por_bloco)``: o número de caminhos da entrada à saída de uma
    rede com K blocos residuais e, para cada bloco k = 1..K, quantos deles passam pelo ramo f_k."""
    from residuais.analysis import enumerate_paths

    sizes = [1, 2, 4] + ([0, 3, 5, 8, 10] if thorough else [])
    for n_blocks in sizes:
        case = f"K = {n_blocks}"
        got = _call(fn, case, n_blocks)
        if not (isinstance(got, tuple | list) and len(got) == 2):
            _fail(f"No caso “{case}” esperava um par (total, por_bloco); recebeu {got!r}.")
        total, per_block = got
        paths = enumerate_paths(n_blocks)
        if _as_float(total, case) != len(paths):
            _fail(f"No caso “{case}” o total de caminhos é {len(paths)}; sua função devolveu "
                  f"{total}. Cada bloco pode ser atravessado pelo ramo ou pulado pelo atalho.")
        expected = [sum(k in p for p in paths) for k in range(1, n_blocks + 1)]
        got_list = [_as_float(v, case) for v in per_block]
        if got_list != expected:
            hint = ""
            if got_list == [2 ** (n_blocks - k) for k in range(1, n_blocks + 1)]:
                hint = (" Você contou 2^(K−k), os caminhos que começam *depois* do bloco k (os "
                        "termos de ∂y/∂h_k); a pergunta é quantos caminhos da entrada à saída "
                        "passam pelo bloco k.")
            _fail(f"No caso “{case}” os caminhos por bloco deviam ser {expected}; sua função "
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
                got = _call(fn, case, h.clone(), norm, linear)
            if not isinstance(got, torch.Tensor):
                _fail(f"No caso “{case}” esperava um torch.Tensor, recebeu {type(got).__name__}.")
            if got.shape != expected.shape:
                _fail(f"No caso “{case}” a saída deve ter a forma da entrada, {tuple(h.shape)}, "
                      f"mas tem forma {tuple(got.shape)}.")
            if not torch.allclose(got, expected, atol=1e-5):
                with torch.no_grad():
                    no_skip = linear(torch.relu(norm(h)))
                    wrong_order = torch.relu(linear(norm(h))) + h
                hint = ""
                if torch.allclose(got, no_skip, atol=1e-5):
                    hint = " Faltou somar a entrada h (o atalho)."
                elif torch.allclose(got, wrong_order, atol=1e-5):
                    hint = " A ordem do ramo é BN → ReLU → linear, não BN → linear → ReLU."
                _fail(f"No caso “{case}” a saída difere da referência (erro máximo "
                      f"{(got - expected).abs().max().item():.3g}).{hint}")


def check_variance_after_blocks(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(n_blocks, var0, alpha)``: a variância depois de K blocos
    h_k = h_{k-1} + α f_k[h_{k-1}] com Var[f_k] = Var[h_{k-1}] e covariância nula."""
    cases = [(1, 1.0, 1.0), (10, 0.5, 1.0), (4, 1.0, 0.5)]
    if thorough:
        cases += [(0, 3.0, 1.0), (50, 1.0, 1.0), (7, 2.0, 0.0), (20, 0.1, 0.3)]
    for n_blocks, var0, alpha in cases:
        case = f"K = {n_blocks}, Var[h_0] = {var0}, α = {alpha}"
        got = _as_float(_call(fn, case, n_blocks, var0, alpha), case)
        expected = var0 * (1 + alpha**2) ** n_blocks
        if not abs(got - expected) <= 1e-9 * max(1.0, abs(expected)):
            hint = ""
            if abs(got - var0 * (1 + alpha) ** n_blocks) <= 1e-9 * max(1.0, abs(got)):
                hint = " A variância de α·f é proporcional a α², não a α."
            elif abs(got - var0 * (1 + n_blocks * alpha**2)) <= 1e-9 * max(1.0, abs(got)):
                hint = (" Isso é crescimento linear (o caso em que o ramo tem variância fixa, "
                        "como com batch norm); aqui Var[f_k] acompanha Var[h_{k-1}].")
            _fail(f"No caso “{case}” a variância deveria ser {expected:.6g}; sua função devolveu "
                  f"{got:.6g}.{hint}")


def check_scaled_residual(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(h, branch, alpha)`` = (h + α·branch(h)) / √(1 + α²), o bloco que preserva a
    variância quando Var[branch(h)] = Var[h] e a covariância é nula."""
    from residuais.models import ResidualBlock

    alphas = [1.0, 0.5] + ([0.0, 2.0] if thorough else [])
    for alpha in alphas:
        case = f"α = {alpha}"
        torch.manual_seed(0)
        branch = ResidualBlock(64, batch_norm=False).branch  # ReLU → linear (He)
        h = torch.randn(256, 64)
        with torch.no_grad():
            expected = (h + alpha * branch(h)) / (1 + alpha**2) ** 0.5
            got = _call(fn, case, h.clone(), branch, alpha)
        if not isinstance(got, torch.Tensor) or got.shape != h.shape:
            _fail(f"No caso “{case}” esperava um tensor de forma {tuple(h.shape)}; recebeu "
                  f"{getattr(got, 'shape', type(got).__name__)}.")
        if not torch.allclose(got, expected, atol=1e-5):
            with torch.no_grad():
                unscaled = h + alpha * branch(h)
                by_sqrt2 = unscaled / 2**0.5
            hint = ""
            if torch.allclose(got, unscaled, atol=1e-5):
                hint = " Faltou dividir por √(1 + α²)."
            elif torch.allclose(got, by_sqrt2, atol=1e-5):
                hint = " O fator de correção depende de α: √(1 + α²), que só vale √2 quando α = 1."
            _fail(f"No caso “{case}” a saída difere da referência.{hint}")
    if thorough:  # uma pilha de 30 blocos deve manter a variância
        torch.manual_seed(1)
        h = torch.randn(512, 64)
        var0 = h.var().item()
        with torch.no_grad():
            for _ in range(30):
                h = fn(h, ResidualBlock(64, batch_norm=False).branch, 1.0)
        ratio = h.var().item() / var0
        if not 0.5 < ratio < 2.0:
            _fail(f"Depois de 30 blocos a variância foi multiplicada por {ratio:.3g}; deveria "
                  f"ficar perto de 1.")


def check_batch_norm_train(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(x, gamma, beta, eps)``: batch norm em modo de treino de uma entrada (B, C),
    contra ``torch.nn.functional.batch_norm``."""
    import torch.nn.functional as F

    # (lote, canais, desvio-padrão dos dados): com desvio-padrão pequeno, onde ε entra importa
    cases = [(16, 4, 2.0)] + ([(2, 3, 2.0), (64, 1, 1e-3), (200, 10, 1.0)] if thorough else [])
    gen = torch.Generator().manual_seed(3)
    for batch, channels, scale in cases:
        case = f"x de forma ({batch}, {channels}) e desvio-padrão {scale}"
        x = scale * torch.randn(batch, channels, generator=gen, dtype=torch.float64) + 1
        gamma = torch.rand(channels, generator=gen, dtype=torch.float64) + 0.5
        beta = torch.randn(channels, generator=gen, dtype=torch.float64)
        eps = 1e-5
        got = _call(fn, case, x.clone(), gamma.clone(), beta.clone(), eps)
        expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            _fail(f"No caso “{case}” esperava um tensor de forma {tuple(x.shape)}; recebeu "
                  f"{getattr(got, 'shape', type(got).__name__)}.")
        if not torch.allclose(got.double(), expected, atol=1e-5):
            mean, std = x.mean(0), x.std(0, unbiased=False)
            unbiased = gamma * (x - mean) / torch.sqrt(x.var(0) + eps) + beta
            lecture = gamma * (x - mean) / (std + eps) + beta
            hint = ""
            if torch.allclose(got.double(), unbiased, atol=1e-5):
                hint = (" Você usou a variância não viesada (divide por B − 1); para normalizar, "
                        "o batch norm usa a viesada: x.var(dim=0, unbiased=False).")
            elif torch.allclose(got.double(), lecture, atol=1e-5):
                hint = " Use √(σ² + ε), como o PyTorch, e não σ + ε."
            _fail(f"No caso “{case}” a saída difere da do PyTorch (erro máximo "
                  f"{(got.double() - expected).abs().max().item():.3g}).{hint}")


def check_running_stats_update(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(running_mean, running_var, x, momentum) -> (mean, var)`` contra os buffers de
    ``torch.nn.BatchNorm1d`` depois de um passo de treino."""
    momenta = [0.1] + ([0.5, 1.0, 0.01] if thorough else [])
    gen = torch.Generator().manual_seed(4)
    for momentum in momenta:
        case = f"momentum = {momentum}"
        bn = nn.BatchNorm1d(3, momentum=momentum).double()
        with torch.no_grad():
            bn.running_mean.copy_(torch.tensor([0.5, -1.0, 2.0]))
            bn.running_var.copy_(torch.tensor([1.0, 4.0, 0.25]))
        start_mean, start_var = bn.running_mean.clone(), bn.running_var.clone()
        x = 3 * torch.randn(8, 3, generator=gen, dtype=torch.float64) + 1
        bn(x)
        got = _call(fn, case, start_mean.clone(), start_var.clone(), x.clone(), momentum)
        if not (isinstance(got, tuple | list) and len(got) == 2):
            _fail(f"No caso “{case}” esperava um par (média, variância); recebeu "
                  f"{type(got).__name__}.")
        mean, var = (torch.as_tensor(v, dtype=torch.float64) for v in got)
        if not torch.allclose(mean, bn.running_mean, atol=1e-6):
            swapped = momentum * start_mean + (1 - momentum) * x.mean(0)
            hint = ""
            if momentum != 0.5 and torch.allclose(mean, swapped, atol=1e-6):
                hint = (" No PyTorch, momentum é o peso da estatística *nova*: "
                        "(1 − momentum)·antiga + momentum·nova.")
            _fail(f"No caso “{case}” a média móvel deveria ser {bn.running_mean.tolist()}; "
                  f"sua função devolveu {mean.tolist()}.{hint}")
        if not torch.allclose(var, bn.running_var, atol=1e-6):
            biased = (1 - momentum) * start_var + momentum * x.var(0, unbiased=False)
            hint = ""
            if torch.allclose(var, biased, atol=1e-6):
                hint = (" A média móvel do PyTorch usa a variância *não viesada* do lote "
                        "(divide por n − 1).")
            _fail(f"No caso “{case}” a variância móvel deveria ser {bn.running_var.tolist()}; "
                  f"sua função devolveu {var.tolist()}.{hint}")


def check_bottleneck_params(fn: Callable[[int], Any], thorough: bool = False) -> None:
    """Confere ``fn(planes)``: parâmetros de um bloco com gargalo com atalho identidade
    (entrada e saída com 4·planes canais), contando as convoluções e os γ, β dos três BN."""
    from residuais.models import Bottleneck, count_parameters

    for planes in [64] + ([1, 128, 256, 512] if thorough else []):
        case = f"planes = {planes}"
        got = _as_float(_call(fn, case, planes), case)
        expected = count_parameters(Bottleneck(4 * planes, planes))
        if got != expected:
            convs = 4 * planes * planes + 9 * planes * planes + 4 * planes * planes
            hint = ""
            if got == convs:
                hint = " Faltaram os parâmetros γ e β dos três batch norms."
            _fail(f"No caso “{case}” o bloco tem {expected} parâmetros; sua função devolveu "
                  f"{int(got)}.{hint}")


def check_crop_and_concat(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(skip, x)``: recorta o centro de ``skip`` para a altura e largura de ``x`` e
    concatena [skip recortado, x] nos canais, como na U-Net original."""
    from residuais.models import center_crop

    cases = [((2, 3, 8, 8), (2, 5, 4, 4))]
    if thorough:
        cases += [((1, 4, 64, 64), (1, 4, 56, 56)), ((2, 1, 9, 7), (2, 2, 5, 3)),
                  ((1, 2, 6, 6), (1, 2, 6, 6))]
    gen = torch.Generator().manual_seed(5)
    for skip_shape, x_shape in cases:
        case = f"skip {skip_shape}, x {x_shape}"
        skip = torch.randn(skip_shape, generator=gen)
        x = torch.randn(x_shape, generator=gen)
        expected = torch.cat([center_crop(skip, *x_shape[-2:]), x], dim=1)
        got = _call(fn, case, skip.clone(), x.clone())
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            _fail(f"No caso “{case}” a saída deve ter forma {tuple(expected.shape)}; recebeu "
                  f"{getattr(got, 'shape', type(got).__name__)}.")
        if not torch.equal(got, expected):
            hint = ""
            if torch.equal(got, torch.cat([x, center_crop(skip, *x_shape[-2:])], dim=1)):
                hint = " A ordem pedida é [skip, x]."
            elif torch.equal(got[:, : skip_shape[1]], skip[..., : x_shape[-2], : x_shape[-1]]):
                hint = " O recorte deve ser no centro, não no canto superior esquerdo."
            _fail(f"No caso “{case}” os valores diferem da referência.{hint}")


def check_attention(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(q, k, v)`` = softmax(Q Kᵀ / √d) V para tensores (..., T, d)."""
    from residuais.transformer import scaled_dot_product_attention

    shapes = [(5, 4)] + ([(1, 8), (3, 2, 7, 16), (2, 6, 1)] if thorough else [])
    gen = torch.Generator().manual_seed(6)
    for shape in shapes:
        d = shape[-1]
        case = f"Q, K, V de forma {tuple(shape)}"
        q, k, v = (torch.randn(*shape, generator=gen, dtype=torch.float64) for _ in range(3))
        expected, _ = scaled_dot_product_attention(q, k, v)
        got = _call(fn, case, q.clone(), k.clone(), v.clone())
        if isinstance(got, tuple):
            got = got[0]
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            _fail(f"No caso “{case}” a saída deve ter forma {tuple(expected.shape)}; recebeu "
                  f"{getattr(got, 'shape', type(got).__name__)}.")
        if not torch.allclose(got.double(), expected, atol=1e-6):
            hint = ""
            no_scale = (q @ k.transpose(-2, -1)).softmax(-1) @ v
            wrong_axis = ((q @ k.transpose(-2, -1)) / d**0.5).softmax(-2) @ v
            if torch.allclose(got.double(), no_scale, atol=1e-6):
                hint = " Faltou dividir os escores por √d."
            elif torch.allclose(got.double(), wrong_axis, atol=1e-6):
                hint = " O softmax é sobre as chaves (último eixo): cada linha deve somar 1."
            _fail(f"No caso “{case}” a saída difere da referência.{hint}")


def check_pre_ln_block(fn: Callable[..., Any], thorough: bool = False) -> None:
    """Confere ``fn(x, ln1, attn, ln2, ffn)``: o bloco pré-LN
    O = X + Atenção(LN₁(X)), H = O + FFN(LN₂(O)), contra ``TransformerBlock(norm_first=True)``."""
    from residuais.transformer import TransformerBlock

    sizes = [(2, 5, 16)] + ([(1, 1, 8), (3, 9, 32)] if thorough else [])
    for b, t, c in sizes:
        case = f"x de forma ({b}, {t}, {c})"
        torch.manual_seed(c + t)
        block = TransformerBlock(c, 2, 2 * c, norm_first=True)
        with torch.no_grad():  # LN com γ, β não triviais, para distinguir as ordens
            for ln in (block.ln1, block.ln2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)
        x = 3 * torch.randn(b, t, c)
        with torch.no_grad():
            expected = block(x)
            got = _call(fn, case, x.clone(), block.ln1, block.attn, block.ln2, block.ffn)
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            _fail(f"No caso “{case}” a saída deve ter a forma da entrada, {tuple(x.shape)}; "
                  f"recebeu {getattr(got, 'shape', type(got).__name__)}.")
        if not torch.allclose(got, expected, atol=1e-5):
            hint = ""
            with torch.no_grad():
                block.norm_first = False
                post = block(x)
                block.norm_first = True
            if torch.allclose(got, post, atol=1e-5):
                hint = (" Isso é o bloco pós-LN (normaliza depois da soma); no pré-LN o LN vem "
                        "antes de cada subcamada e o fluxo residual não é normalizado.")
            _fail(f"No caso “{case}” a saída difere da referência.{hint}")
