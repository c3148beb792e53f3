"""As entregas a corrigir: um arquivo, uma pasta, a pasta ou o .zip do “Baixar todas as
tarefas enviadas” do Moodle. Cada entrega é lida uma vez, com o seu resumo SHA-256, e ganha uma
chave (o caminho relativo), o número do participante no Moodle e o nome do estudante, se houver.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coursetools.coursework.common import CourseworkError

# “Nome Completo_123456_assignsubmission_file_” (pasta) ou “..._file_arquivo.ipynb” (arquivo)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_[a-z]+_"
                    r"(?P<rest>.*)$")
MAX_ZIP_BYTES = 2 * 1024**3  # o que um .zip de entregas pode ter, descomprimido
MAX_ZIP_FILES = 20000


@dataclass(frozen=True)
class Submission:
    """Um arquivo entregue, já lido."""

    key: str  # o caminho relativo à pasta de entregas (ou ao .zip), com “/”
    path: Path  # onde ele está (dentro da pasta extraída, se veio de um .zip)
    digest: str  # SHA-256 do conteúdo lido
    participant: str = ""  # o número do participante no Moodle
    student: str = ""  # o nome do estudante, como o Moodle o escreve

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def collect(source: Path, extract_to: Path) -> tuple[list[Submission], Path]:
    """As entregas de ``source`` (arquivo, pasta ou .zip do Moodle) e a pasta a que as chaves
    se referem. Um .zip é extraído, com cuidado, em ``extract_to``."""
    source = Path(source)
    if not source.exists():
        raise CourseworkError(f"As entregas {source} não existem.")
    if source.is_file() and source.suffix.lower() == ".zip":
        root = extract_zip(source, extract_to)
        return _walk(root), root
    if source.is_file():  # um arquivo de uma pasta do Moodle mantém a chave com a pasta
        if MOODLE.match(source.parent.name):
            return [_read(source, f"{source.parent.name}/{source.name}")], source.parent.parent
        return [_read(source, source.name)], source.parent
    return _walk(source), source


def _walk(root: Path) -> list[Submission]:
    """Os arquivos da pasta (e das pastas do Moodle dentro dela), na ordem dos nomes; ignora os
    ocultos (começados por ponto). Outras subpastas viram uma entrega (“é uma pasta”)."""
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir() and MOODLE.match(path.name):
            found += [_read(f, f"{path.name}/{f.name}") for f in sorted(path.iterdir())
                      if f.is_file() and not f.name.startswith(".")]
        else:
            found.append(_read(path, path.name))
    return found


def _read(path: Path, key: str) -> Submission:
    data = path.read_bytes() if path.is_file() else b""
    match = MOODLE.match(key.split("/")[0])
    participant, student = (match.group("id"), match.group("name")) if match else ("", "")
    return Submission(key, path, digest(data), participant, student)


def extract_zip(archive: Path, destination: Path) -> Path:
    """Extrai o .zip de entregas em ``destination``, recusando nomes que saiam da pasta
    (absolutos, com “..”), ligações e um tamanho descomprimido absurdo."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise CourseworkError(f"O arquivo {archive.name} é grande demais para ser um "
                                      ".zip de entregas.")
            for member in members:
                _extract_member(zf, member, destination)
    except zipfile.BadZipFile as exc:
        raise CourseworkError(f"O arquivo {archive.name} não é um .zip válido.") from exc
    return destination


def _extract_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, destination: Path) -> None:
    name = PurePosixPath(member.filename)
    is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
    if name.is_absolute() or ".." in name.parts or is_link:
        raise CourseworkError(f"O .zip tem um caminho inseguro, recusado: {member.filename}")
    target = destination.joinpath(*name.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(zf.read(member))
