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

from vartools._validation import as_finite_array

__all__ = [
    "Objective",
    "cosine",
    "gaussian_bump",
    "shifted_square",
    "square_distance",
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
