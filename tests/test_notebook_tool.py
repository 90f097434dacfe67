"""`python tools/notebooks.py`: deterministic re-execution, stable ids, stored widget state, the --check mode."""

import json
from pathlib import Path

import nbformat
import pytest

import notebooks  # tools/notebooks.py (pytest's pythonpath)

SOURCE = [
    "import sebook\nfrom sebook import widgets\nimport matplotlib.pyplot as plt\nsebook.setup()",
    "print(sum(range(10)))",
    "figs = []\nfor k in range(2):\n    fig, ax = plt.subplots(); ax.plot([0, k]); figs.append(fig)\n"
    "w = widgets.figure_slider(figs, ['a', 'b'], 'k', ['flat line', 'rising line'])\nwidgets.show(w, 'slider')",
]


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Tiny")]
        + [nbformat.v4.new_code_cell(s) for s in SOURCE]
    )
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def without_timing(path: Path) -> dict:
    data = json.loads(path.read_text())
    data["metadata"]["sebook"].pop("execution_seconds")
    return data


def test_execution_is_deterministic_and_complete(tiny: Path):
    notebooks.run(tiny)
    first = without_timing(tiny)
    notebooks.run(tiny)
    assert (
        without_timing(tiny) == first
    ), "two executions must write identical notebooks"
    nb = nbformat.read(tiny, as_version=4)
    assert nb.cells[0].metadata["tags"] == [notebooks.INSTALL_TAG, "remove-cell"]
    assert nb.cells[0].outputs == []  # a no-op where the library is installed
    assert [c.id for c in nb.cells] == [f"tiny-{i}" for i in range(len(nb.cells))]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    shown = nb.cells[-1].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"][
        "model_id"
    ]
    assert shown in state
    assert (
        nb.cells[3].outputs[0]["text"] == "45\n"
    )  # cells: install, title, setup, print, widget
    assert nb.metadata["sebook"]["versions"]["torch"].startswith("2.")


def test_check_mode_reports_changed_output_without_writing(tiny: Path):
    notebooks.run(tiny)
    nb = nbformat.read(tiny, as_version=4)
    nb.cells[3].outputs[0]["text"] = "44\n"
    nbformat.write(nb, tiny)
    before = tiny.read_text()
    _seconds, diffs = notebooks.run(tiny, check=True)
    assert diffs and "code cell" in diffs[0]
    assert tiny.read_text() == before


def test_install_cell_is_inserted_once(tiny: Path):
    nb = nbformat.read(tiny, as_version=4)
    notebooks.ensure_install_cell(nb)
    notebooks.ensure_install_cell(nb)
    assert (
        sum(notebooks.INSTALL_TAG in c.metadata.get("tags", []) for c in nb.cells) == 1
    )


def test_bad_paths_are_refused(tmp_path: Path):
    with pytest.raises(SystemExit, match="neither a notebook"):
        notebooks.find_notebooks([str(tmp_path / "missing.ipynb")])
    with pytest.raises(SystemExit):
        notebooks.main(["--timeout", "0", str(tmp_path)])


def test_check_judges_text_as_nbval_does(tmp_path: Path):
    """Streams split at different flush points, ignored cells and sanitized patterns are not changes."""
    from notebooks import coalesce_streams, sanitize_patterns, text_outputs

    def notebook(outputs_per_cell, sources):
        nb = nbformat.v4.new_notebook()
        for outputs, source in zip(outputs_per_cell, sources):
            cell = nbformat.v4.new_code_cell(source)
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text=t) for t in outputs
            ]
            nb.cells.append(cell)
        return nb

    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text("[addresses]\nregex: at 0x[0-9a-f]+\nreplace: at 0xADDRESS\n")
    patterns = sanitize_patterns(sanitize)
    sources = [
        "print(1)",
        "# NBVAL_IGNORE_OUTPUT\nprint(time.time())",
        "print(object())",
    ]
    one = notebook([["a\n", "b\n"], ["1.5\n"], ["<object at 0x7f00>\n"]], sources)
    two = notebook([["a\nb\n"], ["2.5\n"], ["<object at 0x7f99>\n"]], sources)
    assert text_outputs(one, patterns) == text_outputs(two, patterns)
    assert text_outputs(one, patterns)[1] == []
    tagged = notebook([["3.5\n"]], ["print(time.time())"])
    tagged.cells[0].metadata["tags"] = ["nbval-ignore-output"]
    assert text_outputs(tagged) == [[]]  # nbval's cell tag, as well as its comment
    merged = coalesce_streams(
        [
            nbformat.v4.new_output("stream", name="stdout", text="a"),
            nbformat.v4.new_output("stream", name="stderr", text="b"),
            nbformat.v4.new_output("stream", name="stderr", text="c"),
        ]
    )
    assert [(o["name"], o["text"]) for o in merged] == [
        ("stdout", "a"),
        ("stderr", "bc"),
    ]
    assert sanitize_patterns(tmp_path / "missing.cfg") == []


@pytest.mark.parametrize(
    "old, new, tolerance, same",
    [
        ("SE 87.65 %, p = 0.0012", "SE 87.66 %, p = 0.0012", 0, True),  # one unit of the last digit
        ("SE 87.65 %", "SE 87.68 %", 1e-4, False),
        ("SE 87.65 %", "SE 87.68 %", 1e-3, True),
        ("20,470 parameters", "20,471 parameters", 0, True),
        ("plain 3", "SE 3", 0.5, False),  # the words must agree
        ("1.5 2.5", "1.5", 0.5, False),  # and the count of numbers
        ("-0.00", "0.00", 0, True),
    ],
)
def test_within_rounding(old, new, tolerance, same):
    assert notebooks.within_rounding(old, new, tolerance) is same
