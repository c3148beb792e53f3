"""As entregas a corrigir: um arquivo, uma pasta, a pasta ou o .zip do “Baixar todas as
tarefas enviadas” do Moodle. Cada entrega é lida uma vez, com o seu resumo SHA-256, e ganha uma
chave (o caminho relativo, com “/”), o número do participante no Moodle e o nome do estudante,
se houver.

Nenhum arquivo derruba a coleta nem a turma. O que não pode ser lido com segurança vira uma
entrega **recusada**: ``Submission.problem`` traz a mensagem em português, a situação é
``REFUSED`` (“arquivo recusado”), o ``path`` não aponta para nada (um nome terminado em
``.recusado`` na pasta de extração, que nunca é criado) e o ``digest`` é o do conteúdo vazio;
a entrega tem a sua linha na planilha como qualquer outra, e as demais seguem. São recusados:

- do .zip, o caminho que sairia da pasta (com “..”) ou absoluto; a ligação simbólica (nunca
  criada no disco); o arquivo maior que ``MAX_MEMBER_BYTES``, pelo tamanho declarado e pelo que
  de fato sai na extração, lida em blocos e interrompida no limite (um cabeçalho que mente sobre
  o tamanho não passa); o que faria o total extraído passar de ``MAX_ZIP_BYTES``; o arquivo com
  senha, com outra compressão que não o “deflate” ou corrompido; e os que passam de
  ``MAX_ZIP_FILES`` (uma linha só para todos eles);
- de uma pasta, a ligação simbólica (não é seguida) e o arquivo maior que ``MAX_MEMBER_BYTES``.

Cada arquivo do .zip é extraído com um nome curto e único (o número de ordem e a extensão, como
``00007.ipynb``), nunca com o nome que veio no .zip: um nome longo demais para o sistema de
arquivos (200 “ç” são 400 bytes; o limite é 255) ou estranho nunca chega ao disco. A chave guarda
o nome original, legível: caracteres de controle viram “�”, e cada parte com mais de
``KEY_PART_BYTES`` bytes é cortada, com oito dígitos do resumo do nome inteiro para continuar
única. Dois arquivos com o mesmo nome no .zip ficam os dois, cada um com a sua chave (o segundo
com “ (2)” antes da extensão) e um aviso em ``Submission.notes``.

A entrega é um arquivo da pasta (ou do .zip); dentro de uma pasta do Moodle
(“Nome Completo_123456_assignsubmission_file_”), cada arquivo dela. Outra pasta, em qualquer
desses dois níveis, é uma entrega só (“é uma pasta”). Os nomes começados por ponto (ocultos) são
ignorados.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from coursetools.coursework.common import CourseworkError
from coursetools.coursework.zipsafe import (
    LINK,
    MAX_MEMBER_BYTES,
    MAX_ZIP_BYTES,
    Refused,
    extract,
    too_big,
    unsafe_path,
)

MAX_ZIP_FILES = 20000  # cem arquivos por estudante numa turma de 200
# “Nome Completo_123456_assignsubmission_file_” (pasta) ou “..._file_arquivo.ipynb” (arquivo)
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_[a-z]+_"
                    r"(?P<rest>.*)$")
# O nome de um arquivo no Linux (ext4, XFS, Btrfs) tem no máximo 255 bytes.
NAME_BYTES = 255
# Cada parte da chave fica com no máximo 160 bytes (80 letras acentuadas): ainda se reconhece o
# nome numa célula da planilha, e a devolutiva (chave + “.txt”) cabe num nome de arquivo.
KEY_PART_BYTES = 160
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")  # invertem o texto exibido



@dataclass(frozen=True)
class Submission:
    """Um arquivo entregue, já lido (ou recusado: ``problem`` não vazio)."""

    key: str  # o caminho relativo à pasta de entregas (ou ao .zip), com “/”
    path: Path  # onde ele está (dentro da pasta extraída, se veio de um .zip)
    digest: str  # SHA-256 do conteúdo lido
    participant: str = ""  # o número do participante no Moodle
    student: str = ""  # o nome do estudante, como o Moodle o escreve
    # Se não vazio, a entrega foi recusada (situação ``REFUSED``) e esta é a mensagem da linha;
    # ``path`` não aponta para nada (``*.recusado``) e ``digest`` é o do conteúdo vazio.
    problem: str = ""
    notes: tuple[str, ...] = ()  # avisos da coleta para a devolutiva (nome repetido no .zip)

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


EMPTY = digest(b"")


def collect(source: Path, extract_to: Path) -> tuple[list[Submission], Path]:
    """As entregas de ``source`` (arquivo, pasta ou .zip do Moodle), na ordem das chaves, e a
    pasta em que estão. Um .zip é extraído, com cuidado, em ``extract_to`` (com nomes curtos:
    a chave, não o caminho, é o nome no .zip)."""
    source = Path(source)
    if not source.exists():
        raise CourseworkError(f"As entregas {source} não existem.")
    try:
        if source.is_file() and source.suffix.lower() == ".zip":
            return extract_zip(source, extract_to), extract_to
        if source.is_file():  # um arquivo de uma pasta do Moodle mantém a chave com a pasta
            if MOODLE.match(source.parent.name):
                key = f"{source.parent.name}/{source.name}"
                return [_read(source, key.split("/"), extract_to)], source.parent.parent
            return [_read(source, [source.name], extract_to)], source.parent
        return _walk(source, extract_to), source
    except OSError as exc:
        raise CourseworkError(f"Não foi possível ler ou extrair as entregas {source}: "
                              f"{exc.strerror or exc}.") from exc


# --------------------------------------------------------------------------------------------
# as chaves: o nome original, legível
# --------------------------------------------------------------------------------------------


def _extension(name: str) -> tuple[str, str]:
    """``(nome sem a extensão, extensão)``; só conta como extensão um “.” seguido de 1 a 10
    letras ou algarismos."""
    match = re.search(r"\.[A-Za-z0-9]{1,10}$", name)
    return (name[:match.start()], match.group()) if match and match.start() else (name, "")


def shorten(name: str, limit: int) -> str:
    """``name``, se cabe em ``limit`` bytes (UTF-8); senão, o começo dele, “…”, oito dígitos do
    resumo SHA-256 do nome inteiro (dois nomes longos que começam igual continuam diferentes) e
    a extensão."""
    data = name.encode()
    if len(data) <= limit:
        return name
    stem, extension = _extension(name)
    tail = f"…{digest(data)[:8]}{extension}"
    return stem.encode()[:limit - len(tail.encode())].decode(errors="ignore") + tail


def _clean(part: str) -> str:
    """Uma parte do nome que se pode mostrar: bytes que não são UTF-8 (de um nome no disco),
    caracteres de controle e os que invertem o texto exibido viram “�”."""
    part = part.encode(errors="surrogateescape").decode(errors="replace")
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" or c in BIDI else c
                   for c in part)


def _key(parts: list[str] | tuple[str, ...]) -> str:
    return "/".join(shorten(_clean(p), KEY_PART_BYTES) for p in parts)


def _entry(key: str, path: Path, sha: str = EMPTY, origin: str = "") -> Submission:
    """Uma entrega; o participante e o estudante vêm da pasta do Moodle no nome original
    (``origin``, se a chave foi cortada)."""
    match = MOODLE.match((origin or key).split("/")[0])
    participant, student = (match.group("id"), match.group("name")) if match else ("", "")
    return Submission(key, path, sha, participant, student)


def _refused(key: str, problem: str, origin: str, where: Path) -> Submission:
    """Uma entrega recusada: o ``path`` é um nome em ``where`` que nunca é criado."""
    nowhere = where / f"{digest(key.encode())[:16]}.recusado"
    return dataclasses.replace(_entry(key, nowhere, origin=origin), problem=problem)


# --------------------------------------------------------------------------------------------
# uma pasta
# --------------------------------------------------------------------------------------------


def _walk(root: Path, where: Path) -> list[Submission]:
    """As entregas da pasta (e das pastas do Moodle dentro dela), na ordem dos nomes."""
    found = []
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        if MOODLE.match(path.name) and path.is_dir() and not path.is_symlink():
            found += [_read(f, [path.name, f.name], where)
                      for f in sorted(path.iterdir()) if not f.name.startswith(".")]
        else:
            found.append(_read(path, [path.name], where))
    return found


def _read(path: Path, parts: list[str], where: Path) -> Submission:
    """Lê um arquivo (no máximo ``MAX_MEMBER_BYTES`` e um byte); uma pasta tem o conteúdo vazio.
    A ligação simbólica não é seguida: poderia trazer para a correção (e para a devolutiva)
    qualquer arquivo do computador. ``parts`` é o caminho da chave, como está no disco."""
    key, origin = _key(parts), "/".join(parts)
    if path.is_symlink():
        return _refused(key, LINK.format("não foi seguida nem corrigida"), origin, where)
    if not path.is_file():
        return _entry(key, path, origin=origin)
    with path.open("rb") as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        return _refused(key, too_big(path.stat().st_size), origin, where)
    return _entry(key, path, digest(data), origin=origin)


# --------------------------------------------------------------------------------------------
# o .zip
# --------------------------------------------------------------------------------------------


def extract_zip(archive: Path, destination: Path) -> list[Submission]:
    """As entregas do .zip, cada arquivo extraído em ``destination`` com um nome curto; os que
    não podem ser extraídos com segurança viram entregas recusadas. Só um arquivo que não é um
    .zip para a coleta."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, ValueError) as exc:
        raise CourseworkError(f"O arquivo {archive.name} não é um .zip válido.") from exc
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        found: list[Submission] = []
        folders: set[str] = set()  # as pastas que já são uma entrega
        total = 0
        for number, member in enumerate(members[:MAX_ZIP_FILES], start=1):
            entry = _member(zf, member, destination / f"{number:05d}", folders, total)
            if entry is not None:
                found.append(entry)
                total += entry.path.stat().st_size if entry.path.is_file() else 0
    if len(members) > MAX_ZIP_FILES:
        found.append(_refused(f"{_key([archive.name])} (além de {MAX_ZIP_FILES} arquivos)",
                              f"O .zip tem {len(members)} arquivos; só os primeiros "
                              f"{MAX_ZIP_FILES} foram extraídos, e os outros "
                              f"{len(members) - MAX_ZIP_FILES} não foram corrigidos. Divida as "
                              "entregas em mais de um .zip.", "", destination))
    return sorted(_unique(found), key=lambda s: s.key)


