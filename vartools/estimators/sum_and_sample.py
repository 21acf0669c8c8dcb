"""Sum-and-sample Rao-Blackwellization (Liu et al. 2019): sum the top outcomes, sample the rest.

Holds the ``sum_and_sample(k)`` base estimator (its ``SumAndSample`` type), its exact
oracle ``sum_and_sample_moments`` and ``sum_and_sample_top_sets`` (the top sets its
tie-break can pick). The distribution is treated as one categorical over its joint
support: the k most probable joint outcomes are summed exactly and the remainder is
sampled from the renormalised rest. Its names are re-exported by
``vartools.estimators.rao_blackwell``, which holds the other Rao-Blackwellized estimators.

Ties. When the k-th largest probability is shared by more outcomes than there are places
left in the top k (e.g. the 8 equiprobable states of three fair Bernoullis), the summed
ones are chosen uniformly at random among the tied outcomes, independently for each
estimate (replicate). Every fixed choice gives an unbiased estimator, so the randomised
one is unbiased too, and its variance is the average over the tie choices of the
conditional variance plus the variance across tie choices of the conditional mean (zero
for an unbiased chain; the oracle computes both terms). Breaking ties by support order
instead would report one arbitrary choice, which may be the best or the worst.
Probabilities within a relative ``TIE_RTOL`` of each other count as tied (they are equal
up to rounding); tied outcomes are then all given their mean probability.

A baseline must multiply the sum-and-sample score
s~_i = sum_{c in top} p_c s(c) + (1 - Q) s(z_i), which has mean zero under the
remainder sampling (the plain score s(z_i) does not); the batch carries s~ as its
``score``, so ``loo_baseline`` and ``constant_baseline`` compose and stay unbiased
(tested by enumerating the sampled remainder with ``sum_and_sample_moments``).
"""

from __future__ import annotations

import itertools
import math
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
    "sum_and_sample_top_sets",
]

#: Default largest joint support sum-and-sample enumerates.
SAS_BUDGET = 100_000
#: Largest number of (tie choice x remainder joint x sample x parameter) entries the oracle holds.
ORACLE_ELEMENTS = 50_000_000
#: Probabilities within this relative tolerance of the k-th largest one are tied with it.
TIE_RTOL = 1e-12


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
class _Ties:
    """The support split around the k-th largest probability."""

    outcomes: np.ndarray  # (M, *event)
    probs: np.ndarray  # (M,), tied outcomes set to their mean probability
    strict: np.ndarray  # indices always summed (probability above the tie value)
    ties: np.ndarray  # indices tied at the k-th largest probability
    pick: int  # how many of ``ties`` are summed (0 <= pick <= ties.size)
    below: np.ndarray  # indices always sampled (probability below the tie value)

    @property
    def random(self) -> bool:
        return 0 < self.pick < self.ties.size


@dataclass(frozen=True)
class _Split:
    outcomes: np.ndarray  # (M, *event)
    probs: np.ndarray  # (M,)
    top: np.ndarray  # (k,) indices summed exactly
    rest: np.ndarray  # (M - k,) indices sampled
    rest_mass: float  # 1 - Q
    q: np.ndarray  # (M - k,) renormalised remainder probabilities


def _ties(problem: Problem, k: int, budget: int) -> _Ties:
    outcomes, probs = problem.dist.support(budget)
    probs = np.asarray(probs, dtype=np.float64).copy()
    m = len(probs)
    if k > m:
        raise ValueError(
            f"sum_and_sample k={k} exceeds the {m} joint outcomes of problem {problem.name!r}; "
            f"pass k <= {m} (k = {m} is the exact gradient)"
        )
    empty = np.zeros(0, dtype=np.intp)
    order = np.argsort(-probs, kind="stable")
    if k == 0:
        return _Ties(outcomes, probs, empty, empty, 0, order)
    v = probs[order[k - 1]]
    tied = np.abs(probs - v) <= TIE_RTOL * v
    ties = np.flatnonzero(tied)
    strict = order[:k][~tied[order[:k]]]
    if strict.size + ties.size > k:  # a real tie: the tied outcomes share their mean
        probs[ties] = probs[ties].mean()
    else:  # every tied outcome is summed: keep the sorted order, no randomness
        ties = order[:k][tied[order[:k]]]
    below = order[k:][~tied[order[k:]]]
    return _Ties(outcomes, probs, strict, ties, k - strict.size, below)


