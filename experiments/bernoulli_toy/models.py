"""The Bernoulli toy's problem (one Bernoulli, f = (b - t)^2) and compared estimators."""

from __future__ import annotations

from vartools.catalogue.bandit import oracle_optimal_baseline
from vartools.catalogue.settings import make_problem
from vartools.control_variates.baselines import ema_baseline, loo_baseline
from vartools.control_variates.coefficients import optimal_baseline
from vartools.core.problem import Problem
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rao_blackwell import local_expectation

__all__ = ["T_VALUES", "estimators", "problem"]

T_VALUES = (0.45, 0.499)


def problem(t: float) -> Problem:
    """One Bernoulli at logit 0 with f = (b - t)^2."""
    return make_problem("rebar_toy", t=float(t))


def estimators() -> list[Estimator]:
    """The compared estimators (n = samples, or antithetic pairs for ARM / DisARM)."""
    sf = score_function
    return [
        make_estimator(sf, name="sf"),
        make_estimator(sf, ema_baseline(0.9), name="sf+ema"),
        # b* computed from the true distribution (an oracle), and b fitted from earlier
        # batches only (running moments of f s^2 and s^2; warmed up for 50 batches)
        make_estimator(sf, oracle_optimal_baseline(), name="sf+opt* (oracle)"),
        make_estimator(sf, optimal_baseline("running"), name="sf+opt (fitted)"),
        make_estimator(sf, loo_baseline(), name="rloo"),
        make_estimator(arm, name="arm"),
        make_estimator(disarm, name="disarm"),
        make_estimator(local_expectation, name="exact (RB)"),
    ]
