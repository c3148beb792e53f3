"""A liberação que a correção usa, lida uma vez e conferida.

No início, o manifesto e o .zip do corretor de cada capítulo são lidos para a memória com o seu
resumo SHA-256; os testes saem desses bytes (nunca de um arquivo que uma entrega possa ter
mudado) e as verificações ocultas são extraídas numa pasta da correção, somente leitura, que só
o avaliador vê (nunca a caixa do estudante). Antes de corrigir cada entrega, o .zip no disco é
conferido de novo: se mudou, a correção para com uma mensagem clara, e nada do arquivo mudado
é usado.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coursetools.coursework import notebooks
from coursetools.coursework.common import MANIFEST, CourseworkError
from coursetools.coursework.manifest import Chapter, load_release

HIDDEN_PREFIX = "files/"  # no .zip do otter, os arquivos extras (a pasta ``ocultos``)


@dataclass(frozen=True)
class Case:
    """Um caso de teste de um exercício."""

    code: str
    hidden: bool
    points: float


@dataclass(frozen=True)
class ChapterGrader:
    """O corretor de um capítulo, pronto para usar."""

    chapter: Chapter
    digest: str  # do .zip do corretor
    tests: dict[str, list[Case]]  # por exercício
    hidden_dir: Path  # a pasta com ``ocultos/``, somente leitura
    distributed: tuple[str, ...]  # as células de código do notebook distribuído


@dataclass(frozen=True)
class Release:
    folder: Path
    digest: str
    graders: dict[str, ChapterGrader]

    @property
    def chapters(self) -> dict[str, Chapter]:
        return {name: g.chapter for name, g in self.graders.items()}

    def verify(self, chapter: str) -> None:
        """Confere que o .zip do capítulo no disco é o mesmo lido no início."""
        grader = self.graders[chapter]
        path = self.folder / grader.chapter.autograder
        current = _sha(path.read_bytes()) if path.exists() else "(apagado)"
        if current != grader.digest:
            raise CourseworkError(
                f"O corretor {grader.chapter.autograder} mudou durante a correção (resumo "
                f"{grader.digest[:12]} no início, {current[:12]} agora). A correção parou; as "
                "entregas já corrigidas ficaram na planilha. Confira a liberação e rode de novo."
            )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(folder: Path, workdir: Path) -> Release:
    """Lê a liberação de ``folder``; extrai as verificações ocultas em ``workdir``."""
    chapters = load_release(folder)
    total = hashlib.sha256((folder / MANIFEST).read_bytes())
    graders = {}
    for name, chapter in chapters.items():
        path = folder / chapter.autograder
        if not path.exists():
            raise CourseworkError(f"Falta o corretor {path} da liberação: rode `make release`.")
        data = path.read_bytes()
        total.update(data)
        hidden = workdir / f"ocultos-{name}"
        tests = _unpack(data, hidden, path.name)
        student = json.loads((folder / chapter.student).read_text(encoding="utf-8"))
        code = tuple(notebooks.source(c) for c in student["cells"]
                     if c.get("cell_type") == "code")
        graders[name] = ChapterGrader(chapter, _sha(data), tests, hidden, code)
    return Release(folder, total.hexdigest(), graders)


def _unpack(data: bytes, hidden: Path, name: str) -> dict[str, list[Case]]:
    """Os testes do .zip (lidos da memória) e os arquivos extras extraídos em ``hidden``."""
    from otter.test_files.ok_test import OKTestFile

    tests = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.infolist():
                path = PurePosixPath(member.filename)
                if member.is_dir() or ".." in path.parts or path.is_absolute():
                    continue
                if path.parts[0] == "tests" and path.suffix == ".py":
                    scope: dict = {}
                    exec(zf.read(member).decode("utf-8"), scope)
                    spec = OKTestFile.from_spec(scope["test"])
                    tests[spec.name] = [Case(c.body, bool(c.hidden), float(c.points or 0))
                                        for c in spec.test_cases]
                elif member.filename.startswith(HIDDEN_PREFIX):
                    target = hidden.joinpath(*path.parts[1:])
                    target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                    target.write_bytes(zf.read(member))
                    target.chmod(0o644)
    except zipfile.BadZipFile as exc:
        raise CourseworkError(f"O corretor {name} não é um .zip válido: rode `make release`."
                              ) from exc
    return tests
