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
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
    >>> from vartools.core.problem import Problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.estimators.base import score_function
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
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools.control_variates.fast import _FAST_SOURCES, _fast_score_cv
from vartools.control_variates.features import (
    Features,
    FeatureValues,
    _score_fn,
    delta_features,
    function_features,
    score_features,
)
from vartools.control_variates.fitting import (
    Moments,
    _groups,
    _per_sample,
    _solve,
    _sums,
)
from vartools.core.control_variate import ControlVariate
from vartools.core.validation import as_finite_array, short_repr

if TYPE_CHECKING:
    from vartools.core.batch import Batch
    from vartools.core.problem import Problem

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

    def fit(mom: Moments, gid: np.ndarray | None) -> np.ndarray:
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
            tot = Moments(tot.m, *(np.expand_dims(t, ax) for t in tot[1:]))
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
        factory=optimal_cv,
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
    (``vartools.oracles.exact.optimal_baseline_variance``); an estimated coefficient adds O(1/n)
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
    hessian: Callable[[np.ndarray], Any] | str | None = None,
    hvp: Callable[[np.ndarray, np.ndarray], Any] | None = None,
    decay: float = 0.9,
    coef: Any = None,
    name: str | None = None,
) -> ControlVariate:
    """Delta-method control variate (Paisley et al. 2012) with an optimal coefficient.

    ``optimal_cv(delta_features(order, hess_diag=..., hessian=..., hvp=...), source=...,
    pooling=..., coef=...)``; see ``delta_features`` for the formula and its closed-form
    mean (and ``delta_expansion`` for f~ itself). ``hessian=`` or ``hvp=`` use the full
    Hessian instead of its diagonal. ``source="fixed"`` takes ``coef`` (default 1.0: the
    classical delta method, terms minus (h - E[h]) itself, which removes all the
    variance when f~ = f). Normal problems only; works on score-function and pathwise
    batches, and on coupled measure-valued ones with the diagonal. Unbiased except with
    ``source="batch"``. Cost: 1 evaluation of f and grad f at the mean, plus 2 d
    gradient evaluations for a finite-difference Hessian (order 2).

    Example:
        >>> delta_method(1, "running", pooling="block").name
        'cv[delta1](run0.9,block)'
        >>> delta_method(2, "fixed").name, delta_method(2, "fixed", coef=0.5).name
        ('cv[delta2](fixed)', 'cv[delta2](fixed)')
    """
    if source == "fixed" and coef is None:
        coef = 1.0  # documented: the classical delta method
    return optimal_cv(
        delta_features(order, hess_diag=hess_diag, hessian=hessian, hvp=hvp),
        source=source,
        pooling=pooling,
        decay=decay,
        coef=coef,
        name=name,
    )
