"""vartools: the variance of Monte Carlo gradient estimators.

Wrap a base estimator (``score_function``, ``pathwise``) in a chain of variance
reducers (``make_estimator``), and measure what each buys with replicated,
confidence-interval-carrying measurements (``measure_variance``) and exact
oracles (``vartools.exact``).

Example:
    >>> import numpy as np, vartools as vt
    >>> dist = vt.Bernoulli(logits=np.linspace(-2, 2, 20))
    >>> prob = vt.Problem("bern20", dist, lambda b: ((b - 0.45) ** 2).sum(-1))
    >>> sf = vt.make_estimator(vt.score_function)
    >>> loo = vt.make_estimator(vt.score_function, vt.loo_baseline())
    >>> table = vt.measure_variance(prob, [sf, loo], n_samples=[4], n_reps=500, seed=0)
    >>> list(table.query("coordinate == '(mean)'")["estimator"])
    ['sf', 'sf+loo']
"""

from vartools._version import __version__
from vartools.control_variates import (
    ControlVariate,
    chain,
    constant_baseline,
    ema_baseline,
    loo_baseline,
)
from vartools.distributions import Bernoulli, Categorical, Distribution, Normal
from vartools.estimators import (
    BaseEstimator,
    Batch,
    Estimator,
    make_estimator,
    pathwise,
    score_function,
)
from vartools.exact import exact_expectation, exact_gradient, exact_moments, sf_moments
from vartools.objectives import Objective
from vartools.problems import SETTINGS, Problem, make_problem
from vartools.sampling import Sampler, iid
from vartools.variance import measure_variance

__all__ = [
    "BaseEstimator",
    "Batch",
    "Bernoulli",
    "Categorical",
    "ControlVariate",
    "Distribution",
    "Estimator",
    "Normal",
    "Objective",
    "Problem",
    "SETTINGS",
    "Sampler",
    "__version__",
    "chain",
    "constant_baseline",
    "ema_baseline",
    "exact_expectation",
    "exact_gradient",
    "exact_moments",
    "iid",
    "loo_baseline",
    "make_estimator",
    "make_problem",
    "measure_variance",
    "pathwise",
    "score_function",
    "sf_moments",
]
