"""Test functions f: a value, vectorised over leading axes, and a gradient where it exists.

An ``Objective`` maps outcomes x of shape (*R, n, *event) to values (*R, n);
``grad`` (optional) returns df/dx with the shape of x, which the pathwise
estimator needs. Plain Python callables work wherever an objective is expected;
wrap them in ``Objective`` to attach a gradient.

Example:
    >>> import numpy as np
    >>> f = square_distance(0.45)
    >>> f(np.array([[[0.0, 1.0]]]))
    array([[0.505]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.validation import as_finite_array

__all__ = [
    "Objective",
    "SumOfTerms",
    "cosine",
    "gaussian_bump",
    "separable",
    "shifted_square",
    "square_distance",
    "sum_of_terms",
]

ArrayFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Objective:
    """A function f(x) -> (*R, n) with an optional gradient df/dx.

    Args:
        value: vectorised f: (*R, n, *event) -> (*R, n).
        grad: vectorised df/dx: (*R, n, *event) -> (*R, n, *event), or None.
        name: short label used in tables.
    """

    value: ArrayFn
    grad: ArrayFn | None = None
    name: str = "f"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate f."""
        return self.value(x)


def _sum_event(v: np.ndarray, event_ndim: int) -> np.ndarray:
    return v.reshape(*v.shape[: v.ndim - event_ndim], -1).sum(-1) if event_ndim else v


def square_distance(target: Any, event_ndim: int = 1) -> Objective:
    """f(x) = sum_d (x_d - target_d)^2 over the last ``event_ndim`` axes; grad 2 (x - target).

    The REBAR/RELAX toy is ``square_distance(0.45)`` on one Bernoulli.
    """
    t = as_finite_array(target, "target")
    return Objective(
        value=lambda x: _sum_event((x - t) ** 2, event_ndim),
        grad=lambda x: 2.0 * (x - t),
        name=f"sum (x - {float(t.ravel()[0]):g})^2" if t.size == 1 else "sum (x - t)^2",
    )


def shifted_square(k: float) -> Objective:
    """Mohamed et al. (2020), Figure 2 (top): f(x) = sum_d (x_d - k)^2."""
    return square_distance(k)


def gaussian_bump(k: float) -> Objective:
    """Mohamed et al. (2020), Figure 2 (middle): f(x) = sum_d exp(-k x_d^2)."""
    k = float(k)
    return Objective(
        value=lambda x: np.exp(-k * x * x).sum(-1),
        grad=lambda x: -2.0 * k * x * np.exp(-k * x * x),
        name=f"exp(-{k:g} x^2)",
    )


def cosine(k: float) -> Objective:
    """Mohamed et al. (2020), Figure 3: f(x) = sum_d cos(k x_d)."""
    k = float(k)
    return Objective(
        value=lambda x: np.cos(k * x).sum(-1),
        grad=lambda x: -k * np.sin(k * x),
        name=f"cos({k:g} x)",
    )


@dataclass(frozen=True)
class SumOfTerms(Objective):
    """f(x) = sum_t f_t(x), each term declaring the flat event coordinates it reads.

    The declaration lets dependency-aware estimators (``vartools.estimators.rao_blackwell``)
    multiply each coordinate's score by the terms that depend on that coordinate only.
    Build it with ``sum_of_terms`` or ``separable``.

    Args:
        value: f, the sum of the terms (set by the factories).
        grad: df/dx or None.
        name: label.
        terms: vectorised terms, (*R, n, *event) -> (*R, n, T).
        reads: for each of the T terms, the flat event coordinates (indices into
            x.reshape(*lead, D)) it reads. Declared, not checked: a term that reads a
            coordinate it does not declare biases the dependency-aware estimator.
    """

    terms: ArrayFn | None = None
    reads: tuple[tuple[int, ...], ...] = ()


def sum_of_terms(
    terms: ArrayFn,
    reads: Any,
    *,
    grad: ArrayFn | None = None,
    name: str = "sum of terms",
) -> SumOfTerms:
    """Declare f as a sum of terms with the coordinates each term reads.

    Args:
        terms: (*R, n, *event) -> (*R, n, T), the T term values.
        reads: a sequence of T sequences of flat event coordinates.
        grad: optional df/dx, (*R, n, *event) -> same shape.
        name: label.

    Example:
        >>> import numpy as np
        >>> f = sum_of_terms(lambda x: np.stack([x[..., 0] * x[..., 1], x[..., 2]], -1),
        ...                  reads=[(0, 1), (2,)])
        >>> f(np.ones((1, 2, 3)))
        array([[2., 2.]])
    """
    if not callable(terms):
        raise TypeError(f"terms must be callable x -> (*R, n, T), got {terms!r}")
    try:
        rd = tuple(tuple(int(c) for c in r) for r in reads)
    except TypeError as exc:
        raise TypeError(
            f"reads must be a sequence of coordinate sequences, e.g. [(0, 1), (2,)], got {reads!r}"
        ) from exc
    if not rd or any(c < 0 for r in rd for c in r):
        raise ValueError(
            f"reads must list, for each term, non-negative flat coordinates; got {reads!r}"
        )
    return SumOfTerms(
        value=lambda x: np.asarray(terms(x)).sum(-1), grad=grad, name=name, terms=terms, reads=rd
    )


def separable(
    per_coordinate: ArrayFn, dim: int, *, grad: ArrayFn | None = None, name: str = "f"
) -> SumOfTerms:
    """f(x) = sum_d h(x)_d with term d reading coordinate d only (one term per coordinate).

    Args:
        per_coordinate: (*R, n, D) -> (*R, n, D) term values, vectorised.
        dim: D, the number of flat event coordinates.
        grad: optional df/dx.
        name: label.

    Example (the Double-CV toy of Titsias & Shi 2022, f = ||b - t||^2 / D):
        >>> import numpy as np
        >>> f = separable(lambda b: (b - 0.499) ** 2 / 4, 4)
        >>> f.reads
        ((0,), (1,), (2,), (3,))
    """
    return sum_of_terms(per_coordinate, [(d,) for d in range(int(dim))], grad=grad, name=name)
