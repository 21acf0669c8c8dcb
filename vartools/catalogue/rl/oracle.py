"""The exact-moment oracle of the RL base estimators: dynamic programming, else enumeration.

``vartools.oracles.exact.exact_moments`` calls a base estimator's ``oracle`` first. For a tabular
MDP, an iid sampler and a chain that is empty or one state baseline with a known table
(a control variate with the ``table`` capability, see ``vartools.catalogue.rl.baselines``),
the one-episode mean and variance come from the recursions of
``vartools.catalogue.rl.moments`` (variance / n for n episodes); any other chain falls
back to enumerating the n-episode joint, so leave-one-out and stateful baselines stay exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from vartools.catalogue.rl.episodes import EpisodeLaw
from vartools.catalogue.rl.moments import gae_signal, reward_signal, signal_moments, total_moments
from vartools.core.problem import Problem
from vartools.oracles import exact

__all__ = ["expand_baseline", "make_oracle"]


def expand_baseline(table: np.ndarray, n_states: int, n_actions: int) -> np.ndarray:
    """A state baseline (T, S) or per action (T, S, A) as per coordinate c_t(s) (T, S, S A)."""
    if table.ndim == 2:
        return np.repeat(table[:, :, None], n_states * n_actions, axis=2)
    t = table.shape[0]
    return np.broadcast_to(table[:, :, None, :], (t, n_states, n_states, n_actions)).reshape(
        t, n_states, n_states * n_actions
    )


def _enumerate(problem: Problem, estimator: Any, n: int, state: Any):
    plain = dataclasses.replace(estimator, base=dataclasses.replace(estimator.base, oracle=None))
    return exact.exact_moments(problem, plain, n, state=state)


def make_oracle(
    kind: str, gamma: float, kappa: float, critic: Callable[[Problem], np.ndarray] | None = None
) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """The oracle of a base estimator of ``kind`` "total", "rtg" or "gae".

    Args:
        kind: "total" (REINFORCE), "rtg" (reward-to-go) or "gae".
        gamma: the discount of the returns.
        kappa: the decay of the suffix signal (gamma, or gamma lam for GAE).
        critic: problem -> (T, S) values (GAE only).
    """

    def oracle(
        problem: Problem, estimator: Any, n: int, state: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        law = problem.dist
        cv = estimator.cv
        table_fn = getattr(cv, "table", None)
        simple = cv.name == "none" or (table_fn is not None and kind != "total")
        if not (
            isinstance(law, EpisodeLaw)
            and law.enumerable
            and estimator.sampler.name == "iid"
            and simple
        ):
            return _enumerate(problem, estimator, n, state)
        mdp, pi, horizon = law.env, law.policy.table(), law.horizon
        if kind == "total":
            mean, var = total_moments(mdp, pi, horizon, reward_signal(mdp, horizon), kappa)
            return mean, var / n
        s_n, a_n = pi.shape
        c = (
            np.zeros((horizon, s_n, s_n * a_n))
            if table_fn is None
            else expand_baseline(np.asarray(table_fn(problem)), s_n, a_n)
        )
        if kind == "rtg":
            signal = reward_signal(mdp, horizon)
        else:
            assert critic is not None
            signal = gae_signal(mdp, np.asarray(critic(problem)), gamma)
        mean, var = signal_moments(mdp, pi, horizon, signal, kappa, c)
        return mean, var / n

    return oracle
