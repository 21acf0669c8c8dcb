"""VIMCO (Mnih & Rezende, ICML 2016): leave-one-out learning signals for multi-sample bounds.

The setting. A base distribution q(x; theta) and a log-weight function log w(x) (for a
latent-variable model, log p(x, y) - log q(x), with the parameters of log w held fixed:
VIMCO estimates the score part of the gradient). The objective is the K-sample
(importance-weighted, IWAE) bound

    L(x_1..K) = log (1/K) sum_k w(x_k),     x_k ~ q iid,

and the gradient estimated is grad_theta E[L]. In vartools this is an ordinary
``Problem``: its distribution is ``MultiSample(q, K)`` (one outcome = K iid draws of q,
event shape (K, *event), the same parameters theta) and its f is a
``MultiSampleBound`` (the log-mean-exp of the log-weights, which also exposes them).
``multi_sample_problem`` builds it. Every estimator then applies: ``sf`` is REINFORCE
on the bound, L sum_k s(x_k); the exact gradient and exact moments come from
enumerating the product support (``vartools.oracles.exact``).

VIMCO (Mnih & Rezende 2016, eq. 8-10) replaces L in the term of sample k by the
learning signal L - L_{-k}, where L_{-k} = log (1/K)(sum_{j != k} w_j + w^_{-k}) and
w^_{-k} = exp(mean_{j != k} log w_j) is the geometric mean of the other weights:

    g = sum_k (L - L_{-k}) grad_theta log q(x_k).

L_{-k} does not depend on x_k, so E[L_{-k} s(x_k)] = 0 and g is unbiased for
grad E[L] (tested by exact enumeration). Cost: K evaluations of log w per K-sample
outcome (``Batch.n_evals`` = n K for n outcomes; n = 1 is the usual use).

Example:
    >>> import numpy as np
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient, exact_moments
    >>> prob = multi_sample_problem(
    ...     "iwae", Bernoulli([0.3, -0.2]), lambda x: -((x - 0.4) ** 2).sum(-1), k=3)
    >>> mean, var = exact_moments(prob, make_estimator(vimco), 1)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, check_reps, short_repr
from vartools.distributions.budget import check_power_budget
from vartools.estimators.base import BaseEstimator, from_noise_via_samples

__all__ = [
    "MultiSample",
    "MultiSampleBound",
    "log_mean_exp",
    "multi_sample_problem",
    "vimco",
    "vimco_signals",
]


@dataclass(frozen=True, eq=False)
class MultiSample(Distribution):
    """K iid draws of a base distribution as one outcome, shape (K, *base.event_shape).

    The parameters are the base distribution's (shared by the K draws), so the score
    of an outcome is the sum of the K base scores. Enumerable when the base is (the
    support is the K-fold product, first draw varying slowest). Defined here, next to
    the estimator that needs it, rather than in ``vartools.distributions``.

    Args:
        base: the distribution q of each draw.
        k: the number of draws K >= 1.
    """

    base: Distribution
    k: int

    def __post_init__(self) -> None:
        if not isinstance(self.base, Distribution):
            raise TypeError(
                f"MultiSample base must be a vartools Distribution, got {short_repr(self.base)}"
            )
        object.__setattr__(self, "k", check_positive_int(self.k, "k"))
        object.__setattr__(self, "enumerable", bool(self.base.enumerable))

    @property
    def event_shape(self) -> tuple[int, ...]:
        """(K, *base.event_shape)."""
        return (self.k, *self.base.event_shape)

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """The base distribution's blocks."""
        return self.base.param_blocks()

    @property
    def params(self) -> np.ndarray:
        """The base distribution's flat parameters."""
        return self.base.params

    def with_params(self, theta: Any) -> MultiSample:
        """The same K-fold product at the base parameters ``theta``."""
        return MultiSample(self.base.with_params(theta), self.k)

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Base noise for n outcomes of K draws: (*reps, n, K, *base.event)."""
        n = check_positive_int(n, "n")
        return self.base.sample_noise(self.k, rng=rng, reps=(*check_reps(reps), n))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """The base distribution's map from uniforms to noise."""
        return self.base.noise_from_uniform(u)

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """The base transform applied to every draw."""
        return self.base.transform(noise)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum of the K base log-probabilities: (*R, n, K, *event) -> (*R, n)."""
        x = self.check_x(x)
        out: np.ndarray = self.base.log_prob(x).sum(-1)
        return out

    def inner_score(self, x: np.ndarray) -> np.ndarray:
        """The base score of every draw: (*R, n, K, *event) -> (*R, n, K, p)."""
        return self.base.score(self.check_x(x))

    def score(self, x: np.ndarray) -> np.ndarray:
        """Sum over the K draws of the base score: (*R, n, p)."""
        out: np.ndarray = self.inner_score(x).sum(-2)
        return out

    def support(self, budget: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
        """The K-fold product of the base support: (M^K, K, *event) and (M^K,)."""
        outcomes, probs = self.base.support(budget)
        m = len(probs)
        check_power_budget(m, self.k, budget, f"{self.k} draws of {m} outcomes")
        idx = np.indices((m,) * self.k).reshape(self.k, -1).T
        return outcomes[idx], probs[idx].prod(-1)


def log_mean_exp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log (1/K) sum_k exp(a_k) along ``axis``, computed stably."""
    out: np.ndarray = special.logsumexp(a, axis=axis) - np.log(a.shape[axis])
    return out


