"""Exact one-episode means and variances of policy-gradient estimators by dynamic programming.

Enumerating trajectories costs (S A)^T; these backward recursions over (t, s) cost
O(T S^2 A p) and give the same numbers (tested against enumeration), so the horizon can
grow to T = 16 and beyond. Per coordinate i of a tabular softmax policy, the step score
is g_i(s, a) and the estimators are functions of suffix sums:

- signal form, X = sum_t g_t (U_t - c_t(s_t)) with U_t = u_t + kappa U_{t+1}, where
  u_t = u_t(s_t, a_t, s_{t+1}): reward-to-go (u = r, kappa = gamma) with a state
  baseline c, or GAE (u = delta_t = r_t + gamma V(s_{t+1}) - V(s_t), kappa = gamma lam).
  With Y_t = sum_{t' >= t} g_t' (U_t' - c_t'), given (s, a, s') and e = g (u - c),
  h = g kappa:
      U = u + kappa U',   Y = e + h U' + Y',
  so E[U], E[U^2], E[Y], E[Y^2], E[Y U] given s_t follow from those given s_{t+1};
- total form, X = (U_0 - c) C_0 with C_t = sum_{t' >= t} g_t' (REINFORCE, a constant
  baseline c): the moments E[U^j C^k], j, k <= 2, by the binomial expansion of
  (u + kappa U')^j (g + C')^k.

After a terminal state or the horizon every suffix quantity is 0.

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.rl.mdp import reference_mdp
    >>> mdp = reference_mdp(); pi = np.full((3, 2), 0.5)
    >>> m, v = signal_moments(mdp, pi, 4, reward_signal(mdp, 4), 1.0, np.zeros((4, 3, 6)))
    >>> bool(np.all(v > 0))
    True
"""

from __future__ import annotations

from collections.abc import Callable
from math import comb

import numpy as np

from vartools.catalogue.rl.mdp import TabularMDP

__all__ = [
    "gae_signal",
    "reward_signal",
    "signal_moments",
    "step_scores",
    "total_moments",
]

Signal = Callable[[int], np.ndarray]


def step_scores(pi: np.ndarray) -> np.ndarray:
    """g_i(s, a) for every coordinate i = (s~, a~) of the tabular softmax: (S, A, S A)."""
    s_n, a_n = pi.shape
    g = np.zeros((s_n, a_n, s_n, a_n))
    for s in range(s_n):
        g[s, :, s, :] = np.eye(a_n) - pi[s][None, :]
    return g.reshape(s_n, a_n, s_n * a_n)


def reward_signal(mdp: TabularMDP, horizon: int) -> Signal:
    """u_t(s, a, s') = r(s, a), shape (S, A, S) at every t."""
    u = np.broadcast_to(mdp.rewards[:, :, None], mdp.transitions.shape)
    return lambda t: u


def gae_signal(mdp: TabularMDP, values: np.ndarray, gamma: float = 1.0) -> Signal:
    """u_t(s, a, s') = r(s, a) + gamma V_{t+1}(s') 1[s' alive] - V_t(s); V: (T, S)."""
    horizon = values.shape[0]
    alive = (~mdp.terminal).astype(np.float64)

    def u(t: int) -> np.ndarray:
        nxt = values[t + 1] * alive if t + 1 < horizon else np.zeros(mdp.n_states)
        return mdp.rewards[:, :, None] + gamma * nxt[None, None, :] - values[t][:, None, None]

    return u


def _weights(mdp: TabularMDP, pi: np.ndarray) -> np.ndarray:
    """pi(a|s) P(s'|s,a), (S, A, S)."""
    return pi[:, :, None] * mdp.transitions


def _next(m: np.ndarray, mdp: TabularMDP, last: bool) -> np.ndarray:
    """Moments at s' (S, ...) as a function of (s, a, s'): zero after termination."""
    if last:
        return np.zeros_like(m)
    return m * (~mdp.terminal).reshape(-1, *([1] * (m.ndim - 1)))


