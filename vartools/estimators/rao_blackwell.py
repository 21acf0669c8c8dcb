"""Rao-Blackwellization: conditional expectations that replace per-sample score-function terms.

Three estimators, each a ``BaseEstimator`` (so it composes with control variates
through ``make_estimator`` and, where its terms depend on the outcomes only, is
enumerated exactly by ``vartools.oracles.exact.exact_moments``):

- ``local_expectation``: local expectation gradients (Titsias & Lazaro-Gredilla
  2015) for factorised Bernoulli and Categorical distributions: for every
  coordinate, the sum over its values with the other coordinates held at the sample.
- ``sum_and_sample(k)``: sum-and-sample (Liu et al. 2019): the k most probable joint
  outcomes are summed exactly, the remainder is sampled from the renormalised rest
  (it lives in ``vartools.estimators.sum_and_sample`` and is re-exported here).
- ``dependency_aware``: when f is declared as a sum of terms
  (``vartools.core.objectives.SumOfTerms``), each coordinate's score multiplies only the
  terms that read that coordinate; ``relevant_loo_baseline`` is the leave-one-out
  baseline of those per-coordinate terms.

Why base estimators and not control variates. Rao-Blackwellization changes which f
evaluations are made (and how many), which is the job of a base estimator; a
control variate only rewrites terms from evaluations already made. The conditional
expectation is taken of the score-function term with *any* baseline c that does not
depend on the sample's own coordinate: E[(f - c) s_d | x_-d] = E[f s_d | x_-d]
because E[s_d | x_-d] = 0. So a baseline *before* Rao-Blackwellization is absorbed
exactly, and a baseline applied *after* it (e.g. ``make_estimator(local_expectation,
loo_baseline())``) is still unbiased but, for local expectation, only adds variance:
the local-expectation term of coordinate d depends on x_-d only and is uncorrelated
with s_d(x_d) (tested by enumeration). What is *biased* is a baseline that reads the
sample's own coordinate, e.g. c = f(x with x_d flipped): the resulting
(f(x) - f(flip_d x)) s_d has mean 2 w_d [f(1, x_-d) - f(0, x_-d)], twice the gradient.

For sum-and-sample a baseline must multiply the sum-and-sample score s~ (mean zero),
which the batch carries as its ``score``; see ``vartools.estimators.sum_and_sample``.

Example:
    >>> import numpy as np
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient, exact_moments
    >>> from vartools.catalogue.settings import make_problem
    >>> prob = make_problem("liu_toy", eta=0.0)
    >>> le = make_estimator(local_expectation)
    >>> mean, var = exact_moments(prob, le, 1)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
    >>> sas = make_estimator(sum_and_sample(4))
    >>> mean, var = sum_and_sample_moments(prob, sas, 2)
    >>> round(float(mean.sum()), 6)
    -0.045
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate, require_score
from vartools.core.distribution import Distribution
from vartools.core.objectives import SumOfTerms
from vartools.core.problem import Problem, call_on_read_only
from vartools.core.validation import short_repr
from vartools.estimators.base import BaseEstimator, from_noise_via_samples
from vartools.estimators.sum_and_sample import (
    SumAndSample,
    sum_and_sample,
    sum_and_sample_moments,
)

__all__ = [
    "SumAndSample",
    "dependency_aware",
    "local_expectation",
    "param_coordinates",
    "relevant_loo_baseline",
    "sum_and_sample",
    "sum_and_sample_moments",
]

#: Largest number of array entries a local-expectation chunk of modified samples holds.
CHUNK_ELEMENTS = 4_000_000


def param_coordinates(dist: Distribution) -> np.ndarray:
    """The flat event coordinate each parameter belongs to, shape (p,) of ints.

    Bernoulli: logits[d] -> d; Categorical: logits[j, k] -> j; Normal: loc[d] and
    scale[d] -> d (the ``param_coordinates`` capability of the distribution).

    Example:
        >>> from vartools.distributions.discrete.categorical import Categorical
        >>> param_coordinates(Categorical(np.zeros((2, 3)))).tolist()
        [0, 0, 0, 1, 1, 1]
    """
    if not dist.supports("param_coordinates"):
        dist.not_supported(
            "param_coordinates",
            "Rao-Blackwellization",
            "it needs a factorised distribution such as Bernoulli, Categorical or Normal",
        )
    return dist.param_coordinates()


def _lead(x: np.ndarray, dist: Distribution) -> tuple[int, ...]:
    return tuple(x.shape[: x.ndim - len(dist.event_shape)])


def _le_from_samples(
    problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, independent: bool = True
) -> Batch:
    dist = problem.dist
    if not dist.supports("local_expectation"):
        dist.not_supported(
            "local_expectation",
            "local_expectation",
            f"it needs a factorised distribution with discrete coordinates (e.g. Bernoulli or "
            f"Categorical); problem {problem.name!r} samples from {type(dist).__name__} (for a "
            "Normal use vartools.pathwise or the measure-valued estimator)",
        )
    fx = problem.evaluate(x)
    terms, evals_per_sample = dist.local_expectation(x, fx, problem.evaluate, CHUNK_ELEMENTS)
    return Batch(
        x=x,
        fx=fx,
        score=dist.score(x),
        extra=terms,
        n_evals=int(fx.shape[-1]) * evals_per_sample,
        noise=noise,
        independent=independent,
    )


local_expectation = BaseEstimator(
    name="le",
    from_noise=from_noise_via_samples(_le_from_samples),
    from_samples=_le_from_samples,
    doc="""Local expectation gradients (Titsias & Lazaro-Gredilla, NeurIPS 2015).

