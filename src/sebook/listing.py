"""The library's code and modules as a page shows them: a function's core lines, a module's repr fitted to the page.

The chapters display the library's own source (never a copy); these helpers pick the lines worth reading.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable

from torch import nn

from . import checks


def source(
    function: Callable,
    start: str | None = None,
    *,
    header: bool = False,
    drop: tuple[str, ...] = (),
) -> str:
    """The source of ``function`` from the first line that starts with ``start`` on.

    ``header=True`` keeps the signature and docstring above it; a line containing any
    of ``drop`` is left out (argument checks, for example). With ``start=None`` the
    whole source.
    """
    lines = inspect.getsource(function).splitlines()
    if start is None:
        return textwrap.dedent("\n".join(lines))
    found = [i for i, line in enumerate(lines) if line.strip().startswith(start)]
    if not found:
        raise ValueError(
            f"start={start!r} begins no line of {function.__qualname__}'s source"
        )
    body = [line for line in lines[found[0] :] if not any(d in line for d in drop)]
    if not header:
        return textwrap.dedent("\n".join(body))
    quotes = '"' * 3
    doc_end = next(
        (i for i, line in enumerate(lines) if i > 0 and line.rstrip().endswith(quotes)),
        0,
    )
    return textwrap.dedent("\n".join(lines[: doc_end + 1] + body))


def module_repr(module: nn.Module, width: int = 80) -> str:
    """``repr(module)`` with lines longer than ``width`` broken between keyword arguments."""
    checks.positive_int("width", width)
    out_lines = []
    for line in repr(module).splitlines():
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        parts = re.split(r"(?<=,) (?=\w+=)", line)
        out = parts[0]
        for part in parts[1:]:
            if len(out) + 1 + len(part) > width:
                out_lines.append(out)
                out = indent + part
            else:
                out += " " + part
        out_lines.append(out)
    return "\n".join(out_lines)
