"""Optimal-coefficient control variates: beta = Cov(g, h) Var(h)^-1, fitted honestly.

A control variate h with a known expectation E[h] corrects the per-sample
gradient terms g_i (*R, n, p) as

    g_i' = g_i - beta (h_i - E[h]),

which keeps E[estimate] whenever beta does not depend on sample i. The
variance-minimising coefficient per coordinate d is beta*_d = Cov(g_d, h_d)
Var(h_d)^-1 (Glasserman 2003, "Monte Carlo methods in financial engineering",
eq. 4.2 and sec. 4.1.2 for several control variates; Mohamed et al. 2020, sec. 7.4).
Here the features h have shape (*R, n, p, k): k control variates for each of the p
coordinates. Over the m samples a coefficient is fitted on, per coordinate d,

    Sxx_d = sum_i (h_id - hbar_d)(h_id - hbar_d)^T  (k, k),
    Sxy_d = sum_i (h_id - hbar_d)(g_id - gbar_d)     (k,),
    beta_d = (Sxx_d + ridge tr(Sxx_d)/k I)^+ Sxy_d   (least squares; ^+ pseudo-inverse),

i.e. ordinary least squares with an intercept (Glasserman 2003, eq. 4.5); with
``center=False`` the moments are taken about the known E[h] with raw g instead.

With h = score (E = 0) and g = f score this is the optimal constant baseline
b*_d = E[f s_d^2] / E[s_d^2] (Mohamed et al. 2020, eq. 65): ``optimal_baseline``.
With ``pooling="block"`` the sums are added over each parameter block (loc, scale,
logits) to give one coefficient per block, as deepmind/mc_gradients does; ``"all"``
pools every coordinate.

Where beta comes from is always a visible choice (``source``):

- ``"crossfit"``: split the batch into halves A and B, fit on A and apply to B, fit
  on B and apply to A. Unbiased for independent samples; n >= 2.
- ``"loo"``: sample i uses the coefficient fitted on the other n - 1 samples
  (sums minus its own contribution). Unbiased for independent samples; n >= 2.
- ``"running"``: moments accumulated over earlier batches (state; exponentially
  decayed with ``decay``; beta = 0 before the first batch). Unbiased for any sampler.
- ``"fixed"``: a given coefficient (e.g. the oracle b*). Unbiased.
- ``"batch"``: fitted on the very batch it corrects. **Biased** (of order 1/n),
  so its name ends in ``[biased]`` and it sets ``ControlVariate(biased=True)``,
  which ``measure_variance`` reports in its ``biased`` column.

The fitted coefficients are put in ``batch.info["coef:<name>"]``: shape (*R, n, p)
for ``"loo"``, (*R, 2, p) for ``"crossfit"`` (fitted on the first, then the second
half), (*R, p) for ``"batch"`` and (p,) for ``"running"`` and ``"fixed"``, with a
trailing k axis when there are several control variates.

Cross-fitted and leave-one-out coefficients use other samples of the same batch,
so they need the batch's terms to be per-sample and its samples independent:
put these control variates first in a chain (before ``loo_baseline``), and
``make_estimator`` refuses them with dependent samplers (antithetic, stratified,
sobol). Cost: no evaluations of f beyond those of the features (the delta method
evaluates f and its gradient at the mean); O(R n p k^2) arithmetic.

The common case, the score alone with one coefficient per coordinate
(``optimal_baseline(source)`` with ``pooling="coordinate"`` and the sources loo,
crossfit, running or batch), takes a fast path: (*R, n, p) arrays in the batch's
precision instead of (*R, n, p, k) float64 ones, and g = f s is never formed from a
factored batch. It gives the general path's numbers up to rounding (2-4x faster in
float64 on W2 of benchmarks/, up to 20x in float32). Float32 batches stay float32,
except that centred moments are formed in float64 (Sxx = sum s^2 - (sum s)^2 / m
cancels) and running moments are accumulated in float64.

Example:
    >>> import numpy as np
    >>> from vartools.distributions import Bernoulli
    >>> from vartools.problems import Problem
    >>> from vartools.estimators import make_estimator, score_function
    >>> prob = Problem("toy", Bernoulli([0.0, 1.0]), lambda b: b.prod(-1) + b.sum(-1))
    >>> est = make_estimator(score_function, optimal_baseline("crossfit"))
    >>> est.name
    'sf+optbase(xfit)'
    >>> batch, _ = est.batch(prob, 8, rng=np.random.default_rng(0), reps=(5,))
    >>> batch.info["coef:optbase(xfit)"].shape
    (5, 2, 2)
    >>> optimal_baseline("batch").name
    'optbase(batch)[biased]'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from vartools._validation import as_finite_array, short_repr
from vartools.control_variates import ControlVariate, require_score
from vartools.distributions import Normal

if TYPE_CHECKING:
    from vartools.estimators import Batch
    from vartools.problems import Problem

__all__ = [
    "FeatureValues",
    "Features",
    "SOURCES",
    "delta_features",
    "delta_method",
    "function_features",
    "optimal_baseline",
    "optimal_cv",
    "score_features",
]

#: Where a coefficient can come from (see the module docstring).
SOURCES = ("crossfit", "loo", "running", "fixed", "batch")
_POOLINGS = ("coordinate", "block", "all")


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


# -- features -------------------------------------------------------------------------


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
        fn: x (*R, n, *event) -> (*R, n) or (*R, n, k).
        mean: E[h(x)] under the problem's distribution, a scalar or shape (k,).
        name: label.

    Returns:
        Features with h broadcast to (*R, n, p, k); each coordinate gets its own beta.

    Example:
        >>> import numpy as np
        >>> from vartools.distributions import Bernoulli
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
        h = np.asarray(fn(batch.x), dtype=np.float64)
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


def _taylor(problem: Problem, order: int, hess_diag: Any, fd_step: float):
    """f(mu), grad f(mu), diag Hessian at mu (or zeros) and the extra evaluations used."""
    dist = problem.dist
    if not isinstance(dist, Normal):
        raise TypeError(
            f"the delta-method control variate needs a Normal distribution (its Taylor "
            f"expansion has a Gaussian closed form); problem {problem.name!r} samples from "
            f"{type(dist).__name__}; use optimal_baseline or function_features instead"
        )
    mu = dist.loc[None, None]  # (1, 1, *event)
    f0 = float(problem.evaluate(mu)[0, 0])
    a = problem.evaluate_grad(mu)[0, 0]
    evals = 1
    hdiag = np.zeros_like(a)
    if order == 2:
        if callable(hess_diag):
            hdiag = np.asarray(hess_diag(mu), dtype=np.float64)
            if hdiag.shape != mu.shape or not np.all(np.isfinite(hdiag)):
                raise ValueError(
                    f"hess_diag must return finite values of the shape of x, {mu.shape}, got "
                    f"{hdiag.shape}"
                )
            hdiag = hdiag[0, 0]
        else:  # central differences of grad f, one coordinate at a time, one vectorised call
            d = a.size
            eps = fd_step * dist.scale.ravel()
            steps = np.zeros((2 * d, d))
            steps[np.arange(d), np.arange(d)] = eps
            steps[d + np.arange(d), np.arange(d)] = -eps
            pts = (dist.loc.ravel() + steps).reshape(2 * d, 1, *dist.event_shape)
            gr = problem.evaluate_grad(pts).reshape(2 * d, d)
            hdiag = ((gr[:d, :].diagonal() - gr[d:, :].diagonal()) / (2 * eps)).reshape(a.shape)
            evals += 2 * d
    return f0, a, hdiag, evals


def delta_features(
    order: int = 2, *, hess_diag: Callable[[np.ndarray], Any] | str = "fd", fd_step: float = 1e-4
) -> Features:
    """The delta-method control variate for a Normal (Paisley, Blei & Jordan 2012, sec. 4).

    f is replaced by its Taylor expansion around the current mean mu (held fixed),

        f~(x) = f(mu) + grad f(mu) . (x - mu) + (1/2) sum_d H_dd (x_d - mu_d)^2

    (the last term for ``order=2`` only, with the diagonal H_dd of the Hessian), whose
    Gaussian expectation E[f~] = f(mu) + (1/2) sum_d H_dd scale_d^2 is known, so
    grad_theta E[f~] is known in closed form: grad f(mu) for loc, H_dd scale_d for
    scale (H_dd scale_d^2 for log_scale), and 0 for the scale with ``order=1``.
    For a score-function batch h_i = f~(x_i) s_i (Paisley et al. 2012, eq. 9); for a
    pathwise batch h_i = grad f~(x_i) dx_i/dtheta (Mohamed et al. 2020, sec. 7.4.2);
    both have mean grad_theta E[f~], one control variate per coordinate (k = 1).

    Because the mean is computed for the very f~ used, any Hessian diagonal keeps the
    estimator unbiased; a poor one only makes the control variate weaker.

    Args:
        order: 1 (first-order expansion) or 2 (with the diagonal Hessian).
        hess_diag: x (1, 1, *event) -> diag of the Hessian of f at x (same shape), or
            ``"fd"`` for central finite differences of ``grad_f`` with step
            ``fd_step * scale_d`` (2 d extra gradient evaluations).
        fd_step: relative finite-difference step.

    Cost: f and grad f at the mean (1 evaluation, counted in ``n_evals``), plus 2 d
    gradient evaluations with ``hess_diag="fd"``; needs ``grad_f``.

    Example:
        >>> delta_features(order=1).name
        'delta1'
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {short_repr(order)}")
    if not callable(hess_diag) and hess_diag != "fd":
        raise ValueError(f"hess_diag must be a callable or 'fd', got {short_repr(hess_diag)}")
    if not (isinstance(fd_step, int | float) and fd_step > 0):
        raise ValueError(f"fd_step must be a positive number, got {short_repr(fd_step)}")

    def features(batch: Batch, problem: Problem) -> FeatureValues:
        f0, a, hd, evals = _taylor(problem, order, hess_diag, float(fd_step))
        dist = problem.dist
        assert isinstance(dist, Normal)
        ev = dist.event_shape
        scale = dist.scale
        second = hd * scale if dist.parameterization == "scale" else hd * scale * scale
        mean = np.concatenate([a.ravel(), second.ravel()])[:, None]
        dx = batch.x - dist.loc
        if batch.score is not None:
            quad = a * dx + 0.5 * hd * dx * dx
            ftilde = f0 + quad.reshape(*batch.fx.shape, -1).sum(-1) if ev else f0 + quad
            h = (ftilde[..., None] * batch.score)[..., None]
        elif batch.noise is not None:
            h = dist.transform_vjp(batch.noise, a + hd * dx)[..., None]
        else:
            raise TypeError(
                "the delta-method control variate needs a score-function batch or a pathwise "
                "batch that carries its noise"
            )
        return FeatureValues(h, mean, evals)

    return Features(f"delta{order}", features)


