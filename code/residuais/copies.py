"""Várias cópias de um modelo (uma por semente) num objeto só, para treiná-las juntas.

Duas maneiras de fazer a mesma conta, com a mesma interface (``Copies``):

- ``FoldedCopies`` (``PlainMLP``, ``ResidualMLP``, a ``ConvNet`` dos dígitos e o que for feito
  de ``nn.Linear``, ``nn.Conv2d``, batch norm e ReLU): as S cópias ficam **lado a lado no eixo
  dos atributos** (ou dos canais). Uma ativação (B, D) de cada cópia vira uma ativação só,
  (B, S·D), com a cópia s nas colunas [s·D, (s+1)·D). Nesse arranjo o batch norm das S cópias é
  um ``nn.BatchNorm1d`` de S·D atributos (estatísticas por coluna, logo por cópia), ReLU e somas
  residuais agem elemento a elemento, uma convolução vira uma convolução agrupada, e só a camada
  linear precisa de uma conta própria (``FoldedLinear``: uma multiplicação de matrizes por
  cópia, ``torch.bmm``). Cada passo custa as mesmas chamadas de um modelo só, com tensores S
  vezes mais largos.
- ``VmappedCopies`` (qualquer modelo, como os Transformers e as U-Nets): pesos empilhados
  (``torch.func.stack_module_state``) e a passagem direta vetorizada sobre as cópias
  (``torch.vmap`` de ``functional_call``). No batch norm o ``vmap`` gasta várias operações a
  mais por camada. Uma época de ``fit_seed_models`` lado a lado, medida nesta máquina de 2
  núcleos (2 threads): 1,9× mais rápida que com ``vmap`` numa ``PlainMLP`` de 48 camadas com BN
  e 3 cópias, 1,6× na ``ConvNet`` de 18 camadas; com 7 cópias, 1,1× e 1,2×.

Nas duas, cada tensor do otimizador guarda as S cópias no primeiro eixo, em ordem:
``p.view(S, -1)[i]`` é a cópia ``i`` (é o que permite uma taxa de aprendizado por cópia).
``stack_copies`` escolhe a primeira quando o modelo é feito só de peças que ela conhece.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from residuais.models.mlp import PlainMLP, ResidualBlock, ResidualMLP
from residuais.models.resnet import BasicBlock, ConvNet


def classes_on_dim1(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Põe as classes no eixo 1, como a entropia cruzada do PyTorch espera: sequências vêm como
    (B, T, V) com rótulos (B, T) e viram (B, V, T); os outros casos já estão assim."""
    if logits.dim() == 3 and y.dim() == 2:
        return logits.transpose(1, 2)
    return logits


