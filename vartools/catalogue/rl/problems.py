"""Named reinforcement-learning problems: the reference tabular MDP at a horizon and theta.

``mdp_problem(theta, horizon)`` is the gradient of the expected undiscounted return
J(theta) = E[sum_t r_t] of the reference MDP (``mdp.reference_mdp``: 3 states, 2 actions,
start in state 0) over ``horizon`` steps, under the tabular softmax policy with logits
theta[s, a]. It is registered as the setting ``rl_mdp`` (``vartools.make_problem``).

Example:
    >>> import numpy as np
    >>> from vartools.oracles.exact import exact_gradient
    >>> prob = mdp_problem("ref", 4)
    >>> prob.name
    'rl_mdp(T=4,theta=ref)'
    >>> bool(np.allclose(exact_gradient(prob), mdp_gradient(prob).ravel(), atol=1e-12))
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vartools.catalogue.rl.episodes import EpisodeLaw, EpisodeReturn
from vartools.catalogue.rl.mdp import (
    REFERENCE_THETA,
    TabularMDP,
    expected_return,
    policy_gradient,
    reference_mdp,
)
from vartools.catalogue.rl.policy import SoftmaxPolicy
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array, check_positive_int

__all__ = ["mdp_expected_return", "mdp_gradient", "mdp_parts", "mdp_problem", "tabular_problem"]

_PRESETS = {"zero": np.zeros((3, 2)), "ref": REFERENCE_THETA}


def tabular_problem(mdp: TabularMDP, theta: Any, horizon: int, name: str) -> Problem:
    """The policy-gradient problem of any tabular MDP under a tabular softmax policy."""
    horizon = check_positive_int(horizon, "horizon")
    th = as_finite_array(theta, "theta")
    if th.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(
            f"theta must have shape (S, A) = {(mdp.n_states, mdp.n_actions)}, got {th.shape}"
        )
    law = EpisodeLaw(mdp, SoftmaxPolicy(th, "onehot"), horizon)
    return Problem(
        name,
        law,
        EpisodeReturn(),
        description=(
            f"tabular MDP ({mdp.n_states} states, {mdp.n_actions} actions), horizon {horizon}, "
            "tabular softmax policy, f = undiscounted return"
        ),
    )


def mdp_problem(theta: Any = "zero", horizon: int = 4) -> Problem:
    """The reference MDP at ``theta`` ("zero", "ref" or a (3, 2) array) and ``horizon``."""
    if isinstance(theta, str):
        if theta not in _PRESETS:
            raise ValueError(
                f"theta must be one of {sorted(_PRESETS)} or a (3, 2) array, got {theta!r}"
            )
        label, value = theta, _PRESETS[theta]
    else:
        value = as_finite_array(theta, "theta")
        label = "[" + ",".join(f"{v:g}" for v in value.ravel()) + "]"
    horizon = check_positive_int(horizon, "horizon")
    return tabular_problem(reference_mdp(), value, horizon, f"rl_mdp(T={horizon},theta={label})")


def mdp_parts(problem: Problem) -> tuple[EpisodeLaw, TabularMDP, np.ndarray]:
    """(law, mdp, pi (S, A)) of a tabular problem, or a TypeError naming the fix."""
    law = problem.dist
    if not isinstance(law, EpisodeLaw) or not isinstance(law.env, TabularMDP):
        raise TypeError(
            f"problem {problem.name!r} is not a tabular episodic problem (it needs an "
            "EpisodeLaw over a TabularMDP); build one with mdp_problem or tabular_problem"
        )
    return law, law.env, law.policy.table()


def mdp_gradient(problem: Problem, gamma: float = 1.0) -> np.ndarray:
    """The exact policy gradient (S, A) by the policy-gradient theorem (forward recursion)."""
    law, mdp, pi = mdp_parts(problem)
    return policy_gradient(mdp, pi, law.horizon, gamma)


def mdp_expected_return(problem: Problem, gamma: float = 1.0) -> float:
    """The exact expected return J (forward recursion, never the score)."""
    law, mdp, pi = mdp_parts(problem)
    return expected_return(mdp, pi, law.horizon, gamma)
