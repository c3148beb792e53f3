"""`otter assign` gera, de cada capítulo, a versão do estudante sem o código das soluções."""

import json
import re
import subprocess

import pytest
from conftest import BIN, chapter_notebooks


def _solution_lines(notebook: dict) -> list[str]:
    """As linhas de código entre # BEGIN SOLUTION e # END SOLUTION no notebook do professor."""
    lines = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        for block in re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION", source, re.S):
            lines += [line.strip() for line in block.splitlines() if line.strip()]
    return lines


@pytest.mark.parametrize("notebook", chapter_notebooks(), ids=lambda p: p.stem)
def test_student_release_has_no_solution_code(tmp_path, notebook):
    result = subprocess.run(
        [str(BIN / "otter"), "assign", "--no-run-tests", str(notebook), str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    student_path = tmp_path / "student" / notebook.name
    autograder_path = tmp_path / "autograder" / notebook.name
    assert student_path.exists() and autograder_path.exists()
    assert list((tmp_path / "autograder").glob("*.zip")), "falta o arquivo do corretor"

    master = json.loads(notebook.read_text(encoding="utf-8"))
    solution = _solution_lines(master)
    assert solution, "o capítulo não tem soluções marcadas"
    student = json.loads(student_path.read_text(encoding="utf-8"))
    student_code = "\n".join("".join(c["source"]) for c in student["cells"])
    leaked = [line for line in solution if line in student_code]
    assert not leaked, f"código da solução no notebook do estudante: {leaked}"
    assert "BEGIN SOLUTION" not in student_code and "# HIDDEN" not in student_code
    assert "thorough=True" not in student_path.read_text(encoding="utf-8")  # testes ocultos
    assert "..." in student_code  # o lugar onde o estudante escreve
