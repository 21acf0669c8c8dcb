"""Policy-gradient base estimators for episodes: REINFORCE, reward-to-go and GAE(lambda).

Each maps episodes tau (``EpisodeLaw`` outcomes) to per-episode terms sum_t W_t g_t with
per-step weights W_t and step scores g_t = grad_theta log pi(a_t | o_t) (REFERENCES.md,
"Reinforcement learning with time"):

- ``reinforce(gamma)``: W_t = G_0 = sum_t gamma^t r_t, i.e. G_0 (sum_t g_t) (Williams
  1992); with gamma = 1 it is ``score_function`` on the episode problem;
- ``reward_to_go(gamma)``: W_t = G_t = sum_{t' >= t} gamma^(t'-t) r_t'. Unbiased for
  gamma = 1 (an action cannot change earlier rewards: a Rao-Blackwellization);
- ``gae(lam, critic, gamma)``: W_t = A_t = sum_l (gamma lam)^l delta_{t+l},
  delta_t = r_t + gamma V(s_{t+1}) - V(s_t) (Schulman et al. 2016). Unbiased for
  gamma = 1 when lam = 1 (any critic: the deltas telescope to G_t - V(s_t)) or when the
  critic is exact; biased otherwise (flagged ``[biased]``).

gamma < 1 targets the discounted return without the gamma^t weighting of the
discounted policy-gradient theorem, as in common practice: biased against the
undiscounted objective J = E[sum_t r_t], which is what the problem's truth is.

Every batch keeps the episode score sum_t g_t (so ``vartools.constant_baseline`` works)
and records ``info["step_weights"]`` (*R, n, T), which the time- and state-dependent
baselines of ``vartools.catalogue.rl.baselines`` read, and ``info["truncated"]``, the
number of episodes cut at the horizon without terminating. One evaluation of f per episode.

Example:
    >>> import numpy as np
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.catalogue.rl.problems import mdp_problem
    >>> est = make_estimator(reward_to_go())
    >>> est(mdp_problem("ref", 4), 8, rng=np.random.default_rng(0), reps=(3,))[0].shape
    (3, 6)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.catalogue.rl.episodes import EpisodeLaw, episode_stats, split_episode
from vartools.catalogue.rl.mdp import action_values, time_agnostic_values
from vartools.catalogue.rl.oracle import make_oracle
from vartools.core.batch import Batch, DeferredScore
from vartools.core.problem import Problem
from vartools.estimators.base import BaseEstimator, from_noise_via_samples

__all__ = [
    "Critic",
    "episode_law",
    "exact_critic",
    "gae",
    "gae_advantages",
    "lookup",
    "reinforce",
    "returns_to_go",
    "reward_to_go",
    "table_critic",
    "time_agnostic_critic",
]


def episode_law(problem: Problem) -> EpisodeLaw:
    """The problem's ``EpisodeLaw``, or a TypeError naming the fix."""
    if not isinstance(problem.dist, EpisodeLaw):
        raise TypeError(
            f"problem {problem.name!r} is not an episodic problem (its distribution is "
            f"{type(problem.dist).__name__}, not EpisodeLaw); use vartools.catalogue.rl "
            "problems such as mdp_problem"
        )
    return problem.dist


def _check_gamma(gamma: float, name: str = "gamma") -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 0 <= gamma <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {gamma!r}")
    return float(gamma)


