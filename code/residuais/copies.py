"""Várias cópias de um modelo (uma por semente) num objeto só, para treiná-las juntas.

Duas maneiras de fazer a mesma conta, com a mesma interface (``Copies``):

- ``FoldedCopies`` (``PlainMLP``, ``ResidualMLP``, a ``ConvNet`` dos dígitos e o que for feito
  de ``nn.Linear``, ``nn.Conv2d``, normalização em lote e ReLU): as S cópias ficam **lado a lado
  no eixo dos atributos** (ou dos canais), numa rede só (``residuais.folding``). Cada passo custa
  as mesmas chamadas de um modelo só, com tensores S vezes mais largos.
- ``VmappedCopies`` (qualquer modelo, como os Transformers e as U-Nets): pesos empilhados
  (``torch.func.stack_module_state``) e a passagem direta vetorizada sobre as cópias
  (``torch.vmap`` de ``functional_call``). Na normalização em lote o ``vmap`` gasta várias
  operações a mais por camada. Uma época de ``fit_seed_models`` lado a lado, medida numa máquina
  de 2 núcleos (2 threads): 1,9× mais rápida que com ``vmap`` numa ``PlainMLP`` de 48 camadas
  com BN e 3 cópias, 1,6× na ``ConvNet`` de 18 camadas; com 7 cópias, 1,1× e 1,2×.

Nas duas, cada tensor do otimizador guarda as S cópias no primeiro eixo, em ordem:
``p.view(S, -1)[i]`` é a cópia ``i`` (é o que permite uma taxa de aprendizado por cópia).
``stack_copies`` escolhe a primeira quando o modelo é feito só de peças que ela conhece.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from residuais.folding import NotFoldable, check_same_settings, fold


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
        except NotFoldable:
            pass
    return VmappedCopies(models)
