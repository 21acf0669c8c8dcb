"""The two frozen-parameter settings and the compared estimators of ``sampling_bias``."""

from __future__ import annotations

from vartools.catalogue.registry import get_estimator
from vartools.catalogue.settings import make_problem
from vartools.core.problem import Problem
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.relaxations import gumbel_softmax, straight_through

__all__ = [
    "BATCH",
    "N_FULL",
    "N_QUICK",
    "SAMPLERS",
    "SETTINGS",
    "TEMPERATURES",
    "build_estimators",
    "problem",
    "relaxation_estimators",
]

#: setting -> (catalogue name, its parameters, a label)
SETTINGS = {
    "gauss_cos": ("gaussian_cost", {"cost": "cos", "k": 2.0}, "cos(2x), x ~ N(1, 1)"),
    "liu_toy": ("liu_toy", {"eta": -1.5}, "3 Bernoullis, f = sum (z - p0)^2, eta = -1.5"),
}
#: score function with each sampler (n evaluations of f per estimate for every one)
SAMPLERS = ("sf", "sf@antithetic", "sf@stratified", "sf@sobol")
#: the optimal baseline fitted on the batch it corrects (biased) and its unbiased versions
BATCH = ("sf+optbase_batch", "sf+optbase_loo", "sf+optbase_xfit")
#: Gumbel-softmax (binary Concrete) temperatures of the relaxation table
TEMPERATURES = (0.1, 0.2, 0.5, 1.0, 2.0)
N_FULL = (2, 4, 8, 16, 32)
N_QUICK = (2, 8, 32)


def problem(setting: str) -> Problem:
    """The problem of a setting (``SETTINGS``)."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
    name, params, _ = SETTINGS[setting]
    return make_problem(name, **params)


def build_estimators() -> list[Estimator]:
    """SF with iid / antithetic / stratified / Sobol sampling, and SF + b fitted three ways."""
    return [get_estimator(n) for n in (*SAMPLERS, *BATCH)]


def relaxation_estimators() -> list[Estimator]:
    """Straight-through and Gumbel-softmax at each temperature (biased), beside SF."""
    out = [get_estimator("sf"), make_estimator(straight_through(), name="st")]
    out += [make_estimator(gumbel_softmax(t), name=f"gumbel({t:g})") for t in TEMPERATURES]
    return out
