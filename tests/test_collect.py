"""A coleta das entregas e as planilhas da turma, sem caixa de areia: um arquivo ruim do .zip
(nome longo, caminho inseguro, ligação, nome repetido, bomba) vira a sua própria linha e não
derruba a turma; nenhuma planilha leva uma fórmula; a planilha do Moodle de um capítulo só conta
os notebooks dele."""

from __future__ import annotations

import csv
import io
import json
import shutil
import stat
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest

from coursetools.coursework import classreport, collect, common, gradebook, zipsafe
from coursetools.coursework.common import GRADED, REFUSED, Result
from coursetools.coursework.manifest import Chapter, Question

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()
GOOD = "Ana Souza_101_assignsubmission_file_/cap1.ipynb"
MB = 1024**2


def _zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """Um .zip com os arquivos dados (o nome repetido é de propósito: sem o aviso do zipfile)."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore", UserWarning)
        for name, data in members:
            zf.writestr(name, data)
    return path


def _link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: os bits de cima de external_attr são o st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _declare_size(archive: Path, name: str, size: int) -> None:
    """Troca o tamanho descomprimido de ``name`` no cabeçalho local e no diretório central do
    .zip: o cabeçalho passa a mentir."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        offset = zf.getinfo(name).header_offset
    struct.pack_into("<I", data, offset + 22, size)  # cabeçalho local: tamanho descomprimido
    start = 0
    while (start := data.find(b"PK\x01\x02", start + 1)) != -1:  # diretório central
        length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46:start + 46 + length]) == name.encode():
            struct.pack_into("<I", data, start + 24, size)
    archive.write_bytes(bytes(data))


def _collect(archive: Path, tmp_path: Path) -> dict[str, collect.Submission]:
    found, _ = collect.collect(archive, tmp_path / "extraido")
    keys = [s.key for s in found]
    assert len(keys) == len(set(keys)), keys
    return {s.key: s for s in found}


def _good_is_collected(found: dict[str, collect.Submission]) -> None:
    good = found[GOOD]
    assert not good.problem and good.path.read_bytes() == NOTEBOOK
    assert good.digest == collect.digest(NOTEBOOK) and good.participant == "101"


def _recorded(found: dict[str, collect.Submission], out: Path) -> dict[str, dict[str, str]]:
    """As linhas de notas.csv depois de gravar cada entrega como a correção grava: a recusada
    com ``REFUSED`` e a mensagem da coleta."""
    book = gradebook.Gradebook(out, {})
    for s in found.values():
        status, message = (REFUSED, s.problem) if s.problem else (GRADED, "ok")
        book.record(Result(s.key, status, message, possible=1.0, participant=s.participant,
                           student=s.student, warnings=list(s.notes)))
    with open(out / common.GRADEBOOK, encoding="utf-8-sig", newline="") as f:
        return {row["entrega"]: row for row in csv.DictReader(f)}


def _inside(folder: Path, root: Path) -> bool:
    return all(p.resolve().is_relative_to(root.resolve()) for p in folder.rglob("*"))


# --------------------------------------------------------------------------------------------
# nomes longos ou estranhos
# --------------------------------------------------------------------------------------------


def test_a_400_byte_name_is_collected_under_a_short_name_and_keeps_a_readable_key(tmp_path):
    """200 “ç” são 400 bytes, mais que os 255 de um nome de arquivo: antes, OSError (“File name
    too long”) e nenhuma planilha. Agora o arquivo é extraído com um nome curto, a chave guarda
    o começo do nome original e a extensão, e a planilha e a devolutiva são gravadas."""
    long_name = "Bruno Lima_102_assignsubmission_file_/" + "ç" * 200 + ".ipynb"
    long_folder = "Ç" * 100 + "_103_assignsubmission_file_/" + "ç" * 200 + ".ipynb"
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), (long_name, NOTEBOOK + b" "),
                                             (long_folder, NOTEBOOK)])
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    [other] = [k for k in found if k.startswith("Ç")]
    assert found[other].participant == "103" and not found[other].problem
    assert all(len(part.encode()) <= collect.KEY_PART_BYTES for part in other.split("/"))
    [key] = [k for k in found if k not in (GOOD, other)]
    entry = found[key]
    assert not entry.problem and entry.participant == "102"
    assert key.startswith("Bruno Lima_102_assignsubmission_file_/" + "ç" * 50)
    assert key.endswith(".ipynb") and "…" in key
    assert len(key.split("/")[1].encode()) <= collect.KEY_PART_BYTES
    assert len(entry.path.name) < 20 and entry.path.read_bytes() == NOTEBOOK + b" "
    rows = _recorded(found, tmp_path / "correcao")
    assert set(rows) == {GOOD, key, other}
    assert len(list((tmp_path / "correcao" / common.FEEDBACK_DIR).rglob("*.txt"))) == 3
    assert len(list((tmp_path / "correcao" / common.LOG_DIR).iterdir())) == 3


