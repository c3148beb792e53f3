# Conexões residuais — comandos do curso. Cada alvo cria o ambiente .venv se ele não existir.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.instalado

.PHONY: book test lab lint clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

## book: constrói o site em _build/html (avisos contam como erros)
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	@echo "Site pronto: abra $(CURDIR)/_build/html/index.html"
	@echo "ou sirva com: $(BIN)/python -m http.server -d _build/html"

## test: ruff e todos os testes (unidades, nbval nos capítulos, construção do site, otter)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## lab: abre o JupyterLab nos capítulos
lab: $(STAMP)
	$(BIN)/jupyter lab book/

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf _build
