"""CartPole-v1 dynamics in NumPy, vectorised over replicates and episodes.

The cart-pole of Barto, Sutton & Anderson (1983) with the constants, Euler integration,
termination thresholds, reward (+1 per step, including the terminating one) and start
distribution (every state variable uniform on (-0.05, 0.05)) of gymnasium's
``CartPole-v1``; the 500-step time limit is the ``horizon`` of the ``EpisodeLaw``
(episodes still balancing after it are truncated, and counted). One step for every
leading index at once, from uniforms: the start state from 4 uniforms, no step noise
(the dynamics are deterministic; the policy's action uniform is the only randomness), so
episodes are a deterministic function of the seed-tree noise on any executor. The
state is kept in float64 as gymnasium does (its observations are the state cast to
float32; the policy here reads the float64 state). ``tests/test_rl_cartpole.py``
checks the dynamics step by step against ``gymnasium.make("CartPole-v1")``.

Example:
    >>> import numpy as np
    >>> env = CartPole()
    >>> s = env.reset(np.full((2, 4), 0.5))
    >>> nxt, r, done = env.step(s, np.array([1, 0]), np.zeros((2, 0)))
    >>> nxt.shape, r.tolist(), done.tolist()
    ((2, 4), [1.0, 1.0], [False, False])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CartPole"]


@dataclass(frozen=True)
class CartPole:
    """CartPole-v1 (gymnasium) as a vectorised environment: obs (x, x_dot, theta, theta_dot)."""

    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5  # half the pole's length
    force_mag: float = 10.0
    tau: float = 0.02
    theta_threshold: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4

    obs_dim = 4
    n_actions = 2
    reset_width = 4
    step_width = 0
    enumerable = False

    def reset(self, u: np.ndarray) -> np.ndarray:
        """Start states uniform on (-0.05, 0.05)^4 from uniforms u (..., 4)."""
        return -0.05 + 0.1 * u[..., :4]

    def step(
        self, obs: np.ndarray, action: np.ndarray, u: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One Euler step: (state (..., 4), action (...) in {0, 1}) -> (next, reward, done)."""
        x, x_dot, th, th_dot = (obs[..., i] for i in range(4))
        total = self.masspole + self.masscart
        pml = self.masspole * self.length
        force = np.where(action == 1, self.force_mag, -self.force_mag)
        cos, sin = np.cos(th), np.sin(th)
        temp = (force + pml * th_dot**2 * sin) / total
        th_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / total)
        )
        x_acc = temp - pml * th_acc * cos / total
        nxt = np.stack(
            [
                x + self.tau * x_dot,
                x_dot + self.tau * x_acc,
                th + self.tau * th_dot,
                th_dot + self.tau * th_acc,
            ],
            axis=-1,
        )
        done = (np.abs(nxt[..., 0]) > self.x_threshold) | (
            np.abs(nxt[..., 2]) > self.theta_threshold
        )
        return nxt, np.ones(x.shape), done