def test_control_characters_in_a_name_do_not_reach_the_key(tmp_path):
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), ("a\nb\u202etxt.ipynb", NOTEBOOK)])
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    assert "a\ufffdb\ufffdtxt.ipynb" in found


# --------------------------------------------------------------------------------------------
# caminhos inseguros e ligações: a linha deles, e o resto da turma
# --------------------------------------------------------------------------------------------


UNSAFE = {
    "subida": ("../x.ipynb", NOTEBOOK, "“..”"),
    "subida na pasta do Moodle": ("Ana Souza_101_assignsubmission_file_/../../x.ipynb", NOTEBOOK,
                                  "“..”"),
    "absoluto": ("{tmp}/fora/x.ipynb", NOTEBOOK, "absoluto"),
    "ligação": (*_link("Carla Dias_103_assignsubmission_file_/x.ipynb", "/etc/passwd"),
                "ligação simbólica"),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_an_unsafe_member_is_its_own_refused_row_and_the_class_is_graded(tmp_path, kind):
    """Antes, um só caminho inseguro recusava o .zip inteiro (nenhuma nota para ninguém)."""
    member, data, words = UNSAFE[kind]
    if isinstance(member, str):
        member = member.replace("{tmp}", str(tmp_path))
    name = member.filename if isinstance(member, zipfile.ZipInfo) else member
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), (member, data)])
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    refused = found[name]
    assert words in refused.problem and "não foi" in refused.problem
    assert not refused.path.exists() and refused.digest == collect.digest(b"")
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))
    assert _inside(tmp_path / "extraido", tmp_path / "extraido")
    out = tmp_path / "correcao"
    rows = _recorded(found, out)
    assert (rows[name]["situacao"], rows[name]["mensagem"]) == (REFUSED, refused.problem)
    assert rows[GOOD]["situacao"] == GRADED
    assert _inside(out, out) and not (tmp_path / "fora").exists()
    assert len(list((out / common.FEEDBACK_DIR).rglob("*.txt"))) == 2  # as duas, na pasta delas


def test_a_symlink_in_a_folder_is_not_followed(tmp_path):
    """Numa pasta de entregas (extraída com o ``unzip``, que cria ligações), a ligação não é
    seguida: o arquivo para onde ela aponta não entra na correção nem na devolutiva."""
    folder = tmp_path / "turma"
    (folder / "Ana Souza_101_assignsubmission_file_").mkdir(parents=True)
    (folder / GOOD).write_bytes(NOTEBOOK)
    secret = tmp_path / "segredo.ipynb"
    secret.write_bytes(NOTEBOOK + b"segredo")
    (folder / "ligacao.ipynb").symlink_to(secret)
    found, _ = collect.collect(folder, tmp_path / "extraido")
    found = {s.key: s for s in found}
    _good_is_collected(found)
    assert "ligação simbólica" in found["ligacao.ipynb"].problem
    assert found["ligacao.ipynb"].digest == collect.digest(b"")
    assert not found["ligacao.ipynb"].path.exists()


# --------------------------------------------------------------------------------------------
# nomes repetidos
# --------------------------------------------------------------------------------------------


