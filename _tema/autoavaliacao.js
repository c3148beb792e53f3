// Perguntas de autoavaliação (_ext/autoavaliacao.py): confere a resposta e mostra a explicação
// que a resposta comentada já traz, na região role="status" que o leitor de tela anuncia.
(function () {
  "use strict";

  function number(text) {  // "1,21", "1.21", " 4 096 " → número; texto que não é número → NaN
    var clean = String(text).trim().replace(/\s/g, "").replace(",", ".");
    return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(clean) ? parseFloat(clean) : NaN;
  }

  function close(value, target, tolerance) {
    return Math.abs(value - target) <= tolerance + 1e-9 * Math.max(1, Math.abs(target));
  }

  function show(box, verdict, explanation, correct) {
    box.textContent = "";
    box.className = "aa-retorno " + (correct ? "aa-certo" : "aa-errado");
    var head = document.createElement("p");
    head.className = "aa-veredito";
    var strong = document.createElement("strong");
    strong.textContent = verdict;
    head.appendChild(strong);
    box.appendChild(head);
    if (explanation) {
      Array.prototype.forEach.call(explanation.children, function (child, i) {
        if (i > 0) box.appendChild(child.cloneNode(true));  // sem o título da resposta comentada
      });
    }
  }

  function checkChoice(section, box) {
    var chosen = section.querySelector('input[type="radio"]:checked');
    if (!chosen) {
      show(box, "Escolha uma das opções antes de conferir.", null, false);
      return;
    }
    var explanation = section.querySelector('.aa-explicacao[data-opcao="' + chosen.value + '"]');
    var correct = explanation.dataset.correta === "sim";
    show(box, (correct ? "Certo: (" : "Ainda não: (") + chosen.value + ")" +
         (correct ? " é a resposta." : " não é a resposta."), explanation, correct);
  }

  function checkNumber(section, box) {
    var field = section.querySelector(".aa-valor");
    var value = number(field.value);
    if (isNaN(value)) {
      show(box, "Escreva um número (com vírgula ou ponto decimal) antes de conferir.", null, false);
      field.setAttribute("aria-invalid", "true");
      return;
    }
    field.removeAttribute("aria-invalid");
    if (close(value, +section.dataset.resposta, +section.dataset.tolerancia)) {
      show(box, "Certo.", section.querySelector('[data-papel="explicacao"]'), true);
      return;
    }
    var mistakes = section.querySelectorAll('[data-papel="erro-comum"]');
    for (var i = 0; i < mistakes.length; i++) {
      if (close(value, +mistakes[i].dataset.valor, +mistakes[i].dataset.tolerancia)) {
        show(box, "Ainda não. Esse valor é um engano comum:", mistakes[i], false);
        return;
      }
    }
    show(box, "Ainda não. Tente de novo; a resposta comentada, abaixo, explica a conta.",
         section.querySelector('[data-papel="dica"]'), false);
  }

  function setup(section) {
    var form = section.querySelector("form.aa-form");
    var box = section.querySelector(".aa-retorno");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (section.dataset.tipo === "numero") checkNumber(section, box);
      else checkChoice(section, box);
    });
    section.classList.add("aa-ativa");
  }

  function setupAll() {
    document.querySelectorAll("section.autoavaliacao").forEach(setup);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupAll);
  else setupAll();
})();
