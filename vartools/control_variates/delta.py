"""The delta method's Taylor expansion of f around the mean of a Normal (Paisley et al. 2012).

``delta_expansion(problem, ...)`` returns a ``DeltaExpansion``: f~(x) = f(mu) +
grad f(mu) . (x - mu) + (1/2) (x - mu)^T H (x - mu) with H the Hessian's diagonal
(default) or the full Hessian (``hessian=`` a matrix function or ``"fd"``, or
``hvp=`` a Hessian-vector product), its value at samples, its Gaussian expectation
and the gradient of that expectation in the distribution's parameters. The
delta-method control variate (``vartools.control_variates.features.delta_features``,
``vartools.control_variates.coefficients.delta_method``) is built on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from vartools.core.capabilities import GaussianParams
from vartools.core.distribution import Distribution
from vartools.core.problem import read_only
from vartools.core.validation import short_repr

if TYPE_CHECKING:
    from vartools.core.problem import Problem

__all__ = ["DeltaExpansion", "delta_expansion"]


class DeltaExpansion(NamedTuple):
    """The delta method's Taylor expansion f~ of f around the mean of a Normal.

    f~(x) = f0 + grad . (x - mu) + (1/2) (x - mu)^T H (x - mu), with H the full
    Hessian (``hess`` or ``hvp``) or its diagonal (``hess_diag``; zero for order 1).
    Get one with ``delta_expansion(problem, ...)``.

    Attributes:
        dist: the distribution it was expanded for (with the ``gaussian`` capability).
        gauss: its Gaussian view (loc is the centre mu, scale, log_scale).
        f0: f(mu).
        grad: grad f(mu), shape of x's event.
        hess_diag: the Hessian's diagonal H_dd, event shape (zeros for order 1).
        hess: the full Hessian (D, D), D = prod(event), or None (diagonal only or hvp).
        hvp: (v (*R, n, *event)) -> H v (same shape), or None.
        n_evals: evaluations of f and grad f it took (counted in the batch).
    """

    dist: Distribution
    gauss: GaussianParams
    f0: float
    grad: np.ndarray
    hess_diag: np.ndarray
    hess: np.ndarray | None
    hvp: Callable[[np.ndarray], np.ndarray] | None
    n_evals: int

    @property
    def full(self) -> bool:
        """Whether the expansion uses the full Hessian (not only its diagonal)."""
        return self.hess is not None or self.hvp is not None

    def hess_times(self, dx: np.ndarray) -> np.ndarray:
        """H dx for dx of shape (*R, n, *event) (the diagonal times dx when not full)."""
        if self.hvp is not None:
            return np.asarray(self.hvp(dx), dtype=np.float64).reshape(dx.shape)
        if self.hess is not None:
            d = self.hess.shape[0]
            flat = dx.reshape(*dx.shape[: dx.ndim - self.gauss.loc.ndim], d)
            return (flat @ self.hess.T).reshape(dx.shape)
        return self.hess_diag * dx

    def value(self, x: np.ndarray) -> np.ndarray:
        """f~(x), (*R, n) for samples x of shape (*R, n, *event)."""
        ev = self.dist.event_shape
        lead = x.shape[: x.ndim - len(ev)]
        dx = x - self.gauss.loc
        if self.full:
            quad = self.grad * dx + 0.5 * dx * self.hess_times(dx)
        else:  # the diagonal expansion, written as before (bit-identical results)
            quad = self.grad * dx + 0.5 * self.hess_diag * dx * dx
        return self.f0 + quad.reshape(*lead, -1).sum(-1) if ev else self.f0 + quad

    def expectation(self) -> float:
        """E[f~(x)] = f0 + (1/2) sum_d H_dd scale_d^2 under the Normal (Gaussian closed form)."""
        return self.f0 + 0.5 * float(np.sum(self.hess_diag * self.gauss.scale**2))

    def grad_expectation(self) -> np.ndarray:
        """grad_theta E[f~] with f~ held fixed, shape (p,).

        grad f(mu) for loc, H_dd scale_d for scale (H_dd scale_d^2 for log_scale); the
        off-diagonal terms of H have zero mean.
        """
        second = self.hess_diag * self.gauss.scale
        if self.gauss.log_scale:
            second = second * self.gauss.scale
        return np.concatenate([self.grad.ravel(), second.ravel()])


def _require_gaussian(problem: Problem) -> GaussianParams:
    dist = problem.dist
    if not dist.supports("gaussian"):
        dist.not_supported(
            "gaussian",
            "the delta-method control variate",
            f"it needs a Normal distribution (its Taylor expansion has a Gaussian closed "
            f"form); problem {problem.name!r} samples from {type(dist).__name__}; use "
            "optimal_baseline or function_features instead",
        )
    return dist.gaussian_params()


def _fd_hessian(problem: Problem, gp: GaussianParams, fd_step: float) -> np.ndarray:
    """The Hessian (D, D) at the mean by central differences of grad f (2 D evaluations)."""
    d = gp.loc.size
    eps = fd_step * gp.scale.ravel()
    steps = np.zeros((2 * d, d))
    steps[np.arange(d), np.arange(d)] = eps
    steps[d + np.arange(d), np.arange(d)] = -eps
    pts = (gp.loc.ravel() + steps).reshape(2 * d, 1, *gp.loc.shape)
    gr = problem.evaluate_grad(pts).reshape(2 * d, d)
    return (gr[:d, :] - gr[d:, :]) / (2 * eps)[:, None]  # row j: d grad / d x_j


def delta_expansion(
    problem: Problem,
    order: int = 2,
    *,
    hess_diag: Callable[[np.ndarray], Any] | str = "fd",
    hessian: Callable[[np.ndarray], Any] | str | None = None,
    hvp: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    fd_step: float = 1e-4,
) -> DeltaExpansion:
    """The delta method's Taylor expansion of f around the problem's current mean.

    The public way to get the delta control variate's value f~(x) and its expectation
    (``DeltaExpansion.value``, ``.expectation``, ``.grad_expectation``); the
    ``delta_features`` control variate is built from it. See ``delta_features`` for the
    arguments.

    Example:
        >>> import numpy as np
        >>> from vartools.core.objectives import Objective
        >>> from vartools.core.problem import Problem
        >>> from vartools.distributions.normal import Normal
        >>> w = np.array([1.0, -2.0])
        >>> f = Objective(lambda x: (x @ w) ** 2, lambda x: 2 * (x @ w)[..., None] * w)
        >>> prob = Problem("wx2", Normal(np.array([0.5, 0.1]), np.array([1.0, 2.0])), f)
        >>> t = delta_expansion(prob, hessian=lambda x: 2 * np.outer(w, w))
        >>> x = np.array([[[1.0, 3.0]]])
        >>> round(float(t.value(x)[0, 0]), 12), float(f(x)[0, 0])  # exact for a quadratic
        (25.0, 25.0)
        >>> t.expectation()  # (w.mu)^2 + sum_d w_d^2 scale_d^2 = 0.09 + 1 + 16
        17.09
    """
    _check_delta_args(order, hess_diag, hessian, hvp, fd_step)
    dist = problem.dist
    gp = _require_gaussian(problem)
    mu = read_only(gp.loc[None, None])  # (1, 1, *event); user functions must not write it
    f0 = float(problem.evaluate(mu)[0, 0])
    a = problem.evaluate_grad(mu)[0, 0]
    evals = 1
    d = a.size
    hdiag = np.zeros_like(a)
    hess: np.ndarray | None = None
    hvp_fn: Callable[[np.ndarray], np.ndarray] | None = None
    if order == 1:
        pass
    elif hvp is not None:

        def hvp_fn(v: np.ndarray) -> np.ndarray:
            return np.asarray(hvp(mu, v), dtype=np.float64)

        basis = np.eye(d).reshape(1, d, *dist.event_shape)  # H e_j for every j, one call
        cols = hvp_fn(basis).reshape(d, d)
        if not np.all(np.isfinite(cols)):
            raise ValueError("hvp returned a NaN or infinite value at the mean")
        hdiag = cols.diagonal().reshape(a.shape).copy()
    elif hessian is not None:
        if callable(hessian):
            hess = np.asarray(hessian(mu), dtype=np.float64)
            if hess.size != d * d or not np.all(np.isfinite(hess)):
                raise ValueError(
                    f"hessian must return a finite (D, D) array with D = {d} (the size of the "
                    f"event) at x of shape {mu.shape}, got shape {hess.shape}"
                )
            hess = hess.reshape(d, d)
        else:
            hess = _fd_hessian(problem, gp, fd_step)
            evals += 2 * d
        hess = 0.5 * (hess + hess.T)  # only the symmetric part enters f~
        hdiag = hess.diagonal().reshape(a.shape).copy()
    elif callable(hess_diag):
        hdiag = np.asarray(hess_diag(mu), dtype=np.float64)
        if hdiag.shape != mu.shape or not np.all(np.isfinite(hdiag)):
            raise ValueError(
                f"hess_diag must return finite values of the shape of x, {mu.shape}, got "
                f"{hdiag.shape}"
            )
        hdiag = hdiag[0, 0]
    else:  # central differences of grad f, one coordinate at a time, one vectorised call
        hdiag = _fd_hessian(problem, gp, fd_step).diagonal().reshape(a.shape)
        evals += 2 * d
    return DeltaExpansion(dist, gp, f0, a, hdiag, hess, hvp_fn, evals)


def _check_delta_args(order: int, hess_diag: Any, hessian: Any, hvp: Any, fd_step: Any) -> None:
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {short_repr(order)}")
    if not callable(hess_diag) and hess_diag != "fd":
        raise ValueError(f"hess_diag must be a callable or 'fd', got {short_repr(hess_diag)}")
    if hessian is not None and not callable(hessian) and hessian != "fd":
        raise ValueError(f"hessian must be None, 'fd' or a callable, got {short_repr(hessian)}")
    if hvp is not None and not callable(hvp):
        raise ValueError(f"hvp must be a callable (x, v) -> H(x) v, got {short_repr(hvp)}")
    if hessian is not None and hvp is not None:
        raise ValueError("pass hessian= or hvp=, not both (both give the full Hessian)")
    if (hessian is not None or hvp is not None) and order != 2:
        raise ValueError(f"hessian= and hvp= need order=2, got order={short_repr(order)}")
    if not (isinstance(fd_step, int | float) and fd_step > 0):
        raise ValueError(f"fd_step must be a positive number, got {short_repr(fd_step)}")
