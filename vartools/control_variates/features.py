"""Control-variate features with a known mean, for ``vartools.control_variates.coefficients``.

A ``Features`` maps a batch to per-sample values h (*R, n, p, k) with their exact
expectation E[h] (p, k): the score itself (``score_features``), functions of the samples
(``function_features``) and the delta method's Taylor expansion for a Normal
(``delta_features``, built on ``vartools.control_variates.delta``).
``vartools.control_variates.coefficients.optimal_cv`` fits their coefficients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from vartools.control_variates.delta import _check_delta_args, delta_expansion
from vartools.core.capabilities import GaussianParams
from vartools.core.control_variate import require_score
from vartools.core.problem import call_on_read_only
from vartools.core.validation import as_finite_array

if TYPE_CHECKING:
    from vartools.core.batch import Batch
    from vartools.core.problem import Problem

__all__ = [
    "FeatureValues",
    "Features",
    "delta_features",
    "function_features",
    "score_features",
]


class FeatureValues(NamedTuple):
    """Control-variate values for one batch.

    Attributes:
        h: per-sample values, (*R, n, p, k).
        mean: their exact expectation E[h], (p, k).
        n_evals: extra evaluations of f (or its gradient) per estimate.
    """

    h: np.ndarray
    mean: np.ndarray
    n_evals: int = 0


@dataclass(frozen=True, eq=False)
class Features:
    """A family of control variates with a known mean.

    Args:
        name: short label (used in estimator names).
        fn: (batch, problem) -> ``FeatureValues`` with h of shape (*R, n, p, k).
    """

    name: str
    fn: Callable[[Batch, Problem], FeatureValues]

    def __call__(self, batch: Batch, problem: Problem) -> FeatureValues:
        """Evaluate the features on a batch and check their shapes."""
        out = self.fn(batch, problem)
        h, mean = np.asarray(out.h, dtype=np.float64), np.asarray(out.mean, dtype=np.float64)
        p = problem.dist.n_params
        want = (*batch.fx.shape, p)
        if h.ndim != len(want) + 1 or h.shape[:-1] != want:
            raise ValueError(
                f"features {self.name!r} returned h of shape {h.shape}; it must be "
                f"(*R, n, p, k) = {(*want, 'k')}"
            )
        if mean.shape != (p, h.shape[-1]):
            raise ValueError(
                f"features {self.name!r} returned a mean of shape {mean.shape}; it must be "
                f"(p, k) = {(p, h.shape[-1])}"
            )
        return FeatureValues(h, mean, int(out.n_evals))


def _score_fn(batch: Batch, problem: Problem) -> FeatureValues:
    s = require_score(batch, "the score control variate")
    return FeatureValues(s[..., None], np.zeros((s.shape[-1], 1)))


def score_features() -> Features:
    """h_d = s_d, the score itself (E[h] = 0): with g = f s it gives the optimal baseline.

    Example:
        >>> score_features().name
        'score'
    """
    return Features("score", _score_fn)


def function_features(fn: Callable[[np.ndarray], Any], mean: Any, name: str = "h") -> Features:
    """Control variates h(x) of the samples with a known mean, shared by every coordinate.

    Args:
        fn: x (*R, n, *event) -> (*R, n) or (*R, n, k); x is read-only (fn must not
            write into the samples).
        mean: E[h(x)] under the problem's distribution, a scalar or shape (k,).
        name: label.

    Returns:
        Features with h broadcast to (*R, n, p, k); each coordinate gets its own beta.

    Example:
        >>> import numpy as np
        >>> from vartools.distributions.discrete.bernoulli import Bernoulli
        >>> d = Bernoulli([0.0, 0.0])  # E[x0 x1] = 1/4
        >>> feats = function_features(lambda x: x[..., 0] * x[..., 1], 0.25, name="x0x1")
        >>> feats.name
        'x0x1'
    """
    mean_arr = as_finite_array(mean, "mean")
    if mean_arr.ndim > 1:
        raise ValueError(f"mean must be a scalar or a vector (k,), got shape {mean_arr.shape}")
    k = 1 if mean_arr.ndim == 0 else mean_arr.shape[0]

    def features(batch: Batch, problem: Problem) -> FeatureValues:
        h_raw = call_on_read_only(fn, batch.x, f"function control variate {name!r}", "x")
        h = np.asarray(h_raw, dtype=np.float64)
        lead = batch.fx.shape
        if h.shape == lead:
            h = h[..., None]
        if h.shape != (*lead, k):
            raise ValueError(
                f"function control variate {name!r} returned shape {h.shape} for x of shape "
                f"{batch.x.shape}; expected {lead} or {(*lead, k)} to match mean of shape "
                f"{mean_arr.shape}"
            )
        p = problem.dist.n_params
        h_full = np.broadcast_to(h[..., None, :], (*lead, p, k))
        return FeatureValues(h_full, np.broadcast_to(mean_arr.reshape(1, k), (p, k)))

    return Features(name, features)


def _mvd_taylor_terms(
    batch: Batch, a: np.ndarray, hd: np.ndarray, gp: GaussianParams
) -> np.ndarray:
    """The coupled measure-valued estimator applied to the Taylor expansion f~, (*R, n, p).

    f~ is a sum of per-coordinate terms, so replacing coordinate d changes f~ by the
    difference of its own term only, whatever the other coordinates: with the batch's
    Weibull W, double-sided Maxwell M and uniform U (``vartools.estimators.measure_valued``),
    d/dmu_d: 2 a_d W / sqrt(2 pi); d/dsigma_d: a_d M (1 - U) + (1/2) H_dd sigma_d M^2 (1 - U^2)
    (times sigma_d for log_scale). Their means are a_d and H_dd sigma_d: grad E[f~].
    """
    w, m, u = (np.asarray(batch.info[k]) for k in ("weibull", "maxwell", "uniform"))
    a_, h_, sd = a.ravel(), hd.ravel(), gp.scale.ravel()
    h_mu = a_ * (2.0 / math.sqrt(2.0 * math.pi)) * w
    h_sd = a_ * m * (1.0 - u) + 0.5 * h_ * sd * m * m * (1.0 - u * u)
    if gp.log_scale:
        h_sd = h_sd * sd
    return np.concatenate([h_mu, h_sd], axis=-1)


def delta_features(
    order: int = 2,
    *,
    hess_diag: Callable[[np.ndarray], Any] | str = "fd",
    hessian: Callable[[np.ndarray], Any] | str | None = None,
    hvp: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    fd_step: float = 1e-4,
) -> Features:
    """The delta-method control variate for a Normal (Paisley, Blei & Jordan 2012, sec. 4).

    f is replaced by its Taylor expansion around the current mean mu (held fixed),

        f~(x) = f(mu) + grad f(mu) . (x - mu) + (1/2) (x - mu)^T H (x - mu)

    (the last term for ``order=2`` only) with H the diagonal of the Hessian (default)
    or, with ``hessian=`` or ``hvp=``, the full Hessian (the peers' second-order
    expansion: deepmind/mc_gradients, optax.monte_carlo). Its Gaussian expectation
    E[f~] = f(mu) + (1/2) sum_d H_dd scale_d^2 is known, so grad_theta E[f~] is known
    in closed form: grad f(mu) for loc, H_dd scale_d for scale (H_dd scale_d^2 for
    log_scale), 0 for the scale with ``order=1``; the off-diagonal terms of H have
    mean zero. For a score-function batch h_i = f~(x_i) s_i (Paisley et al. 2012, eq.
    9); for a pathwise batch h_i = grad f~(x_i) dx_i/dtheta (Mohamed et al. 2020, sec.
    7.4.2); for a measure-valued batch (diagonal expansion only) the same coupled
    construction applied to f~ with the batch's own Weibull, Maxwell and uniform draws
    (``_mvd_taylor_terms``); all have mean grad_theta E[f~], one control variate per
    coordinate (k = 1). ``delta_expansion`` gives f~ and its expectation directly.

    f~ equals f when f is quadratic, and then the control variate with coefficient 1
    (``delta_method(2, "fixed", coef=1.0, hessian=...)``) removes all the variance:
    with the full Hessian for any quadratic, with the diagonal only for separable ones
    (on f = (w.x)^2 the diagonal leaves most of the variance and the full Hessian none;
    tests/test_peer_parity.py). Because the mean is computed for the very
    f~ used, any Hessian keeps the estimator unbiased; a poor one only makes the
    control variate weaker.

    Args:
        order: 1 (first-order expansion) or 2 (second order).
        hess_diag: x (1, 1, *event) -> diag of the Hessian of f at x (same shape), or
            ``"fd"`` for central finite differences of ``grad_f`` with step
            ``fd_step * scale_d`` (2 D extra gradient evaluations). Used when neither
            ``hessian`` nor ``hvp`` is given.
        hessian: the full Hessian: x (1, 1, *event) -> (D, D) array (D = prod(event)),
            or ``"fd"`` for central differences of ``grad_f`` (2 D gradient
            evaluations, as for the diagonal). Symmetrised.
        hvp: the full Hessian as a product: (x (1, 1, *event), v (*R, n, *event)) ->
            H(x) v (shape of v). Its diagonal at the mean takes one call with D vectors.
        fd_step: relative finite-difference step.

    Cost: f and grad f at the mean (1 evaluation, counted in ``n_evals``), plus 2 D
    gradient evaluations for a finite-difference Hessian; needs ``grad_f``.

    Example:
        >>> delta_features(order=1).name, delta_features(hessian="fd").name
        ('delta1', 'delta2H')
    """
    _check_delta_args(order, hess_diag, hessian, hvp, fd_step)
    full = hessian is not None or hvp is not None

    def features(batch: Batch, problem: Problem) -> FeatureValues:
        t = delta_expansion(
            problem, order, hess_diag=hess_diag, hessian=hessian, hvp=hvp, fd_step=fd_step
        )
        mean = t.grad_expectation()[:, None]
        if batch.score is not None:
            h = (t.value(batch.x)[..., None] * batch.score)[..., None]
        elif batch.noise is not None:
            dx = batch.x - t.gauss.loc
            h = t.dist.transform_vjp(batch.noise, t.grad + t.hess_times(dx))[..., None]
        elif {"weibull", "maxwell", "uniform"} <= batch.info.keys() and not full:
            h = _mvd_taylor_terms(batch, t.grad, t.hess_diag, t.gauss)[..., None]
        else:
            raise TypeError(
                "the delta-method control variate needs a score-function batch, a pathwise "
                "batch that carries its noise, or a coupled measure-valued batch (with the "
                "diagonal Hessian only: hessian=None, hvp=None)"
            )
        return FeatureValues(h, mean, t.n_evals)

    return Features(f"delta{order}H" if full else f"delta{order}", features)
