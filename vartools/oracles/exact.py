"""Exact oracles: enumeration for discrete problems, quadrature for one-dimensional Normals.

These are library code used by tests, measurements and experiments alike:

- ``exact_expectation(problem)``: E_p[f(x)], computed without the score (so the
  finite difference of it checks ``exact_gradient`` independently);
- ``exact_gradient(problem)``: grad_theta E_p[f], shape (p,);
- ``exact_moments(problem, estimator, n)``: mean and variance (p,) of the
  n-sample estimate: by enumerating the n-sample joint support (any stateless or
  frozen-state estimator whose terms depend on the outcomes only, within a
  budget), or, for a one-dimensional Normal, by quadrature over the whole real
  line for per-sample estimators (variance / n), or by the oracle attached to the
  base estimator or registered for the control variate (``vartools.oracles.registry``:
  the RLOO U-statistic formula for ``loo_baseline``);
- ``sf_moments(problem)``: g, M2 = E[f^2 s^2], M1 = E[f s^2], M0 = E[s^2],
  E[f], E[f^2] (REFERENCES.md), from which the closed forms follow
  (``baseline_variance``, ``optimal_baseline_variance``, ``rloo_variance``).

Quadrature integrates over the standard-normal noise e on (-inf, inf) with
``scipy.integrate.cubature`` (vectorised, adaptive, infinite limits), so it stays
accurate for Gaussians far from the origin, unlike a truncated interval.

Where no oracle applies (or an enumeration would exceed its budget) these functions
raise ``vartools.core.errors.NoOracleError`` (``BudgetExceededError``), and only then;
dispatch reads capabilities (``dist.supports``), flags (``Sampler.iid``,
``ControlVariate.per_sample``) and attached oracles, never names.

Example:
    >>> from vartools.catalogue.settings import make_problem
    >>> round(float(exact_gradient(make_problem("liu_toy", eta=0.0)).sum()), 6)
    -0.045
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools.control_variates.baselines import loo_baseline
from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET
from vartools.core.errors import BudgetExceededError, NoOracleError, OracleFailedError
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int
from vartools.distributions.budget import check_power_budget, power_exceeds
from vartools.estimators.base import score_function
from vartools.oracles.moments import SFMoments
from vartools.oracles.registry import (
    base_oracle,
    cv_oracle,
    register_base_oracle,
    register_cv_oracle,
)
from vartools.oracles.separable import separable_reason, separable_sf_moments

if TYPE_CHECKING:
    from vartools.estimators.composed import Estimator

__all__ = [
    "SFMoments",
    "baseline_variance",
    "exact_expectation",
    "exact_gradient",
    "exact_moments",
    "has_oracle",
    "optimal_baseline_variance",
    "quadrature",
    "rloo_variance",
    "sf_moments",
    "sf_variance",
]

#: Largest number of (joint outcome x sample x parameter) entries held at once.
ELEMENT_BUDGET = 50_000_000


def _quadrature_ok(problem: Problem) -> bool:
    """One coordinate of standard-normal noise (the ``quadrature`` capability)."""
    return problem.dist.supports("quadrature")


def has_oracle(problem: Problem) -> bool:
    """Whether ``exact_gradient`` applies: enumerable, or quadrature-capable (1-d Normal)."""
    return problem.dist.enumerable or _quadrature_ok(problem)


def _no_oracle(problem: Problem) -> NoOracleError:
    return NoOracleError(
        f"problem {problem.name!r} has no exact oracle: enumeration needs a discrete "
        "distribution and quadrature a one-dimensional Normal; measure it by Monte Carlo"
    )


def quadrature(problem: Problem, integrand: Any, *, rtol: float = 1e-11, atol: float = 1e-13):
    """Integrate ``integrand(x, e)`` against N(0, 1) noise e over the whole real line.

    Args:
        problem: a problem with a one-dimensional Normal.
        integrand: (x (m, 1, *event), e (m, 1, *event)) -> (m, k) values.
        rtol: relative tolerance of the adaptive cubature.
        atol: absolute tolerance.

    Returns:
        The k integrals, shape (k,).
    """
    if not _quadrature_ok(problem):
        raise _no_oracle(problem)
    dist = problem.dist
    ev = dist.event_shape

    def fn(e: np.ndarray) -> np.ndarray:
        noise = e[:, 0].reshape(-1, 1, *ev)
        vals = integrand(dist.transform(noise), noise)
        return vals * (np.exp(-0.5 * e * e) / math.sqrt(2 * math.pi))

    from scipy import integrate  # on use: scipy.integrate costs 0.2 s to import

    res = integrate.cubature(
        fn, [-np.inf], [np.inf], rtol=rtol, atol=atol, max_subdivisions=100_000
    )
    if res.status != "converged":
        raise OracleFailedError(
            f"quadrature did not converge for problem {problem.name!r} (error {res.error}); "
            "the integrand may be too oscillatory or heavy-tailed"
        )
    return np.asarray(res.estimate, dtype=np.float64)


def _joint(problem: Problem, n: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """The n-sample joint support: x (M^n, n, *event) and probabilities (M^n,)."""
    outcomes, probs = problem.dist.support(budget)
    m = len(outcomes)
    check_power_budget(m, n, budget, f"{n} samples of problem {problem.name!r}")
    idx = np.indices((m,) * n).reshape(n, -1).T  # (M^n, n), first sample varies slowest
    return outcomes[idx], probs[idx].prod(-1)


def exact_expectation(problem: Problem, budget: int = DEFAULT_SUPPORT_BUDGET) -> float:
    """E_p[f(x)] by enumeration or quadrature (never uses the score)."""
    if problem.dist.enumerable:
        x, w = problem.dist.support(budget)
        return float(w @ problem.evaluate(x[:, None])[:, 0])
    if _quadrature_ok(problem):
        return float(quadrature(problem, lambda x, e: problem.evaluate(x))[0])
    raise _no_oracle(problem)


def exact_gradient(problem: Problem, budget: int = DEFAULT_SUPPORT_BUDGET) -> np.ndarray:
    """grad_theta E_p[f(x)] = E_p[f(x) score(x)], shape (p,)."""
    return sf_moments(problem, budget).g


def sf_moments(problem: Problem, budget: int = DEFAULT_SUPPORT_BUDGET) -> SFMoments:
    """Exact ``SFMoments`` by enumeration or quadrature.

    When the support exceeds ``budget`` and f is declared separable, by the closed form
    of ``vartools.oracles.separable`` (any number of coordinates).
    """
    p = problem.dist.n_params

    def integrand(x: np.ndarray) -> np.ndarray:
        f = problem.evaluate(x)[:, 0]
        s = problem.dist.score(x)[:, 0, :]
        f_ = f[:, None]
        return np.concatenate([f_ * s, f_ * f_ * s * s, f_ * s * s, s * s, f_, f_ * f_], axis=-1)

    if problem.dist.enumerable:
        try:
            x, w = problem.dist.support(budget)
        except BudgetExceededError as exc:  # too many joint outcomes: a closed form?
            why = separable_reason(problem)
            if why is not None:
                raise BudgetExceededError(f"{exc}; no closed form applies either: {why}") from exc
            return separable_sf_moments(problem)
        v = w @ integrand(x[:, None])
    elif _quadrature_ok(problem):
        v = quadrature(problem, lambda x, e: integrand(x))
    else:
        raise _no_oracle(problem)
    return SFMoments(
        g=v[:p],
        m2=v[p : 2 * p],
        m1=v[2 * p : 3 * p],
        m0=v[3 * p : 4 * p],
        ef=float(v[4 * p]),
        ef2=float(v[4 * p + 1]),
    )


def baseline_variance(m: SFMoments, b: Any) -> np.ndarray:
    """Single-sample variance of SF with a constant baseline b: M2 - 2 b M1 + b^2 M0 - g^2."""
    b = np.asarray(b, dtype=np.float64)
    return m.m2 - 2 * b * m.m1 + b * b * m.m0 - m.g**2


def optimal_baseline_variance(m: SFMoments) -> np.ndarray:
    """Single-sample variance at the optimal baseline b* = M1 / M0: M2 - M1^2 / M0 - g^2."""
    return m.m2 - m.m1**2 / m.m0 - m.g**2


def rloo_variance(m: SFMoments, k: int) -> np.ndarray:
    """Variance of the K-sample RLOO estimate: [(K-2) V_mean + 2 zeta2] / (K (K-1)).

    V_mean is the single-sample variance with b = E[f] and
    zeta2 = (M2 + E[f^2] M0) / 2 - E[f] M1 (Kool et al. 2019; REFERENCES.md).
    """
    if k < 2:
        raise ValueError(f"RLOO needs K >= 2 samples, got K={k}")
    v_mean = baseline_variance(m, m.ef)
    zeta2 = (m.m2 + m.ef2 * m.m0) / 2 - m.ef * m.m1
    return ((k - 2) * v_mean + 2 * zeta2) / (k * (k - 1))


def exact_moments(
    problem: Problem,
    estimator: Estimator,
    n: int,
    *,
    state: Any = None,
    budget: int = DEFAULT_SUPPORT_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (p,)) of the n-sample estimate of ``estimator``.

    Args:
        problem: the problem.
        estimator: an Estimator; stateful ones are evaluated at ``state``.
        n: samples per estimate.
        state: the control-variate state (default: the initial state).
        budget: largest number of joint outcomes to enumerate.

    Dispatch, by capability and by the oracles attached to the objects (never by
    names): the base estimator's own ``oracle`` (sum-and-sample, ARM/DisARM,
    measure-valued); else enumeration of the n-sample joint for an enumerable
    distribution with the iid sampler; else quadrature for a distribution with the
    ``quadrature`` capability when the chain is per-sample; else the oracle registered
    for the control variate's factory (``vartools.oracles.registry``; the RLOO closed
    form for ``loo_baseline`` after ``score_function``).

    Raises:
        NoOracleError: when no oracle applies (continuous problem of dimension > 1, an
            estimator with its own randomness or dependent samples, a coupled chain on a
            Normal without a registered oracle); ``BudgetExceededError`` (a subclass)
            when the enumeration exceeds the budget. Both are ``ValueError`` too.
        TypeError: if n is not an integer. Any other exception is a bug (in f, the
            estimator or the oracle) and propagates.
    """
    n = check_positive_int(n, "n")
    if estimator.base.oracle is not None:  # the base estimator's own exact oracle
        return estimator.base.oracle(problem, estimator, n, state)
    if problem.dist.enumerable:
        try:
            return _enumerate(problem, estimator, n, state, budget)
        except BudgetExceededError as exc:  # the n-sample joint is too large: closed forms
            return _beyond_budget(problem, estimator, n, state, budget, exc)
    if _quadrature_ok(problem) and estimator.cv.per_sample:
        if estimator.base.draw is not None or not estimator.sampler.iid:
            raise NoOracleError(
                f"estimator {estimator.name!r} has no quadrature oracle (it draws its own or "
                "dependent randomness); measure it by Monte Carlo"
            )

        def integrand(x: np.ndarray, e: np.ndarray) -> np.ndarray:
            t = estimator.from_noise(problem, e, state).terms[:, 0, :]
            return np.concatenate([t, t * t], axis=-1)

        v = quadrature(problem, integrand)
        p = problem.dist.n_params
        mean = v[:p]
        return mean, (v[p:] - mean**2) / n
    oracle = cv_oracle(estimator.cv)
    if oracle is not None:
        return oracle(problem, estimator, n, state)
    if not _quadrature_ok(problem):
        raise _no_oracle(problem)
    raise NoOracleError(
        f"estimator {estimator.name!r} couples its samples; its exact variance on a Normal is "
        "known only for plain RLOO (score_function + loo_baseline)"
    )