# -- fitting ----------------------------------------------------------------------------


def _groups(problem: Problem, pooling: str) -> np.ndarray | None:
    """Group index (p,) of each coordinate, or None for per-coordinate coefficients."""
    p = problem.dist.n_params
    if pooling == "coordinate":
        return None
    if pooling == "all":
        return np.zeros(p, dtype=np.int64)
    blocks = problem.dist.unflatten(np.arange(p))
    gid = np.empty(p, dtype=np.int64)
    for j, idx in enumerate(blocks.values()):
        gid[np.asarray(idx, dtype=np.int64).ravel()] = j
    return gid


#: Relative size below which a direction of Sxx counts as zero (no information).
_DEGENERATE = 1e-10


def _solve(
    sxx: np.ndarray, sxy: np.ndarray, scale: np.ndarray, ridge: float, gid: np.ndarray | None
) -> np.ndarray:
    """beta (..., p, k) from Sxx (..., p, k, k), Sxy (..., p, k), pooled by gid.

    ``scale`` (..., p) is the size of the uncentred second moment of h: a direction of
    Sxx smaller than ``_DEGENERATE * scale`` (e.g. all samples equal, up to rounding)
    gets a zero coefficient, so rounding never decides the coefficient.
    """
    if gid is not None:
        onehot = (gid[:, None] == np.arange(gid.max() + 1)).astype(np.float64)  # (p, G)
        sxx = np.einsum("...pkl,pg->...gkl", sxx, onehot)
        sxy = np.einsum("...pk,pg->...gk", sxy, onehot)
        scale = np.einsum("...p,pg->...g", scale, onehot)
    k = sxx.shape[-1]
    if ridge > 0:
        tr = np.trace(sxx, axis1=-2, axis2=-1)[..., None, None] / k
        sxx = sxx + ridge * tr * np.eye(k)
    tol = _DEGENERATE * scale
    if k == 1:
        den = sxx[..., 0]
        ok = den > tol[..., None]
        beta = np.where(ok, sxy / np.where(ok, den, 1.0), 0.0)
    else:  # pseudo-inverse through the eigendecomposition of the symmetric Sxx
        w, v = np.linalg.eigh(sxx)
        ok = w > tol[..., None]
        inv_w = np.where(ok, 1.0 / np.where(ok, w, 1.0), 0.0)
        proj = np.einsum("...kj,...k->...j", v, sxy) * inv_w
        beta = np.einsum("...kj,...j->...k", v, proj)
    return beta if gid is None else beta[..., gid, :]