class Copies:
    """S cópias de um modelo, treinadas juntas. ``parameters`` vão para o otimizador."""

    n_copies: int
    parameters: list[torch.Tensor]

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Perda de entropia cruzada e fração de acertos de cada cópia, ambas (S,), em modo de
        treino; ``x`` (S, B, ...) e ``y`` (S, B, ...): o minilote de cada cópia."""
        raise NotImplementedError

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        """Perda e acurácia de cada cópia nos mesmos (x, y), em modo de avaliação."""
        raise NotImplementedError

    def state(self) -> dict[str, torch.Tensor]:
        """Pesos e buffers pelo nome do modelo original; ``t.view(S, *forma)[i]`` é a cópia i
        (buffers escalares, como ``num_batches_tracked``, são os mesmos para todas)."""
        raise NotImplementedError

    def unstack_into(self, models: Sequence[nn.Module]) -> None:
        """Copia os pesos e buffers da cópia ``i`` para ``models[i]``."""
        state = self.state()
        with torch.no_grad():
            for i, model in enumerate(models):
                for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
                    stacked = state[name]
                    tensor.copy_(stacked if stacked.dim() == 0 and tensor.dim() == 0
                                 else stacked.view(self.n_copies, *tensor.shape)[i])


class VmappedCopies(Copies):
    """Pesos empilhados, (S, ...), e a passagem vetorizada com ``torch.vmap``."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        check_same_settings(models)
        self.n_copies = len(models)
        self.params, self.buffers = torch.func.stack_module_state(list(models))  # (S, ...)
        self.parameters = list(self.params.values())
        self.base = copy.deepcopy(models[0]).to("meta")  # só a estrutura; os pesos vêm de params
        self.base.train()

    def _loss_of(self, p: dict, b: dict, x: torch.Tensor, y: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        logits = classes_on_dim1(torch.func.functional_call(self.base, (p, b), (x,)), y)
        hits = (logits.argmax(dim=1) == y).float().mean()
        return F.cross_entropy(logits, y), hits

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.vmap(self._loss_of)(self.params, self.buffers, x, y)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        self.base.eval()
        with torch.no_grad():
            losses, hits = torch.vmap(self._loss_of, in_dims=(0, 0, None, None))(
                self.params, self.buffers, x, y)
        self.base.train()
        return losses.tolist(), hits.tolist()

    def state(self) -> dict[str, torch.Tensor]:
        return self.params | self.buffers


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
    """S batch norms de C atributos (ou canais) → um de S·C: as estatísticas são por atributo,
    logo por cópia."""
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


class _NotFoldable(Exception):
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


def check_same_settings(models: Sequence[nn.Module], per_copy: bool = False) -> None:
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
    """As S cópias ``modules`` lado a lado (veja ``FoldedCopies``). Levanta ``_NotFoldable``
    se as cópias não tiverem a mesma estrutura ou se alguma peça não for conhecida, e
    ``ValueError`` se diferirem num atributo que não pode variar por cópia."""
    if any(_layout(m) != _layout(modules[0]) for m in modules[1:]):
        raise _NotFoldable("as cópias não têm a mesma estrutura")
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
        raise _NotFoldable(kind.__name__)
    folded = copy.copy(first)  # os atributos simples (ordem do bloco, escalas) das cópias
    folded._modules = {name: None if child is None else _fold([m._modules[name] for m in modules])
                       for name, child in first._modules.items()}
    for attribute in _PER_COPY_SCALARS.get(kind, ()):
        setattr(folded, attribute, _per_copy_value(modules, attribute, first.width))
    for attribute in _CONTAINERS[kind]:
        setattr(folded, attribute, len(modules) * getattr(first, attribute))
    return folded


class FoldedCopies(Copies):
    """As S cópias lado a lado no eixo dos atributos (veja o início do módulo)."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        self.n_copies = len(models)
        self.model = fold(models)
        self.model.train()
        if any(isinstance(m, nn.Conv2d) for m in self.model.modules()):
            # convoluções pequenas e agrupadas: ~12% mais rápidas com os canais por último
            self.model.to(memory_format=torch.channels_last)
        self.parameters = list(self.model.parameters())

    def _loss_and_hits(self, x: torch.Tensor, y: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, S·D) e y (B, S) → perda e acertos de cada cópia, (S,)."""
        b = x.shape[0]
        logits = self.model(x).view(b, self.n_copies, -1)  # (B, S, classes)
        losses = F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(0)  # (S,)
        hits = (logits.argmax(dim=2) == y).float().mean(0)  # (S,)
        return losses, hits

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[1]  # x: (S, B, D) ou (S, B, C, H, W)
        x = x.transpose(0, 1).reshape(b, -1, *x.shape[3:])  # (B, S·D) ou (B, S·C, H, W)
        return self._loss_and_hits(x, y.transpose(0, 1))

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], list[float]]:
        self.model.eval()
        with torch.no_grad():
            x = x.repeat(1, self.n_copies, *[1] * (x.dim() - 2))  # a mesma entrada, S vezes
            losses, hits = self._loss_and_hits(x,
                                               y.unsqueeze(1).expand(-1, self.n_copies))
        self.model.train()
        return losses.tolist(), hits.tolist()

    def state(self) -> dict[str, torch.Tensor]:
        return dict([*self.model.named_parameters(), *self.model.named_buffers()])


def stack_copies(models: Sequence[nn.Module], y_example: torch.Tensor) -> Copies:
    """``FoldedCopies`` quando o modelo é feito só de peças conhecidas e os rótulos são uma
    classe por exemplo, (N,); ``VmappedCopies`` nos outros casos (sequências, segmentação,
    outras peças). Os números são os mesmos, a menos de arredondamento."""
    if y_example.dim() == 1:
        try:
            return FoldedCopies(models)
        except _NotFoldable:
            pass
    return VmappedCopies(models)