def signal_moments(
    mdp: TabularMDP,
    pi: np.ndarray,
    horizon: int,
    signal: Signal,
    kappa: float,
    baseline: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (p,) of X = sum_t g_t (U_t - c_t(s_t)) for one episode.

    Args:
        mdp: the MDP.
        pi: the tabular policy (S, A).
        horizon: T.
        signal: t -> u_t (S, A, S).
        kappa: the decay of U (gamma, or gamma lam for GAE).
        baseline: c_t(s) per coordinate, (T, S, p).
    """
    g = step_scores(pi)  # (S, A, p)
    w = _weights(mdp, pi)  # (S, A, S')
    s_n, p = pi.shape[0], g.shape[-1]
    mu, muu = np.zeros(s_n), np.zeros(s_n)
    my, myy, myu = np.zeros((s_n, p)), np.zeros((s_n, p)), np.zeros((s_n, p))
    for t in range(horizon - 1, -1, -1):
        last = t == horizon - 1
        nu, nuu = _next(mu, mdp, last), _next(muu, mdp, last)  # (S',)
        ny, nyy, nyu = (_next(m, mdp, last) for m in (my, myy, myu))  # (S', p)
        u = signal(t)  # (S, A, S')
        c = baseline[t]  # (S, p)
        e = g[:, :, None, :] * (u[..., None] - c[:, None, None, :])  # (S, A, S', p)
        h = g[:, :, None, :] * kappa
        mu = np.einsum("sak,sak->s", w, u + kappa * nu)
        muu = np.einsum("sak,sak->s", w, u * u + 2 * kappa * u * nu + kappa**2 * nuu)
        y = e + h * nu[:, None] + ny
        yy = e * e + h * h * nuu[:, None] + nyy + 2 * e * h * nu[:, None] + 2 * e * ny
        yy = yy + 2 * h * nyu
        uu = u[..., None]
        yu = e * uu + e * kappa * nu[:, None] + h * uu * nu[:, None] + h * kappa * nuu[:, None]
        yu = yu + uu * ny + kappa * nyu
        my, myy, myu = (np.einsum("sak,sakp->sp", w, m) for m in (y, yy, yu))
    mean = mdp.start @ my
    return mean, mdp.start @ myy - mean**2


def total_moments(
    mdp: TabularMDP,
    pi: np.ndarray,
    horizon: int,
    signal: Signal,
    kappa: float,
    c: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (p,) of X = (U_0 - c) C_0, C_0 = sum_t g_t (REINFORCE)."""
    g = step_scores(pi)
    w = _weights(mdp, pi)
    s_n, p = pi.shape[0], g.shape[-1]
    m = np.zeros((3, 3, s_n, p))  # m[j, k] = E[U^j C^k | s_t]
    m[0, 0] = 1.0
    for t in range(horizon - 1, -1, -1):
        last = t == horizon - 1
        nm = np.zeros((3, 3, s_n, p))
        nm[0, 0] = 1.0  # U' = C' = 0 after the end: only the zeroth moment is 1
        if not last:
            alive = (~mdp.terminal).astype(np.float64)[:, None]
            nm = nm * (1 - alive) + m * alive
            nm[0, 0] = 1.0
        u = signal(t)[..., None]  # (S, A, S', 1)
        gg = g[:, :, None, :]  # (S, A, 1, p)
        new = np.zeros((3, 3, s_n, p))
        for j in range(3):
            for k in range(3):
                acc = np.zeros(u.shape[:3] + (p,))
                for j2 in range(j + 1):
                    for k2 in range(k + 1):
                        coef = comb(j, j2) * comb(k, k2) * kappa**j2
                        acc = acc + coef * u ** (j - j2) * gg ** (k - k2) * nm[j2, k2][None, None]
                new[j, k] = np.einsum("sak,sakp->sp", w, acc)
        m = new
    start = mdp.start
    e = {(j, k): start @ m[j, k] for j in range(3) for k in range(3)}
    mean = e[1, 1] - c * e[0, 1]
    second = e[2, 2] - 2 * c * e[1, 2] + c * c * e[0, 2]
    return mean, second - mean**2
