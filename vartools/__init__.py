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
from vartools.coefficients import (
    delta_features,
    delta_method,
    function_features,
    optimal_baseline,
    optimal_cv,
    score_features,
)
from vartools.control_variates import (
    ControlVariate,
    chain,
    constant_baseline,
    ema_baseline,
    loo_baseline,
)
from vartools.discrete import (
    antithetic_moments,
    arm,
    disarm,
    gumbel_softmax,
    straight_through,
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
from vartools.experiment import Experiment, Scale, Trajectory
from vartools.measure_valued import measure_valued, mvd_moments
from vartools.objectives import Objective, SumOfTerms, separable, sum_of_terms
from vartools.optim import adam, cosine_decay, rmsprop, sgd
from vartools.problems import SETTINGS, Problem, make_problem
from vartools.rao_blackwell import (
    dependency_aware,
    local_expectation,
    relevant_loo_baseline,
    sum_and_sample,
    sum_and_sample_moments,
)
from vartools.registry import ESTIMATORS, get_estimator, register_estimator
from vartools.runner import run_experiment
from vartools.sampling import Sampler, antithetic, iid, sobol, stratified
from vartools.variance import measure_variance

__all__ = [
    "BaseEstimator",
    "Batch",
    "Bernoulli",
    "Categorical",
    "ControlVariate",
    "Distribution",
    "Estimator",
    "ESTIMATORS",
    "Experiment",
    "Normal",
    "Objective",
    "Problem",
    "Sampler",
    "Scale",
    "SETTINGS",
    "SumOfTerms",
    "Trajectory",
    "__version__",
    "adam",
    "antithetic",
    "antithetic_moments",
    "arm",
    "chain",
    "constant_baseline",
    "cosine_decay",
    "delta_features",
    "delta_method",
    "dependency_aware",
    "disarm",
    "ema_baseline",
    "exact_expectation",
    "exact_gradient",
    "exact_moments",
    "function_features",
    "get_estimator",
    "gumbel_softmax",
    "iid",
    "local_expectation",
    "loo_baseline",
    "make_estimator",
    "make_problem",
    "measure_valued",
    "measure_variance",
    "mvd_moments",
    "optimal_baseline",
    "optimal_cv",
    "pathwise",
    "register_estimator",
    "relevant_loo_baseline",
    "rmsprop",
    "run_experiment",
    "score_features",
    "score_function",
    "separable",
    "sf_moments",
    "sgd",
    "sobol",
    "straight_through",
    "stratified",
    "sum_and_sample",
    "sum_and_sample_moments",
    "sum_of_terms",
]
