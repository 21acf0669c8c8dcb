"""Classic-control problems (CartPole-v1, Acrobot-v1) and the cross-check against gymnasium.

``gym_problem(env_id)`` is the policy-gradient problem of a gymnasium classic-control task
under a linear-softmax policy (features (o, 1), weights theta of shape (obs_dim + 1, A)),
simulated by this package's vectorised NumPy dynamics (``cartpole``, ``acrobot``), which
do not need gymnasium: episodes are a deterministic function of the seed-tree noise,
identical on every executor. f is the undiscounted return over at most the task's
``max_episode_steps`` (500); episodes still running then are truncated, as gymnasium's
``TimeLimit`` does, and counted (``episodes.episode_stats``).

``replay_in_gymnasium`` re-runs sampled episodes (their start states and actions) in
``gymnasium.make(env_id)`` and reports the largest state difference and any disagreement
on termination or reward: the check that ties the NumPy dynamics to the real
environments. It needs gymnasium (``pip install "vartools[rl]"``).

Example:
    >>> prob = gym_problem("CartPole-v1")
    >>> prob.name, prob.dist.param_names[:2]
    ('CartPole-v1', ('theta[0,0]', 'theta[0,1]'))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from vartools.catalogue.rl.acrobot import Acrobot
from vartools.catalogue.rl.cartpole import CartPole
from vartools.catalogue.rl.episodes import EpisodeLaw, EpisodeReturn, split_episode
from vartools.catalogue.rl.policy import SoftmaxPolicy
from vartools.core.problem import Problem

__all__ = ["GYM_ENVS", "GymCheck", "gym_problem", "replay_in_gymnasium", "require_gymnasium"]

#: env id -> (NumPy environment factory, max_episode_steps of gymnasium's registration).
GYM_ENVS: dict[str, tuple[Any, int]] = {
    "CartPole-v1": (CartPole, 500),
    "Acrobot-v1": (Acrobot, 500),
}


def require_gymnasium() -> Any:
    """Import gymnasium, or raise an ImportError saying how to install it."""
    try:
        import gymnasium
    except ImportError as exc:
        raise ImportError(
            "gymnasium is not installed; it is needed to run the real classic-control "
            'environments (replay_in_gymnasium). Install it with: pip install "vartools[rl]"'
        ) from exc
    return gymnasium


def gym_problem(env_id: str, theta: Any = None, horizon: int | None = None) -> Problem:
    """The linear-softmax policy-gradient problem of ``env_id`` (CartPole-v1, Acrobot-v1).

    Args:
        env_id: a key of ``GYM_ENVS``.
        theta: policy weights (obs_dim + 1, A); default zeros (the uniform policy).
        horizon: largest episode length (default: gymnasium's max_episode_steps, 500).
    """
    if env_id not in GYM_ENVS:
        raise ValueError(f"env_id must be one of {sorted(GYM_ENVS)}, got {env_id!r}")
    factory, max_steps = GYM_ENVS[env_id]
    env = factory()
    shape = (env.obs_dim + 1, env.n_actions)
    th = np.zeros(shape) if theta is None else np.asarray(theta, dtype=np.float64)
    law = EpisodeLaw(env, SoftmaxPolicy(th, "linear"), horizon or max_steps)
    return Problem(
        env_id,
        law,
        EpisodeReturn(),
        description=f"{env_id} (NumPy dynamics), linear-softmax policy, f = return",
    )


class GymCheck(NamedTuple):
    """Agreement of NumPy episodes with gymnasium: state gap, mismatches, steps compared."""

    max_state_diff: float
    mismatches: int
    steps: int


def replay_in_gymnasium(env_id: str, x: np.ndarray) -> GymCheck:
    """Replay episodes x (m, T, k) of ``gym_problem(env_id)`` in gymnasium and compare.

    Step by step: gymnasium's environment is put in each recorded state, takes the
    recorded action, and its next state, reward and termination flag are compared with
    the recorded ones (one-step errors: Acrobot is chaotic, so rounding differences of
    1e-16 would grow along a whole replayed episode).
    """
    gym = require_gymnasium()
    ep = split_episode(np.asarray(x))
    env = gym.make(env_id)
    worst, mismatches, steps = 0.0, 0, 0
    for i in range(ep.obs.shape[0]):
        env.reset(seed=0)
        for t in range(ep.obs.shape[1]):
            if ep.alive[i, t] == 0:
                break
            env.unwrapped.state = np.array(ep.obs[i, t], dtype=np.float64)
            _, reward, terminated, _, _ = env.step(int(ep.action[i, t]))
            steps += 1
            mismatches += int(bool(terminated) != bool(ep.terminated[i, t]))
            mismatches += int(float(reward) != float(ep.reward[i, t]))
            if terminated or t + 1 == ep.obs.shape[1]:
                break
            gap = np.abs(np.asarray(env.unwrapped.state) - ep.obs[i, t + 1]).max()
            worst = max(worst, float(gap))
    env.close()
    return GymCheck(worst, mismatches, steps)