def _beyond_budget(
    problem: Problem,
    estimator: Estimator,
    n: int,
    state: Any,
    budget: int,
    exc: BudgetExceededError,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact moments when the n-sample joint exceeds the budget, else ``exc`` re-raised.

    In order: a per-sample chain with iid samples has the single-sample variance / n,
    by enumerating one sample (the outcomes, not their n-fold product); else the closed
    form registered for the base estimator (plain chains) or for the control variate
    (``vartools.oracles.registry``: SF and RLOO, whose moments come from ``sf_moments``,
    which handles separable objectives of any size).
    """
    iid_per_sample = (
        estimator.sampler.iid
        and estimator.base.per_sample
        and estimator.cv.per_sample
        and estimator.base.draw is None
        and estimator.base.from_samples is not None
        and estimator.cv.min_n <= 1
    )
    if iid_per_sample and n > 1:
        try:
            mean, var1 = _enumerate(problem, estimator, 1, state, budget)
            return mean, var1 / n
        except BudgetExceededError:
            pass
    oracle = cv_oracle(estimator.cv) or (
        base_oracle(estimator.base) if estimator.cv.is_identity else None
    )
    if oracle is None:
        raise exc
    try:
        return oracle(problem, estimator, n, state)
    except OracleFailedError:
        raise
    except BudgetExceededError:  # the closed form's own moments exceed the budget too
        raise
    except NoOracleError as inner:
        raise BudgetExceededError(f"{exc}; no closed form applies either: {inner}") from exc


def _enumerate(
    problem: Problem, estimator: Estimator, n: int, state: Any, budget: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact moments by enumerating the n-sample joint support (iid samples)."""
    if not estimator.sampler.iid:  # the joint enumeration assumes iid samples
        raise NoOracleError(
            f"estimator {estimator.name!r} draws dependent samples (sampler "
            f"{estimator.sampler.name!r}); enumeration of iid samples does not give its "
            "variance; measure it by Monte Carlo"
        )
    if estimator.base.from_samples is None:
        raise NoOracleError(
            f"estimator {estimator.name!r} does not depend on the outcomes alone (it draws "
            "its own randomness) and cannot be enumerated; measure it by Monte Carlo"
        )
    p = problem.dist.n_params
    outcomes, _ = problem.dist.support(budget)
    if power_exceeds(len(outcomes), n, ELEMENT_BUDGET, factor=n * p):
        raise BudgetExceededError(
            f"enumerating {n} samples of problem {problem.name!r} would hold more than "
            f"{ELEMENT_BUDGET:.0e} numbers; use a smaller n"
        )
    x, w = _joint(problem, n, budget)
    est = estimator.from_samples(problem, x, state).estimate
    mean = w @ est
    return mean, w @ (est - mean) ** 2


def _rloo_oracle(
    problem: Problem, estimator: Estimator, n: int, state: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The RLOO closed form (``rloo_variance``) for score_function + loo_baseline, iid."""
    if (
        not estimator.base.sf_terms
        or estimator.base.draw is not None
        or not estimator.sampler.iid
        or not has_oracle(problem)
    ):
        raise NoOracleError(
            f"the RLOO closed form needs score_function (terms f s) with iid samples on a "
            f"problem with an exact oracle; estimator {estimator.name!r} on problem "
            f"{problem.name!r} does not qualify; measure it by Monte Carlo"
        )
    m = sf_moments(problem)
    return m.g, rloo_variance(m, n)


def _sf_oracle(
    problem: Problem, estimator: Estimator, n: int, state: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Plain SF with iid samples: mean g, variance (M2 - g^2) / n from ``sf_moments``."""
    del state
    if (
        not estimator.base.sf_terms
        or not estimator.cv.is_identity
        or estimator.base.draw is not None
        or not estimator.sampler.iid
        or not has_oracle(problem)
    ):
        raise NoOracleError(
            f"the SF closed form needs plain score_function with iid samples on a problem "
            f"with an exact oracle; estimator {estimator.name!r} on problem {problem.name!r} "
            "does not qualify; measure it by Monte Carlo"
        )
    m = sf_moments(problem)
    return m.g, sf_variance(m, n)


def sf_variance(m: SFMoments, n: int) -> np.ndarray:
    """Variance of the n-sample score-function estimate: (M2 - g^2) / n (iid samples)."""
    n = check_positive_int(n, "n")
    return (m.m2 - m.g**2) / n


register_cv_oracle(loo_baseline, _rloo_oracle)
register_base_oracle(score_function, _sf_oracle)
