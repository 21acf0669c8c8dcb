"""Problem = (name, dist, f): the setting whose gradient d/dtheta E_p[f(x)] is estimated.

Example:
    >>> import numpy as np
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
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

__all__ = ["VECTORISED_HINT", "Problem", "call_on_read_only", "read_only"]

#: What "vectorised" means for f, quoted by the errors about f.
VECTORISED_HINT = (
    "f must be vectorised: it receives every sample at once, an array x of shape "
    "(*R, n, *event) (R: replicate axes, n: samples, event: the distribution's event "
    "shape), and must return an array of shape (*R, n), one value per sample, using "
    "array operations on the last axes, e.g. f = lambda x: np.cos(x[..., 0]) + "
    "(x**2).sum(-1), not math.cos(x[0]) or a Python loop over samples"
)


def read_only(x: np.ndarray) -> np.ndarray:
    """A non-writeable view of ``x`` (no copy): writing into it raises ValueError.

    Example:
        >>> v = read_only(np.zeros(2))
        >>> v.flags.writeable
        False
    """
    view = np.asarray(x).view()
    view.flags.writeable = False
    return view


def call_on_read_only(fn: Callable[[np.ndarray], Any], x: np.ndarray, who: str, arg: str) -> Any:
    """``fn(read_only(x))`` with clear errors for in-place writes and non-vectorised code.

    Args:
        fn: the user's function (f, grad_f, a control variate).
        x: samples (*R, n, *event).
        who: how the errors name fn, e.g. "f of problem 'toy'".
        arg: how the errors name its argument.
    """
    try:
        return fn(read_only(x))
    except ValueError as exc:
        if "truth value of an array" in str(exc):
            raise ValueError(f"{who} is not vectorised ({exc}). {VECTORISED_HINT}") from exc
        if "read-only" not in str(exc):
            raise
        raise ValueError(
            f"{who} must not modify its input {arg} in place ({exc}): the samples are shared "
            f"with the score and the other gradient terms. Compute on a new array instead, "
            f"e.g. `{arg} = {arg} - 0.45` rather than `{arg} -= 0.45`, or start with "
            f"`{arg} = {arg}.copy()`"
        ) from exc
    except TypeError as exc:
        if "only 0-dimensional arrays" not in str(exc) and "only length-1 arrays" not in str(exc):
            raise
        raise TypeError(f"{who} is not vectorised ({exc}). {VECTORISED_HINT}") from exc


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
        relaxed: for outcomes that are not points of the relaxed space (categoricals),
            f on one-hot vectors (*R, n, *batch, K) with its gradient, equal to f at
            one-hot points; used by REBAR, Double CV and RODEO on categoricals.
    """

    name: str
    dist: Distribution
    f: Callable[[np.ndarray], np.ndarray]
    grad_f: Callable[[np.ndarray], np.ndarray] | None = None
    description: str = ""
    relaxed: Objective | None = None

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
        if self.relaxed is not None and not isinstance(self.relaxed, Objective):
            raise TypeError(
                f"relaxed must be None or an Objective(value, grad) on one-hot vectors, got "
                f"{type(self.relaxed).__name__}"
            )
        if self.grad_f is None and isinstance(self.f, Objective) and self.f.grad is not None:
            object.__setattr__(self, "grad_f", self.f.grad)

    def with_params(self, theta: Any) -> Problem:
        """The same problem with the distribution moved to the flat parameters ``theta``."""
        return replace(self, dist=self.dist.with_params(theta))

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """f(x), checked: shape (*R, n) for x of shape (*R, n, *event), real finite values.

        f receives a read-only view of x: the same samples feed the score and the
        other gradient terms, so an f that wrote into them (``x -= 0.45``) would
        silently bias the estimate.

        Raises:
            ValueError: if f writes into x, returns the wrong shape or a NaN / infinite
                value.
            TypeError: if f is not vectorised or returns complex values.
        """
        fx_raw = call_on_read_only(self.f, x, f"f of problem {self.name!r}", "x")
        if np.iscomplexobj(fx_raw):
            raise TypeError(
                f"f of problem {self.name!r} returned complex values (dtype "
                f"{np.asarray(fx_raw).dtype}); f must return real numbers: take .real, abs() "
                "or another real function of the result"
            )
        fx = np.asarray(fx_raw, dtype=np.float64)
        if not fx.flags.writeable:  # f returned (a view of) its read-only input
            fx = fx.copy()
        want = x.shape[: x.ndim - len(self.dist.event_shape)]
        if fx.shape != want:
            raise ValueError(
                f"f of problem {self.name!r} returned shape {fx.shape} for x of shape {x.shape}; "
                f"it must return one value per sample, shape {want} (reduce over the event "
                "axes, e.g. .sum(-1), and keep the leading axes). " + VECTORISED_HINT
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
        g_raw = call_on_read_only(self.grad_f, x, f"grad_f of problem {self.name!r}", "x")
        if np.iscomplexobj(g_raw):
            raise TypeError(
                f"grad_f of problem {self.name!r} returned complex values; it must return "
                "real numbers"
            )
        g = np.asarray(g_raw, dtype=np.float64)
        if not g.flags.writeable:
            g = g.copy()
        if g.shape != x.shape:
            raise ValueError(
                f"grad_f of problem {self.name!r} returned shape {g.shape}, expected the shape "
                f"of x, {x.shape}"
            )
        if not np.isfinite(g).all():
            raise ValueError(f"grad_f of problem {self.name!r} returned a NaN or infinite value")
        return g
