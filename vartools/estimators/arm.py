"""ARM (Yin & Zhou 2019) and DisARM (Dong, Mnih & Tucker 2020) for independent Bernoullis.

Unbiased estimators from antithetic uniform pairs b1 = 1[u > 1 - sigma(phi)],
b2 = 1[u < sigma(phi)] (the same u, per coordinate). Here n is the number of
*pairs*: each estimate averages n independent pairs and costs 2n evaluations of f
(``Batch.n_evals``), so compare them with n-sample estimators at n_evals, not at n.
``antithetic_moments`` gives their exact mean and variance by integrating over u
cell by cell (the estimators are piecewise constant (DisARM) or piecewise linear
(ARM) in u).

Example:
    >>> import numpy as np
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient
    >>> from vartools.catalogue.settings import make_problem
    >>> prob = make_problem("liu_toy", eta=0.5)
    >>> mean, var = antithetic_moments(prob, "disarm")
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
    >>> g, _ = make_estimator(disarm)(prob, 4, rng=np.random.default_rng(0), reps=(2,))
    >>> g.shape
    (2, 3)
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from scipy import special

from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.errors import BudgetExceededError, NoOracleError
from vartools.core.problem import Problem
from vartools.core.validation import check_reps, short_repr
from vartools.estimators.base import BaseEstimator
from vartools.estimators.composed import Estimator
from vartools.samplers.sampling import Sampler

__all__ = ["antithetic_moments", "arm", "disarm"]

#: Largest number of u-cells (3^D) ``antithetic_moments`` enumerates.
CELL_BUDGET = 200_000


def _require_pairs(problem: Problem, who: str) -> Distribution:
    """The problem's distribution, which must have the ``coupled_pairs`` capability."""
    dist = problem.dist
    if not dist.supports("coupled_pairs"):
        dist.not_supported(
            "coupled_pairs",
            who,
            f"it needs independent Bernoullis; problem {problem.name!r} samples from "
            f"{type(dist).__name__} (use local_expectation or sum_and_sample for categoricals)",
        )
    return dist


def _pair_terms(
    kind: str, dist: Distribution, u: np.ndarray, f1: np.ndarray, f2: np.ndarray
) -> np.ndarray:
    """Per-pair terms (*R, n, p) of ARM or DisARM for uniforms u (*R, n, *event).

    theta (``dist.params``) are the logits of the binary coordinates (the
    ``coupled_pairs`` capability).
    """
    lead = u.shape[: u.ndim - len(dist.event_shape)]
    uf = u.reshape(*lead, dist.n_params)
    diff = (f1 - f2)[..., None]
    if kind == "arm":
        return diff * (uf - 0.5)
    b1, b2 = (b.reshape(uf.shape) for b in dist.coupled_pair(u))
    sign = 1.0 - 2.0 * b2  # (-1)^b2
    return 0.5 * diff * sign * (b1 != b2) * special.expit(np.abs(dist.params))


def _antithetic(kind: str) -> BaseEstimator:
    def draw(
        problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
    ) -> Batch:
        dist = _require_pairs(problem, kind)
        u = rng.random((*check_reps(reps), n, *dist.event_shape))
        b1, b2 = dist.coupled_pair(u)  # 1[u > 1 - sig], 1[u < sig]
        f1, f2 = problem.evaluate(b1), problem.evaluate(b2)
        return Batch(
            x=b1,
            fx=f1,
            score=None,
            extra=_pair_terms(kind, dist, u, f1, f2),
            n_evals=2 * n,
            noise=u,
            independent=True,
            info={"x2": b2, "fx2": f2},
        )

    def no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        raise TypeError(f"{kind} draws its own antithetic pairs and has no noise mapping")

    docs = {
        "arm": """ARM: augment-REINFORCE-merge (Yin & Zhou, ICLR 2019, Theorem 1).

For independent Bernoullis with logits phi, per pair (u ~ U(0,1)^D):
terms = (f(b1) - f(b2)) (u - 1/2), b1 = 1[u > 1 - sigma(phi)], b2 = 1[u < sigma(phi)].
Unbiased. n is the number of pairs: 2n evaluations of f per estimate. No score, so
baselines do not apply (the antithetic difference is its own baseline).
""",
        "disarm": """DisARM (Dong, Mnih & Tucker 2020): ARM with u integrated out given (b1, b2).

Per pair and coordinate d: terms_d = (1/2) (f(b1) - f(b2)) (-1)^{b2_d} 1[b1_d != b2_d]
sigma(|phi_d|), with b1, b2 as in ARM. Unbiased, and Var(DisARM) <= Var(ARM)
coordinate-wise (Rao-Blackwellization of ARM). n pairs: 2n evaluations of f.
""",
    }
    return BaseEstimator(
        name=kind,
        from_noise=no_noise,
        draw=draw,
        doc=docs[kind],
        oracle=lambda problem, est, n, state: antithetic_moments(problem, est, n),
    )


