"""A edição do estudante (coursetools.student.with_outputs): as células iguais às do notebook do
professor recebem as saídas dele; as respostas em branco, não."""

from coursetools import student


def _code(source: str, cell_id: str, tags=(), outputs=()) -> dict:
    return {"cell_type": "code", "id": cell_id, "source": source, "execution_count": 1,
            "metadata": {"tags": list(tags)}, "outputs": list(outputs)}


OUTPUT = {"output_type": "stream", "name": "stdout", "text": "0,82\n"}


def test_outputs_follow_cells_that_end_with_a_newline():
    """Uma célula cujo código termina em quebra de linha continua com a sua saída (um ``glue``
    sem saída quebra a construção do site)."""
    master = {"cells": [_code("glue('x', 0.82)\n", "a", outputs=[OUTPUT]),
                        _code("x = 1\n# BEGIN SOLUTION\ny = 2\n# END SOLUTION\n", "b",
                              ["otter_answer_cell"], [OUTPUT])]}
    released = {"cells": [_code("glue('x', 0.82)\n", "a"),
                          _code("x = 1\ny = ...", "b", ["otter_answer_cell"])]}
    page = student.with_outputs(released, master)
    assert page["cells"][0]["outputs"] == [OUTPUT]
    assert page["cells"][1]["outputs"] == []  # a resposta em branco fica sem a saída da solução
    with_solutions = student.with_outputs(released, master, solutions=True)
    assert with_solutions["cells"][1]["source"] == "x = 1\ny = 2\n"
    assert with_solutions["cells"][1]["outputs"] == [OUTPUT]


def test_answer_keys_of_written_questions_come_back_only_with_solutions():
    """O gabarito de uma pergunta escrita (markdown dentro do bloco de solução do otter) volta,
    logo depois da resposta, só na edição com soluções."""
    key = {"cell_type": "markdown", "id": "k", "metadata": {}, "source": "**Gabarito.** 42"}
    master = {"cells": [
        {"cell_type": "raw", "id": "r1", "metadata": {}, "source": "# BEGIN SOLUTION"},
        _code("def f():\n    # BEGIN SOLUTION\n    return 42\n    # END SOLUTION\n", "b",
              ["otter_answer_cell"]),
        key,
        {"cell_type": "raw", "id": "r2", "metadata": {}, "source": "# END SOLUTION"},
        _code("print(1)", "c", outputs=[OUTPUT])]}
    released = {"cells": [_code("def f():\n    ...", "b", ["otter_answer_cell"]),
                          _code("print(1)", "c")]}
    assert [c["id"] for c in student.with_outputs(released, master)["cells"]] == ["b", "c"]
    page = student.with_outputs(released, master, solutions=True)
    assert [c["id"] for c in page["cells"]] == ["b", "k", "c"]
    assert page["cells"][1]["source"] == key["source"]
