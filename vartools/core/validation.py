"""Input checks shared by the public entry points.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the
argument, shows the bad value and says what would be valid.
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_finite_array",
    "check_positive_int",
    "float_dtype",
    "noise_dtype",
    "check_rng",
    "check_reps",
    "nearest_name",
    "short_repr",
]


def short_repr(value: Any, limit: int = 80) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def as_finite_array(value: Any, name: str, *, positive: bool = False) -> np.ndarray:
    """Convert ``value`` to a float64 array, refusing NaN, infinity and (optionally) <= 0.

    Args:
        value: array-like of numbers.
        name: the argument's name, used in the error message.
        positive: also require every entry to be strictly positive.

    Returns:
        A read-only float64 copy of ``value``.

    Raises:
        TypeError: if ``value`` is not numeric.
        ValueError: if an entry is NaN, infinite, or (with ``positive``) not > 0.
    """
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be an array of real numbers, got {short_repr(value)}"
        ) from exc
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(
            f"{name} must be finite, got a value of {bad} in {short_repr(value)}; "
            "pass finite real numbers"
        )
    if positive and np.any(arr <= 0):
        bad = arr[arr <= 0].ravel()[0]
        raise ValueError(f"{name} must be > 0 everywhere, got {bad} in {short_repr(value)}")
    arr.setflags(write=False)
    return arr


def check_positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= ``minimum``.

    Raises:
        TypeError: if ``value`` is not an integer (``bool`` and floats are refused).
        ValueError: if ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {short_repr(value)} "
            f"of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_reps(reps: Any) -> tuple[int, ...]:
    """Normalise a replicate shape: ``()``, an int, or a sequence of non-negative ints."""
    if isinstance(reps, numbers.Integral) and not isinstance(reps, bool):
        reps = (reps,)
    if not isinstance(reps, Sequence):
        raise TypeError(f"reps must be a tuple of non-negative integers, got {short_repr(reps)}")
    out = tuple(check_positive_int(r, "reps entry", minimum=0) for r in reps)
    return out


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, else raise a TypeError naming it.

    Raises:
        TypeError: for None, an int seed, a legacy ``RandomState`` or anything else.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (e.g. np.random.default_rng(seed)), "
            f"got {short_repr(rng)}"
        )
    return rng


def nearest_name(name: str, valid: list[str] | tuple[str, ...]) -> str:
    """A hint naming the valid entry closest to ``name`` (for error messages)."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"valid names are {sorted(valid)}{hint}"


def noise_dtype(dtype: Any) -> type[np.floating[Any]]:
    """``np.float32`` or ``np.float64`` from a dtype-like; anything else is refused.

    For a distribution's ``sample_noise(..., dtype=...)`` (the opt-in single-precision
    mode draws float32 noise).

    Raises:
        ValueError: for any other dtype (names the value and the two valid ones).
    """
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {short_repr(dtype)}")
    return np.float32 if dt == np.float32 else np.float64


def float_dtype(a: np.ndarray) -> type[np.floating[Any]]:
    """``np.float32`` when ``a`` is float32 (the single-precision mode), else ``np.float64``.

    A distribution's ``transform`` and ``score`` compute in this dtype so that float32
    noise stays float32 end to end.
    """
    return np.float32 if a.dtype == np.float32 else np.float64
