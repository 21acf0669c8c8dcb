"""REINFORCE in reinforcement learning: a contextual bandit with a tabular softmax policy.

3 states drawn from a known distribution rho, 3 actions, policy softmax(logits[s]); reward
rbar(s, a) + e with rbar ~ N(1, 1) (fixed table, seed 0) and e = +-0.5 (probability 1/2 each)
independent of (s, a). The noise is a parameter-free part of the outcome x = (s, a, j), so
f(x) is deterministic and the support is finite (18 outcomes): every oracle is exact
(``vartools.catalogue.bandit``). The policy is trained from uniform logits by gradient ascent
on the expected return (Adam, lr 0.05, RLOO per state, n = 4 episodes per step); at every
checkpoint (a frozen policy) the replicate variance (95% CI) and the exact variance (by
enumerating the 4-episode joint) of the policy-gradient estimate with

- no baseline; a constant baseline equal to the expected return J and the state value V(s),
  both computed exactly from the true distribution at the checkpoint (oracles, labelled
  so; RLOO and per-state RLOO below are their versions estimated from the episodes);
- the optimal baseline b*_d = E[r s_d^2] / E[s_d^2], one constant per logit d = (s, a')
  (the score of logits[s, a'] is zero outside state s, so b*_d is state-dependent; it does
  not depend on the sampled action), computed by enumeration from the true distribution
  at each checkpoint: an oracle (``optimal b* per logit (oracle)``), beside the same
  baseline fitted from the 4 episodes without bias, leave-one-out (``b per logit, fitted
  LOO``) and cross-fitted on two halves (``b per logit, cross-fitted``), at the same 4
  evaluations per estimate;
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
from vartools.control_variates.coefficients import optimal_baseline
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
        make_estimator(sf, expected_return_baseline(), name="constant J (oracle)"),
        make_estimator(sf, state_value_baseline(), name="state value V(s) (oracle)"),
        make_estimator(sf, oracle_optimal_baseline(), name="optimal b* per logit (oracle)"),
        make_estimator(sf, optimal_baseline("loo"), name="b per logit, fitted LOO"),
        make_estimator(sf, optimal_baseline("crossfit"), name="b per logit, cross-fitted"),
        make_estimator(sf, loo_baseline(), name="rloo"),
        make_estimator(sf, per_state_loo_baseline(), name="rloo per state"),
    ]


EXPERIMENT = Experiment(
    name="contextual_bandit",
    description=(
        "Contextual bandit (3 states, 3 actions, tabular softmax policy, noisy rewards): "
        "exact policy gradient by enumeration; replicate and exact variance of REINFORCE with "
        "no baseline, the constant J and the state value V(s) (oracles), the optimal baseline "
        "per logit (an oracle computed from the true distribution) beside it fitted "
        "leave-one-out and cross-fitted, RLOO and per-state RLOO, at frozen policies along "
        "training, with the expected return."
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
