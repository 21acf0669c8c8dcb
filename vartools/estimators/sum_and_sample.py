"""Sum-and-sample Rao-Blackwellization (Liu et al. 2019): sum the top outcomes, sample the rest.

Holds the ``sum_and_sample(k)`` base estimator (its ``SumAndSample`` type) and its
exact oracle ``sum_and_sample_moments``. The distribution is treated as one
categorical over its joint support: the k most probable joint outcomes are summed
exactly and the remainder is sampled from the renormalised rest. Its names are
re-exported by ``vartools.estimators.rao_blackwell``, which holds the other Rao-Blackwellized
estimators.

A baseline must multiply the sum-and-sample score
s~_i = sum_{c in top} p_c s(c) + (1 - Q) s(z_i), which has mean zero under the
remainder sampling (the plain score s(z_i) does not); the batch carries s~ as its
``score``, so ``loo_baseline`` and ``constant_baseline`` compose and stay unbiased
(tested by enumerating the sampled remainder with ``sum_and_sample_moments``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.errors import BudgetExceededError
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, check_reps, short_repr
from vartools.distributions.budget import power_exceeds
from vartools.estimators.base import BaseEstimator
from vartools.samplers.sampling import Sampler

if TYPE_CHECKING:
    from vartools.estimators.composed import Estimator

__all__ = [
    "SumAndSample",
    "sum_and_sample",
    "sum_and_sample_moments",
]

#: Default largest joint support sum-and-sample enumerates.
SAS_BUDGET = 100_000
#: Largest number of (remainder joint x sample x parameter) entries the oracle holds.
ORACLE_ELEMENTS = 50_000_000


@dataclass(frozen=True, eq=False)
class SumAndSample(BaseEstimator):
    """A sum-and-sample base estimator (build it with ``sum_and_sample``).

    Attributes:
        k: number of most probable joint outcomes summed exactly.
        budget: largest joint support it enumerates.
    """

    k: int = 0
    budget: int = SAS_BUDGET


@dataclass(frozen=True)
class _Split:
    outcomes: np.ndarray  # (M, *event)
    probs: np.ndarray  # (M,)
    top: np.ndarray  # (k,) indices summed exactly
    rest: np.ndarray  # (M - k,) indices sampled
    rest_mass: float  # 1 - Q
    q: np.ndarray  # (M - k,) renormalised remainder probabilities


def _split(problem: Problem, k: int, budget: int) -> _Split:
    outcomes, probs = problem.dist.support(budget)
    m = len(probs)
    if k > m:
        raise ValueError(
            f"sum_and_sample k={k} exceeds the {m} joint outcomes of problem {problem.name!r}; "
            f"pass k <= {m} (k = {m} is the exact gradient)"
        )
    order = np.argsort(-probs, kind="stable")  # ties broken by support order
    top, rest = order[:k], order[k:]
    rest_mass = float(probs[rest].sum())
    q = probs[rest] / rest_mass if rest_mass > 0 else np.zeros(rest.size)
    return _Split(outcomes, probs, top, rest, rest_mass, q)


def _sas_batch(problem: Problem, sp: _Split, idx: np.ndarray) -> Batch:
    """The batch for remainder outcome indices idx (*R, n) (into the support)."""
    dist = problem.dist
    p = dist.n_params
    k = sp.top.size
    if k:
        xt = sp.outcomes[sp.top][:, None]
        ftop = problem.evaluate(xt)[:, 0]
        stop = dist.score(xt)[:, 0, :]
        summed = (sp.probs[sp.top] * ftop) @ stop
        summed_score = sp.probs[sp.top] @ stop
    else:
        summed, summed_score = np.zeros(p), np.zeros(p)
    x = sp.outcomes[idx]
    fx = problem.evaluate(x)
    s = dist.score(x)
    n = int(idx.shape[-1])
    return Batch(
        x=x,
        fx=fx,
        score=summed_score + sp.rest_mass * s,
        extra=summed + sp.rest_mass * fx[..., None] * s,
        n_evals=k + n if sp.rest_mass > 0 else k,
        independent=True,
        info={"summed_mass": 1.0 - sp.rest_mass},
    )


def _no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
    raise TypeError(
        "sum_and_sample draws from the renormalised remainder of the support and has no "
        "noise mapping; call the estimator (it draws its own samples) or use "
        "vartools.estimators.rao_blackwell.sum_and_sample_moments for exact moments"
    )


def sum_and_sample(k: int, *, budget: int = SAS_BUDGET) -> SumAndSample:
    """Sum-and-sample Rao-Blackwellization (Liu, Regier, Tripuraneni et al., ICML 2019).

    The distribution is treated as one categorical over its joint support (e.g. 3
    Bernoullis = 8 joint states, the Liu et al. toy). With C the k most probable
    outcomes (ties broken by support order), Q = sum_{c in C} p_c and z_i drawn from
    p restricted to the complement and renormalised:

        terms_i = sum_{c in C} p_c f(c) s(c) + (1 - Q) f(z_i) s(z_i),

    and the batch's score is s~_i = sum_{c in C} p_c s(c) + (1 - Q) s(z_i) (mean zero),
    so baselines multiply s~. Unbiased. Cost: k + n evaluations of f (k when C is the
    whole support). k = 0 is the plain score-function estimator; k = |support| is the
    exact gradient with zero variance.

    Args:
        k: number of joint outcomes summed exactly, 0 <= k <= |support|.
        budget: largest joint support enumerated.

    Returns:
        A ``SumAndSample`` base estimator named ``sas(k=...)``.
    """
    k = check_positive_int(k, "k", minimum=0)
    budget = check_positive_int(budget, "budget")

    def draw(
        problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
    ) -> Batch:
        if not problem.dist.enumerable:
            raise TypeError(
                f"sum_and_sample needs an enumerable (discrete) distribution; problem "
                f"{problem.name!r} samples from {type(problem.dist).__name__}"
            )
        sp = _split(problem, k, budget)
        shape = (*check_reps(reps), n)
        if sp.rest_mass > 0:
            cdf = np.cumsum(sp.q)
            cdf[-1] = 1.0
            pos = np.searchsorted(cdf, rng.random(shape), side="right")
            idx = sp.rest[np.minimum(pos, sp.rest.size - 1)]
        else:  # nothing left to sample: placeholder outcome with weight 1 - Q = 0
            idx = np.full(shape, sp.top[0])
        return _sas_batch(problem, sp, idx)

    return SumAndSample(
        name=f"sas(k={k})",
        from_noise=_no_noise,
        draw=draw,
        k=k,
        budget=budget,
        doc=sum_and_sample.__doc__ or "",
        oracle=lambda problem, est, n, state: sum_and_sample_moments(problem, est, n, state=state),
    )


def sum_and_sample_moments(
    problem: Problem, estimator: Estimator, n: int, *, state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (p,)) of a sum-and-sample estimator's n-sample estimate.

    Enumerates the n-sample joint of the renormalised remainder (the part that is
    sampled) and applies the estimator's control-variate chain to every joint outcome.

    Args:
        problem: an enumerable problem.
        estimator: ``make_estimator(sum_and_sample(k), *cvs)``.
        n: remainder samples per estimate.
        state: control-variate state (default: initial).

    Raises:
        TypeError: if the estimator's base is not sum-and-sample.
        BudgetExceededError: if the enumeration is too large (a ``NoOracleError``).
    """
    base = estimator.base
    if not isinstance(base, SumAndSample):
        raise TypeError(
            f"sum_and_sample_moments needs a sum-and-sample estimator, got {short_repr(base)}; "
            "use vartools.oracles.exact.exact_moments for the others"
        )
    n = estimator.check(problem, n)
    sp = _split(problem, base.k, base.budget)
    if sp.rest_mass > 0:
        m = sp.rest.size
        if power_exceeds(m, n, ORACLE_ELEMENTS, factor=n * problem.dist.n_params):
            raise BudgetExceededError(
                f"enumerating {n} remainder samples of {m} outcomes is too large; use a smaller n"
            )
        joint = np.indices((m,) * n).reshape(n, -1).T  # (m^n, n)
        idx, w = sp.rest[joint], sp.q[joint].prod(-1)
    else:
        idx, w = np.full((1, n), sp.top[0]), np.ones(1)
    if state is None:
        state = estimator.init(problem)
    est = estimator.cv.apply(_sas_batch(problem, sp, idx), state, problem)[0].estimate
    mean = w @ est
    return mean, w @ (est - mean) ** 2
