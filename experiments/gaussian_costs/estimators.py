"""The compared estimators: oracle coefficients (from the true distribution) and fitted ones.

- ``sf``: score function (1 evaluation of f per sample);
- ``sf+b* (oracle)``: score function with the optimal constant baseline
  b*_d = E[f s_d^2] / E[s_d^2] per coordinate, computed exactly for each problem from the
  true distribution (an oracle coefficient, as in the paper's figures; 1);
- ``sf+b (loo)`` and ``sf+b (xfit)``: the same baseline fitted from the samples without
  bias, leave-one-out (``optimal_baseline("loo")``) or cross-fitted on two halves
  (``optimal_baseline("crossfit")``); 1 evaluation per sample, n >= 2;
- ``pathwise`` (1 evaluation of f');
- ``mvd``: measure-valued derivative with coupling (2 per parameter);
- ``sf+loo`` (RLOO, K = 4), ``sf+delta* (oracle)`` and ``pathwise+delta* (oracle)`` (the
  second-order delta-method control variate of Paisley et al. 2012 with its optimal
  coefficient computed by quadrature from the true distribution), and their fitted
  versions ``sf+delta (loo)`` and ``pathwise+delta (loo)`` (the coefficient fitted
  leave-one-out; n >= 2). Their cost in f evaluations is the harness's ``n_evals``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.control_variates.baselines import loo_baseline
from vartools.control_variates.coefficients import optimal_baseline, optimal_cv
from vartools.control_variates.features import Features, delta_features
from vartools.core.control_variate import ControlVariate
from vartools.core.problem import Problem
from vartools.estimators.base import BaseEstimator, pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.oracles.exact import quadrature, sf_moments

from .models import RLOO_K

__all__ = [
    "DELTA",
    "ESTIMATOR_NS",
    "FITTED",
    "ORACLES",
    "build_estimators",
    "oracle_delta_coef",
    "per_problem",
]

#: the oracle estimators (coefficient from the true distribution) and their fitted versions
ORACLES = {
    "sf+b* (oracle)": ("sf+b (loo)", "sf+b (xfit)"),
    "sf+delta* (oracle)": ("sf+delta (loo)",),
    "pathwise+delta* (oracle)": ("pathwise+delta (loo)",),
}
FITTED = tuple(f for fits in ORACLES.values() for f in fits)

#: samples per estimate at which each estimator's exact line (or, for the fitted ones,
#: which have no exact line, its markers) is drawn
ESTIMATOR_NS = {
    "sf": 1,
    "sf+b* (oracle)": 1,
    "pathwise": 1,
    "mvd": 1,
    "sf+loo": RLOO_K,
    "sf+delta* (oracle)": 1,
    "pathwise+delta* (oracle)": 1,
    "sf+b (loo)": 8,
    "sf+b (xfit)": 8,
    "sf+delta (loo)": 8,
    "pathwise+delta (loo)": 8,
}


def per_problem(make_cv: Callable[[Problem], ControlVariate], name: str) -> ControlVariate:
    """A control variate built for each problem by ``make_cv`` (e.g. with an oracle coefficient).

    The coefficient is fixed before any sample is drawn, so the control variate is
    unbiased and per-sample (quadrature oracles apply).
    """

    def init(problem: Problem) -> tuple[ControlVariate, Any]:
        cv = make_cv(problem)
        return cv, cv.init(problem)

    def apply(batch: Any, state: Any, problem: Problem) -> tuple[Any, Any]:
        cv, inner = state
        out, inner = cv.apply(batch, inner, problem)
        return out, (cv, inner)

    return ControlVariate(init, apply, name=name, per_sample=True)


def _oracle_baseline(problem: Problem) -> ControlVariate:
    m = sf_moments(problem)
    return optimal_baseline("fixed", coef=m.m1 / m.m0, name="b*")


DELTA = delta_features(2)


def _cv_moments(problem: Problem, base: BaseEstimator, feats: Features) -> np.ndarray:
    """E[g], E[g^2], E[g h], E[h], E[h^2] (each (p,)) for one-sample terms g and feature h."""

    def integrand(x: np.ndarray, e: np.ndarray) -> np.ndarray:
        b = base.from_noise(problem, e, True)
        g = b.terms[:, 0, :]
        h = feats(b, problem).h[:, 0, :, 0]
        return np.concatenate([g, g * g, g * h, h, h * h], axis=-1)

    p = problem.dist.n_params
    return quadrature(problem, integrand).reshape(5, p)


def oracle_delta_coef(problem: Problem, base: BaseEstimator) -> np.ndarray:
    """beta*_d = Cov(g_d, h_d) / Var(h_d) for the delta-method feature h, by quadrature."""
    eg, _, egh, eh, eh2 = _cv_moments(problem, base, DELTA)
    var_h = eh2 - eh**2
    return np.where(var_h > 0, (egh - eg * eh) / np.where(var_h > 0, var_h, 1.0), 0.0)


def _oracle_delta(base: BaseEstimator) -> Callable[[Problem], ControlVariate]:
    def make(problem: Problem) -> ControlVariate:
        coef = oracle_delta_coef(problem, base)
        return optimal_cv(DELTA, source="fixed", coef=coef[:, None], name="delta*")

    return make


def build_estimators() -> list[Estimator]:
    """The compared estimators (see the module docstring)."""
    ests = [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, per_problem(_oracle_baseline, "b*"), name="sf+b* (oracle)"),
        make_estimator(score_function, optimal_baseline("loo"), name="sf+b (loo)"),
        make_estimator(score_function, optimal_baseline("crossfit"), name="sf+b (xfit)"),
        make_estimator(pathwise, name="pathwise"),
    ]
    mvd = _mvd_estimator()
    if mvd is not None:
        ests.append(mvd)
    ests += [
        make_estimator(score_function, loo_baseline(), name="sf+loo"),
        make_estimator(
            score_function,
            per_problem(_oracle_delta(score_function), "delta*"),
            name="sf+delta* (oracle)",
        ),
        make_estimator(score_function, optimal_cv(DELTA, source="loo"), name="sf+delta (loo)"),
        make_estimator(
            pathwise,
            per_problem(_oracle_delta(pathwise), "delta*"),
            name="pathwise+delta* (oracle)",
        ),
        make_estimator(pathwise, optimal_cv(DELTA, source="loo"), name="pathwise+delta (loo)"),
    ]
    return ests


def _mvd_estimator() -> Estimator | None:
    try:
        from vartools.estimators.measure_valued import measure_valued
    except ImportError:
        return None
    return make_estimator(measure_valued, name="mvd")
