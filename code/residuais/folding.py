"""S cópias de um modelo lado a lado no eixo dos atributos (ou dos canais): uma rede só, que
faz a conta das S (``residuais.copies.FoldedCopies``).

Uma ativação (B, D) de cada cópia vira uma ativação só, (B, S·D), com a cópia s nas colunas
[s·D, (s+1)·D). Nesse arranjo a normalização em lote (*batch norm*) das S cópias é uma de S·D
atributos, ReLU e somas residuais agem elemento a elemento, uma convolução vira uma convolução
agrupada, e só a camada linear precisa de uma conta própria (``FoldedLinear``). ``fold`` monta a
rede; as peças que ele conhece estão nas tabelas abaixo.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn

from residuais.models.mlp import PlainMLP, ResidualBlock, ResidualMLP
from residuais.models.resnet import BasicBlock, ConvNet


class FoldedLinear(nn.Module):
    """S camadas lineares lado a lado: entrada (B, S·d_in) → saída (B, S·d_out), a cópia s
    nas colunas [s·d, (s+1)·d); ``weight`` (S·d_out, d_in) e ``bias`` (S·d_out,) são os pesos
    das S camadas, um embaixo do outro."""

    def __init__(self, layers: Sequence[nn.Linear]) -> None:
        super().__init__()
        self.n_copies = len(layers)
        self.d_out, self.d_in = layers[0].weight.shape
        self.weight = nn.Parameter(torch.cat([layer.weight.detach() for layer in layers]))
        has_bias = layers[0].bias is not None
        self.bias = (nn.Parameter(torch.cat([layer.bias.detach() for layer in layers]))
                     if has_bias else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s = x.shape[0], self.n_copies
        h = x.view(b, s, self.d_in).transpose(0, 1)  # (S, B, d_in)
        w_t = self.weight.view(s, self.d_out, self.d_in).transpose(1, 2)  # (S, d_in, d_out)
        if self.bias is None:
            out = torch.bmm(h, w_t)  # (S, B, d_out)
        else:
            out = torch.baddbmm(self.bias.view(s, 1, self.d_out), h, w_t)  # (S, B, d_out)
        return out.transpose(0, 1).reshape(b, s * self.d_out)  # (B, S·d_out)


def _copy_stacked(folded: nn.Module, layers: Sequence[nn.Module]) -> nn.Module:
    """Põe em cada tensor de ``folded`` os das S camadas, um embaixo do outro (eixo 0); um
    escalar, como ``num_batches_tracked``, é o mesmo para todas."""
    with torch.no_grad():
        for name, tensor in [*folded.named_parameters(), *folded.named_buffers()]:
            parts = [getattr(layer, name) for layer in layers]
            tensor.copy_(parts[0] if tensor.dim() == 0 else torch.cat(parts))
    return folded


def _fold_batch_norm(layers: Sequence[nn.BatchNorm1d | nn.BatchNorm2d]) -> nn.Module:
    """S normalizações em lote de C atributos (ou canais) → uma de S·C: as estatísticas são por
    atributo, logo por cópia."""
    first = layers[0]
    dtype = (first.weight.dtype if first.affine
             else first.running_mean.dtype if first.track_running_stats else None)
    folded = type(first)(len(layers) * first.num_features, first.eps, first.momentum,
                         first.affine, first.track_running_stats, dtype=dtype)
    return _copy_stacked(folded, layers)


def _fold_conv(layers: Sequence[nn.Conv2d]) -> nn.Conv2d:
    """S convoluções → uma convolução agrupada: com ``groups`` multiplicado por S, os canais
    de saída da cópia s só veem os canais de entrada da cópia s."""
    first, s = layers[0], len(layers)
    folded = nn.Conv2d(s * first.in_channels, s * first.out_channels, first.kernel_size,
                       first.stride, first.padding, first.dilation, s * first.groups,
                       first.bias is not None, first.padding_mode, dtype=first.weight.dtype)
    return _copy_stacked(folded, layers)


# peças sem estado que agem em cada atributo (ou canal) separadamente: a mesma instância serve
# para as S cópias
_PER_FEATURE = (nn.ReLU, nn.Identity, nn.AdaptiveAvgPool2d)
# contêineres que só chamam os filhos, somam e escalam: o atributo de tamanho a multiplicar por S
_CONTAINERS: dict[type, tuple[str, ...]] = {
    nn.Sequential: (), nn.ModuleList: (), PlainMLP: ("d_in",), ResidualMLP: ("d_in",),
    ResidualBlock: ("width",), BasicBlock: ("in_channels",), ConvNet: ("in_channels",),
}
_LEAVES: dict[type, Callable[[Sequence[nn.Module]], nn.Module]] = {
    nn.Linear: FoldedLinear, nn.BatchNorm1d: _fold_batch_norm, nn.BatchNorm2d: _fold_batch_norm,
    nn.Conv2d: _fold_conv,
}


def _is_per_feature(module: nn.Module) -> bool:
    """Achatar de (B, S·C, H, W) para (B, S·C·H·W) mantém as cópias em ordem; outros eixos não."""
    if isinstance(module, nn.Flatten):
        return type(module) is nn.Flatten and (module.start_dim, module.end_dim) == (1, -1)
    return type(module) in _PER_FEATURE


# números que podem mudar de uma cópia para outra: viram um vetor (S·D,), um valor por atributo
_PER_COPY_SCALARS: dict[type, tuple[str, ...]] = {ResidualBlock: ("branch_scale", "output_scale")}


class NotFoldable(Exception):
    """O modelo tem uma peça que ``FoldedCopies`` não sabe pôr lado a lado."""


def _settings(model: nn.Module, per_copy: bool) -> list[tuple[str, str, object]]:
    """Os atributos simples (números, textos) de cada submódulo, que o ``forward`` pode ler:
    as cópias precisam tê-los iguais. Com ``per_copy``, ficam de fora os que ``FoldedCopies``
    sabe variar por cópia."""
    settings = []
    for name, module in model.named_modules():
        skip = _PER_COPY_SCALARS.get(type(module), ()) if per_copy else ()
        settings += [(name, key, value) for key, value in vars(module).items()
                     if isinstance(value, int | float | str | None) and key not in skip]
    return settings


def check_same_settings(models: Sequence[nn.Module], *, per_copy: bool = False) -> None:
    """Levanta ``ValueError`` se as cópias diferem num atributo simples (uma escala, a ordem
    do bloco): treiná-las juntas usaria o valor da primeira para todas."""
    first = _settings(models[0], per_copy)
    for i, model in enumerate(models[1:], start=1):
        for (name, key, a), (_, _, b) in zip(first, _settings(model, per_copy), strict=True):
            if a != b:
                where = f"{name}.{key}" if name else key
                raise ValueError(f"As cópias 0 e {i} diferem em {where} ({a!r} e {b!r}); "
                                 "só os pesos podem variar entre as cópias treinadas juntas.")


def _layout(model: nn.Module) -> list[tuple[str, type, tuple[int, ...]]]:
    """Nome, tipo e forma de cada submódulo e de cada tensor: o que as cópias têm de igual."""
    modules = [(name, type(m), ()) for name, m in model.named_modules()]
    tensors = [(name, torch.Tensor, tuple(t.shape)) for name, t in model.state_dict().items()]
    return modules + tensors


def fold(modules: Sequence[nn.Module]) -> nn.Module:
    """As S cópias ``modules`` lado a lado (veja ``FoldedCopies``). Levanta ``NotFoldable``
    se as cópias não tiverem a mesma estrutura ou se alguma peça não for conhecida, e
    ``ValueError`` se diferirem num atributo que não pode variar por cópia."""
    if any(_layout(m) != _layout(modules[0]) for m in modules[1:]):
        raise NotFoldable("as cópias não têm a mesma estrutura")
    check_same_settings(modules, per_copy=True)
    return _fold(modules)


def _per_copy_value(modules: Sequence[nn.Module], attribute: str, width: int
                    ) -> float | torch.Tensor:
    """O valor comum, se as cópias concordam; senão, o valor de cada cópia repetido nos seus
    ``width`` atributos, (S·width,)."""
    values = [getattr(m, attribute) for m in modules]
    if all(v == values[0] for v in values):
        return values[0]
    dtype = next(modules[0].parameters()).dtype
    return torch.tensor(values, dtype=dtype).repeat_interleave(width)


def _fold(modules: Sequence[nn.Module]) -> nn.Module:
    """O tipo é comparado exatamente: uma subclasse pode mudar o ``forward``."""
    first, kind = modules[0], type(modules[0])
    if kind in _LEAVES:
        return _LEAVES[kind](modules)
    if _is_per_feature(first):
        return first
    if kind not in _CONTAINERS or first._parameters or first._buffers:
        raise NotFoldable(kind.__name__)
    folded = copy.copy(first)  # os atributos simples (ordem do bloco, escalas) das cópias
    folded._modules = {name: None if child is None else _fold([m._modules[name] for m in modules])
                       for name, child in first._modules.items()}
    for attribute in _PER_COPY_SCALARS.get(kind, ()):
        setattr(folded, attribute, _per_copy_value(modules, attribute, first.width))
    for attribute in _CONTAINERS[kind]:
        setattr(folded, attribute, len(modules) * getattr(first, attribute))
    return folded
