"""The ARM toy's problem (one Bernoulli, f = (z - 0.49)^2) and compared estimators."""

from __future__ import annotations

import numpy as np

from vartools.control_variates.baselines import loo_baseline
from vartools.core.objectives import square_distance
from vartools.core.problem import Problem
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator

__all__ = ["TARGET", "estimators", "problem"]

TARGET = 0.49


def problem() -> Problem:
    """One Bernoulli at logit 0, f = (z - 0.49)^2."""
    return Problem(
        "arm_toy",
        Bernoulli(np.zeros(1)),
        square_distance(TARGET),
        description="one Bernoulli, f = (z - 0.49)^2, maximised (Yin & Zhou 2019)",
    )


def estimators() -> list[Estimator]:
    """SF, RLOO, ARM and DisARM."""
    return [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, loo_baseline(), name="rloo"),
        make_estimator(arm, name="arm"),
        make_estimator(disarm, name="disarm"),
    ]