def _split_with(t: _Ties, chosen: np.ndarray) -> _Split:
    """The deterministic split that sums ``t.ties[chosen]`` (positions into the tie group)."""
    mask = np.zeros(t.ties.size, dtype=bool)
    mask[chosen] = True
    top = np.concatenate([t.strict, t.ties[mask]])
    rest = np.concatenate([t.ties[~mask], t.below])
    rest_mass = float(t.probs[rest].sum())
    q = t.probs[rest] / rest_mass if rest_mass > 0 else np.zeros(rest.size)
    return _Split(t.outcomes, t.probs, top, rest, rest_mass, q)


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
    return _batch(problem, sp.outcomes, idx, summed, summed_score, sp.rest_mass, k)


def _batch(
    problem: Problem,
    outcomes: np.ndarray,
    idx: np.ndarray,
    summed: np.ndarray,
    summed_score: np.ndarray,
    rest_mass: float,
    k: int,
) -> Batch:
    x = outcomes[idx]
    fx = problem.evaluate(x)
    s = problem.dist.score(x)
    n = int(idx.shape[-1])
    return Batch(
        x=x,
        fx=fx,
        score=summed_score + rest_mass * s,
        extra=summed + rest_mass * fx[..., None] * s,
        n_evals=k + n if rest_mass > 0 else k,
        independent=True,
        info={"summed_mass": 1.0 - rest_mass},
    )


