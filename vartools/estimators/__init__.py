"""Base gradient estimators, the ``Batch`` they produce, and ``make_estimator``.

A base estimator maps ``(problem, n, rng, reps)`` to a ``Batch``: the samples
x (*R, n, *event), f(x) (*R, n), the score (*R, n, p) when the estimator has one,
and per-sample gradient terms (*R, n, p). The gradient estimate is always
``batch.terms.mean(axis=-2)``, shape (*R, p). Control variates (see
``vartools.control_variates``) rewrite the terms; ``make_estimator`` wraps a base
estimator, a chain of control variates and a sampler into one ``Estimator``.

Example:
    >>> import numpy as np
    >>> from vartools.distributions import Bernoulli
    >>> from vartools.problems import Problem
    >>> prob = Problem("toy", Bernoulli([0.0, 1.0]), lambda b: (b * b[..., ::-1]).sum(-1))
    >>> est = make_estimator(score_function)
    >>> g, state = est(prob, 4, rng=np.random.default_rng(0), reps=(10,))
    >>> g.shape
    (10, 2)
"""

from vartools.estimators.base import (
    BaseEstimator,
    chain_rule_estimator,
    from_noise_via_samples,
    pathwise,
    score_function,
)
from vartools.estimators.base import DrawFn as DrawFn
from vartools.estimators.base import _pathwise_from_noise as _pathwise_from_noise
from vartools.estimators.base import _sf_from_samples as _sf_from_samples
from vartools.estimators.batch import Batch, DeferredScore
from vartools.estimators.batch import _ScoreField as _ScoreField
from vartools.estimators.composed import Estimator, make_estimator

__all__ = [
    "BaseEstimator",
    "Batch",
    "DeferredScore",
    "Estimator",
    "chain_rule_estimator",
    "from_noise_via_samples",
    "make_estimator",
    "pathwise",
    "score_function",
]
