"""Extrair um arquivo de um .zip de entregas sem confiar no cabeçalho dele (``collect``): os
limites de tamanho, os métodos de compressão aceitos, o caminho seguro e a extração em blocos,
interrompida no limite. O que não pode ser extraído levanta ``Refused`` com a mensagem em
português que vai para a linha da entrega."""

from __future__ import annotations

import hashlib
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

MB = 1024**2
# Um notebook do curso com todas as saídas (gráficos em PNG, tabelas) tem de 1 a 3 MB; 16 MB é
# folga de cinco vezes. Um arquivo maior não é uma entrega plausível, e a correção lê cada
# entrega inteira na memória (o nbformat ainda multiplica isso ao validá-la).
MAX_MEMBER_BYTES = 16 * MB
# O .zip de uma tarefa: uma turma de 200 estudantes com notebooks de 5 MB dá 1 GB; 2 GB é o
# dobro disso e cabe com folga no disco de qualquer máquina de correção.
MAX_ZIP_BYTES = 2 * 1024 * MB
CHUNK = MB  # a extração lê e grava em blocos deste tamanho: a memória não depende do arquivo
# Os métodos de compressão extraídos: o “deflate” (o do Moodle e de quase todo programa) e
# nenhum. No bzip2 e no LZMA, o zipfile descomprime cada bloco lido inteiro na memória, sem
# limite, e uma bomba passaria por aí.
COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)

NOT_EXTRACTED = "não foi extraído nem corrigido"
LINK = ("É uma ligação simbólica (aponta para outro arquivo do computador), não um arquivo "
        "entregue: {}.")


class Refused(Exception):
    """Um arquivo do .zip que não é extraído; a mensagem vai para a linha dele."""


def human_size(n: int) -> str:
    """Um tamanho em MB ou GB, com vírgula decimal: “16 MB”, “1,5 GB”."""
    value, unit = (n / 1024**3, "GB") if n >= 1024**3 else (n / MB, "MB")
    return f"{value:.1f}".removesuffix(".0").replace(".", ",") + f" {unit}"


def too_big(size: int) -> str:
    limit = human_size(MAX_MEMBER_BYTES)
    return (f"O arquivo tem {human_size(size)}, mais que o limite de {limit} por "
            f"entrega (um notebook com as saídas tem poucos MB): {NOT_EXTRACTED}. Se for mesmo "
            "a entrega, peça ao estudante que apague as saídas (Edit → Clear Outputs of All "
            "Cells) e a envie de novo.")


def unsafe_path(member: zipfile.ZipInfo) -> str:
    """Por que o caminho do arquivo é inseguro (``""`` se não é)."""
    path = PurePosixPath(member.filename)
    if stat.S_ISLNK(member.external_attr >> 16):
        return LINK.format("não foi criada no disco nem corrigida")
    if path.is_absolute():
        return (f"O caminho do arquivo no .zip é absoluto (começa com “/”), o que um .zip de "
                f"entregas nunca tem: {NOT_EXTRACTED}.")
    if not path.parts:
        return f"O arquivo não tem nome no .zip: {NOT_EXTRACTED}."
    if ".." in path.parts:
        return (f"O caminho do arquivo no .zip tem “..” e o levaria para fora da pasta das "
                f"entregas: {NOT_EXTRACTED}.")
    return ""


def extract(zf: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path, room: int) -> str:
    """Extrai um arquivo em ``path``, em blocos, e devolve o seu resumo SHA-256. Confere o
    tamanho declarado antes de abrir, e o que sai de fato a cada bloco: nunca grava mais que o
    declarado nem que ``MAX_MEMBER_BYTES``, diga o cabeçalho o que disser."""
    if member.flag_bits & 0x1:
        raise Refused(f"O arquivo está protegido por senha no .zip: {NOT_EXTRACTED}.")
    if member.compress_type not in COMPRESSIONS:
        raise Refused(f"O arquivo está comprimido no .zip por um método (número "
                       f"{member.compress_type}) que a correção não extrai; só o “deflate”, o "
                       f"do Moodle, ou sem compressão: {NOT_EXTRACTED}.")
    if member.file_size > MAX_MEMBER_BYTES:
        raise Refused(too_big(member.file_size))
    if member.file_size > room:
        raise Refused(f"Com este arquivo, o que foi extraído do .zip passaria de "
                       f"{human_size(MAX_ZIP_BYTES)}, o limite de uma correção: {NOT_EXTRACTED}. "
                       "Divida as entregas em mais de um .zip.")
    sha, written, limit = hashlib.sha256(), 0, min(member.file_size, MAX_MEMBER_BYTES)
    try:
        with zf.open(member) as stream, path.open("xb") as out:
            while chunk := stream.read(CHUNK):
                written += len(chunk)
                if written > limit:  # o bloco que passaria do limite nem é gravado
                    raise Refused(
                        f"Ao ser extraído, o arquivo passou do tamanho que o .zip declara "
                        f"({member.file_size} bytes; o limite é {human_size(MAX_MEMBER_BYTES)}): a "
                        f"extração foi interrompida, e ele não foi corrigido.")
                sha.update(chunk)
                out.write(chunk)
    except ZIP_ERRORS as exc:
        raise Refused(f"O arquivo está corrompido no .zip (o conteúdo não confere com o "
                       f"tamanho ou o resumo CRC declarados): {NOT_EXTRACTED}. Baixe o .zip de "
                       "novo do Moodle.") from exc
    return sha.hexdigest()