def test_duplicate_names_are_both_kept_with_their_own_key_and_a_warning(tmp_path):
    """Antes, o segundo arquivo com o mesmo nome sobrescrevia o primeiro, sem aviso."""
    twice = "Bruno Lima_102_assignsubmission_file_/cap1.ipynb"
    archive = _zip(tmp_path / "tarefa.zip",
                   [(GOOD, NOTEBOOK), (twice, NOTEBOOK + b" "), (twice, NOTEBOOK + b"  "),
                    (twice, NOTEBOOK + b"   ")])
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    second = twice.replace("cap1.ipynb", "cap1 (2).ipynb")
    third = twice.replace("cap1.ipynb", "cap1 (3).ipynb")
    assert set(found) == {GOOD, twice, second, third}
    for key, data in ((twice, NOTEBOOK + b" "), (second, NOTEBOOK + b"  "),
                      (third, NOTEBOOK + b"   ")):
        assert found[key].path.read_bytes() == data and found[key].digest == collect.digest(data)
        assert found[key].participant == "102"
        [note] = found[key].notes
        assert "3 arquivos com o nome" in note and f"“{key}”" in note
    assert not found[GOOD].notes
    assert set(_recorded(found, tmp_path / "correcao")) == {GOOD, twice, second, third}


# --------------------------------------------------------------------------------------------
# bombas: o tamanho declarado e o que sai de fato
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [17 * MB, 1024**3], ids=["17MB", "1GiB-declarado"])
def test_a_member_declared_too_big_is_refused_without_being_read(tmp_path, monkeypatch,
                                                                   declared):
    """O tamanho declarado passa do limite por arquivo (16 MB): recusado antes de abrir o
    arquivo. Antes, a bomba de 1 GiB num .zip de 1 MB era lida inteira na memória."""
    data = bytes(17 * MB) if declared == 17 * MB else bytes(1000)
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), ("bomba.ipynb", data)])
    if declared != len(data):
        _declare_size(archive, "bomba.ipynb", declared)
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, member, *args, **kwargs):
        opened.append(getattr(member, "filename", member))
        return real_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    assert "bomba.ipynb" not in opened
    problem = found["bomba.ipynb"].problem
    assert "mais que o limite de 16 MB" in problem and "não foi extraído" in problem
    assert sum(p.stat().st_size for p in (tmp_path / "extraido").rglob("*") if p.is_file()) \
        == len(NOTEBOOK)


def test_a_header_that_understates_the_size_is_stopped_at_the_declared_size(tmp_path):
    """O cabeçalho declara 1.000 bytes, mas o conteúdo comprimido descomprime em 32 MB: a
    extração para no tamanho declarado, e o arquivo vira uma linha recusada (antes, o .zip
    inteiro era recusado como inválido)."""
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), ("mente.ipynb", bytes(32 * MB))])
    _declare_size(archive, "mente.ipynb", 1000)
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    problem = found["mente.ipynb"].problem
    assert "corrompido" in problem and "não foi extraído" in problem
    assert not found["mente.ipynb"].path.exists()
    assert [p.name for p in (tmp_path / "extraido").iterdir()] == [found[GOOD].path.name]


class _Endless(io.RawIOBase):
    """Um conteúdo muito maior que o declarado (64 MB, para que um extrator sem limite acabe),
    que conta quanto foi lido dele."""

    served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), 64 * MB - _Endless.served)
        _Endless.served += size
        buffer[:size] = bytes(size)
        return size


