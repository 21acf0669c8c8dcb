r"""The unordered set estimator (Kool, van Hoof & Welling, ICLR 2020) with its built-in baseline.

k outcomes are drawn *without replacement* from the distribution, treated as one
categorical over its joint support (a factorised Bernoulli or categorical with a small
joint support is enumerated: its M joint outcomes are the categories), by the
Gumbel-top-k trick: perturb every log-probability with an independent Gumbel and keep
the k largest. For the unordered sample S (|S| = k) let p(S) be its probability under
sampling without replacement, p^{D\A}(T) the probability of the unordered set T when
sampling without replacement from the domain D with the outcomes A removed (the
probabilities renormalised), and

    R(S, s) = p^{D\{s}}(S \ {s}) / p(S)          (Kool et al. 2020, eq. 6).

The estimator with the built-in baseline (eq. 12) is

    g(S) = sum_{s in S} p(s) R(S, s) grad log p(s) (f(s) - B(S, s)),
    B(S, s) = p(s) f(s) + sum_{s' in S, s' != s} p(s') R^{D\{s}}(S, s') f(s'),
    R^{D\{s}}(S, s') = p^{D\{s, s'}}(S \ {s, s'}) / p^{D\{s}}(S \ {s}).

B(S, s) is the unordered set estimate of E[f] from the other k - 1 outcomes, sampled
without replacement from D \ {s}, plus the known term p(s) f(s); its expectation given
s is E[f] whatever s is, so sum_s grad p(s) E[B | s] = E[f] grad 1 = 0 and g is
unbiased (tested by enumerating every k-subset with ``unordered_set_moments``).

Set probabilities are computed exactly by summing over the k! orders of the set
(p(S) = sum over orders of prod_i p(s_i) / (1 - removed - p(s_1) - ... - p(s_{i-1})),
so k is limited to ``MAX_K``; the paper's numerical integral is for large k.

Here n independent sets of k outcomes each are averaged: an estimate costs n k
evaluations of f (``Batch.n_evals``); ``Batch.x`` holds the sets (*R, n, k, *event)
and ``Batch.fx`` the unordered set estimate of E[f] of each set.

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.settings import make_problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient
    >>> prob = make_problem("liu_toy", eta=0.3)
    >>> mean, var = unordered_set_moments(prob, make_estimator(unordered_set(3)), 1)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.errors import BudgetExceededError, NoOracleError
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, check_reps, short_repr
from vartools.estimators.base import BaseEstimator
from vartools.samplers.sampling import Sampler

if TYPE_CHECKING:
    from vartools.estimators.composed import Estimator

__all__ = [
    "MAX_K",
    "UnorderedSet",
    "set_probability",
    "unordered_set",
    "unordered_set_moments",
]

#: Largest set size: set probabilities sum over the k! orders of a set.
MAX_K = 7
#: Default largest joint support enumerated.
US_BUDGET = 100_000
#: Gumbel keys drawn at once (blocks of samples x joint support).
KEY_ELEMENTS = 2**20
#: Largest number of k-subsets the exact oracle enumerates.
SUBSET_BUDGET = 2_000_000


@dataclass(frozen=True, eq=False)
class UnorderedSet(BaseEstimator):
    """An unordered set base estimator (build it with ``unordered_set``).

    Attributes:
        k: outcomes per set, drawn without replacement.
        budget: largest joint support it enumerates.
    """

    k: int = 2
    budget: int = US_BUDGET


def set_probability(p: np.ndarray, removed: np.ndarray | float = 0.0) -> np.ndarray:
    """Probability of drawing the unordered set with member probabilities p, without replacement.

    The domain has total mass 1; ``removed`` is the mass of outcomes taken out of it
    (then the probabilities are renormalised by 1 - removed). The sum runs over the
    j! orders of the j members (j = p.shape[-1] <= MAX_K; j = 0 gives 1).

    Args:
        p: member probabilities (..., j).
        removed: removed mass, broadcastable to p.shape[:-1].

    Returns:
        The set probabilities, shape p.shape[:-1].
    """
    j = p.shape[-1]
    rem = np.asarray(removed, dtype=np.float64)
    total = np.zeros(np.broadcast_shapes(p.shape[:-1], rem.shape))
    if j == 0:
        return total + 1.0
    for order in itertools.permutations(range(j)):
        left = 1.0 - rem
        prob = np.ones_like(total)
        for i in order:
            prob = prob * p[..., i] / left
            left = left - p[..., i]
        total = total + prob
    return total


def _set_terms(problem: Problem, outcomes: np.ndarray, probs: np.ndarray, idx: np.ndarray):
    """Per-member terms, f values and the set estimate of E[f] for sets idx (..., k)."""
    k = idx.shape[-1]
    dist = problem.dist
    x = outcomes[idx]  # (..., k, *event)
    p = probs[idx]  # (..., k)
    fx = problem.evaluate(x)  # (..., k)
    s = dist.score(x)  # (..., k, p)
    p_set = set_probability(p)
    others = [[j for j in range(k) if j != i] for i in range(k)]
    r = np.stack([set_probability(p[..., o], p[..., i]) for i, o in enumerate(others)], -1)
    r = r / p_set[..., None]  # R(S, s), (..., k)
    baseline = p * fx  # B(S, s) starts with p(s) f(s)
    extra = np.zeros_like(baseline)
    for i in range(k):
        denom = set_probability(p[..., others[i]], p[..., i])
        for j in others[i]:
            rest = [m for m in range(k) if m not in (i, j)]
            num = set_probability(p[..., rest], p[..., i] + p[..., j])
            extra[..., i] += p[..., j] * (num / denom) * fx[..., j]
    baseline = baseline + extra
    weight = p * r * (fx - baseline)  # (..., k)
    terms = (weight[..., None] * s).sum(-2)  # (..., p)
    return x, fx, terms, (p * r * fx).sum(-1)


def _joint(problem: Problem, k: int, budget: int) -> tuple[np.ndarray, np.ndarray]:
    if not problem.dist.enumerable:
        raise TypeError(
            f"unordered_set needs an enumerable (discrete) distribution; problem "
            f"{problem.name!r} samples from {type(problem.dist).__name__}"
        )
    outcomes, probs = problem.dist.support(budget)
    if k > len(probs):
        raise ValueError(
            f"unordered_set k={k} exceeds the {len(probs)} joint outcomes of problem "
            f"{problem.name!r}; pass k <= {len(probs)}"
        )
    return outcomes, probs


def _batch(problem: Problem, outcomes: np.ndarray, probs: np.ndarray, idx: np.ndarray) -> Batch:
    x, fx, terms, est_f = _set_terms(problem, outcomes, probs, idx)
    n, k = idx.shape[-2], idx.shape[-1]
    return Batch(
        x=x,
        fx=est_f,
        score=None,
        extra=terms,
        n_evals=n * k,
        independent=True,
        info={"set_fx": fx, "set_size": k},
    )


def _no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
    raise TypeError(
        "unordered_set draws its sets by Gumbel-top-k over the joint support and has no noise "
        "mapping; call the estimator, or use unordered_set_moments for exact moments"
    )


def unordered_set(k: int, *, budget: int = US_BUDGET) -> UnorderedSet:
    """The unordered set estimator with built-in baseline (Kool et al. 2020), k outcomes per set.

    The distribution is treated as one categorical over its joint support (at most
    ``budget`` outcomes); each of the n samples of an estimate is a set of k distinct
    joint outcomes drawn without replacement by Gumbel-top-k, and the estimate averages
    the n independent set estimates (see the module docstring for the formula).
    Unbiased for k >= 2 (the baseline of one outcome is the set estimate of E[f] from
    the other k - 1, so k = 1 has none and is refused); n k evaluations of f per
    estimate. k = |support| is the exact gradient.

    Args:
        k: outcomes per set, 2 <= k <= MAX_K.
        budget: largest joint support enumerated.

    Returns:
        An ``UnorderedSet`` base estimator named ``us(k=...)``.
    """
    k = check_positive_int(k, "k")
    if k < 2:
        raise ValueError(
            f"unordered_set k={k}: the built-in baseline of each outcome is estimated from the "
            "other k - 1, so k must be >= 2 (k = 1 is the score-function estimator, 'sf')"
        )
    if k > MAX_K:
        raise ValueError(
            f"unordered_set k={k} is larger than MAX_K={MAX_K} (set probabilities sum over k! "
            "orders); pass a smaller k"
        )
    budget = check_positive_int(budget, "budget")

    def draw(
        problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
    ) -> Batch:
        outcomes, probs = _joint(problem, k, budget)
        shape = (*check_reps(reps), n)
        if k == probs.size:
            idx = np.broadcast_to(np.arange(k), (*shape, k))
            return _batch(problem, outcomes, probs, idx)
        with np.errstate(divide="ignore"):
            logp = np.log(probs)
        # Gumbel-top-k, in blocks of samples so that the (block, M) keys stay small
        flat = int(np.prod(shape))
        rows = max(1, KEY_ELEMENTS // probs.size)
        idx = np.empty((flat, k), dtype=np.int64)
        for lo in range(0, flat, rows):
            keys = logp + rng.gumbel(size=(min(rows, flat - lo), probs.size))
            idx[lo : lo + rows] = np.argpartition(-keys, k - 1, axis=-1)[:, :k]
        return _batch(problem, outcomes, probs, np.sort(idx, axis=-1).reshape(*shape, k))

    return UnorderedSet(
        name=f"us(k={k})",
        from_noise=_no_noise,
        draw=draw,
        k=k,
        budget=budget,
        doc=unordered_set.__doc__ or "",
        oracle=lambda problem, est, n, state: unordered_set_moments(problem, est, n),
    )


def unordered_set_moments(
    problem: Problem, estimator: Estimator | UnorderedSet, n: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (p,)) of the n-set unordered set estimate.

    Enumerates every k-subset S of the joint support with its probability p(S) (they
    sum to one, tested); the n sets of an estimate are independent, so the variance is
    the one-set variance / n.

    Args:
        problem: an enumerable problem.
        estimator: ``make_estimator(unordered_set(k))`` (no control variates) or the base.
        n: sets per estimate.
    """
    base = estimator if isinstance(estimator, UnorderedSet) else estimator.base
    if not isinstance(base, UnorderedSet):
        raise TypeError(
            f"unordered_set_moments needs an unordered set estimator, got {short_repr(base)}"
        )
    cv = getattr(estimator, "cv", None)
    if cv is not None and cv.name != "none":
        raise NoOracleError(
            f"unordered_set_moments handles the plain estimator, got {estimator.name!r}"
        )
    n = check_positive_int(n, "n")
    outcomes, probs = _joint(problem, base.k, base.budget)
    m = probs.size
    if math.comb(m, base.k) > SUBSET_BUDGET:
        raise BudgetExceededError(
            f"enumerating the {math.comb(m, base.k):.3g} {base.k}-subsets of {m} outcomes is "
            f"more than {SUBSET_BUDGET}; use a smaller k or problem"
        )
    idx = np.array(list(itertools.combinations(range(m), base.k)))  # (C, k)
    w = set_probability(probs[idx])
    terms = _set_terms(problem, outcomes, probs, idx[:, None, :])[2][:, 0, :]
    mean = w @ terms
    return mean, (w @ (terms - mean) ** 2) / n
