"""Exercises a learner can check: ``check(exercise_id, answer)`` says right, or wrong and why.

Each chapter's Exercises end with a cell that calls :func:`check` on the learner's
answer. A wrong answer gets a hint when it matches a typical mistake (a unit, an
off-by-one ratio, a transposed shape, a missing bias), else only what kind of answer was
expected; the solution itself is never printed (it is folded away on the page). Answers
are numbers (with a tolerance), shapes, choices, or functions that the checker calls on
test inputs and compares with the library's. Explained in every chapter's Exercises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

KINDS = ("number", "shape", "choice", "function")
"""The kinds of answer, a number, a tensor shape, one of some choices, or a function."""


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise: what the answer is and the hints for typical mistakes.

    ``expected`` computes the reference answer when needed (from the library, never
    typed twice where the library can compute it). ``hints`` pairs a test of a wrong
    answer with the hint to give; for a ``"function"`` exercise ``inputs`` gives the
    argument tuples to call both functions with.
    """

    id: str
    kind: str
    expected: Callable[[], Any]
    asks: str
    tolerance: float = 1e-6
    hints: Sequence[tuple[Callable[[Any, Any], bool], str]] = ()
    inputs: Callable[[], Sequence[tuple[Any, ...]]] = field(default=lambda: ())
    apply: Callable[[Callable, tuple[Any, ...]], Any] = field(
        default=lambda function, args: function(*args)
    )


def _relative(value: float, reference: float, tolerance: float) -> bool:
    return math.isclose(value, reference, rel_tol=tolerance, abs_tol=tolerance)


def _number(exercise: Exercise, answer: object) -> float:
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise TypeError(
            f"exercise {exercise.id!r} expects a number ({exercise.asks}), "
            f"got {type(answer).__name__}"
        )
    return float(answer)


def _shape(exercise: Exercise, answer: object) -> tuple[int, ...]:
    if isinstance(answer, torch.Tensor):
        raise TypeError(
            f"exercise {exercise.id!r} expects a shape ({exercise.asks}), such as "
            "tensor.shape, not the tensor itself"
        )
    try:
        shape = tuple(answer)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"exercise {exercise.id!r} expects a shape ({exercise.asks}), "
            f"got {type(answer).__name__}"
        ) from None
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
        raise TypeError(
            f"exercise {exercise.id!r} expects a shape of whole numbers, got {shape!r}"
        )
    return shape


def is_right(exercise: Exercise, answer: object) -> bool:
    """Whether ``answer`` is right for ``exercise`` (a malformed answer raises)."""
    expected = exercise.expected()
    if exercise.kind == "number":
        return _relative(_number(exercise, answer), expected, exercise.tolerance)
    if exercise.kind == "shape":
        return _shape(exercise, answer) == tuple(expected)
    if exercise.kind == "choice":
        if not isinstance(answer, str):
            raise TypeError(
                f"exercise {exercise.id!r} expects one of {exercise.asks}, "
                f"got {type(answer).__name__}"
            )
        return answer.strip().lower() == expected
    if not callable(answer):
        raise TypeError(
            f"exercise {exercise.id!r} expects a function ({exercise.asks}), "
            f"got {type(answer).__name__}"
        )
    for args, fresh in zip(exercise.inputs(), exercise.inputs()):
        with torch.no_grad():
            got, want = exercise.apply(answer, args), exercise.apply(expected, fresh)
        if not (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got, want, rtol=exercise.tolerance, atol=1e-5)
        ):
            return False
    return True


def check_all(answers: dict[str, object]) -> bool:
    """:func:`check` every answer given; an answer left as ``None`` is reported as missing.

    Returns whether every answer was given and right.
    """
    right = True
    for exercise_id, answer in answers.items():
        if answer is None:
            print(f"{exercise_id}: no answer yet.")
            right = False
        else:
            right = check(exercise_id, answer) and right
    return right


def check(exercise_id: str, answer: object) -> bool:
    """Print whether ``answer`` is right for exercise ``exercise_id`` (and a hint if not); return it."""
    if exercise_id not in EXERCISES:
        raise ValueError(
            f"exercise_id must be one of the checkable exercises "
            f"({', '.join(sorted(EXERCISES))}), got {exercise_id!r}"
        )
    exercise = EXERCISES[exercise_id]
    if is_right(exercise, answer):
        print(f"{exercise_id}: right.")
        return True
    expected = exercise.expected()
    for test, hint in exercise.hints:
        try:
            matched = test(answer, expected)
        except (TypeError, ValueError, RuntimeError):
            matched = False
        if matched:
            print(f"{exercise_id}: not yet. {hint}")
            return False
    print(f"{exercise_id}: not yet. Expected {exercise.asks}.")
    return False


EXERCISES: dict[str, Exercise] = {}
"""Every checkable exercise by id, filled by :mod:`sebook.exercise_bank` on import."""


def register(*exercises: Exercise) -> None:
    for e in exercises:
        if e.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {e.kind!r}")
        EXERCISES[e.id] = e


from . import (
    exercise_bank,
)  # noqa: E402,F401  (fills EXERCISES; it imports this module's names)