def returns_to_go(reward: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """G_t = sum_{t' >= t} gamma^(t'-t) r_t', (..., T) -> (..., T) (backward loop over t)."""
    out = np.empty_like(reward, dtype=np.float64)
    acc = np.zeros(reward.shape[:-1])
    for t in range(reward.shape[-1] - 1, -1, -1):
        acc = reward[..., t] + gamma * acc
        out[..., t] = acc
    return out


def _batch(
    problem: Problem, x: np.ndarray, w: np.ndarray, noise: Any, independent: bool, total: bool
) -> Batch:
    law = episode_law(problem)
    fx = problem.evaluate(x)
    info = {"step_weights": w, "truncated": episode_stats(x).truncated}
    common = {
        "x": x,
        "fx": fx,
        "score": DeferredScore(law, x),
        "n_evals": int(fx.shape[-1]),
        "noise": noise,
        "independent": independent,
        "info": info,
    }
    if total:  # W_t = G_0 for every t: the factored form weight * score
        return Batch(weight=w[..., 0], **common)
    return Batch(extra=law.weighted_score(x, w), **common)


def reinforce(gamma: float = 1.0) -> BaseEstimator:
    """REINFORCE with the total (discounted) return: G_0 sum_t g_t. Unbiased iff gamma = 1."""
    gamma = _check_gamma(gamma)

    def fs(problem: Problem, x: np.ndarray, noise: Any = None, independent: bool = True):
        episode_law(problem)
        g0 = returns_to_go(split_episode(x).reward, gamma)[..., :1]
        w = np.broadcast_to(g0, x.shape[:-1])
        return _batch(problem, x, w, noise, independent, total=True)

    biased = gamma < 1
    return BaseEstimator(
        name="reinforce" + (f"(gamma={gamma:g})[biased]" if biased else ""),
        from_noise=from_noise_via_samples(fs),
        from_samples=fs,
        unbiased=not biased,
        oracle=make_oracle("total", gamma, gamma),
        doc="REINFORCE: terms = G_0 sum_t g_t (Williams 1992); one f evaluation per episode.",
    )


def reward_to_go(gamma: float = 1.0) -> BaseEstimator:
    """Reward-to-go: sum_t G_t g_t. Unbiased iff gamma = 1 (biased against undiscounted J)."""
    gamma = _check_gamma(gamma)

    def fs(problem: Problem, x: np.ndarray, noise: Any = None, independent: bool = True):
        episode_law(problem)
        w = returns_to_go(split_episode(x).reward, gamma)
        return _batch(problem, x, w, noise, independent, total=False)

    biased = gamma < 1
    return BaseEstimator(
        name="rtg" + (f"(gamma={gamma:g})[biased]" if biased else ""),
        from_noise=from_noise_via_samples(fs),
        from_samples=fs,
        unbiased=not biased,
        oracle=make_oracle("rtg", gamma, gamma),
        doc="Reward-to-go: terms = sum_t G_t g_t; one f evaluation per episode.",
    )


@dataclass(frozen=True)
class Critic:
    """A tabular critic: ``values(problem) -> V`` of shape (T, S) (time-dependent).

    Attributes:
        name: label in estimator names.
        values: problem -> (T, S) values at the problem's current policy.
        exact: whether the values are the exact V_t(s) (then GAE is unbiased for every lam).
    """

    name: str
    values: Callable[[Problem], np.ndarray]
    exact: bool = False


def _tabular(problem: Problem) -> tuple[EpisodeLaw, Any, np.ndarray]:
    law = episode_law(problem)
    if not getattr(law.env, "enumerable", False):
        raise TypeError(
            f"problem {problem.name!r}: this critic needs a tabular environment, got "
            f"{type(law.env).__name__}; pass a table_critic fitted elsewhere"
        )
    return law, law.env, law.policy.table()


def exact_critic() -> Critic:
    """The exact undiscounted V_t(s) at the current policy (backward recursion)."""

    def values(problem: Problem) -> np.ndarray:
        law, mdp, pi = _tabular(problem)
        return action_values(mdp, pi, law.horizon)[1]

    return Critic("V*", values, exact=True)


def time_agnostic_critic() -> Critic:
    """The best time-independent tabular critic (``mdp.time_agnostic_values``): approximate."""

    def values(problem: Problem) -> np.ndarray:
        law, mdp, pi = _tabular(problem)
        v = time_agnostic_values(mdp, pi, law.horizon)
        return np.broadcast_to(v, (law.horizon, v.size))

    return Critic("Vbar", values)


def table_critic(table: Any, name: str = "Vhat") -> Critic:
    """A fixed critic: ``table`` of shape (S,) or (T, S), fitted or learned elsewhere."""
    tab = np.asarray(table, dtype=np.float64)

    def values(problem: Problem) -> np.ndarray:
        law = episode_law(problem)
        return np.broadcast_to(tab, (law.horizon, tab.shape[-1]))

    return Critic(name, values)


def lookup(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """table[t, s_t] * alive_t for episodes x (*R, n, T, k): (*R, n, T) (or (*R, n, T, A))."""
    ep = split_episode(x)
    s = ep.obs[..., 0].astype(np.int64)
    vals = table[np.arange(table.shape[0]), s]
    return vals * (ep.alive if vals.ndim == s.ndim else ep.alive[..., None])


def gae_advantages(x: np.ndarray, v: np.ndarray, lam: float, gamma: float = 1.0) -> np.ndarray:
    """A_t = sum_l (gamma lam)^l delta_{t+l} with delta_t = r_t + gamma V_{t+1} - V_t.

    Args:
        x: episodes (*R, n, T, k).
        v: critic values at the visited states, alive-masked, (*R, n, T); the value after
            the last step (horizon or termination) is 0.
        lam: lambda in [0, 1].
        gamma: discount in [0, 1].

    Returns:
        The advantages (*R, n, T).
    """
    r = split_episode(x).reward
    nxt = np.zeros_like(v)
    nxt[..., :-1] = v[..., 1:]
    delta = r + gamma * nxt - v
    return returns_to_go(delta, gamma * lam)


def gae(lam: float, critic: Critic, gamma: float = 1.0) -> BaseEstimator:
    """GAE(lambda): sum_t A_t g_t (Schulman et al. 2016).

    Unbiased only when gamma = 1 and (lam = 1 or the critic is exact); else ``[biased]``.
    """
    lam = _check_gamma(lam, "lam")
    gamma = _check_gamma(gamma)
    if not isinstance(critic, Critic):
        raise TypeError(f"critic must be a Critic (exact_critic(), ...), got {critic!r}")

    def fs(problem: Problem, x: np.ndarray, noise: Any = None, independent: bool = True):
        episode_law(problem)
        v = lookup(critic.values(problem), x)
        w = gae_advantages(x, v, lam, gamma)
        return _batch(problem, x, w, noise, independent, total=False)

    unbiased = gamma == 1 and (lam == 1 or critic.exact)
    return BaseEstimator(
        name=f"gae(lam={lam:g},{critic.name}"
        + (f",gamma={gamma:g}" if gamma < 1 else "")
        + ")"
        + ("" if unbiased else "[biased]"),
        from_noise=from_noise_via_samples(fs),
        from_samples=fs,
        unbiased=unbiased,
        oracle=make_oracle("gae", gamma, gamma * lam, critic.values),
        doc="GAE(lambda) advantages times the step scores; one f evaluation per episode.",
    )