def _random_subsets(g: int, r: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Uniform r-subsets of range(g), one per entry of ``shape``, sorted: (*shape, r)."""
    if r * r <= 2 * g:  # Floyd's algorithm: r vectorised steps
        out = np.empty((*shape, r), dtype=np.intp)
        for t, j in enumerate(range(g - r, g)):
            cand = rng.integers(0, j + 1, size=shape)
            dup = (out[..., :t] == cand[..., None]).any(-1)
            out[..., t] = np.where(dup, j, cand)
        return np.sort(out, axis=-1)
    keys = rng.random((*shape, g))
    return np.sort(np.argpartition(keys, r - 1, axis=-1)[..., :r], axis=-1)


def _draw_random_ties(
    problem: Problem, t: _Ties, shape: tuple[int, ...], rng: np.random.Generator
) -> Batch:
    """A batch whose summed tie outcomes are drawn uniformly per replicate."""
    dist = problem.dist
    reps, r, g = shape[:-1], t.pick, t.ties.size
    chosen = _random_subsets(g, r, reps, rng)  # (*R, r) positions into t.ties
    xs = t.outcomes[np.concatenate([t.strict, t.ties])][:, None]
    fs_all = problem.evaluate(xs)[:, 0]
    s_all = dist.score(xs)[:, 0, :]
    w = t.probs[np.concatenate([t.strict, t.ties])]
    n_strict = t.strict.size
    wf, ws = (w * fs_all)[:, None] * s_all, w[:, None] * s_all  # (strict + g, p)
    summed = wf[:n_strict].sum(0) + wf[n_strict + chosen].sum(-2)  # (*R, p)
    summed_score = ws[:n_strict].sum(0) + ws[n_strict + chosen].sum(-2)
    # the remainder: the always-sampled outcomes, then g - r slots for the unchosen ties
    tie_p = t.probs[t.ties[0]]
    rest_mass = float(t.probs[t.below].sum() + (g - r) * tie_p)
    cdf = np.cumsum(np.concatenate([t.probs[t.below], np.full(g - r, tie_p)])) / rest_mass
    cdf[-1] = 1.0
    pos = np.minimum(np.searchsorted(cdf, rng.random(shape), side="right"), cdf.size - 1)
    slot = np.maximum(pos - t.below.size, 0)  # the u-th unchosen tie position
    for j in range(r):  # skip over the chosen positions (sorted ascending)
        slot = slot + (chosen[..., j, None] <= slot)
    nb = t.below.size
    from_below = t.below[np.minimum(pos, nb - 1)] if nb else np.zeros_like(pos)
    idx = np.where(pos < nb, from_below, t.ties[np.minimum(slot, g - 1)])
    k = r + t.strict.size
    return _batch(
        problem, t.outcomes, idx, summed[..., None, :], summed_score[..., None, :], rest_mass, k
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
    outcomes (ties at the k-th probability broken uniformly at random, per estimate),
    Q = sum_{c in C} p_c and z_i drawn from p restricted to the complement and
    renormalised:

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
        t = _ties(problem, k, budget)
        shape = (*check_reps(reps), n)
        if t.random:
            return _draw_random_ties(problem, t, shape, rng)
        sp = _split_with(t, np.arange(t.pick))
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


def _tie_choices(t: _Ties, limit: int) -> list[tuple[int, ...]]:
    count = math.comb(t.ties.size, t.pick)
    if count > limit:
        raise BudgetExceededError(
            f"sum_and_sample has {count} equally likely top sets ({t.pick} of {t.ties.size} "
            f"tied outcomes) and the exact oracle enumerates at most {limit}; use a problem "
            "without so many ties or measure by Monte Carlo"
        )
    return list(itertools.combinations(range(t.ties.size), t.pick))


def sum_and_sample_top_sets(
    problem: Problem, k: int, *, budget: int = SAS_BUDGET, limit: int = 100_000
) -> np.ndarray:
    """Every top set the randomised tie-break of ``sum_and_sample(k)`` can sum, shape (C, k).

    Each row holds indices into ``problem.dist.support()``; each of the C rows is chosen
    with probability 1 / C. Without ties at the k-th largest probability, C = 1.

    Args:
        problem: an enumerable problem.
        k: number of summed outcomes.
        budget: largest joint support enumerated.
        limit: largest number of top sets listed.

    Raises:
        BudgetExceededError: if there are more than ``limit`` top sets.

    Example:
        >>> import vartools as vt
        >>> sum_and_sample_top_sets(vt.make_problem("liu_toy", eta=0.0), 1).shape
        (8, 1)
    """
    k = check_positive_int(k, "k", minimum=0)
    t = _ties(problem, k, check_positive_int(budget, "budget"))
    rows = [np.concatenate([t.strict, t.ties[list(c)]]) for c in _tie_choices(t, limit)]
    return np.asarray(rows, dtype=np.intp).reshape(len(rows), k)


def sum_and_sample_moments(
    problem: Problem,
    estimator: Estimator,
    n: int,
    *,
    state: Any = None,
    top: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (p,)) of a sum-and-sample estimator's n-sample estimate.

    Enumerates every top set T the tie-break can pick (each with probability 1 / C) and,
    for each, the n-sample joint of the renormalised remainder (the part that is sampled),
    and applies the estimator's control-variate chain to every joint outcome. The result
    is the mixture's moments, i.e. by the law of total variance

        Var = (1 / C) sum_T Var(estimate | T) + (1 / C) sum_T (E[estimate | T] - mean)^2,

    where the second term is zero when every fixed choice is unbiased.

    Args:
        problem: an enumerable problem.
        estimator: ``make_estimator(sum_and_sample(k), *cvs)``.
        n: remainder samples per estimate.
        state: control-variate state (default: initial).
        top: one top set (k indices into ``problem.dist.support()``, a row of
            ``sum_and_sample_top_sets``) to get the moments conditional on it; None
            averages over the tie-break.

    Raises:
        TypeError: if the estimator's base is not sum-and-sample.
        ValueError: if ``top`` is not a top set the tie-break can pick.
        BudgetExceededError: if the enumeration is too large (a ``NoOracleError``).
    """
    base = estimator.base
    if not isinstance(base, SumAndSample):
        raise TypeError(
            f"sum_and_sample_moments needs a sum-and-sample estimator, got {short_repr(base)}; "
            "use vartools.oracles.exact.exact_moments for the others"
        )
    n = estimator.check(problem, n)
    t = _ties(problem, base.k, base.budget)
    p = problem.dist.n_params
    choices = _tie_choices(t, ORACLE_ELEMENTS)
    if top is not None:
        wanted = sorted(int(i) for i in np.asarray(top).ravel())
        choices = [
            c for c in choices if sorted(np.concatenate([t.strict, t.ties[list(c)]])) == wanted
        ]
        if not choices:
            raise ValueError(
                f"top={short_repr(top)} is not a top set sum_and_sample(k={base.k}) can pick on "
                f"problem {problem.name!r}; pass a row of sum_and_sample_top_sets(problem, "
                f"{base.k})"
            )
    m = t.outcomes.shape[0] - base.k
    if power_exceeds(max(m, 1), n, ORACLE_ELEMENTS, factor=len(choices) * n * p):
        raise BudgetExceededError(
            f"enumerating {len(choices)} top sets x {n} remainder samples of {m} outcomes is "
            "too large; use a smaller n"
        )
    if state is None:
        state = estimator.init(problem)
    ests, weights = [], []
    for c in choices:
        sp = _split_with(t, np.asarray(c, dtype=np.intp))
        if sp.rest_mass > 0:
            joint = np.indices((sp.rest.size,) * n).reshape(n, -1).T  # (m^n, n)
            idx, w = sp.rest[joint], sp.q[joint].prod(-1)
        else:
            idx, w = np.full((1, n), sp.top[0]), np.ones(1)
        ests.append(estimator.cv.apply(_sas_batch(problem, sp, idx), state, problem)[0].estimate)
        weights.append(w / len(choices))
    est, wt = np.concatenate(ests), np.concatenate(weights)
    mean = wt @ est
    return mean, wt @ (est - mean) ** 2
