"""Quanto custa corrigir uma turma: ``python -m coursetools.coursework.benchmark``.

Monta, a partir da liberação, uma turma de entregas comuns de um capítulo (completas, em branco
e com um exercício errado, nas proporções 3 : 2 : 1), corrige todas com as opções padrão e
imprime o tempo total, o tempo por entrega e o pico de memória das caixas; depois, roda o
``otter run`` puro (sem caixa, o notebook inteiro) nas primeiras ``--otter`` entregas, para
comparar. É uma medição, não um teste: os números dependem da máquina.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coursetools.coursework import grading, notebooks

ANSWER_TAG = "otter_answer_cell"
SOLUTION_TAG = "otter_assign_solution_cell"


def _answers(release: Path, chapter: str) -> tuple[dict, list[int], list[str]]:
    """O notebook do estudante, as posições das células de resposta e as respostas certas."""
    student = json.loads((release / "estudantes" / f"{chapter}.ipynb").read_text("utf-8"))
    solution = json.loads((release / "solucoes" / f"{chapter}.ipynb").read_text("utf-8"))
    slots = [i for i, c in enumerate(student["cells"])
             if ANSWER_TAG in c.get("metadata", {}).get("tags", [])]
    right = [re.sub(r"^\s*# (BEGIN|END) SOLUTION\n", "", notebooks.source(c), flags=re.M)
             for c in solution["cells"] if SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]
    return student, slots, right


def make_class(release: Path, chapter: str, folder: Path, total: int) -> list[Path]:
    """``total`` entregas: metade completas, um terço em branco, um sexto com o primeiro
    exercício errado (devolve o primeiro argumento)."""
    student, slots, right = _answers(release, chapter)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(total):
        notebook = json.loads(json.dumps(student))
        kind = ("completa", "em_branco", "com_erro")[[0, 0, 0, 1, 1, 2][index % 6]]
        if kind != "em_branco":
            for slot, code in zip(slots, right, strict=True):
                notebook["cells"][slot]["source"] = code
        if kind == "com_erro":
            first = notebook["cells"][slots[0]]["source"]
            header = first.split("\n", 1)[0]
            argument = re.search(r"\(\s*(\w+)", header).group(1)
            notebook["cells"][slots[0]]["source"] = f"{header}\n    return {argument}\n"
        path = folder / f"{index:03d}_{kind}.ipynb"
        path.write_text(json.dumps(notebook, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths


def _peaks(out: Path) -> list[float]:
    """O pico de memória de cada caixa, em MB, tirado dos registros."""
    found = []
    for log in (out / "registro").glob("*.log"):
        match = re.search(r"pico de memória da caixa: (\d+) MB", log.read_text("utf-8"))
        if match:
            found.append(float(match.group(1)))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", type=Path, default=Path("release"))
    parser.add_argument("--capitulo", default="01_processamento_sequencial")
    parser.add_argument("--entregas", type=int, default=60)
    parser.add_argument("--otter", type=int, default=20)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="medicao-correcao-"))
    try:
        paths = make_class(args.release, args.capitulo, work / "turma", args.entregas)
        start = time.perf_counter()
        results = grading.grade(work / "turma", args.release, work / "correcao",
                                log=lambda _: None)
        ours = time.perf_counter() - start
        peaks = _peaks(work / "correcao")
        statuses = sorted({r.status for r in results})
        print(f"correção do curso: {len(paths)} entregas em {ours:.1f} s "
              f"({ours / len(paths):.2f} s por entrega; situações: {', '.join(statuses)})")
        if peaks:
            print(f"pico de memória por caixa: mediana {sorted(peaks)[len(peaks) // 2]:.0f} MB, "
                  f"máximo {max(peaks):.0f} MB")
        if args.otter:
            zip_path = args.release / "corretor" / f"{args.capitulo}.zip"
            start = time.perf_counter()
            for path in paths[:args.otter]:
                subprocess.run([sys.executable, "-m", "otter", "run", "-a", str(zip_path), "-o",
                                str(work / "otter"), "--no-logo", str(path)],
                               capture_output=True, check=False)
            bare = time.perf_counter() - start
            subset = work / "turma20"
            subset.mkdir()
            for path in paths[:args.otter]:
                shutil.copy(path, subset / path.name)
            start = time.perf_counter()
            grading.grade(subset, args.release, work / "correcao20", log=lambda _: None)
            ours20 = time.perf_counter() - start
            print(f"as mesmas {args.otter} entregas: otter run puro, uma por vez, {bare:.1f} s; "
                  f"correção do curso {ours20:.1f} s ({ours20 / bare:.2f}× o otter)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