class _Moments(NamedTuple):
    """Sums over samples: count m, sum h (.., p, k), sum g (.., p), sum h h^T, sum h g."""

    m: Any
    sh: np.ndarray
    sg: np.ndarray
    shh: np.ndarray
    shg: np.ndarray

    def combine(self, other: _Moments, w_self: float = 1.0, sign: float = 1.0) -> _Moments:
        """w_self * self + sign * other, entry by entry (broadcasting)."""
        return _Moments(*(w_self * a + sign * b for a, b in zip(self, other, strict=True)))

    def cov(self, center: bool) -> tuple[np.ndarray, np.ndarray]:
        """Sxx (.., p, k, k) and Sxy (.., p, k), about the sample means or the known mean."""
        if not center:
            return self.shh, self.shg
        m = np.asarray(self.m, dtype=np.float64)
        inv = np.where(m > 0, 1.0 / np.where(m > 0, m, 1.0), 0.0)
        inv = inv.reshape(inv.shape + (1,) * (self.sh.ndim - inv.ndim))
        mean_h = self.sh * inv
        sxx = self.shh - mean_h[..., :, None] * self.sh[..., None, :]
        sxy = self.shg - mean_h * self.sg[..., None]
        return sxx, sxy


def _per_sample(hc: np.ndarray, g: np.ndarray) -> _Moments:
    """Each sample's own contribution (m = 1), shapes (*R, n, p, ...)."""
    return _Moments(1.0, hc, g, hc[..., :, None] * hc[..., None, :], hc * g[..., None])


