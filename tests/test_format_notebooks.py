"""The notebook formatter (tools/format_notebooks.py): lines to at most 88 characters, sources only, and a check."""

from __future__ import annotations

import nbformat
import pytest

import format_notebooks as fmt

LONG_PRINT = (
    'print(f"the squeezed value of channel {channel} sees {seen} of {total} pixels, '
    'while one convolution output sees only {local}")'
)


def notebook(tmp_path, *sources: str, install: str | None = None):
    nb = nbformat.v4.new_notebook()
    if install is not None:
        cell = nbformat.v4.new_code_cell(install)
        cell.metadata["tags"] = ["install-if-missing", "remove-cell"]
        nb.cells.append(cell)
    nb.cells.append(
        nbformat.v4.new_markdown_cell("# A chapter with " + "very " * 30 + "long prose")
    )
    for source in sources:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="x" * 120 + "\n")
        ]
        nb.cells.append(cell)
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    return path


def test_long_lines_are_wrapped_and_outputs_kept(tmp_path):
    source = (
        "values = {'avg': 1, 'max': 2}  # a trailing comment that makes this line far longer "
        "than the limit allows\n" + LONG_PRINT
    )
    path = notebook(tmp_path, source)
    before = nbformat.read(path, as_version=4)
    assert fmt.main(["--check", str(path)]) == 1
    assert nbformat.read(path, as_version=4) == before, "--check must not write"
    assert fmt.main([str(path)]) == 0
    after = nbformat.read(path, as_version=4)
    code = after.cells[1].source
    assert max(len(line) for line in code.splitlines()) <= fmt.LINE_LENGTH
    assert after.cells[1].outputs == before.cells[1].outputs
    assert after.cells[0] == before.cells[0]  # markdown untouched
    namespace: dict = {
        "channel": 3,
        "seen": 16384,
        "total": 16384,
        "local": 25,
        "print": lambda s: out.append(s),
    }
    out: list[str] = []
    exec(
        compile(code, "cell", "exec"), namespace
    )  # the reformatted cell prints the same text
    exec(compile(LONG_PRINT, "cell", "exec"), namespace)
    assert out[0] == out[1]
    assert fmt.main(["--check", str(path)]) == 0, "formatting twice changes nothing"


def test_install_cell_and_magics_are_left_alone(tmp_path):
    install = "import os\nif True:  " + "x = 1; " * 20
    path = notebook(tmp_path, "%matplotlib inline\nx  =  1", install=install)
    fmt.main([str(path)])
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source == install
    assert nb.cells[2].source == "%matplotlib inline\nx  =  1"


def test_a_string_black_cannot_split_fails_the_check(tmp_path, capsys):
    path = notebook(tmp_path, "x = '" + "a" * 100 + "'")
    assert fmt.main([str(path)]) == 1
    assert "cell 1, line 1: 106 > 88 characters" in capsys.readouterr().out


def test_outputs_over_the_limit_are_listed_on_request(tmp_path, capsys):
    path = notebook(tmp_path, "x = 1")
    assert (
        fmt.main(["--check", "--outputs", str(path)]) == 0
    )  # long outputs are reported, not failed
    assert "cell 1 output: 120 characters" in capsys.readouterr().out


def test_invalid_python_names_the_cell(tmp_path):
    path = notebook(tmp_path, "def broken(:\n    pass")
    with pytest.raises(SystemExit, match="cell 1 is not valid Python"):
        fmt.main(["--check", str(path)])
