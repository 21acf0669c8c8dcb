"""vartools: the variance of Monte Carlo gradient estimators.

Wrap a base estimator (``score_function``, ``pathwise``) in a chain of variance
reducers (``make_estimator``), and measure what each buys with replicated,
confidence-interval-carrying measurements (``measure_variance``) and exact
oracles (``vartools.oracles.exact``).

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

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vartools._version import __version__
from vartools.catalogue.registry import ESTIMATORS, get_estimator, register_estimator
from vartools.catalogue.settings import SETTINGS, make_problem
from vartools.control_variates.baselines import constant_baseline, ema_baseline, loo_baseline
from vartools.control_variates.coefficients import delta_method, optimal_baseline, optimal_cv
from vartools.control_variates.features import delta_features, function_features, score_features
from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate, chain
from vartools.core.distribution import Distribution
from vartools.core.errors import NoOracleError
from vartools.core.objectives import Objective, SumOfTerms, separable, sum_of_terms
from vartools.core.optim import adam, cosine_decay, rmsprop, sgd
from vartools.core.problem import Problem
from vartools.distributions.beta import Beta
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.distributions.discrete.categorical import Categorical
from vartools.distributions.normal import Normal
from vartools.distributions.poisson import Poisson
from vartools.estimators.arm import antithetic_moments, arm, disarm
from vartools.estimators.base import BaseEstimator, pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.measure_valued import (
    measure_valued,
    measure_valued_uncoupled,
    mvd_moments,
)
from vartools.estimators.rao_blackwell import (
    dependency_aware,
    local_expectation,
    relevant_loo_baseline,
)
from vartools.estimators.relaxations import gumbel_softmax, straight_through
from vartools.estimators.sum_and_sample import sum_and_sample, sum_and_sample_moments
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.oracles.exact import exact_expectation, exact_gradient, exact_moments, sf_moments
from vartools.samplers.sampling import Sampler, antithetic, iid, sobol, stratified

if TYPE_CHECKING:
    from vartools.harness.runner import run_experiment
    from vartools.measure.variance import measure_variance

# Entry points whose modules load pandas: imported on first use (PEP 562), so that
# ``import vartools`` stays light.
_LAZY = {
    "measure_variance": "vartools.measure.variance",
    "run_experiment": "vartools.harness.runner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vartools' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BaseEstimator",
    "Batch",
    "Bernoulli",
    "Beta",
    "Categorical",
    "ControlVariate",
    "Distribution",
    "Estimator",
    "ESTIMATORS",
    "Experiment",
    "NoOracleError",
    "Normal",
    "Objective",
    "Poisson",
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
    "measure_valued_uncoupled",
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