@dataclass(frozen=True)
class MultiSampleBound(Objective):
    """f(x_1..K) = log (1/K) sum_k exp(log_weight(x_k)): the K-sample bound.

    Build it with ``multi_sample_problem``. ``log_weight`` maps base outcomes
    (*R, n, K, *event) to log-weights (*R, n, K); VIMCO reads it.
    """

    log_weight: Callable[[np.ndarray], np.ndarray] | None = None
    k: int = 1

    def log_weights(self, x: np.ndarray) -> np.ndarray:
        """The checked log-weights (*R, n, K) of outcomes x (*R, n, K, *event)."""
        assert self.log_weight is not None
        return _checked_log_weights(self.log_weight, self.k, x)


def _checked_log_weights(
    log_weight: Callable[[np.ndarray], np.ndarray], k: int, x: np.ndarray
) -> np.ndarray:
    lw = np.asarray(log_weight(x), dtype=np.float64)
    if lw.shape[-1:] != (k,) or lw.ndim < 2:
        raise ValueError(
            f"log_weight returned shape {lw.shape} for x of shape {x.shape}; it must return "
            f"one log-weight per draw, shape (*R, n, {k})"
        )
    if not np.isfinite(lw).all():
        raise ValueError("log_weight returned a NaN or infinite value; it must be finite")
    return lw


def multi_sample_problem(
    name: str,
    dist: Distribution,
    log_weight: Callable[[np.ndarray], np.ndarray],
    k: int,
    *,
    description: str = "",
) -> Problem:
    """The Problem whose objective is the K-sample bound E[log (1/K) sum_k w(x_k)].

    Args:
        name: the problem's label.
        dist: q, the distribution of each draw.
        log_weight: vectorised log w: base outcomes (*R, n, *event) -> (*R, n) (it is
            called on (*R, n, K, *event) arrays and must keep every leading axis).
        k: K >= 1, the number of draws in the bound.
        description: free text.

    Returns:
        A Problem with distribution ``MultiSample(dist, k)`` and f a ``MultiSampleBound``.
    """
    if not callable(log_weight):
        raise TypeError(f"log_weight must be callable x -> log w(x), got {short_repr(log_weight)}")
    k = check_positive_int(k, "k")

    def value(x: np.ndarray) -> np.ndarray:
        return log_mean_exp(_checked_log_weights(log_weight, k, x))

    bound = MultiSampleBound(
        value=value, name=f"log mean of {k} weights", log_weight=log_weight, k=k
    )
    return Problem(
        name,
        MultiSample(dist, k),
        bound,
        description=description or f"{k}-sample bound log (1/{k}) sum_k w(x_k)",
    )


def vimco_signals(log_w: np.ndarray) -> np.ndarray:
    """The VIMCO learning signals L - L_{-k}, (*R, n, K), from log-weights (*R, n, K).

    L_{-k} replaces log w_k by the mean of the other log-weights (the log of their
    geometric mean) inside the log-mean-exp (Mnih & Rezende 2016, eq. 9).
    """
    k = log_w.shape[-1]
    if k < 2:
        raise ValueError(f"VIMCO needs K >= 2 draws in the bound, got K={k}")
    loo_mean = (log_w.sum(-1, keepdims=True) - log_w) / (k - 1)  # (*R, n, K)
    eye = np.eye(k, dtype=bool)
    swapped = np.where(eye, loo_mean[..., :, None], log_w[..., None, :])  # (*R, n, K, K)
    return log_mean_exp(log_w)[..., None] - log_mean_exp(swapped)


def _vimco_from_samples(
    problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, independent: bool = True
) -> Batch:
    dist, bound = problem.dist, problem.f
    if not isinstance(dist, MultiSample) or not isinstance(bound, MultiSampleBound):
        raise TypeError(
            f"vimco needs a multi-sample bound problem (build it with "
            f"vartools.estimators.vimco.multi_sample_problem); problem {problem.name!r} samples "
            f"from {type(dist).__name__} with f {type(problem.f).__name__}"
        )
    log_w = bound.log_weights(x)
    signal = vimco_signals(log_w)
    s_inner = dist.inner_score(x)  # (*R, n, K, p)
    terms = np.matmul(signal[..., None, :], s_inner)[..., 0, :]
    return Batch(
        x=x,
        fx=log_mean_exp(log_w),
        score=s_inner.sum(-2),
        extra=terms,
        n_evals=int(log_w.shape[-2] * log_w.shape[-1]),
        noise=noise,
        independent=independent,
        info={"log_weight_evals": int(log_w.shape[-2] * log_w.shape[-1])},
    )


vimco = BaseEstimator(
    name="vimco",
    from_noise=from_noise_via_samples(_vimco_from_samples),
    from_samples=_vimco_from_samples,
    doc="""VIMCO (Mnih & Rezende, ICML 2016) for the K-sample bound of a ``multi_sample_problem``.

terms = sum_k (L - L_{-k}) grad log q(x_k) per K-sample outcome, L the log-mean-exp of the
K log-weights and L_{-k} the same with log w_k replaced by the mean of the others. Unbiased
for grad E[L] (score part). Cost: K evaluations of log w per outcome (n K per estimate).
The batch's score is sum_k grad log q(x_k), so baselines compose.
""",
)
