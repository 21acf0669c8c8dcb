"""The Liu / Kool toy's model: d = 3 Bernoullis sharing one logit, and its estimators.

``SharedBernoulli`` is the shared-logit law; ``per_coordinate`` and ``chain_rule`` turn the
per-coordinate estimators into estimators of the shared gradient (the chain rule);
``build_estimators`` lists the compared estimators.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from vartools.control_variates.baselines import loo_baseline
from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.objectives import square_distance
from vartools.core.problem import Problem
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.estimators.base import BaseEstimator, chain_rule_estimator, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rao_blackwell import local_expectation
from vartools.estimators.sum_and_sample import sum_and_sample

__all__ = [
    "ETAS",
    "MAX_EVALS",
    "N_FLIP",
    "P0",
    "SharedBernoulli",
    "build_estimators",
    "chain_rule",
    "per_coordinate",
    "problem",
]

P0 = (0.6, 0.51, 0.48)
ETAS = (0.0, -4.0)
MAX_EVALS = 8
N_FLIP = len(P0)  # coordinates flipped by the local expectation estimator


@dataclass(frozen=True, eq=False)
class SharedBernoulli(Distribution):
    """d independent Bernoullis sharing one logit eta: theta = (eta,), p(b_i = 1) = sigmoid(eta).

    The score is sum_i (b_i - sigmoid(eta)), shape (*R, n, 1); sampling is the inverse CDF of
    one uniform per coordinate (as ``Bernoulli``), so ``per_coordinate`` maps the same noise
    to the same outcomes.
    """

    eta: float
    d: int = 3
    enumerable = True

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.d,)

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("eta", ())]

    def with_params(self, theta: Any) -> SharedBernoulli:
        return SharedBernoulli(float(self.check_theta(theta)[0]), self.d)

    def per_coordinate(self) -> Bernoulli:
        """The same law with one logit per coordinate (all equal to eta)."""
        return Bernoulli(np.full(self.d, float(self.eta)))

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        return rng.random(self.noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        return (noise > special.expit(-self.eta)).astype(np.float64)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self.per_coordinate().log_prob(x)

    def score(self, x: np.ndarray) -> np.ndarray:
        x = self.check_x(x)
        return (x - special.expit(self.eta)).sum(-1, keepdims=True)

    def support(self, budget: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
        return self.per_coordinate().support(budget)


def problem(eta: float) -> Problem:
    """The Liu toy with one shared logit ``eta`` (p = 1)."""
    return Problem(
        f"liu_shared(eta={float(eta):g})",
        SharedBernoulli(float(eta)),
        square_distance(np.array(P0)),
        description="3 Bernoullis sharing one logit, f = sum (z - p0)^2, p0 = (0.6, 0.51, 0.48)",
    )


def per_coordinate(prob: Problem) -> Problem:
    """The same problem with one logit per coordinate (``make_problem("liu_toy", eta=)``)."""
    dist = prob.dist
    if not isinstance(dist, SharedBernoulli):
        raise TypeError(f"problem {prob.name!r} does not have a shared logit")
    return replace(prob, name=prob.name + "[per-coordinate]", dist=dist.per_coordinate())


def _summed(batch: Batch) -> Batch:
    """Chain rule: the shared-logit batch sums the per-coordinate terms and scores."""
    return Batch(
        x=batch.x,
        fx=batch.fx,
        score=None if batch.score is None else batch.score.sum(-1, keepdims=True),
        extra=batch.terms.sum(-1, keepdims=True),
        n_evals=batch.n_evals,
        noise=batch.noise,
        independent=batch.independent,
        info=batch.info,
    )


def chain_rule(base: BaseEstimator) -> BaseEstimator:
    """The shared-logit version of a per-coordinate base estimator (terms summed, p = 1).

    d/deta E[f] = sum_i d/deta_i E[f] at eta_i = eta, so summing the per-coordinate terms of
    an unbiased estimator gives an unbiased estimator of the shared gradient, at the same
    cost; for the score function the summed score is the shared score.
    """
    return chain_rule_estimator(
        base,
        per_coordinate,
        lambda batch, prob: _summed(batch),
        doc=f"Shared-logit (chain rule) version of {base.name}.",
    )


def build_estimators() -> list[Estimator]:
    """REINFORCE, RLOO, sum-and-sample (k = 0..8) and local expectation gradients."""
    out = [
        make_estimator(score_function, name="reinforce"),
        make_estimator(score_function, loo_baseline(), name="rloo"),
    ]
    out += [make_estimator(sum_and_sample(k), name=f"sas(k={k})") for k in range(MAX_EVALS + 1)]
    out.append(make_estimator(chain_rule(local_expectation), name="local_expectation"))
    return out