For each sample x_i ~ p and each coordinate, the score-function term is replaced by its
conditional expectation over that coordinate with the others held at the sample:
- Bernoulli coordinate d (gradient w.r.t. the logit eta_d, theta_d = sigmoid(eta_d)):
  terms_{i,d} = theta_d (1 - theta_d) [f(b_d=1, b_-d) - f(b_d=0, b_-d)];
- Categorical j (gradient w.r.t. logits[j, :], probabilities p_j):
  terms_{i,j,:} = sum_k p_jk f(z_j=k, z_-j) (onehot_k - p_j) = p_j (f_j - sum_k p_jk f_jk).
Unbiased for factorised distributions; per coordinate Var(local expectation) <=
Var(SF with the optimal constant baseline) (Rao-Blackwell). Cost: n (1 + D) evaluations
of f for D Bernoullis, n (1 + B (K - 1)) for B categoricals with K classes (the modified
samples are evaluated in one vectorised call per chunk of coordinates; for categoricals
the implementation also re-evaluates z_j = its sampled value, which the count omits as
a smarter implementation would reuse f(x)). The batch keeps
the plain score, so a baseline chained after it stays unbiased but only adds variance
(see the module docstring).
""",
)


# -- dependency-aware Rao-Blackwellization ---------------------------------------------------


def _reads_matrix(reads: tuple[tuple[int, ...], ...], dim: int, name: str) -> np.ndarray:
    a = np.zeros((len(reads), dim))
    for t, coords in enumerate(reads):
        for c in coords:
            if c >= dim:
                raise ValueError(
                    f"term {t} of problem {name!r} declares coordinate {c}, but the "
                    f"distribution has {dim} flat coordinates (0..{dim - 1}); fix reads"
                )
            a[t, c] = 1.0
    return a


def _dep_from_samples(
    problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, independent: bool = True
) -> Batch:
    f = problem.f
    if not isinstance(f, SumOfTerms) or f.terms is None:
        raise TypeError(
            f"dependency_aware needs f declared as a sum of terms; problem {problem.name!r} "
            f"has f={short_repr(f)}; build f with sum_of_terms or separable (core.objectives)"
        )
    dist = problem.dist
    lead = _lead(x, dist)
    dim = math.prod(dist.event_shape)
    a = _reads_matrix(f.reads, dim, problem.name)
    vals = np.asarray(
        call_on_read_only(f.terms, x, f"the terms of problem {problem.name!r}", "x"),
        dtype=np.float64,
    )
    if vals.shape != (*lead, len(f.reads)):
        raise ValueError(
            f"the terms of problem {problem.name!r} returned shape {vals.shape} for x of shape "
            f"{x.shape}; expected {(*lead, len(f.reads))} (one value per declared term)"
        )
    if not np.isfinite(vals).all():
        raise ValueError(f"the terms of problem {problem.name!r} returned a NaN or infinite value")
    relevant = vals @ a  # (*lead, D): sum of the terms reading each coordinate
    score = dist.score(x)
    return Batch(
        x=x,
        fx=vals.sum(-1),
        score=score,
        extra=relevant[..., param_coordinates(dist)] * score,
        n_evals=int(lead[-1]),
        noise=noise,
        independent=independent,
        info={"relevant": relevant},
    )


dependency_aware = BaseEstimator(
    name="dep",
    from_noise=from_noise_via_samples(_dep_from_samples),
    from_samples=_dep_from_samples,
    doc="""Dependency-aware score-function estimator for f = sum_t f_t declared with its reads.

terms_{i,j} = [sum_{t : c(j) in reads_t} f_t(x_i)] s_j(x_i), where c(j) is parameter j's
coordinate (``param_coordinates``). Unbiased for factorised distributions: a term that
does not read coordinate c has E[f_t s_j] = E[f_t E[s_j | x_-c]] = 0 (the
Rao-Blackwellization of those terms; Titsias & Shi (AISTATS 2022) exploit it on the
separable Double-CV toy f = ||b - t||^2 / D). Cost: n evaluations of f (each term
once per sample). Baselines chained after it subtract c s_j and stay unbiased, but a
baseline of the whole f (``loo_baseline``) is on the wrong scale for a coordinate whose
terms are a small part of f; use ``relevant_loo_baseline``, which baselines each
coordinate's own terms.
""",
)


def _relevant_loo_apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
    relevant = batch.info.get("relevant")
    if relevant is None:
        raise TypeError(
            "relevant_loo_baseline needs the per-coordinate terms of the dependency_aware base "
            "estimator; use make_estimator(dependency_aware, relevant_loo_baseline())"
        )
    n = batch.n
    if n < 2:
        raise ValueError(f"relevant_loo_baseline needs n >= 2 samples per estimate, got n={n}")
    score = require_score(batch, "relevant_loo_baseline")
    b = (relevant.sum(-2, keepdims=True) - relevant) / (n - 1)  # (*R, n, D), leave one out
    pc = param_coordinates(problem.dist)
    return batch.with_terms(batch.terms - b[..., pc] * score), state


def relevant_loo_baseline() -> ControlVariate:
    """Leave-one-out baseline of each coordinate's own terms, for ``dependency_aware``.

    With G_{i,c} = sum of the terms reading coordinate c at sample i (the dependency-aware
    weight), terms_{i,j} = (G_{i,c(j)} - (1/(n-1)) sum_{l != i} G_{l,c(j)}) s_j(x_i): RLOO
    (Kool et al. 2019) applied per coordinate to the Rao-Blackwellized weight. Unbiased
    for independent samples (the baseline does not depend on x_i and E[s_j] = 0). Needs
    n >= 2; no extra evaluations of f.
    """
    return ControlVariate(
        _no_state,
        _relevant_loo_apply,
        name="rloo",
        factory=relevant_loo_baseline,
        min_n=2,
        requires_independent=True,
        per_sample=False,
    )


def _no_state(problem: Problem) -> None:
    return None