def _member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, stem: Path, folders: set[str],
            total: int) -> Submission | None:
    """A entrega de um arquivo do .zip (``None`` se é oculto ou de uma pasta que já é uma
    entrega); ``stem`` é o nome curto no disco, sem a extensão."""
    name = member.filename
    parts = PurePosixPath(name).parts
    problem = unsafe_path(member)
    if problem:  # a chave mostra o caminho como veio, com o “..” ou a “/” do começo
        return _refused(_key(name.split("/")), problem, name, stem.parent)
    entry = parts[:2] if len(parts) > 1 and MOODLE.match(parts[0]) else parts[:1]
    if any(p.startswith(".") for p in entry):
        return None
    if len(entry) < len(parts):  # dentro de outra pasta: a pasta é a entrega (“é uma pasta”)
        key = _key(entry)
        if key in folders:
            return None
        folders.add(key)
        stem.mkdir()
        return _entry(key, stem, origin=name)
    path = stem.with_name(stem.name + _extension(parts[-1])[1])
    try:
        sha = extract(zf, member, path, MAX_ZIP_BYTES - total)
    except Refused as refused:
        path.unlink(missing_ok=True)
        return _refused(_key(parts), str(refused), name, stem.parent)
    return _entry(_key(parts), path, sha, origin=name)


def _unique(found: list[Submission]) -> list[Submission]:
    """As entregas com chaves únicas: a segunda com o mesmo nome ganha “ (2)” antes da
    extensão, a terceira “ (3)”..., e todas elas um aviso."""
    counts = Counter(s.key for s in found)
    used = set(counts)
    seen: Counter[str] = Counter()
    unique = []
    for s in found:
        if counts[s.key] == 1:
            unique.append(s)
            continue
        seen[s.key] += 1
        key, number = s.key, seen[s.key]
        stem, extension = _extension(s.key)
        while number > 1 and key in used:
            key = f"{stem} ({number}){extension}"
            number += 1
        used.add(key)
        note = (f"O .zip tem {counts[s.key]} arquivos com o nome “{s.key}”: cada um foi "
                f"corrigido à parte, com a sua linha na planilha; este é “{key}”.")
        unique.append(dataclasses.replace(s, key=key, notes=(*s.notes, note)))
    return unique
