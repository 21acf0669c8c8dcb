"""The law of an episode under a softmax policy: a ``Distribution`` over whole trajectories.

An outcome x is one episode of at most T steps (the horizon, or ``max_steps`` for
environments that terminate), an array of shape (T, obs_dim + 4) whose row t holds

    (o_t[0], ..., o_t[obs_dim - 1], a_t, r_t, alive_t, terminated_t)

alive_t = 1 while the episode runs and 0 after it has ended (those rows hold zeros);
terminated_t = 1 when step t entered a terminal state. The objective f is the
undiscounted return sum_t r_t (``EpisodeReturn``), and theta are the policy weights, so
the score of an episode is the sum of the per-step scores (the environment's dynamics do
not depend on theta):

    grad_theta log p(tau) = sum_t alive_t g_t,   g_t = phi(o_t) (e_{a_t} - pi(. | o_t))^T.

The plain score-function estimator on this problem is REINFORCE with the total return.
Episodes are simulated by a loop over t, vectorised over every leading replicate and
sample axis, from uniforms: the noise (*R, n, T + 1, m) holds the reset uniforms in row 0
and, in row t + 1, the action uniform (column 0) and the environment's step uniforms.
Episodes still running after T steps are truncated, and counted (``episode_stats``).

Tabular environments are enumerable: ``support()`` lists every trajectory of positive
probability, so ``vartools.oracles.exact`` gives exact gradients and variances.

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.rl.mdp import reference_mdp
    >>> from vartools.catalogue.rl.policy import SoftmaxPolicy
    >>> law = EpisodeLaw(reference_mdp(), SoftmaxPolicy(np.zeros((3, 2))), 4)
    >>> law.sample(5, rng=np.random.default_rng(0), reps=(2,)).shape
    (2, 5, 4, 5)
    >>> x, w = law.support()
    >>> round(float(w.sum()), 12)
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from vartools.catalogue.rl.policy import SoftmaxPolicy
from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET, Distribution
from vartools.core.errors import BudgetExceededError
from vartools.core.validation import check_positive_int, short_repr

#: Largest number of array entries ``EpisodeLaw.support`` holds (160 MB of float64).
SUPPORT_ELEMENTS = 20_000_000

__all__ = [
    "SUPPORT_ELEMENTS",
    "EpisodeLaw",
    "EpisodeReturn",
    "EpisodeStats",
    "episode_stats",
    "split_episode",
]


class Episode(NamedTuple):
    """The columns of episodes x (*R, n, T, obs_dim + 4)."""

    obs: np.ndarray  # (*R, n, T, obs_dim)
    action: np.ndarray  # (*R, n, T) int64
    reward: np.ndarray  # (*R, n, T)
    alive: np.ndarray  # (*R, n, T) float 0/1
    terminated: np.ndarray  # (*R, n, T) float 0/1


def split_episode(x: np.ndarray) -> Episode:
    """The named columns of episodes x (*R, n, T, obs_dim + 4)."""
    return Episode(
        x[..., :-4],
        x[..., -4].astype(np.int64),
        x[..., -3],
        x[..., -2],
        x[..., -1],
    )


class EpisodeStats(NamedTuple):
    """Lengths (*R, n) and counts of terminated and truncated episodes."""

    lengths: np.ndarray
    terminated: int
    truncated: int


def episode_stats(x: np.ndarray) -> EpisodeStats:
    """Episode lengths and how many episodes terminated or were truncated at T steps."""
    ep = split_episode(np.asarray(x))
    lengths = ep.alive.sum(-1)
    term = int(ep.terminated.sum())
    trunc = int((ep.alive[..., -1] * (1.0 - ep.terminated[..., -1])).sum())
    return EpisodeStats(lengths, term, trunc)


@dataclass(frozen=True, eq=False)
class EpisodeReturn:
    """f(x) = sum_t r_t, the undiscounted return of episodes x (*R, n, T, k) -> (*R, n)."""

    name: str = "return"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The return of each episode."""
        return np.asarray(x)[..., -3].sum(-1)


def _check_rewards(r: np.ndarray, env: Any, t: int) -> np.ndarray:
    r = np.asarray(r, dtype=np.float64)
    if not np.isfinite(r).all():
        bad = r[~np.isfinite(r)].ravel()[0]
        raise ValueError(
            f"environment {type(env).__name__} returned a non-finite reward {bad} at step {t}; "
            "rewards must be finite: clip or rescale them in the environment"
        )
    return r


