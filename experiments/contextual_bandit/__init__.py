"""REINFORCE in reinforcement learning: a contextual bandit with a tabular softmax policy.

3 states drawn from a known distribution rho, 3 actions, policy softmax(logits[s]); reward
rbar(s, a) + e with rbar ~ N(1, 1) (fixed table, seed 0) and e = +-0.5 (probability 1/2 each)
independent of (s, a). The noise is a parameter-free part of the outcome x = (s, a, j), so
f(x) is deterministic and the support is finite (18 outcomes): every oracle is exact
(``vartools.catalogue.bandit``). The policy is trained from uniform logits by gradient ascent
on the expected return (Adam, lr 0.05, RLOO per state, n = 4 episodes per step); at every
checkpoint (a frozen policy) the replicate variance (95% CI) and the exact variance (by
enumerating the 4-episode joint) of the policy-gradient estimate with

- no baseline; a constant baseline equal to the expected return J; the state value V(s);
- the optimal state-dependent baseline b*(s, a) = E[r s^2 | .] / E[s^2 | .] (per coordinate);
- RLOO over all episodes, and RLOO among the episodes of the same state,

together with the expected return.
"""

from __future__ import annotations

from vartools.catalogue.bandit import (
    expected_return_baseline,
    make_bandit,
    oracle_optimal_baseline,
    per_state_loo_baseline,
    state_value_baseline,
)
from vartools.control_variates.baselines import loo_baseline
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.harness.experiment import Experiment, Scale, Trajectory

__all__ = ["EXPERIMENT", "N_EPISODES", "estimators", "problem"]

N_EPISODES = 4


def problem() -> Problem:
    """The 3-state, 3-action bandit with +-0.5 reward noise, uniform initial policy."""
    return make_bandit(3, 3, noise=0.5, offset=1.0, seed=0)


def estimators() -> list[Estimator]:
    """Policy-gradient estimators with the compared baselines."""
    sf = score_function
    return [
        make_estimator(sf, name="no baseline"),
        make_estimator(sf, expected_return_baseline(), name="constant J"),
        make_estimator(sf, state_value_baseline(), name="state value V(s)"),
        make_estimator(sf, oracle_optimal_baseline(), name="optimal b*(s,a)"),
        make_estimator(sf, loo_baseline(), name="rloo"),
        make_estimator(sf, per_state_loo_baseline(), name="rloo per state"),
    ]


EXPERIMENT = Experiment(
    name="contextual_bandit",
    description=(
        "Contextual bandit (3 states, 3 actions, tabular softmax policy, noisy rewards): "
        "exact policy gradient by enumeration; replicate and exact variance of REINFORCE with "
        "no baseline, a constant, the state value, the optimal state-dependent baseline, RLOO "
        "and per-state RLOO, at frozen policies along training, with the expected return."
    ),
    problem=problem,
    estimators=estimators(),
    n_samples=[N_EPISODES],
    n_reps=2000,
    seed=64,
    trajectory=Trajectory(
        estimator=make_estimator(score_function, per_state_loo_baseline(), name="rloo per state"),
        n=N_EPISODES,
        optimizer=adam(0.05),
        steps=400,
        every=40,
        maximize=True,
    ),
    quick=Scale(n_reps=1000, steps=100, every=50),
)
