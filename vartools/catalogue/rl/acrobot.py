"""Acrobot-v1 dynamics in NumPy, vectorised over replicates and episodes.

The two-link acrobot of Sutton (1996) and Sutton & Barto (2018, sec. 16.3) with the
constants, "book" dynamics, one fourth-order Runge-Kutta step of dt = 0.2 per action,
angle wrapping, velocity bounds, torques (-1, 0, +1), reward (-1 per step, 0 on the step
that reaches the goal), goal test (-cos(theta1) - cos(theta1 + theta2) > 1) and start
distribution (uniform on (-0.1, 0.1)^4, rounded to float32) of gymnasium's
``Acrobot-v1``; the 500-step limit is the ``horizon``. The observation given to the
policy is the state (theta1, theta2, dtheta1, dtheta2) itself, where gymnasium shows
(cos theta1, sin theta1, cos theta2, sin theta2, dtheta1, dtheta2): the same
information, a different feature map for a linear policy. Checked step by step against
``gymnasium.make("Acrobot-v1")`` in ``tests/test_rl_cartpole.py``.

Example:
    >>> import numpy as np
    >>> env = Acrobot()
    >>> s = env.reset(np.full((2, 4), 0.5))
    >>> nxt, r, done = env.step(s, np.array([0, 2]), np.zeros((2, 0)))
    >>> nxt.shape, r.tolist(), done.tolist()
    ((2, 4), [-1.0, -1.0], [False, False])
"""

from __future__ import annotations

from dataclasses import dataclass
from math import pi

import numpy as np

__all__ = ["Acrobot"]


def _wrap(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    diff = hi - lo
    while np.any(x > hi):
        x = np.where(x > hi, x - diff, x)
    while np.any(x < lo):
        x = np.where(x < lo, x + diff, x)
    return x


@dataclass(frozen=True)
class Acrobot:
    """Acrobot-v1 (gymnasium, "book" dynamics) as a vectorised environment."""

    dt: float = 0.2
    link_length_1: float = 1.0
    link_mass_1: float = 1.0
    link_mass_2: float = 1.0
    link_com_1: float = 0.5
    link_com_2: float = 0.5
    link_moi: float = 1.0
    max_vel_1: float = 4 * pi
    max_vel_2: float = 9 * pi

    obs_dim = 4
    n_actions = 3
    reset_width = 4
    step_width = 0
    enumerable = False

    def reset(self, u: np.ndarray) -> np.ndarray:
        """Start states uniform on (-0.1, 0.1)^4 (rounded to float32, as gymnasium does)."""
        return (-0.1 + 0.2 * u[..., :4]).astype(np.float32).astype(np.float64)

    def _derivs(self, s: np.ndarray, torque: np.ndarray) -> np.ndarray:
        """ds/dt of the "book" dynamics (gymnasium's ``_dsdt``), for states (..., 4)."""
        m1, m2, l1 = self.link_mass_1, self.link_mass_2, self.link_length_1
        lc1, lc2, i1, i2, g = self.link_com_1, self.link_com_2, self.link_moi, self.link_moi, 9.8
        th1, th2, dth1, dth2 = (s[..., i] for i in range(4))
        c2, s2 = np.cos(th2), np.sin(th2)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * c2) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * c2) + i2
        phi2 = m2 * lc2 * g * np.cos(th1 + th2 - pi / 2.0)
        k = m2 * l1 * lc2
        phi1 = (
            -k * dth2**2 * s2
            - 2 * k * dth2 * dth1 * s2
            + (m1 * lc1 + m2 * l1) * g * np.cos(th1 - pi / 2)
            + phi2
        )
        ratio = d2 / d1
        ddth2 = (torque + ratio * phi1 - k * dth1**2 * s2 - phi2) / (m2 * lc2**2 + i2 - d2 * ratio)
        ddth1 = -(d2 * ddth2 + phi1) / d1
        out = np.empty(s.shape)
        out[..., 0], out[..., 1], out[..., 2], out[..., 3] = dth1, dth2, ddth1, ddth2
        return out

    def step(
        self, obs: np.ndarray, action: np.ndarray, u: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One RK4 step of dt: (state (..., 4), action (...) in {0, 1, 2}) -> (next, r, done)."""
        torque = np.array([-1.0, 0.0, 1.0])[action]
        dt, dt2 = self.dt, self.dt / 2.0
        k1 = self._derivs(obs, torque)
        k2 = self._derivs(obs + dt2 * k1, torque)
        k3 = self._derivs(obs + dt2 * k2, torque)
        k4 = self._derivs(obs + dt * k3, torque)
        ns = obs + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        ns = np.stack(
            [
                _wrap(ns[..., 0], -pi, pi),
                _wrap(ns[..., 1], -pi, pi),
                np.minimum(np.maximum(ns[..., 2], -self.max_vel_1), self.max_vel_1),
                np.minimum(np.maximum(ns[..., 3], -self.max_vel_2), self.max_vel_2),
            ],
            axis=-1,
        )
        done = -np.cos(ns[..., 0]) - np.cos(ns[..., 1] + ns[..., 0]) > 1.0
        return ns, np.where(done, 0.0, -1.0), done