@dataclass(frozen=True, eq=False)
class EpisodeLaw(Distribution):
    """Episodes of ``env`` under ``policy``, at most ``horizon`` steps each.

    Args:
        env: an environment with ``reset(u)``, ``step(obs, action, u)``, ``obs_dim``,
            ``reset_width`` and ``step_width`` (``TabularMDP``, ``CartPole``, ...).
        policy: a ``SoftmaxPolicy`` whose observations match the environment's.
        horizon: T, the largest number of steps (episodes still running are truncated).
    """

    env: Any
    policy: SoftmaxPolicy
    horizon: int

    def __post_init__(self) -> None:
        check_positive_int(self.horizon, "horizon")
        if not isinstance(self.policy, SoftmaxPolicy):
            raise TypeError(f"policy must be a SoftmaxPolicy, got {short_repr(self.policy)}")
        if self.policy.obs_dim != self.env.obs_dim:
            raise ValueError(
                f"the policy reads observations of length {self.policy.obs_dim} but the "
                f"environment {type(self.env).__name__} emits length {self.env.obs_dim}"
            )
        n_actions = getattr(self.env, "n_actions", self.policy.n_actions)
        if n_actions != self.policy.n_actions:
            raise ValueError(
                f"the policy has {self.policy.n_actions} actions but the environment "
                f"{type(self.env).__name__} has {n_actions}"
            )
        object.__setattr__(self, "enumerable", bool(getattr(self.env, "enumerable", False)))

    @property
    def theta(self) -> np.ndarray:
        """The policy weights (d, A)."""
        return np.asarray(self.policy.theta)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """(T, obs_dim + 4)."""
        return (self.horizon, self.env.obs_dim + 4)

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """One block: the policy parameters theta."""
        return [("theta", tuple(self.policy.theta.shape))]

    def with_params(self, theta: Any) -> EpisodeLaw:
        """The same environment and horizon with policy weights ``theta`` (flat, (d A,))."""
        return EpisodeLaw(self.env, self.policy.with_theta(self.check_theta(theta)), self.horizon)

    # -- sampling ---------------------------------------------------------------------
    @property
    def noise_width(self) -> int:
        """m: uniforms per row of the noise (reset, or action plus step)."""
        return max(int(self.env.reset_width), 1 + int(self.env.step_width))

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Uniforms on [0, 1), shape (*reps, n, T + 1, m)."""
        lead = self.noise_shape(n, reps, rng)[: -len(self.event_shape)]
        return rng.random((*lead, self.horizon + 1, self.noise_width))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is uniform."""
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Simulate the episodes: noise (*R, n, T + 1, m) -> x (*R, n, T, obs_dim + 4)."""
        env, pol = self.env, self.policy
        want = (self.horizon + 1, self.noise_width)
        if noise.ndim < 3 or noise.shape[-2:] != want:
            raise ValueError(
                f"episode noise must have shape (*R, n, {want[0]}, {want[1]}) (from "
                f"sample_noise), got {noise.shape}; samplers other than iid (antithetic, "
                "stratified, sobol) do not apply to episodes: use the default iid sampler"
            )
        lead = noise.shape[:-2]
        x = np.zeros((*lead, self.horizon, env.obs_dim + 4))
        obs = np.asarray(env.reset(noise[..., 0, : env.reset_width]), dtype=np.float64)
        alive = np.ones(lead, dtype=bool)
        cdf_cols = np.arange(pol.n_actions - 1)
        for t in range(self.horizon):
            if not alive.any():  # every episode has ended: the remaining rows stay zero
                break
            u = noise[..., t + 1, :]
            cdf = np.cumsum(pol.probs(obs), axis=-1)[..., cdf_cols]
            action = (cdf <= u[..., :1]).sum(-1)
            nxt, reward, term = env.step(obs, action, u[..., 1 : 1 + env.step_width])
            reward = _check_rewards(reward, env, t)
            live = alive.astype(np.float64)
            x[..., t, :-4] = obs * live[..., None]
            x[..., t, -4] = action * live
            x[..., t, -3] = reward * live
            x[..., t, -2] = live
            x[..., t, -1] = np.asarray(term, dtype=np.float64) * live
            alive = alive & ~np.asarray(term, dtype=bool)
            obs = np.asarray(nxt, dtype=np.float64)
        return x

    # -- densities ----------------------------------------------------------------------
    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(tau): the policy's log-probabilities, plus the dynamics' where known.

        For tabular environments this is the exact log-probability of the trajectory
        (start, actions, transitions, including the final one into a terminal state);
        for deterministic-dynamics environments (CartPole) it is the policy part, i.e.
        log p(tau) up to a term that does not depend on theta. (*R, n, T, k) -> (*R, n).
        """
        ep = split_episode(self.check_x(x))
        logp = np.log(np.take_along_axis(self.policy.probs(ep.obs), ep.action[..., None], -1))
        out = (logp[..., 0] * ep.alive).sum(-1)
        if hasattr(self.env, "transition_log_prob"):
            out = out + self.env.start_log_prob(ep.obs[..., 0, :])
            nxt = np.concatenate([ep.obs[..., 1:, :], ep.obs[..., -1:, :]], axis=-2)
            # the state after the last step is not recorded: it does not depend on theta,
            # so it is summed out (the support lists trajectories without it)
            last = np.zeros_like(ep.alive)
            last[..., :-1] = ep.alive[..., 1:]
            lp = self.env.transition_log_prob(ep.obs, ep.action, nxt)
            lp_term = self._terminal_log_prob(ep)
            out = out + np.where(last > 0, lp, 0.0).sum(-1) + lp_term
        return out

    def _terminal_log_prob(self, ep: Episode) -> np.ndarray:
        """log P(terminating) at the step that terminated, log P(not) at a truncated last step."""
        term = self.env.terminal
        if not term.any():
            return np.zeros(ep.alive.shape[:-1])
        s = ep.obs[..., 0].astype(np.int64)
        p_term = (self.env.transitions[:, :, term]).sum(-1)[s, ep.action]
        trunc = np.zeros_like(ep.alive)
        trunc[..., -1] = ep.alive[..., -1] * (1.0 - ep.terminated[..., -1])
        with np.errstate(divide="ignore"):
            out = np.where(ep.terminated > 0, np.log(p_term), 0.0)
            out = out + np.where(trunc > 0, np.log1p(-p_term), 0.0)
        return out.sum(-1)

    def centered_actions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(alive_t phi(o_t) (*R, n, T, d), e_{a_t} - pi(. | o_t) (*R, n, T, A))."""
        ep = split_episode(x)
        phi = self.policy.phi(ep.obs) * ep.alive[..., None]
        onehot = np.eye(self.policy.n_actions)[ep.action]
        return phi, onehot - self.policy.probs(ep.obs)

    def weighted_score(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_t w_t g_t, flattened to (*R, n, p).

        Args:
            x: episodes (*R, n, T, k).
            w: per-step weights (*R, n, T), or per-step and per-action weights
                (*R, n, T, A) (coordinate (i, a) gets w[..., t, a]).
        """
        phi, centered = self.centered_actions(x)
        c = centered * (w[..., None] if w.ndim == centered.ndim - 1 else w)
        out = np.einsum("...td,...ta->...da", phi, c)
        return out.reshape(*out.shape[:-2], self.n_params)

    def score(self, x: np.ndarray) -> np.ndarray:
        """sum_t alive_t g_t, (*R, n, T, k) -> (*R, n, p)."""
        x = self.check_x(x)
        return self.weighted_score(x, np.ones(x.shape[:-1]))

    # -- enumeration -----------------------------------------------------------------
    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """Every trajectory of positive probability (tabular environments) and its probability.

        Raises:
            TypeError: for environments that are not enumerable.
            BudgetExceededError: (a ValueError) when there are more than ``budget``
                trajectories: exact oracles then fall back to other routes or skip.
        """
        if not self.enumerable:
            raise TypeError(
                f"episodes of {type(self.env).__name__} cannot be enumerated (continuous or "
                "deterministic dynamics); measure them by Monte Carlo"
            )
        env, pi = self.env, self.policy.table()
        s_n, horizon = env.n_states, self.horizon
        term = env.terminal
        p_term = env.transitions[:, :, term].sum(-1)  # (S, A)
        states = np.flatnonzero(env.start > 0)
        x = np.zeros((states.size, horizon, env.obs_dim + 4))
        prob, state, alive = env.start[states], states, np.ones(states.size, bool)
        for t in range(horizon):
            if t < horizon - 1:  # outcomes: the next state s', terminated iff s' is terminal
                q = env.transitions  # (S, A, K = S)
                nxt_of = np.broadcast_to(np.arange(s_n), q.shape)
                term_of = np.broadcast_to(term, q.shape)
            else:  # the last next state is not recorded: only whether it is terminal
                q = np.stack([1.0 - p_term, p_term], axis=-1)  # (S, A, 2)
                nxt_of = np.zeros(q.shape, np.int64)
                term_of = np.broadcast_to(np.array([False, True]), q.shape)
            cand = prob[:, None, None] * pi[state][:, :, None] * q[state]  # (M, A, K)
            keep = (cand > 0) & alive[:, None, None]
            m_idx, a_idx, k_idx = np.nonzero(keep)
            dead = np.flatnonzero(~alive)
            count = m_idx.size + dead.size
            if count > budget or count * x[0].size > SUPPORT_ELEMENTS:
                raise BudgetExceededError(
                    f"the episodes of horizon {horizon} have more than budget={budget} "
                    f"trajectories (or more than {SUPPORT_ELEMENTS:.0e} numbers); use a "
                    "shorter horizon, a larger budget or the dynamic-programming oracles "
                    "(exact_moments of the RL estimators, vartools.catalogue.rl.moments)"
                )
            s_live = state[m_idx]
            x_live = x[m_idx]
            t_live = term_of[s_live, a_idx, k_idx]
            x_live[:, t, :-4] = s_live[:, None]
            x_live[:, t, -4] = a_idx
            x_live[:, t, -3] = env.rewards[s_live, a_idx]
            x_live[:, t, -2] = 1.0
            x_live[:, t, -1] = t_live
            x = np.concatenate([x_live, x[dead]])
            prob = np.concatenate([cand[m_idx, a_idx, k_idx], prob[dead]])
            state = np.concatenate([nxt_of[s_live, a_idx, k_idx], state[dead]])
            alive = np.concatenate([~t_live, np.zeros(dead.size, bool)])
        return x, prob
