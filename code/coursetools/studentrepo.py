"""O repositório dos estudantes, gerado a partir deste (que fica privado durante a correção).

Tem tudo o que o estudante usa e nada do professor: os capítulos como na edição do estudante
(notebooks da liberação, sem solução de exercício de programação e sem teste oculto, com as
saídas do livro nas outras células), as páginas do livro (o guia do professor inclusive: ele
já é público no site e não traz solução de exercício de programação), o pacote
``residuais`` (só as verificações públicas), ``requirements.txt`` sem as ferramentas do
professor, um README, um ``Makefile``, a configuração do Binder, testes próprios (os capítulos
rodam com as respostas em branco e as verificações falham com uma frase) e os fluxos que testam
e publicam o site.

A lista do que foi gerado fica no próprio repositório, em ``.arquivos-gerados``. Gerar de novo
sobre a mesma pasta atualiza só o que mudou e apaga só o que foi gerado antes e deixou de ser
produzido; o resto (``.git``, ``.venv``, ``node_modules``, ``_build``, arquivos que o professor
acrescentou só lá, como uma licença) nunca é tocado: um ``git diff`` ali mostra só mudanças
reais.

    python -m coursetools.studentrepo DESTINO        (make repositorio-estudante DEST=...)
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from coursetools import book, quiz_notebook
from coursetools.cli import PortugueseParser
from coursetools.editions import assemble_student_sources, ensure_release

TEMPLATES = Path(__file__).with_name("modelos") / "repositorio_estudante"
PACKAGE = "code/residuais"
ROOT_FILES = ("pyproject.toml", "package.json", "package-lock.json")
EXECUTABLE = (".ci/run",)
SKIPPED_PARTS = ("__pycache__", ".ipynb_checkpoints")
# a lista dos arquivos gerados, guardada no repositório dos estudantes (e no git dele)
MANIFEST = ".arquivos-gerados"
MANIFEST_HEADER = """\
# Arquivos que o repositório do professor gerou aqui (make repositorio-estudante), um por linha.
# Ao gerar de novo, só os desta lista que deixaram de ser produzidos são apagados; nada fora
# dela (.venv, node_modules, _build, arquivos acrescentados à mão) é tocado. Não edite.
"""
# pacotes do lock que só as ferramentas do professor usam: testes do curso (nbval, navegador,
# execução em paralelo), estilo e geração do lock. Cada um sai só se nada que fica depende dele
# (as linhas ``# via`` do lock): o jupytext, por exemplo, fica enquanto o otter-grader o pedir.
INSTRUCTOR_PACKAGES = ("selenium", "uv", "jupytext", "nbval", "pytest-xdist", "ruff")
# quem pede um pacote no lock sem ser outro pacote do lock: a entrada do lock, o pacote do curso
# (pelo extra de desenvolvimento) e o das ferramentas
LOCK_ROOTS = ("-r requirements.in", "residuais", "residuais-ferramentas")
EDITABLE_NAMES = {"-e .": "residuais", "-e ./code": "residuais-ferramentas"}
REQUIREMENTS_HEADER = """\
# As versões exatas de tudo o que o `make instalar` instala, dependências das dependências
# inclusive. Este arquivo é gerado a partir do lock do repositório do professor (feito com o
# `uv pip compile`), sem os pacotes que só as ferramentas do professor usam: não o edite à mão,
# porque a próxima geração o sobrescreve. O PyTorch é a versão para CPU (`+cpu`), que não está
# no PyPI: o `make instalar` e o binder/requirements.txt acrescentam o índice do PyTorch
# (https://download.pytorch.org/whl/cpu). Cada comentário `# via` diz quem pede o pacote.
"""
PYPROJECT_HEADER = """\
# O pacote do curso, `residuais`: o que os capítulos importam. Este arquivo é gerado a partir do
# repositório do professor, junto com o resto deste repositório.
#
# As dependências são faixas compatíveis: instalar `residuais` num ambiente que já tem um PyTorch
# recente (um notebook na nuvem, um laboratório) não reinstala o PyTorch. As versões exatas que o
# `make instalar` e a CI instalam estão em requirements.txt.
"""


def generate(root: Path, dest: Path, release_dir: Path | None = None,
             log=print) -> dict[str, int]:
    """Escreve (ou atualiza) o repositório dos estudantes em ``dest`` a partir da liberação em
    ``release_dir`` (padrão: a do site, refeita se os capítulos mudaram); devolve quantos
    arquivos foram escritos, mantidos e apagados."""
    root, dest = root.resolve(), dest.resolve()
    if dest == root or dest.is_relative_to(root / "book") or root.is_relative_to(dest):
        raise SystemExit("Erro: o destino não pode ser este repositório nem conter a pasta dele.")
    release = ensure_release(root, release_dir, log=log)
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="repositorio-estudante-") as tmp:
        sources = assemble_student_sources(root, release, Path(tmp) / "fontes")
        for path in sorted(sources.rglob("*")):
            relative = path.relative_to(sources).as_posix()
            if path.is_file() and not relative.startswith("_build/") and _kept(relative):
                # no Jupyter, as perguntas de autoavaliação em markdown comum, com a resposta
                # recolhida (no site, a diretiva vira formulário)
                files[relative] = quiz_notebook.rewrite_file(path.read_bytes(), path.name)
    for path in sorted((root / PACKAGE).rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and _kept(relative):
            files[relative] = path.read_bytes()
    for name in ROOT_FILES:
        files[name] = (root / name).read_bytes()
    files["pyproject.toml"] = _student_pyproject(files["pyproject.toml"].decode()).encode()
    files["requirements.txt"] = _student_requirements(root / "requirements.txt").encode()
    values = _placeholders(root)
    for path in sorted(p for p in TEMPLATES.rglob("*") if p.is_file()):
        relative = path.relative_to(TEMPLATES).as_posix()
        if _kept(relative):
            text = path.read_text(encoding="utf-8")
            for key, value in values.items():
                text = text.replace("{{" + key + "}}", value)
            files[relative] = text.encode("utf-8")
    return _sync(files, dest)


def _kept(relative: str) -> bool:
    parts = relative.split("/")
    return not any(p in SKIPPED_PARTS for p in parts) and not relative.endswith(".pyc")


def _student_pyproject(text: str) -> str:
    """O ``pyproject.toml`` do pacote, com o pytest dos testes do repositório dos estudantes e
    sem as menções às ferramentas do professor."""
    text = PYPROJECT_HEADER + re.sub(r"\A(?:#.*\n)+", "", text)
    text = re.sub(r"^# desenvolver o curso.*\ndev = \[\n(?:.*\n)*?\]\n",
                  "# conferir este repositório (make test): os testes dos capítulos\n"
                  'dev = ["pytest>=8"]\n', text, flags=re.M)
    text = re.sub(r'^known-first-party = .*$', 'known-first-party = ["residuais"]', text,
                  flags=re.M)
    text = re.sub(r'^testpaths = .*$', 'testpaths = ["tests"]', text, flags=re.M)
    text = re.sub(r'^addopts = .*$', 'addopts = "-p no:cacheprovider"', text, flags=re.M)
    text = re.sub(r"^markers = \[\n(?:.*\n)*?\]\n", "", text, flags=re.M)
    return re.sub(r"^# As faixas de testes.*\n(?:#.*\n)*", "", text, flags=re.M)


def _parse_lock(text: str) -> list[tuple[str, str, list[str]]]:
    """As entradas de um lock do ``uv pip compile``: (nome, linha do requisito, quem o pede)."""
    entries: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not line.startswith((" ", "#")):
            name = EDITABLE_NAMES.get(stripped) or re.split(r"[=<>!~\[; ]", stripped)[0]
            entries.append((name.lower().replace("_", "-"), stripped, []))
        elif line.startswith(" ") and entries:
            via = re.sub(r"^#\s*(via\b)?\s*", "", stripped)
            if via:
                entries[-1][2].append(via)
    return entries


def _student_requirements(path: Path) -> str:
    """O lock sem as ferramentas do professor: sem ``-e ./code``, sem os pacotes que só elas
    usam (e que nada que fica pede) e sem as menções à entrada do lock, que não vai junto."""
    entries = _parse_lock(path.read_text(encoding="utf-8"))
    dropped = {"residuais-ferramentas"}
    changed = True
    while changed:
        changed = False
        for name, _, vias in entries:
            if name in dropped:
                continue
            if name in INSTRUCTOR_PACKAGES:
                needed = [v for v in vias if v not in LOCK_ROOTS and v not in dropped]
            else:
                needed = [v for v in vias if v not in dropped]
            if not needed and (name in INSTRUCTOR_PACKAGES or vias):
                dropped.add(name)
                changed = True
    lines = [REQUIREMENTS_HEADER.rstrip("\n")]
    for name, requirement, vias in entries:
        if name in dropped:
            continue
        lines.append(requirement)
        vias = [v for v in vias if v not in dropped and v != "-r requirements.in"]
        if len(vias) == 1:
            lines.append(f"    # via {vias[0]}")
        elif vias:
            lines += ["    # via"] + [f"    #   {v}" for v in vias]
    return "\n".join(lines) + "\n"


def _placeholders(root: Path) -> dict[str, str]:
    import yaml

    from residuais import __version__

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = config.get("repository", {}).get("url", "")
    owner, _, name = url.rstrip("/").rpartition("/")
    site = f"https://{owner.rsplit('/', 1)[-1]}.github.io/{name}/" if owner else url
    return {"versao": __version__, "site": site}


def _previously_generated(dest: Path) -> list[str]:
    """Os arquivos que a geração anterior escreveu em ``dest`` (a lista ``MANIFEST``); nenhum se
    ela não existe. Linhas que sairiam da pasta ou entrariam no ``.git`` são ignoradas."""
    manifest = dest / MANIFEST
    if not manifest.is_file():
        return []
    names = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        name = line.strip()
        parts = name.split("/")
        if (name and not name.startswith("#") and not name.startswith("/")
                and ".." not in parts and parts[0] != ".git"):
            names.append(name)
    return names


def _sync(files: dict[str, bytes], dest: Path) -> dict[str, int]:
    """Escreve em ``dest`` só os arquivos que mudaram, apaga os que a geração anterior escreveu
    e que deixaram de ser produzidos e guarda a lista nova em ``MANIFEST``. Nada mais em
    ``dest`` é tocado."""
    counts = {"escritos": 0, "mantidos": 0, "apagados": 0}
    dest.mkdir(parents=True, exist_ok=True)
    files = {**files, MANIFEST: (MANIFEST_HEADER + "".join(
        f"{name}\n" for name in sorted(files))).encode("utf-8")}
    for relative in _previously_generated(dest):
        path = dest / relative
        if relative in files or not (path.is_file() or path.is_symlink()):
            continue
        path.unlink()
        counts["apagados"] += 1
        folder = path.parent
        while folder != dest and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    for relative, data in files.items():
        target = dest / relative
        if target.is_file() and target.read_bytes() == data:
            counts["mantidos"] += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        counts["escritos"] += 1
    for relative in EXECUTABLE:
        if relative in files:
            (dest / relative).chmod(0o755)
    return counts


PLACEHOLDER_URL = "https://github.com/conexoes-residuais/curso"  # o do _config.yml distribuído


def placeholder_warning(root: Path) -> str | None:
    """O aviso para quem gera o repositório dos estudantes com o endereço de exemplo do
    ``_config.yml``: os botões Colab e Binder e a instalação do pacote apontariam para ele."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = str((config.get("repository") or {}).get("url", "")).rstrip("/")
    if url.removesuffix(".git") != PLACEHOLDER_URL:
        return None
    return (f"Atenção: o _config.yml ainda tem o endereço de exemplo ({PLACEHOLDER_URL}) em "
            "repository: url:. Os botões Colab e Binder e a célula que instala o pacote do curso "
            "apontariam para ele. Troque-o pelo endereço do repositório dos estudantes e gere de "
            "novo.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = PortugueseParser(prog="python -m coursetools.studentrepo",
                              description="Gera (ou atualiza) o repositório dos estudantes.")
    parser.add_argument("destino", type=Path, help="a pasta do repositório dos estudantes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = book.find_root()
    warning = placeholder_warning(root)
    if warning:
        print(warning, file=sys.stderr)
    counts = generate(root, args.destino)
    print(f"Repositório dos estudantes em {args.destino}: {counts['escritos']} arquivo(s) "
          f"escrito(s), {counts['mantidos']} sem mudança, {counts['apagados']} apagado(s), "
          f"em {time.perf_counter() - start:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