def _sums(hc: np.ndarray, g: np.ndarray, axis: tuple[int, ...]) -> _Moments:
    """Moments summed over the given (non-negative) sample axes of hc (*R, n, p, k)."""
    one = _per_sample(hc, g)
    m = float(np.prod([hc.shape[a] for a in axis]))
    return _Moments(m, *(a.sum(axis=axis) for a in one[1:]))


# -- fast path: the score alone, k = 1, one coefficient per coordinate -------------------

#: Sources the fast path handles ("fixed" is cheap in the general path already).
_FAST_SOURCES = ("loo", "crossfit", "running", "batch")


def _fit1(
    m: float, sh: Any, sg: Any, shh: np.ndarray, shg: np.ndarray, center: bool, ridge: float
) -> np.ndarray:
    """beta (..., p) for one feature per coordinate: ``_Moments.cov`` then ``_solve``, k = 1.

    The same operations in the same order as the general path, on arrays without the
    trailing k axes (``sh`` and ``sg`` are not used when ``center`` is False).
    """
    if center:
        mean_h = sh * (1.0 / m)
        sxx = shh - mean_h * sh
        sxy = shg - mean_h * sg
    else:
        sxx, sxy = shh, shg
    if ridge > 0:
        sxx = sxx + ridge * sxx
    ok = sxx > _DEGENERATE * shh
    return np.where(ok, sxy / np.where(ok, sxx, 1.0), 0.0)