def test_a_stream_longer_than_declared_is_stopped_while_extracting(tmp_path, monkeypatch):
    """Se a leitura do .zip entregar mais do que o declarado (um leitor que não confere o
    tamanho), a extração para, em blocos, logo depois do tamanho declarado: nem a memória nem o
    disco dependem do que vem no arquivo."""
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), ("sem_fim.ipynb", bytes(1000))])
    real_open = zipfile.ZipFile.open

    def endless(self, member, *args, **kwargs):
        if getattr(member, "filename", member) == "sem_fim.ipynb":
            return io.BufferedReader(_Endless())
        return real_open(self, member, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", endless)
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    problem = found["sem_fim.ipynb"].problem
    assert "passou do tamanho que o .zip declara" in problem and "interrompida" in problem
    assert _Endless.served <= 1000 + 2 * zipsafe.CHUNK
    assert not found["sem_fim.ipynb"].path.exists()


def test_members_past_the_total_limit_are_refused_one_by_one(tmp_path, monkeypatch):
    """O total extraído passaria do limite: só o arquivo que o faria passar é recusado (antes, o
    .zip inteiro)."""
    monkeypatch.setattr(collect, "MAX_ZIP_BYTES", 3000)
    archive = _zip(tmp_path / "tarefa.zip", [(GOOD, NOTEBOOK), ("b.ipynb", bytes(2950)),
                                             ("c.ipynb", bytes(100))])
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    assert "o limite de uma correção" in found["b.ipynb"].problem
    assert not found["c.ipynb"].problem and found["c.ipynb"].path.read_bytes() == bytes(100)


def test_members_past_the_count_limit_become_one_row(tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "MAX_ZIP_FILES", 2)
    archive = _zip(tmp_path / "tarefa.zip",
                   [(GOOD, NOTEBOOK), ("b.ipynb", NOTEBOOK), ("c.ipynb", NOTEBOOK),
                    ("d.ipynb", NOTEBOOK)])
    found = _collect(archive, tmp_path)
    _good_is_collected(found)
    [extra] = [s for s in found.values() if s.problem]
    assert extra.key == "tarefa.zip (além de 2 arquivos)"
    assert "tem 4 arquivos; só os primeiros 2" in extra.problem
    assert "c.ipynb" not in found and "d.ipynb" not in found


def test_a_big_file_in_a_folder_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(collect, "MAX_MEMBER_BYTES", 1000)
    folder = tmp_path / "turma"
    folder.mkdir()
    (folder / "grande.ipynb").write_bytes(bytes(5000))
    (folder / "pequeno.ipynb").write_bytes(NOTEBOOK[:900])
    found, _ = collect.collect(folder, tmp_path / "extraido")
    found = {s.key: s for s in found}
    assert "mais que o limite" in found["grande.ipynb"].problem
    assert not found["pequeno.ipynb"].problem


# --------------------------------------------------------------------------------------------
# planilhas: nenhuma célula é uma fórmula
# --------------------------------------------------------------------------------------------


FORMULAS = ["=1+2+cmd|' calc'!A0", "+1+1", "-1+cmd", "@SUM(A1)", "\t=1", "\r=1", " =1",
            "\uff1d1+1"]


def _cells(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return [c for row in csv.reader(f) for c in row]


def _dangerous(cell: str) -> bool:
    return (cell[:1] in gradebook.FORMULA or cell.lstrip()[:1] in gradebook.FORMULA) \
        and not gradebook.NUMBER.fullmatch(cell)


def test_cell_neutralises_formulas_and_keeps_numbers():
    for text in FORMULAS:
        assert gradebook.cell(text) == "'" + text
    for text in ("-1", "-2.5", "1e-05", "10", "", "texto", "'=já neutralizada"):
        assert gradebook.cell(text) == text


def test_no_csv_the_grading_writes_carries_a_formula(tmp_path):
    """Uma entrega chamada “=1+2+cmd|' calc'!A0.ipynb” (e um estudante, uma falha e um
    comentário que começam com fórmulas) não chega como fórmula a nenhuma planilha; um número
    negativo de verdade (um ajuste) continua número, e o ajuste copiado de notas.csv (com o
    apóstrofo) vale."""
    chapter = Chapter("cap", "Capítulo", "e.ipynb", "c.zip", "s.ipynb",
                      [Question("q1", 2.0, ["f"], ["..."])])
    out = tmp_path / "correcao"
    book = gradebook.Gradebook(out, {"cap": chapter})
    names = [f"{f}.ipynb" for f in FORMULAS]
    for number, key in enumerate(names, start=101):
        book.record(Result(key, GRADED, "=HYPERLINK(\"http://x\")", chapter="cap",
                           possible=2.0, scores={"q1": 2.0}, participant=str(number),
                           student="@Ana", fingerprints={"q1": "mesma"},
                           failures={"q1": "=1+1 falhou"}))
    with open(out / common.ADJUSTMENTS, "a", encoding="utf-8") as f:
        csv.writer(f).writerow([gradebook.cell(names[1]), "q1", "-1", "penalidade"])
    book.write_csv()
    classreport.write_class_outputs(book.rows(), {"cap": chapter}, out)
    written = [common.GRADEBOOK, common.SUMMARY, common.DUPLICATES, common.MOODLE_SHEET]
    for name in written:
        cells = _cells(out / name)
        assert cells and not [c for c in cells if _dangerous(c)], name
    assert "'" + names[0] in _cells(out / common.GRADEBOOK)
    assert any(names[2] in c for c in _cells(out / common.DUPLICATES))
    with open(out / common.GRADEBOOK, encoding="utf-8-sig", newline="") as f:
        rows = {r["entrega"]: r for r in csv.DictReader(f)}
    assert rows[gradebook.cell(names[1])]["q1"] == "-1"  # o ajuste valeu, e é número


# --------------------------------------------------------------------------------------------
# a planilha do Moodle de cada capítulo
# --------------------------------------------------------------------------------------------


def _result(key: str, participant: str, chapter: str, total: float,
            status: str = GRADED) -> Result:
    return Result(f"{key}_{participant}_assignsubmission_file_/x.ipynb", status, "ok",
                  chapter=chapter, possible=None if not chapter else 10.0,
                  scores={"q": total} if chapter else {}, participant=participant,
                  student=key)


def _sheet(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return {r["Identificador"]: r["Nota"] for r in csv.DictReader(f)}


def test_the_moodle_sheet_of_a_chapter_ignores_other_chapters_files(tmp_path):
    """A solução do capítulo 3 (nota 10) enviada na tarefa do capítulo 4 não dá 10 no 4: cada
    capítulo tem a sua planilha, e só os notebooks dele contam. Sem ``moodle.csv`` (não se sabe
    de que tarefa é o PDF), e a de uma correção anterior é apagada."""
    (tmp_path / common.MOODLE_SHEET).write_text("antiga", encoding="utf-8")
    rows = [_result("Ana", "101", "cap3", 10), _result("Ana", "101", "cap4", 2),
            _result("Bruno", "102", "cap3", 10), _result("Carla", "103", "cap4", 5),
            _result("Davi", "104", "", 0, common.NOT_NOTEBOOK)]
    written = classreport.write_moodle_sheets(rows, tmp_path, "pt_br")
    assert sorted(p.name for p in written) == ["moodle-cap3.csv", "moodle-cap4.csv"]
    assert not (tmp_path / common.MOODLE_SHEET).exists()
    assert _sheet(tmp_path / "moodle-cap4.csv") == {"Participante101": "2",
                                                    "Participante103": "5"}
    assert _sheet(tmp_path / "moodle-cap3.csv") == {"Participante101": "10",
                                                    "Participante102": "10"}
    classreport.write_moodle(rows, tmp_path / "so4.csv", "pt_br", "cap4")
    assert _sheet(tmp_path / "so4.csv")["Participante101"] == "2"


def test_one_chapter_gives_moodle_csv_with_every_participant(tmp_path):
    """O .zip de uma tarefa (um capítulo): ``moodle.csv``, com 0 para quem não entregou um
    notebook do capítulo; as planilhas por capítulo de antes são apagadas."""
    (tmp_path / "moodle-cap3.csv").write_text("antiga", encoding="utf-8")
    rows = [_result("Ana", "101", "cap4", 7), _result("Ana", "101", "", 0, REFUSED),
            _result("Davi", "104", "", 0, common.NOT_NOTEBOOK)]
    written = classreport.write_moodle_sheets(rows, tmp_path, "pt_br")
    assert [p.name for p in written] == [common.MOODLE_SHEET]
    assert not (tmp_path / "moodle-cap3.csv").exists()
    assert _sheet(tmp_path / common.MOODLE_SHEET) == {"Participante101": "7",
                                                      "Participante104": "0"}


def test_per_chapter_moodle_sheets_stay_out_of_git():
    """As planilhas por capítulo têm notas de estudantes: o ``.gitignore`` as cobre."""
    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("sem git aqui")
    paths = ["resultado/moodle-03_variancia.csv", f"resultado/{common.MOODLE_SHEET}"]
    checked = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=root,
                             input="\n".join(paths) + "\n", capture_output=True, text=True,
                             timeout=60)
    assert checked.stdout.split() == paths
