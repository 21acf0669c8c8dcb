"""Tabular episodic MDPs: the environment, the reference MDP and exact dynamic programming.

A ``TabularMDP`` has S states, A actions, transition probabilities P[s, a, s'], rewards
r(s, a), a start distribution and optional terminal states (entering one ends the episode;
no action is taken there). Episodes last at most a horizon of T steps. As an environment
(``vartools.catalogue.rl.episodes``) it maps uniforms to states by inverse CDFs.

Exact oracles at a tabular policy pi (S, A), by recursions over t (Sutton & Barto 2018,
ch. 3 and 13; finite horizon, so values depend on t):

- visitation d_t(s) = P(s_t = s, episode alive), forward: d_0 = start,
  d_{t+1}(s') = sum_{s,a} d_t(s) pi(a|s) P(s'|s,a) 1[s' not terminal];
- values, backward: V_T = 0, Q_t(s,a) = r(s,a) + gamma sum_s' P(s'|s,a) 1[s' not
  terminal] V_{t+1}(s'), V_t(s) = sum_a pi(a|s) Q_t(s,a);
- J = sum_s start(s) V_0(s) and the policy-gradient theorem for the tabular softmax,
  dJ/dtheta[s, a] = sum_t gamma^t d_t(s) pi(a|s) (Q_t(s,a) - V_t(s)).

Example:
    >>> mdp = reference_mdp()
    >>> pi = np.full((3, 2), 0.5)
    >>> round(expected_return(mdp, pi, 4), 6) == round(float(start_values(mdp, pi, 4)), 6)
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.validation import as_finite_array, check_positive_int

__all__ = [
    "REFERENCE_THETA",
    "TabularMDP",
    "action_values",
    "expected_return",
    "optimal_state_baseline_table",
    "policy_gradient",
    "reference_mdp",
    "start_values",
    "time_agnostic_values",
    "visitation",
]

#: The second evaluation point of the reference MDP (the first is theta = 0).
REFERENCE_THETA = np.array([[0.5, -0.5], [-1.0, 1.0], [2.0, 0.0]])


def _cdf(p: np.ndarray) -> np.ndarray:
    c = np.cumsum(p, axis=-1)
    c[..., -1] = 1.0
    return c


@dataclass(frozen=True, eq=False)
class TabularMDP:
    """A finite MDP: P (S, A, S), rewards (S, A), start (S,), terminal (S,) booleans.

    Args:
        transitions: P[s, a, s'], each row a probability vector.
        rewards: r(s, a), finite.
        start: start-state distribution (default: state 0).
        terminal: which states end the episode when entered (default: none).
    """

    transitions: Any
    rewards: Any
    start: Any = None
    terminal: Any = None

    def __post_init__(self) -> None:
        p = as_finite_array(self.transitions, "transitions")
        if p.ndim != 3 or p.shape[0] != p.shape[2] or p.shape[1] < 2:
            raise ValueError(
                f"transitions must have shape (S, A, S) with A >= 2, got shape {p.shape}"
            )
        if (p < 0).any() or np.abs(p.sum(-1) - 1.0).max() > 1e-9:
            raise ValueError(
                "transitions[s, a] must be non-negative and sum to 1 over the next state; "
                f"row sums are {np.round(p.sum(-1), 6).tolist()}"
            )
        r = as_finite_array(self.rewards, "rewards")
        if r.shape != p.shape[:2]:
            raise ValueError(f"rewards must have shape (S, A) = {p.shape[:2]}, got {r.shape}")
        s = p.shape[0]
        start = np.eye(s)[0] if self.start is None else as_finite_array(self.start, "start")
        if start.shape != (s,) or (start < 0).any() or abs(start.sum() - 1.0) > 1e-9:
            raise ValueError(f"start must be {s} probabilities summing to 1, got {start}")
        term = np.zeros(s, bool) if self.terminal is None else np.asarray(self.terminal, bool)
        if term.shape != (s,):
            raise ValueError(f"terminal must be {s} booleans, got shape {term.shape}")
        if (start[term] > 0).any():
            raise ValueError("start must put no probability on terminal states")
        for name, value in (("transitions", p), ("rewards", r), ("start", start)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "terminal", term)

    # -- the environment interface (vectorised over leading axes) -------------------
    enumerable = True
    obs_dim = 1
    reset_width = 1
    step_width = 1

    @property
    def n_states(self) -> int:
        """S."""
        return int(self.transitions.shape[0])

    @property
    def n_actions(self) -> int:
        """A."""
        return int(self.transitions.shape[1])

    def reset(self, u: np.ndarray) -> np.ndarray:
        """Start states from uniforms u (..., 1): observations (..., 1)."""
        s = (_cdf(self.start)[:-1] <= u[..., :1]).sum(-1)
        return s[..., None].astype(np.float64)

    def step(
        self, obs: np.ndarray, action: np.ndarray, u: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One step: (obs (..., 1), action (...), u (..., 1)) -> (next, reward, terminated)."""
        s = obs[..., 0].astype(np.int64)
        cdf = _cdf(self.transitions)[s, action]
        nxt = (cdf[..., :-1] <= u[..., :1]).sum(-1)
        return nxt[..., None].astype(np.float64), self.rewards[s, action], self.terminal[nxt]

    def branches(self, s: int, a: int) -> list[tuple[int, float]]:
        """The next states with positive probability after (s, a), with the probabilities."""
        row = self.transitions[s, a]
        return [(int(k), float(row[k])) for k in np.flatnonzero(row > 0)]

    def transition_log_prob(self, obs: np.ndarray, action: np.ndarray, nxt: np.ndarray):
        """log P(s' | s, a) for arrays of observations, actions and next observations."""
        s, s2 = obs[..., 0].astype(np.int64), nxt[..., 0].astype(np.int64)
        with np.errstate(divide="ignore"):
            return np.log(self.transitions[s, action, s2])

    def start_log_prob(self, obs: np.ndarray) -> np.ndarray:
        """log start(s_0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.start[obs[..., 0].astype(np.int64)])


def reference_mdp() -> TabularMDP:
    """The issue's 3-state, 2-action MDP (undiscounted, start in state 0, no terminal state)."""
    p = np.array(
        [
            [[0.7, 0.3, 0.0], [0.1, 0.6, 0.3]],
            [[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]],
            [[0.0, 0.0, 1.0], [0.6, 0.0, 0.4]],
        ]
    )
    r = np.array([[0.0, -0.1], [0.0, -0.1], [1.0, 0.5]])
    return TabularMDP(p, r)


def _alive_p(mdp: TabularMDP) -> np.ndarray:
    return mdp.transitions * (~mdp.terminal)[None, None, :]


def visitation(mdp: TabularMDP, pi: np.ndarray, horizon: int) -> np.ndarray:
    """d_t(s) = P(s_t = s, alive), shape (T, S) (forward recursion)."""
    horizon = check_positive_int(horizon, "horizon")
    p = _alive_p(mdp)
    d = np.empty((horizon, mdp.n_states))
    d[0] = mdp.start
    for t in range(1, horizon):
        d[t] = np.einsum("s,sa,sak->k", d[t - 1], pi, p)
    return d


def action_values(
    mdp: TabularMDP, pi: np.ndarray, horizon: int, gamma: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Q_t(s, a) (T, S, A) and V_t(s) (T, S) by backward recursion (V_T = 0)."""
    horizon = check_positive_int(horizon, "horizon")
    p = _alive_p(mdp)
    q = np.empty((horizon, mdp.n_states, mdp.n_actions))
    v = np.zeros((horizon + 1, mdp.n_states))
    for t in range(horizon - 1, -1, -1):
        q[t] = mdp.rewards + gamma * p @ v[t + 1]
        v[t] = (pi * q[t]).sum(-1)
    return q, v[:horizon]


def start_values(mdp: TabularMDP, pi: np.ndarray, horizon: int, gamma: float = 1.0) -> float:
    """J = sum_s start(s) V_0(s) from the backward recursion."""
    return float(mdp.start @ action_values(mdp, pi, horizon, gamma)[1][0])


def expected_return(mdp: TabularMDP, pi: np.ndarray, horizon: int, gamma: float = 1.0) -> float:
    """J = sum_t gamma^t sum_{s,a} d_t(s) pi(a|s) r(s, a), from the forward recursion."""
    d = visitation(mdp, pi, horizon)
    disc = float(gamma) ** np.arange(horizon)
    return float(disc @ (d * (pi * mdp.rewards).sum(-1)[None]).sum(-1))


def policy_gradient(
    mdp: TabularMDP, pi: np.ndarray, horizon: int, gamma: float = 1.0
) -> np.ndarray:
    """dJ/dtheta[s, a] = sum_t gamma^t d_t(s) pi(a|s) (Q_t(s,a) - V_t(s)), shape (S, A)."""
    d = visitation(mdp, pi, horizon)
    q, v = action_values(mdp, pi, horizon, gamma)
    disc = float(gamma) ** np.arange(horizon)
    adv = q - v[..., None]
    return np.einsum("t,ts,sa,tsa->sa", disc, d, pi, adv)


def time_agnostic_values(mdp: TabularMDP, pi: np.ndarray, horizon: int) -> np.ndarray:
    """The best time-independent tabular critic, V(s) = sum_t d_t(s) V_t(s) / sum_t d_t(s).

    It is the least-squares fit of a critic that ignores t to the reward-to-go under the
    policy's visitation (what a tabular TD or Monte Carlo critic without a time input
    converges to): an approximate critic, exact only when V_t does not depend on t.
    Unvisited states get 0. Shape (S,).
    """
    d = visitation(mdp, pi, horizon)
    _, v = action_values(mdp, pi, horizon)
    mass = d.sum(0)
    return np.where(mass > 0, (d * v).sum(0) / np.where(mass > 0, mass, 1.0), 0.0)


def optimal_state_baseline_table(mdp: TabularMDP, pi: np.ndarray, horizon: int) -> np.ndarray:
    """b*_{(s,a)}(t, s) = E[g_i^2 G_t | s_t = s] / E[g_i^2 | s_t = s], shape (T, S, A).

    For coordinate i = (s, a) of the tabular softmax the step score is
    g_i = 1[s_t = s] (1[a_t = a] - pi(a|s)), so given s_t = s (Greensmith et al. 2004):
    b* = sum_a' pi(a'|s) (1[a' = a] - pi(a|s))^2 Q_t(s, a') / (pi(a|s) (1 - pi(a|s))),
    with G_t the (undiscounted) reward-to-go.
    """
    q, _ = action_values(mdp, pi, horizon)
    eye = np.eye(mdp.n_actions)
    w = pi[:, None, :] * (eye[None, :, :] - pi[:, :, None]) ** 2  # (S, a, a')
    num = np.einsum("sak,tsk->tsa", w, q)
    return num / (pi * (1.0 - pi))[None]