def _fast_score_cv(
    batch: Batch, state: Any, source: str, center: bool, ridge: float, decay: float
) -> tuple[np.ndarray, np.ndarray, Any]:
    """The score control variate per coordinate: new terms (*R, n, p), coefficient, state.

    Computes what ``optimal_cv(score_features(), pooling="coordinate")`` computes for
    the sources in ``_FAST_SOURCES`` (same formulas, same order of operations up to
    rounding), on (*R, n, p) arrays instead of (*R, n, p, k) ones, and without forming
    g = w s when the batch's terms are in factored form:

        terms_i' = (w_i - beta_i) s_i   (g_i - beta_i s_i for general terms).

    Precision: the per-sample work runs in the batch's dtype (float32 in the float32
    mode), except that centred moments are formed in float64, because
    Sxx = sum s^2 - (sum s)^2 / m cancels and in float32 rounding, not the data, would
    decide whether a coordinate is degenerate; the running moments are accumulated
    in float64 (their sums run over every replicate and batch).
    """
    s = require_score(batch, "the score control variate")
    w = batch.weight if batch.extra is None else None
    g = batch.terms if w is None else None
    dt = np.result_type(s, np.float32) if g is None else np.result_type(s, g, np.float32)
    acc = np.dtype(np.float64) if center else dt
    n = s.shape[-2]
    s_dt = s.astype(dt, copy=False)
    w_dt = None if w is None else w.astype(dt, copy=False)[..., None]

    def terms_with(
        beta: np.ndarray,
        sl: slice = slice(None),
        out: np.ndarray | None = None,
        view: Callable[[np.ndarray], np.ndarray] = lambda a: a,
    ) -> np.ndarray:
        """(w - beta) s, or g - beta s, on samples ``sl`` (then ``view``) in the batch's dtype."""
        b = beta.astype(dt, copy=False)
        if w_dt is not None:
            out = np.subtract(view(w_dt[..., sl, :]), b, out=out)
            out *= view(s_dt[..., sl, :])
            return out
        assert g is not None
        out = np.multiply(b, view(s_dt[..., sl, :]), out=out)
        np.subtract(view(g[..., sl, :]), out, out=out)
        return out

    sa = s.astype(acc, copy=False)
    wa = None if w is None else w.astype(acc, copy=False)[..., None]
    ga = None if g is None else g.astype(acc, copy=False)

    def g_of(sl: slice) -> np.ndarray:
        """Per-sample g (w s or the given terms) on samples ``sl``, in ``acc``."""
        if wa is not None:
            return wa[..., sl, :] * sa[..., sl, :]
        assert ga is not None
        return ga[..., sl, :]

    s2 = sa * sa  # per-sample h h^T
    if source in ("loo", "running") or wa is None:
        gs = wa * s2 if wa is not None else g_of(slice(None)) * sa  # per-sample h g

    def part_sums(
        sl: slice, view: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[Any, Any, np.ndarray, np.ndarray]:
        """sum h, sum g (None without centring), sum h^2, sum h g over samples ``sl``."""
        sh = view(sa[..., sl, :]).sum(-2) if center else None
        if wa is not None:  # sum_i w_i a_i as a matrix product: no (*R, n, p) product
            wt = view(wa[..., sl, :]).swapaxes(-1, -2)
            sg = np.matmul(wt, view(sa[..., sl, :]))[..., 0, :] if center else None
            return (
                sh,
                sg,
                view(s2[..., sl, :]).sum(-2),
                np.matmul(wt, view(s2[..., sl, :]))[..., 0, :],
            )
        sg = view(g_of(sl)).sum(-2) if center else None
        return sh, sg, view(s2[..., sl, :]).sum(-2), view(gs[..., sl, :]).sum(-2)

    if source == "running":
        if state is None:
            beta = np.zeros(s.shape[-1])
        else:
            sxx, sxy = state.cov(center)
            beta = _solve(sxx, sxy, np.trace(state.shh, axis1=-2, axis2=-1), ridge, None)[:, 0]
        axes = tuple(range(s.ndim - 1))
        now = _Moments(
            float(np.prod(s.shape[:-1])),
            sa.sum(axes, dtype=np.float64)[:, None],
            g_of(slice(None)).sum(axes, dtype=np.float64),
            s2.sum(axes, dtype=np.float64)[:, None, None],
            gs.sum(axes, dtype=np.float64)[:, None],
        )
        new_state = now if state is None else state.combine(now, w_self=decay)
        return terms_with(beta), beta, new_state

    if source == "loo":  # sums over the other n - 1 samples, in place
        m = float(n - 1)
        wt = None if wa is None else wa.swapaxes(-1, -2)  # (*R, 1, n): totals by matmul
        tot_hg = gs.sum(-2, keepdims=True) if wt is None else np.matmul(wt, s2)
        shh = np.subtract(s2.sum(-2, keepdims=True), s2, out=s2)
        shg = np.subtract(tot_hg, gs, out=gs)
        # the threshold scales with the uncentred sum, as in the general path; without
        # centring or ridge, shh > _DEGENERATE * shh is shh > 0 (shh finite)
        tol = shh * _DEGENERATE if center or ridge > 0 else None
        if center:
            sh = np.subtract(sa.sum(-2, keepdims=True), sa)
            if wa is not None and wt is not None:
                sg = np.multiply(wa, sa)
                np.subtract(np.matmul(wt, sa), sg, out=sg)
            else:
                gi = g_of(slice(None))
                sg = np.subtract(gi.sum(-2, keepdims=True), gi)
            mean_h = sh * (1.0 / m)
            sh *= mean_h
            sg *= mean_h
            shh -= sh  # Sxx
            shg -= sg  # Sxy
            del sh, sg, mean_h
        if ridge > 0:
            shh += ridge * shh
        if tol is None:
            ok = None if shh.min() > 0 else shh > 0
        else:
            ok = shh > tol
        beta = shg
        if ok is None or ok.all():
            np.divide(shg, shh, out=beta)
        else:
            np.divide(shg, shh, out=beta, where=ok)
            beta[~ok] = 0.0
        return terms_with(beta, out=shh if shh.dtype == dt else None), beta, state

    if source == "batch" or n % 2 == 0:  # equal parts: a (*R, parts, n / parts, .) view
        parts = 1 if source == "batch" else 2
        lead = s.shape[:-2]

        def blocks(a: np.ndarray) -> np.ndarray:
            return a.reshape(*lead, parts, n // parts, a.shape[-1])

        sums = part_sums(slice(None), blocks)
        beta = _fit1(float(n // parts), *sums, center, ridge)  # (*R, parts, p)
        use = beta if parts == 1 else beta[..., ::-1, :]  # each half: the other half's fit
        terms = terms_with(use[..., None, :], view=blocks).reshape(s.shape)
        return terms, beta[..., 0, :] if parts == 1 else beta, state
    # crossfit with n odd: halves of n // 2 and n - n // 2 samples
    cuts = [slice(0, n // 2), slice(n // 2, n)]
    betas = []
    for sl in cuts:
        sums = part_sums(sl, lambda a: a)
        betas.append(_fit1(float(sl.stop - sl.start), *sums, center, ridge))
    out = np.empty(s.shape, dtype=dt)
    terms_with(betas[1][..., None, :], cuts[0], out[..., : n // 2, :])
    terms_with(betas[0][..., None, :], cuts[1], out[..., n // 2 :, :])
    return out, np.stack(betas, axis=-2), state


def optimal_cv(
    *features: Features,
    source: str = "running",
    pooling: str = "coordinate",
    ridge: float = 0.0,
    center: bool = True,
    decay: float = 0.9,
    coef: Any = None,
    name: str | None = None,
) -> ControlVariate:
    """Control variates h with known means, with least-squares optimal coefficients.

    terms_i' = terms_i - beta (h_i - E[h]) with beta = Cov(g, h) Var(h)^-1 estimated as
    in the module docstring (Glasserman 2003, sec. 4.1.2; Mohamed et al. 2020, sec. 7.4),
    jointly for all the features given (k of them, concatenated).

    Args:
        *features: ``Features`` (e.g. ``score_features()``, ``delta_features()``,
            ``function_features(...)``); at least one.
        source: where beta is fitted: ``"running"`` (default), ``"crossfit"``, ``"loo"``,
            ``"fixed"`` (needs ``coef``) or ``"batch"`` (biased; see the module docstring).
        pooling: ``"coordinate"`` (one beta per parameter), ``"block"`` (one per
            parameter block, as deepmind/mc_gradients) or ``"all"``.
        ridge: relative ridge: Var(h) + ridge tr(Var(h))/k I is inverted (0: plain least
            squares; the pseudo-inverse handles a singular Var(h)).
        center: True (default): least squares with an intercept, i.e. Sxx and Sxy about
            the sample means of h and g (Glasserman 2003, eq. 4.5), which is exact when
            g is an affine function of h; False: about the known mean E[h] with raw g
            (for the baseline: b = sum g s / sum s^2, the plug-in of E[f s^2] / E[s^2]).
            Both estimate the same beta*; centring had the lower variance in our
            measurements (docs/readme/reducers_coefficients.md).
        decay: for ``source="running"``, the weight of earlier batches' moments in [0, 1]
            (1: plain cumulative sums).
        coef: for ``source="fixed"``: beta, broadcastable to (p, k).
        name: label (default from the features, the source and the options).

    Returns:
        A ``ControlVariate``. Unbiased for every source but ``"batch"`` (``"loo"`` and
        ``"crossfit"`` for independent samples with per-sample incoming terms). Extra
        cost: the features' evaluations (none for the score); O(R n p k^2) arithmetic.

    Example:
        >>> cv = optimal_cv(score_features(), function_features(lambda x: x.sum(-1), 1.0),
        ...                 source="loo", ridge=0.1)
        >>> cv.name, cv.requires_independent
        ('cv[score,h](loo,ridge=0.1)', True)
    """
    if not features:
        raise ValueError("optimal_cv needs at least one Features (e.g. score_features())")
    for i, ft in enumerate(features):
        if not isinstance(ft, Features):
            raise TypeError(
                f"feature {i} must be a Features (score_features(), delta_features(), "
                f"function_features(...)), got {short_repr(ft)}"
            )
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {short_repr(source)}")
    if pooling not in _POOLINGS:
        raise ValueError(f"pooling must be one of {_POOLINGS}, got {short_repr(pooling)}")
    if isinstance(ridge, bool) or not isinstance(ridge, int | float) or not ridge >= 0:
        raise ValueError(f"ridge must be a number >= 0, got {short_repr(ridge)}")
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay <= 1:
        raise ValueError(f"decay must be a number in [0, 1], got {short_repr(decay)}")
    coef_arr = None
    if source == "fixed":
        if coef is None:
            raise ValueError("source='fixed' needs coef=... (broadcastable to (p, k))")
        coef_arr = as_finite_array(coef, "coef")
    elif coef is not None:
        raise ValueError(f"coef is only used with source='fixed', got source={source!r}")
    ridge, decay = float(ridge), float(decay)

    if name is None:
        base = features[0].name if len(features) == 1 else ",".join(f.name for f in features)
        base = f"cv[{base}]" if not (len(features) == 1 and base == "score") else "optbase"
        label = {
            "crossfit": "xfit",
            "loo": "loo",
            "running": f"run{decay:g}",
            "fixed": "fixed",
            "batch": "batch",
        }[source]
        opts = [label]
        if pooling != "coordinate":
            opts.append(pooling)
        if ridge:
            opts.append(f"ridge={ridge:g}")
        if not center and source != "fixed":
            opts.append("raw")
        name = f"{base}({','.join(opts)})"
    if source == "batch" and "[biased]" not in name:
        name += "[biased]"
    key = f"coef:{name}"
    fast = (
        len(features) == 1
        and features[0].fn is _score_fn
        and pooling == "coordinate"
        and source in _FAST_SOURCES
    )

    def evaluate(batch: Batch, problem: Problem) -> tuple[np.ndarray, np.ndarray, int]:
        vals = [ft(batch, problem) for ft in features]
        if len(vals) == 1:
            h, mu, ev = vals[0]
        else:
            h = np.concatenate([v.h for v in vals], axis=-1)
            mu = np.concatenate([v.mean for v in vals], axis=-1)
            ev = sum(v.n_evals for v in vals)
        return h - mu, mu, ev

    def init(problem: Problem) -> None:
        _groups(problem, pooling)  # validates the problem's parameter blocks
        return None  # running: no moments yet

    def fit(mom: _Moments, gid: np.ndarray | None) -> np.ndarray:
        sxx, sxy = mom.cov(center)
        scale = np.trace(mom.shh, axis1=-2, axis2=-1)
        return _solve(sxx, sxy, scale, ridge, gid)

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        n = batch.n
        if source in ("crossfit", "loo", "batch") and n < 2:
            raise ValueError(f"{name} fits its coefficient on the batch and needs n >= 2, got {n}")
        if fast:  # the score alone, one coefficient per coordinate: (*R, n, p) arrays
            terms, info1, new_state = _fast_score_cv(batch, state, source, center, ridge, decay)
            return batch.with_terms(terms).with_info(**{key: info1}), new_state
        hc, _, extra = evaluate(batch, problem)  # (*R, n, p, k), centred at the known mean
        g = batch.terms  # (*R, n, p)
        gid = _groups(problem, pooling)
        p, k = hc.shape[-2], hc.shape[-1]
        ax = hc.ndim - 3  # the sample axis
        new_state = state
        if source == "batch":
            beta = fit(_sums(hc, g, (ax,)), gid)  # (*R, p, k)
            corr = np.einsum("...npk,...pk->...np", hc, beta)
        elif source == "loo":
            tot = _sums(hc, g, (ax,))
            tot = _Moments(tot.m, *(np.expand_dims(t, ax) for t in tot[1:]))
            beta = fit(tot.combine(_per_sample(hc, g), sign=-1.0), gid)  # (*R, n, p, k)
            corr = np.einsum("...npk,...npk->...np", hc, beta)
        elif source == "crossfit":
            half = n // 2
            parts = [(slice(0, half), slice(half, n)), (slice(half, n), slice(0, half))]
            betas, corrs = [], []
            for fit_on, use_on in parts:
                bf = fit(_sums(hc[..., fit_on, :, :], g[..., fit_on, :], (ax,)), gid)
                betas.append(bf)
                corrs.append(np.einsum("...npk,...pk->...np", hc[..., use_on, :, :], bf))
            beta = np.stack(betas, axis=-3)  # (*R, 2, p, k): fitted on first, second half
            corr = np.concatenate([corrs[1], corrs[0]], axis=-2)
        elif source == "fixed":
            assert coef_arr is not None
            try:
                beta = np.broadcast_to(coef_arr, (p, k))
            except ValueError as exc:
                raise ValueError(
                    f"coef of shape {coef_arr.shape} does not broadcast to (p, k) = {(p, k)} "
                    f"for problem {problem.name!r}; pass a scalar, (p, 1) or (p, k) array"
                ) from exc
            corr = np.einsum("...npk,pk->...np", hc, beta)
        else:  # running: moments of earlier batches (every replicate), decayed
            beta = np.zeros((p, k)) if state is None else fit(state, gid)
            corr = np.einsum("...npk,pk->...np", hc, beta)
            now = _sums(hc, g, tuple(range(ax + 1)))
            new_state = now if state is None else state.combine(now, w_self=decay)
        info = beta[..., 0] if k == 1 else beta
        out = batch.with_terms(g - corr).with_info(**{key: info})
        if extra:
            out = out.replace(n_evals=batch.n_evals + extra)
        return out, new_state

    per_sample = source in ("running", "fixed")
    return ControlVariate(
        init,
        apply,
        name=name,
        biased=source == "batch",
        min_n=1 if per_sample else 2,
        stateful=source == "running",
        requires_independent=source in ("crossfit", "loo"),
        per_sample=per_sample,
    )


def optimal_baseline(
    source: str = "running",
    *,
    pooling: str = "coordinate",
    center: bool = True,
    decay: float = 0.9,
    coef: Any = None,
    name: str | None = None,
) -> ControlVariate:
    """The optimal constant baseline per coordinate, b*_d = E[f s_d^2] / E[s_d^2], estimated.

    terms_i' = terms_i - b_d s_id with b_d the least-squares slope of g_d = f s_d on s_d
    over the samples the ``source`` allows: sum_j (s_jd - sbar_d)(g_jd - gbar_d) /
    sum_j (s_jd - sbar_d)^2, or with ``center=False`` the plug-in sum_j f_j s_jd^2 /
    sum_j s_jd^2 (Mohamed et al. 2020, eq. 65; Greensmith, Bartlett & Baxter 2004,
    Theorem 8 for the policy-gradient form); both estimate b*_d = E[f s_d^2] / E[s_d^2].
    Single-sample variance at the exact b*: M2 - M1^2 / M0 - g^2
    (``vartools.exact.optimal_baseline_variance``); an estimated coefficient adds O(1/n)
    to it (about 11/n relative for leave-one-out, 20/n for cross-fitting on cos(x),
    x ~ N(1, 1)). This is ``optimal_cv(score_features())``.

    Args:
        source: ``"running"`` (default: the cheapest and, in our measurements, the lowest
            variance), ``"crossfit"``, ``"loo"``, ``"fixed"`` or ``"batch"`` (biased,
            named ``optbase(batch)[biased]``).
        pooling: ``"coordinate"``, ``"block"`` or ``"all"``.
        center: least squares with an intercept (default) or the plug-in ratio.
        decay: for ``"running"``.
        coef: for ``"fixed"``: b, a scalar or (p,) (e.g. the oracle M1 / M0).
        name: label.

    Returns:
        A ``ControlVariate``: unbiased except with ``source="batch"``; no extra
        evaluations of f; needs a score-function batch.

    Example:
        >>> optimal_baseline("loo").name, optimal_baseline("running").stateful
        ('optbase(loo)', True)
    """
    if coef is not None:
        c = as_finite_array(coef, "coef")
        coef = c[:, None] if c.ndim == 1 else c
    return optimal_cv(
        score_features(),
        source=source,
        pooling=pooling,
        center=center,
        decay=decay,
        coef=coef,
        name=name,
    )


def delta_method(
    order: int = 2,
    source: str = "running",
    *,
    pooling: str = "coordinate",
    hess_diag: Callable[[np.ndarray], Any] | str = "fd",
    decay: float = 0.9,
    name: str | None = None,
) -> ControlVariate:
    """Delta-method control variate (Paisley et al. 2012) with an optimal coefficient.

    ``optimal_cv(delta_features(order, hess_diag=...), source=..., pooling=...)``; see
    ``delta_features`` for the formula and its closed-form mean. Normal problems
    only; works on score-function and pathwise batches. Unbiased except with
    ``source="batch"``. Cost: 1 evaluation of f and grad f at the mean, plus 2 d
    gradient evaluations for the finite-difference Hessian diagonal (order 2).

    Example:
        >>> delta_method(1, "running", pooling="block").name
        'cv[delta1](run0.9,block)'
    """
    return optimal_cv(
        delta_features(order, hess_diag=hess_diag),
        source=source,
        pooling=pooling,
        decay=decay,
        name=name,
    )