arm = _antithetic("arm")
disarm = _antithetic("disarm")
#: Which formula a base estimator computes, by identity (a renamed copy made with
#: ``dataclasses.replace`` is another object: pass the original), or by name string.
_KINDS: dict[Any, str] = {arm: "arm", disarm: "disarm", "arm": "arm", "disarm": "disarm"}


def antithetic_moments(
    problem: Problem, estimator: Estimator | BaseEstimator | str, n: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance (each (p,)) of an n-pair ARM or DisARM estimate.

    The pair (b1, b2) is constant on the 3^D cells cut by the breakpoints
    min(sigma, 1 - sigma) and max(sigma, 1 - sigma) of each coordinate; within a cell
    DisARM is constant and ARM is linear in u_d, so E[g] and E[g^2] are exact sums over
    cells (u_d uniform on an interval of length L: E[(u - 1/2)^2] = (mid - 1/2)^2 + L^2/12).
    Pairs are independent, so the n-pair variance is the single-pair variance / n.

    Args:
        problem: a problem with a Bernoulli distribution of at most ~11 coordinates.
        estimator: "arm", "disarm", the base estimators or an Estimator built on them
            (without control variates).
        n: number of pairs.
    """
    kind = _KINDS.get(estimator) if isinstance(estimator, str) else None
    if isinstance(estimator, Estimator):
        if not estimator.cv.is_identity:
            raise NoOracleError(
                f"antithetic_moments handles plain ARM / DisARM, got {estimator.name} (its "
                "control variates change the estimate); measure it by Monte Carlo"
            )
        kind = _KINDS.get(estimator.base)
    elif isinstance(estimator, BaseEstimator):
        kind = _KINDS.get(estimator)
    if kind is None:
        raise ValueError(
            f"estimator must be 'arm' or 'disarm' (the base estimators arm or disarm, or an "
            f"Estimator built on them), got {short_repr(estimator)}"
        )
    dist = _require_pairs(problem, "antithetic_moments")
    d = dist.n_params
    if 3.0**d > CELL_BUDGET:
        raise BudgetExceededError(
            f"antithetic_moments enumerates 3^D cells; D={d} gives {3.0**d:.3g} > {CELL_BUDGET}"
        )
    sig = special.expit(dist.params)
    cuts = np.stack([np.zeros(d), np.minimum(sig, 1 - sig), np.maximum(sig, 1 - sig), np.ones(d)])
    lo, length = cuts[:-1], np.diff(cuts, axis=0)  # (3, d)
    cells = np.array(list(itertools.product(range(3), repeat=d)))  # (3^d, d)
    cols = np.arange(d)
    ln = length[cells, cols]  # (C, d)
    mid = lo[cells, cols] + ln / 2
    w = ln.prod(-1)
    u = mid.reshape(-1, 1, *dist.event_shape)
    b1, b2 = dist.coupled_pair(u)
    f1, f2 = problem.evaluate(b1), problem.evaluate(b2)
    t = _pair_terms(kind, dist, u, f1, f2)[:, 0, :]  # at the midpoint = cell mean for both
    second = t * t
    if kind == "arm":
        second = second + ((f1 - f2)[:, :1] ** 2) * ln**2 / 12.0
    mean = w @ t
    return mean, (w @ second - mean**2) / n
