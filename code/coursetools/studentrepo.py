"""O repositório dos estudantes, gerado a partir deste (que fica privado durante a correção).

Tem tudo o que o estudante usa e nada do professor: os capítulos como na edição do estudante
(notebooks da liberação, sem solução de exercício de programação e sem teste oculto, com as
saídas do livro nas outras células), as páginas do livro (o guia do professor inclusive: ele
já é público no site e não traz solução de exercício de programação), o pacote
``residuais`` (só as verificações públicas), ``requirements.txt`` sem as ferramentas do
professor, um README, um ``Makefile``, testes próprios (os capítulos rodam com as respostas em
branco e as verificações falham com uma frase) e os fluxos que publicam o site.

Gerar de novo sobre a mesma pasta atualiza só o que mudou (e apaga o que deixou de existir),
sem tocar em ``.git``: um ``git diff`` ali mostra só mudanças reais.

    python -m coursetools.studentrepo DESTINO        (make repositorio-estudante DEST=...)
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from coursetools import book
from coursetools.cli import PortugueseParser
from coursetools.editions import assemble_student_sources, ensure_release

TEMPLATES = Path(__file__).with_name("modelos") / "repositorio_estudante"
PACKAGE = "code/residuais"
ROOT_FILES = ("pyproject.toml", "package.json", "package-lock.json")
EXECUTABLE = (".ci/run",)
SKIPPED_PARTS = ("__pycache__", ".ipynb_checkpoints")


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
                files[relative] = path.read_bytes()
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
    """O ``pyproject.toml`` do pacote, com o pytest dos testes do repositório dos estudantes."""
    text = re.sub(r'^testpaths = .*$', 'testpaths = ["tests"]', text, flags=re.M)
    text = re.sub(r'^addopts = .*$', 'addopts = "-p no:cacheprovider"', text, flags=re.M)
    text = re.sub(r"^markers = \[\n(?:.*\n)*?\]\n", "", text, flags=re.M)
    return re.sub(r"^# As faixas de testes.*\n(?:#.*\n)*", "", text, flags=re.M)


def _student_requirements(path: Path) -> str:
    """O lock sem as ferramentas do professor (``-e ./code``)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() != "-e ./code"]
    return "\n".join(lines) + "\n"


def _placeholders(root: Path) -> dict[str, str]:
    import yaml

    from residuais import __version__

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    url = config.get("repository", {}).get("url", "")
    owner, _, name = url.rstrip("/").rpartition("/")
    site = f"https://{owner.rsplit('/', 1)[-1]}.github.io/{name}/" if owner else url
    return {"versao": __version__, "site": site}


def _sync(files: dict[str, bytes], dest: Path) -> dict[str, int]:
    """Escreve em ``dest`` só os arquivos que mudaram e apaga os que não existem mais."""
    counts = {"escritos": 0, "mantidos": 0, "apagados": 0}
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(dest.rglob("*"), reverse=True):
        relative = path.relative_to(dest).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        if path.is_file() and relative not in files:
            path.unlink()
            counts["apagados"] += 1
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for relative, data in files.items():
        target = dest / relative
        if target.is_file() and target.read_bytes() == data:
            counts["mantidos"] += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        counts["escritos"] += 1
    for relative in EXECUTABLE:
        (dest / relative).chmod(0o755)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = PortugueseParser(prog="python -m coursetools.studentrepo",
                              description="Gera (ou atualiza) o repositório dos estudantes.")
    parser.add_argument("destino", type=Path, help="a pasta do repositório dos estudantes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    counts = generate(book.find_root(), args.destino)
    print(f"Repositório dos estudantes em {args.destino}: {counts['escritos']} arquivo(s) "
          f"escrito(s), {counts['mantidos']} sem mudança, {counts['apagados']} apagado(s), "
          f"em {time.perf_counter() - start:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
