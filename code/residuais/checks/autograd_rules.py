"""As funções do autograd proibidas nos exercícios que pedem derivadas pela fórmula.

Valem nos capítulos 1 (o jacobiano de uma camada ReLU, as normas camada a camada, os dois
valores do gradiente) e 2 (o jacobiano do bloco original): a lista é escrita uma vez aqui.
"""

from __future__ import annotations

from residuais.checks.core import Rule

REASON_AUTOGRAD = "o exercício pede o jacobiano pela fórmula, sem o autograd."
RULES_AUTOGRAD = (
    Rule("torch.autograd.functional.jacobian", REASON_AUTOGRAD),
    Rule("torch.autograd.functional.vjp", REASON_AUTOGRAD),
    Rule("torch.autograd.functional.jvp", REASON_AUTOGRAD),
    Rule("torch.autograd.grad", REASON_AUTOGRAD),
    Rule("torch.autograd.backward", REASON_AUTOGRAD),
    Rule("torch.Tensor.backward", REASON_AUTOGRAD),
    Rule("torch.func.jacrev", REASON_AUTOGRAD),
    Rule("torch.func.jacfwd", REASON_AUTOGRAD),
    Rule("torch.func.vjp", REASON_AUTOGRAD),
    Rule("torch.func.jvp", REASON_AUTOGRAD),
    Rule("torch.func.grad", REASON_AUTOGRAD),
)
