"""Base gradient estimators, the ``Batch`` they produce, and ``make_estimator``.

A base estimator maps ``(problem, n, rng, reps)`` to a ``Batch``: the samples
x (*R, n, *event), f(x) (*R, n), the score (*R, n, p) when the estimator has one,
and per-sample gradient terms (*R, n, p). The gradient estimate is always
``batch.terms.mean(axis=-2)``, shape (*R, p). Control variates (see
``vartools.control_variates``) rewrite the terms; ``make_estimator`` wraps a base
estimator, a chain of control variates and a sampler into one ``Estimator``.

Example:
    >>> import numpy as np
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
    >>> from vartools.core.problem import Problem
    >>> from vartools.estimators.base import score_function
    >>> from vartools.estimators.composed import make_estimator
    >>> prob = Problem("toy", Bernoulli([0.0, 1.0]), lambda b: (b * b[..., ::-1]).sum(-1))
    >>> est = make_estimator(score_function)
    >>> g, state = est(prob, 4, rng=np.random.default_rng(0), reps=(10,))
    >>> g.shape
    (10, 2)
"""

__all__: list[str] = []
