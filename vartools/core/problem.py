"""Problem = (name, dist, f): the setting whose gradient d/dtheta E_p[f(x)] is estimated.

Example:
    >>> import numpy as np
    >>> from vartools.distributions.discrete import Bernoulli
    >>> prob = Problem("toy", Bernoulli(logits=[0.0, 0.0]), lambda b: b.sum(-1))
    >>> prob.evaluate(np.ones((4, 3, 2))).shape
    (4, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vartools.core.distribution import Distribution
from vartools.core.objectives import (
    Objective,
)

__all__ = ["Problem"]


@dataclass(frozen=True, eq=False)
class Problem:
    """An estimation problem: the gradient of E_{x ~ dist}[f(x)] with respect to dist.params.

    Args:
        name: label used in tables and on the command line.
        dist: the sampling distribution (its flat ``params`` are theta).
        f: vectorised objective (*R, n, *event) -> (*R, n); an ``Objective`` also
            provides its gradient.
        grad_f: df/dx, (*R, n, *event) -> same shape; taken from ``f.grad`` when f
            is an ``Objective`` and this is None. Needed by the pathwise estimator.
        description: free text for tables and metadata.
    """

    name: str
    dist: Distribution
    f: Callable[[np.ndarray], np.ndarray]
    grad_f: Callable[[np.ndarray], np.ndarray] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.dist, Distribution):
            raise TypeError(
                f"dist must be a vartools Distribution (Bernoulli, Categorical, Normal, ...), "
                f"got {type(self.dist).__name__}"
            )
        if not callable(self.f):
            raise TypeError(f"f must be callable x -> f(x) of shape (*R, n), got {self.f!r}")
        if self.grad_f is None and isinstance(self.f, Objective) and self.f.grad is not None:
            object.__setattr__(self, "grad_f", self.f.grad)

    def with_params(self, theta: Any) -> Problem:
        """The same problem with the distribution moved to the flat parameters ``theta``."""
        return replace(self, dist=self.dist.with_params(theta))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """f(x), checked: shape (*R, n) for x of shape (*R, n, *event), finite values.

        Raises:
            ValueError: if f returns the wrong shape or a NaN / infinite value.
        """
        fx = np.asarray(self.f(x), dtype=np.float64)
        want = x.shape[: x.ndim - len(self.dist.event_shape)]
        if fx.shape != want:
            raise ValueError(
                f"f of problem {self.name!r} returned shape {fx.shape} for x of shape {x.shape}; "
                f"it must return one value per sample, shape {want} (reduce over the event "
                "axes, e.g. .sum(-1), and keep the leading axes)"
            )
        if not np.isfinite(fx).all():
            raise ValueError(
                f"f of problem {self.name!r} returned a NaN or infinite value; f must be finite "
                "on the whole support of dist"
            )
        return fx

    def evaluate_grad(self, x: np.ndarray) -> np.ndarray:
        """df/dx, checked for shape and finiteness; a clear error when f has no gradient."""
        if self.grad_f is None:
            raise ValueError(
                f"problem {self.name!r} has no gradient of f; the pathwise estimator needs "
                "one: pass grad_f=... to Problem or use an Objective with grad"
            )
        g = np.asarray(self.grad_f(x), dtype=np.float64)
        if g.shape != x.shape:
            raise ValueError(
                f"grad_f of problem {self.name!r} returned shape {g.shape}, expected the shape "
                f"of x, {x.shape}"
            )
        if not np.isfinite(g).all():
            raise ValueError(f"grad_f of problem {self.name!r} returned a NaN or infinite value")
        return g
