"""SGD com momento e Adam: as mesmas contas de ``torch.optim.SGD`` e ``torch.optim.Adam`` (a
forma ``foreach``, uma chamada para todos os tensores), com o aquecimento linear da taxa embutido.

Por que não usar os do PyTorch: criar o primeiro otimizador de ``torch.optim`` importa o
``torch._dynamo`` (o compilador), que custa 1,6–2 s nesta máquina de 2 núcleos, uma vez por
processo — em cada capítulo, que roda num kernel próprio. As contas são poucas e estão abaixo;
``tests/test_optim.py`` confere, passo a passo, que dão os mesmos pesos que os otimizadores do
PyTorch (float64, com e sem momento, decaimento de pesos e aquecimento).

SGD, com gradiente g, peso p, decaimento λ, momento μ e taxa η do passo:
    g ← g + λ p;   v ← g no primeiro passo, v ← μ v + g depois;   p ← p − η v
Adam (β₁, β₂, ε), no passo t = 1, 2, ...:
    g ← g + λ p;   m ← m + (1 − β₁)(g − m);   s ← β₂ s + (1 − β₂) g²
    p ← p − η/(1 − β₁ᵗ) · m / (√s / √(1 − β₂ᵗ) + ε)
Aquecimento (``warmup_steps`` = W > 0): no passo k = 0, 1, ..., a taxa é η · min(1, (k + 1)/W),
como um ``LambdaLR`` com essa função avançado a cada passo.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Optimizer:
    """O que SGD e Adam têm em comum: a lista de pesos, a taxa do passo e o decaimento."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, weight_decay: float = 0.0,
                 warmup_steps: int = 0) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("O otimizador recebeu uma lista vazia de parâmetros.")
        if not lr > 0:
            raise ValueError(f"A taxa de aprendizado deve ser positiva; recebeu {lr!r}.")
        if weight_decay < 0 or warmup_steps < 0:
            raise ValueError("weight_decay e warmup_steps devem ser ≥ 0; recebeu "
                             f"{weight_decay!r} e {warmup_steps!r}.")
        self.base_lr = lr
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.steps_taken = 0

    @property
    def lr(self) -> float:
        """A taxa do próximo passo (com o aquecimento, se houver)."""
        if not self.warmup_steps:
            return self.base_lr
        return self.base_lr * min(1.0, (self.steps_taken + 1) / self.warmup_steps)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Um passo com os gradientes presentes; pesos sem gradiente ficam como estão."""
        active = [i for i, p in enumerate(self.params) if p.grad is not None]
        if active:
            params = [self.params[i] for i in active]
            grads = [p.grad for p in params]
            if self.weight_decay:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
            self._update(active, params, grads)
        self.steps_taken += 1

    def _update(self, active: list[int], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Descida do gradiente estocástica com momento (sem amortecimento nem Nesterov)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0, warmup_steps: int = 0) -> None:
        super().__init__(params, lr, weight_decay, warmup_steps)
        if not 0 <= momentum < 1:
            raise ValueError(f"O momento deve estar em [0, 1); recebeu {momentum!r}.")
        self.momentum = momentum
        self.velocity: dict[int, torch.Tensor] = {}  # índice do peso -> v

    def _update(self, active: list[int], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        if self.momentum:
            if all(i in self.velocity for i in active):
                velocity = [self.velocity[i] for i in active]
                torch._foreach_mul_(velocity, self.momentum)
                torch._foreach_add_(velocity, grads)
            else:
                for i, g in zip(active, grads, strict=True):
                    if i in self.velocity:
                        self.velocity[i].mul_(self.momentum).add_(g)
                    else:
                        self.velocity[i] = g.detach().clone()
                velocity = [self.velocity[i] for i in active]
            grads = velocity
        torch._foreach_add_(params, grads, alpha=-self.lr)


class Adam(Optimizer):
    """Adam de Kingma e Ba (2015), com o decaimento somado ao gradiente (como o do PyTorch)."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, warmup_steps: int = 0) -> None:
        super().__init__(params, lr, weight_decay, warmup_steps)
        if not all(0 <= beta < 1 for beta in betas) or not eps > 0:
            raise ValueError(f"Adam pede betas em [0, 1) e eps > 0; recebeu {betas!r} e {eps!r}.")
        self.betas, self.eps = betas, eps
        self.moments: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # índice -> (m, s)
        self.counts: dict[int, int] = {}  # índice -> passos que esse peso já deu (t)

    def _update(self, active: list[int], params: list[torch.Tensor],
                grads: list[torch.Tensor]) -> None:
        beta1, beta2 = self.betas
        for i, p in zip(active, params, strict=True):
            if i not in self.moments:
                self.moments[i] = (torch.zeros_like(p), torch.zeros_like(p))
            self.counts[i] = self.counts.get(i, 0) + 1
        first = [self.moments[i][0] for i in active]
        second = [self.moments[i][1] for i in active]
        torch._foreach_lerp_(first, grads, 1 - beta1)
        torch._foreach_mul_(second, beta2)
        torch._foreach_addcmul_(second, grads, grads, 1 - beta2)
        steps = [-self.lr / (1 - beta1 ** self.counts[i]) for i in active]
        denominators = torch._foreach_sqrt(second)
        torch._foreach_div_(denominators, [(1 - beta2 ** self.counts[i]) ** 0.5 for i in active])
        torch._foreach_add_(denominators, self.eps)
        torch._foreach_addcdiv_(params, first, denominators, steps)
