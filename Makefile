# Conexões residuais — comandos do curso. Cada alvo cria o ambiente .venv se ele não existir.
# `make help` lista os alvos com a descrição da linha `## alvo: ...` acima de cada um.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.instalado
# MathJax servido pelo próprio site (matemática sem rede): pacote npm com versão e hash fixados
# em package-lock.json; só o necessário é copiado para _build/static, que o Sphinx publica em _static.
MATHJAX := _build/static/mathjax/tex-chtml.js
MATHJAX_FILES := tex-chtml.js output/chtml input/tex/extensions a11y sre ui
# programas do sistema que os testes do site usam (Debian)
SYSTEM_PACKAGES := chromium chromium-driver hunspell hunspell-pt-br hunspell-en-us bubblewrap graphviz poppler-utils
# testes em paralelo nos 2 núcleos; cada arquivo de testes e cada capítulo fica inteiro num
# processo (o nbval executa as células de um capítulo em ordem, num kernel só)
PYTEST_PARALLEL := -n 2 --dist loadfile
# De onde vem o PyTorch para CPU: o índice de CPU do próprio PyTorch (no PyPI só há a versão com
# CUDA, de vários GB). Um espelho ou um índice local no formato PEP 503 (file:///pasta, com
# torch/<wheel> dentro) pode substituí-lo: make book TORCH_INDEX=file:///caminho/do/indice
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
# as versões do Python em que o curso roda (o lock é resolvido para elas)
PYTHON_CHECK := import sys; v = sys.version_info[:2]; ok = (3, 11) <= v <= (3, 13); \
  ok or print(f"Este curso precisa do Python 3.11, 3.12 ou 3.13; {sys.executable} é o {v[0]}.{v[1]}. " \
  "Instale um deles e diga qual usar, por exemplo: make book PYTHON=python3.11"); sys.exit(not ok)

.DEFAULT_GOAL := help
.PHONY: help book book-professor test test-rapido lab lint clean mathjax sysdeps bench release grade lock repositorio-estudante pdf

## help: lista os alvos e o que cada um faz
help:
	@echo "Alvos do make (cada um cria o ambiente .venv se preciso):"
	@awk '/^## [a-z-]+: /{line = $$0; sub(/^## /, "", line); name = line; sub(/: .*/, "", name); \
	  sub(/^[a-z-]+: /, "", line); printf "  make %-22s %s\n", name, line}' $(MAKEFILE_LIST)

$(STAMP): requirements.txt pyproject.toml code/pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Não achei o $(PYTHON). Instale o Python 3.11, 3.12 ou 3.13 e rode de novo (ou diga qual usar: make book PYTHON=python3.11)."; exit 1; }
	@$(PYTHON) -c '$(PYTHON_CHECK)'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# no Linux, primeiro o PyTorch para CPU (+cpu), só ele, do índice de CPU; depois o resto do
	@# lock, do PyPI (no macOS e no Windows, o lock pede o PyTorch do PyPI, que lá já é de CPU)
	if [ "$$(uname -s)" = Linux ]; then $(BIN)/python -m pip install --quiet --no-deps --index-url $(TORCH_INDEX) "$$(grep -m1 '^torch==.*+cpu' requirements.txt | cut -d' ' -f1)"; fi
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

$(MATHJAX): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Falta o npm (Node.js), que instala o MathJax: apt-get install npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf _build/static/mathjax && mkdir -p _build/static/mathjax
	@# tar em vez de cp --parents (só do GNU): funciona também no macOS
	cd node_modules/mathjax/es5 && tar -cf - $(MATHJAX_FILES) | tar -xf - -C $(CURDIR)/_build/static/mathjax

## mathjax: instala o MathJax 3 (npm) e o prepara para o site
mathjax: $(MATHJAX)

## sysdeps: instala (como root, com apt-get) o Chromium, o ChromeDriver, o hunspell, o bubblewrap (caixa de areia da correção) e o Graphviz (diagramas), se faltarem
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v hunspell >/dev/null || missing="$$missing hunspell"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v dot >/dev/null || missing="$$missing graphviz"; \
	command -v pdfunite >/dev/null || missing="$$missing poppler-utils"; \
	test -f /usr/share/hunspell/pt_BR.dic || missing="$$missing hunspell-pt-br"; \
	test -f /usr/share/hunspell/en_US.dic || missing="$$missing hunspell-en-us"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Instalando pacotes do sistema: $(SYSTEM_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else \
	    echo "Faltam programas do sistema:$$missing. Instale com: sudo apt-get install$$missing"; \
	    exit 1; \
	  fi; \
	fi

## book: constrói a edição do estudante em _build/html, a que se publica (SOLUCOES=1: com as soluções)
book: $(STAMP) $(MATHJAX)
	$(BIN)/python -m coursetools.editions estudante $(if $(SOLUCOES),--solucoes)

## book-professor: constrói a edição do professor (com soluções e testes ocultos) em _build/professor
book-professor: $(STAMP) $(MATHJAX)
	$(BIN)/python -m coursetools.editions professor

## test: ruff e todos os testes, nos 2 núcleos (unidades, nbval, site, navegador, correção)
test: $(STAMP) $(MATHJAX) sysdeps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

## test-rapido: ruff e só os testes de unidade (menos de um minuto)
test-rapido: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m unit -q $(PYTEST_PARALLEL)

## bench: executa cada capítulo num kernel novo e constrói o site, contra os orçamentos de tempo
bench: $(STAMP) $(MATHJAX)
	$(BIN)/python -m coursetools.bench

## release: gera, para cada capítulo, o notebook do estudante e o corretor em release/
release: $(STAMP)
	$(BIN)/python -m coursetools.coursework release

## grade: corrige, cada uma numa caixa de areia, as entregas de uma pasta ou do .zip do Moodle (make grade DIR=entregas [ARGS="--refazer"])
grade: $(STAMP)
	@test -n "$(DIR)" || { echo "Diga a pasta das entregas: make grade DIR=entregas"; exit 2; }
	$(BIN)/python -m coursetools.coursework grade "$(DIR)" $(ARGS)

## repositorio-estudante: gera ou atualiza o repositório público dos estudantes em DEST (make repositorio-estudante DEST=../curso-estudantes)
repositorio-estudante: $(STAMP)
	@test -n "$(DEST)" || { echo "Diga a pasta do repositório dos estudantes: make repositorio-estudante DEST=../curso-estudantes"; exit 2; }
	$(BIN)/python -m coursetools.studentrepo "$(DEST)"

## pdf: o livro em PDF (edição do estudante) em _build/pdf/, impresso pelo Chromium; reaproveita o site se estiver em dia
pdf: $(STAMP) $(MATHJAX)
	$(BIN)/python -m coursetools.pdf

## lab: abre o JupyterLab nos capítulos
lab: $(STAMP)
	$(BIN)/jupyter lab book/

## lint: confere o estilo do código com o ruff
lint: $(STAMP)
	$(BIN)/ruff check .

## lock: regenera requirements.txt (versões exatas, para Linux, macOS e Windows) a partir de requirements.in, com o uv
lock: $(STAMP)
	$(BIN)/uv pip compile requirements.in -o requirements.txt --universal --python-version 3.11 \
	  $(if $(filter file://%,$(TORCH_INDEX)),--find-links $(TORCH_INDEX)/torch,--extra-index-url $(TORCH_INDEX) --index-strategy unsafe-best-match) \
	  --custom-compile-command "make lock" --quiet

## clean: apaga o site construído e os arquivos gerados em _build
clean:
	rm -rf _build
