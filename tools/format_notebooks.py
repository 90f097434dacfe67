"""Format the code cells of the book's notebooks with black, so that no line is longer than 88 characters.

Black runs with its string-splitting feature (long strings and f-strings become implicitly joined parts), and a
comment at the end of a line that is too long moves onto its own line above the code first.

``python tools/format_notebooks.py [NOTEBOOK ...]`` rewrites the code cells of the given notebooks (default: every
chapter) in place; only their sources change, never their outputs or metadata. ``--check`` writes nothing and
fails (exit 1) if a cell would be reformatted or a line stays over the limit (a long string or comment, which
black does not split: shorten it by hand). ``--outputs`` also lists the text outputs with lines over the limit,
which overflow the page's column too: print narrower tables there and re-execute the chapter.

Left alone: the install cell (tag ``install-if-missing``, written by ``tools/notebooks.py``) and cells with
IPython magics or shell escapes (``%``, ``!``), which black cannot parse; their lines are still checked.
"""

from __future__ import annotations

import argparse
import io
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import black
import nbformat

LINE_LENGTH = 88
CHAPTERS = Path("chapters")
SKIP_TAGS = {"install-if-missing"}


@dataclass
class Report:
    """What formatting a notebook found: cells reformatted, and lines still over the limit."""

    path: Path
    reformatted: list[int] = field(default_factory=list)
    long_lines: list[tuple[int, int, str]] = field(
        default_factory=list
    )  # (cell, line, text)
    long_outputs: list[tuple[int, str]] = field(default_factory=list)  # (cell, text)


def has_magics(source: str) -> bool:
    return any(line.lstrip().startswith(("%", "!")) for line in source.splitlines())


def lift_long_comments(source: str, line_length: int = LINE_LENGTH) -> str:
    """Move a trailing comment onto its own line above the code when the line is over the limit, and wrap a
    comment line that is over the limit onto several."""
    lines = source.splitlines()
    moves: dict[int, int] = {}  # line index -> column where its trailing comment starts
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            row, col = token.start
            line = lines[row - 1] if row - 1 < len(lines) else ""
            if (
                token.type == tokenize.COMMENT
                and line[:col].strip()
                and len(line) > line_length
            ):
                moves[row - 1] = col
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    for index in sorted(moves, reverse=True):
        line, col = lines[index], moves[index]
        indent = line[: len(line) - len(line.lstrip())]
        lines[index : index + 1] = [indent + line[col:].strip(), line[:col].rstrip()]
    wrapped: list[str] = []
    for line in lines:
        stripped = line.lstrip()
        if (
            len(line) > line_length
            and stripped.startswith("#")
            and not stripped.startswith("#!")
        ):
            indent = line[: len(line) - len(stripped)]
            text = stripped.lstrip("#").strip()
            wrapped += textwrap.wrap(
                text,
                width=line_length,
                initial_indent=indent + "# ",
                subsequent_indent=indent + "# ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        else:
            wrapped.append(line)
    return "\n".join(wrapped)


def format_source(source: str, line_length: int = LINE_LENGTH) -> str:
    """One cell's code formatted by black (no trailing newline, as notebooks store it)."""
    if not source.strip() or has_magics(source):
        return source
    mode = black.Mode(
        line_length=line_length, enabled_features={black.Preview.string_processing}
    )
    return black.format_str(lift_long_comments(source, line_length), mode=mode).rstrip(
        "\n"
    )


def output_lines(cell: nbformat.NotebookNode) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            lines += output.get("text", "").splitlines()
        elif "text/plain" in output.get("data", {}) and not any(
            mime.startswith(("image/", "text/html", "application/vnd.jupyter.widget"))
            for mime in output["data"]
        ):
            lines += output["data"]["text/plain"].splitlines()
    return lines


def format_notebook(
    path: Path, write: bool = True, line_length: int = LINE_LENGTH
) -> Report:
    """Format one notebook's code cells (writing it back if ``write`` and anything changed)."""
    nb = nbformat.read(path, as_version=4)
    report = Report(path)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if SKIP_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        try:
            formatted = format_source(cell.source, line_length)
        except black.parsing.InvalidInput as error:
            raise SystemExit(
                f"{path}: cell {index} is not valid Python: {error}"
            ) from None
        if formatted != cell.source:
            report.reformatted.append(index)
            cell.source = formatted
        for number, line in enumerate(formatted.splitlines(), start=1):
            if len(line) > line_length:
                report.long_lines.append((index, number, line))
        report.long_outputs += [
            (index, line) for line in output_lines(cell) if len(line) > line_length
        ]
    if write and report.reformatted:
        nbformat.write(nb, path)
    return report


def find_notebooks(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths or [str(CHAPTERS)]):
        if p.is_dir():
            found += sorted(q for q in p.glob("*.ipynb") if not q.name.startswith("."))
        elif p.suffix == ".ipynb" and p.is_file():
            found.append(p)
        else:
            raise SystemExit(
                f"error: {p} is neither a notebook (.ipynb) nor a folder of notebooks"
            )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", help="notebooks or folders (default: chapters/)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail if anything would change",
    )
    parser.add_argument(
        "--outputs", action="store_true", help="also list text outputs over the limit"
    )
    parser.add_argument("--line-length", type=int, default=LINE_LENGTH)
    args = parser.parse_args(argv)
    failed = False
    for path in find_notebooks(args.notebooks):
        report = format_notebook(
            path, write=not args.check, line_length=args.line_length
        )
        if report.reformatted:
            verb = "would reformat" if args.check else "reformatted"
            print(f"{path}: {verb} cells {', '.join(map(str, report.reformatted))}")
            failed |= args.check
        for cell, number, line in report.long_lines:
            print(
                f"{path}: cell {cell}, line {number}: {len(line)} > {args.line_length} characters: "
                f"{line.strip()[:60]}..."
            )
            failed = True
        if args.outputs:
            for cell, line in report.long_outputs:
                print(
                    f"{path}: cell {cell} output: {len(line)} characters: {line.strip()[:60]}..."
                )
    if failed:
        print(
            "Run `python tools/format_notebooks.py` to reformat; shorten long strings and comments by hand."
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
