"""The book's checkable exercises, chapter by chapter: each one's reference answer and hints.

The checker is :mod:`sebook.exercises`; this package only registers what it checks. Reference
answers are computed from the library, the data or the committed results, never typed twice.

One module per part of the book (``mechanism``, ``networks``, ``experiments``, ``appendices``),
with the helpers two parts share in ``_common``; importing the package registers every exercise.
"""

from . import (
    appendices,
    experiments,
    mechanism,
    networks,
)  # noqa: F401  (each registers its exercises)
