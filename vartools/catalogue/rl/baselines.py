"""Baselines for episodic policy gradients: control variates sum_t b_t g_t.

Each control variate subtracts sum_t b_t g_t from the terms of an episode, where b_t
depends on the time t and the state s_t (and on other episodes or earlier batches),
never on a_t or later: then E[g_t | s_t, history] = 0 makes the subtracted term mean
zero, so the estimate stays unbiased (REFERENCES.md; Greensmith et al. 2004). They read
``batch.info["step_weights"]`` from the RL base estimators
(``vartools.catalogue.rl.estimators``):

- ``state_value_baseline()``: b_t = V_t(s_t), exact on tabular MDPs (an oracle critic);
- ``critic_baseline(critic)``: b_t = a critic's V_t(s_t) (fitted or learned elsewhere);
- ``optimal_state_baseline()``: per coordinate i = (s, a),
  b*_i(t, s) = E[g_i^2 G_t | s_t = s] / E[g_i^2 | s_t = s] (Greensmith et al. 2004), exact;
- ``time_loo_baseline()``: b_t for episode i = the mean step weight W_t of the other
  episodes of the batch (leave-one-out across episodes; needs n >= 2 independent ones);
- ``fitted_critic_baseline(decay, ridge)``: b_t = w . psi(o_t, t), a linear critic on the
  policy's features times (1, t/T, (t/T)^2), fitted by ridge regression to the step
  weights of earlier batches (stateful; any environment, e.g. CartPole);
- ``time_ema_baseline(decay)``: b_t = a debiased exponential moving average of the mean
  W_t of earlier batches (stateful).

A constant baseline c is ``vartools.constant_baseline(c)`` (it subtracts c sum_t g_t).
None evaluates f again.

Example:
    >>> import numpy as np
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.catalogue.rl.estimators import reward_to_go
    >>> make_estimator(reward_to_go(), state_value_baseline()).name
    'rtg+V(s)'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.catalogue.rl.estimators import Critic, episode_law, exact_critic, lookup
from vartools.catalogue.rl.mdp import optimal_state_baseline_table
from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.problem import Problem

__all__ = [
    "StateBaseline",
    "constant_step_baseline",
    "critic_baseline",
    "fitted_critic_baseline",
    "optimal_state_baseline",
    "state_value_baseline",
    "subtract_step_baseline",
    "time_ema_baseline",
    "time_loo_baseline",
]


@dataclass(frozen=True, eq=False)
class StateBaseline(ControlVariate):
    """A control variate subtracting b_t(s_t) given by a table known without the batch.

    ``table(problem)`` is b of shape (T, S), or per action coordinate (T, S, A): the
    capability the exact dynamic-programming oracle (``vartools.catalogue.rl.oracle``) reads.
    """

    table: Callable[[Problem], np.ndarray] | None = None


def _no_state(problem: Problem) -> None:
    return None


def _table_baseline(table: Callable[[Problem], np.ndarray], name: str) -> StateBaseline:
    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        b = lookup(np.asarray(table(problem)), np.asarray(batch.x))
        return subtract_step_baseline(batch, problem, b, name), state

    return StateBaseline(_no_state, apply, name=name, table=table)


def _weights(batch: Batch, who: str) -> np.ndarray:
    w = batch.info.get("step_weights")
    if w is None:
        raise TypeError(
            f"{who} needs a batch from an RL base estimator (reinforce, reward_to_go, gae of "
            "vartools.catalogue.rl.estimators), which records the per-step weights"
        )
    return np.asarray(w)


def subtract_step_baseline(batch: Batch, problem: Problem, b: np.ndarray, who: str) -> Batch:
    """The batch with terms - sum_t b_t g_t; b is (*R, n, T) or per action (*R, n, T, A)."""
    _weights(batch, who)
    law = episode_law(problem)
    sub = law.weighted_score(np.asarray(batch.x), b)
    extra = -sub if batch.extra is None else batch.extra - sub
    return batch.replace(extra=extra)


def critic_baseline(critic: Critic) -> StateBaseline:
    """Subtract b_t = critic V_t(s_t); unbiased for any critic that ignores the batch."""
    return _table_baseline(critic.values, f"{critic.name}(s)")


def state_value_baseline() -> StateBaseline:
    """Subtract the exact state value b_t = V_t(s_t) (tabular MDPs: an oracle critic)."""
    return _table_baseline(exact_critic().values, "V(s)")


def constant_step_baseline(c: float) -> StateBaseline:
    """Subtract a constant b_t = c at every step (the same as ``vartools.constant_baseline``)."""
    c = float(c)

    def table(problem: Problem) -> np.ndarray:
        law = episode_law(problem)
        return np.full((law.horizon, law.policy.n_features), c)

    return _table_baseline(table, f"const({c:g})")


def optimal_state_baseline() -> StateBaseline:
    """Subtract the exact per-coordinate optimal state baseline b*_i(t, s_t) (tabular MDPs).

    b*_{(s,a)}(t, s) = E[g^2 G_t | s_t = s] / E[g^2 | s_t = s] for the coordinate's step
    score g (``mdp.optimal_state_baseline_table``; Greensmith et al. 2004).
    """

    def table(problem: Problem) -> np.ndarray:
        law = episode_law(problem)
        if not getattr(law.env, "enumerable", False):
            raise TypeError(
                f"optimal_state_baseline needs a tabular MDP; problem {problem.name!r} has "
                f"{type(law.env).__name__}"
            )
        return optimal_state_baseline_table(law.env, law.policy.table(), law.horizon)

    return _table_baseline(table, "b*(s)")


def time_loo_baseline() -> ControlVariate:
    """Leave-one-out across episodes: b_t^i = mean over j != i of W_t^j (Kool et al. 2019).

    Unbiased for independent episodes (b^i does not depend on episode i); needs n >= 2.
    """

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        n = batch.n
        if n < 2:
            raise ValueError(f"time_loo_baseline needs n >= 2 episodes per estimate, got n={n}")
        w = _weights(batch, "time_loo_baseline")
        b = (w.sum(-2, keepdims=True) - w) / (n - 1)
        return subtract_step_baseline(batch, problem, b, "time_loo_baseline"), state

    return ControlVariate(
        _no_state, apply, name="loo(t)", min_n=2, requires_independent=True, per_sample=False
    )


def time_ema_baseline(decay: float = 0.9) -> ControlVariate:
    """b_t = debiased EMA over earlier batches of the mean step weight W_t (stateful).

    Unbiased (earlier batches only); b = 0 before the first batch. To measure variance at
    a fixed state, warm it up (``measure_variance(..., warmup=...)``).
    """
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
        raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
    decay = float(decay)

    def init(problem: Problem) -> tuple[np.ndarray, int]:
        return np.zeros(episode_law(problem).horizon), 0

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        avg, count = state
        w = _weights(batch, "time_ema_baseline")
        b = avg / (1.0 - decay**count) if count > 0 else np.zeros_like(avg)
        b_steps = np.broadcast_to(b, w.shape)  # rows after termination have g_t = 0
        out = subtract_step_baseline(batch, problem, b_steps, "time_ema_baseline")
        mean_w = w.reshape(-1, w.shape[-1]).mean(0)
        return out, (decay * avg + (1.0 - decay) * mean_w, count + 1)

    return ControlVariate(init, apply, name=f"ema(t,{decay:g})", stateful=True)


def _critic_features(law: Any, x: np.ndarray) -> np.ndarray:
    """psi(o_t, t) = phi(o_t) (x) (1, t/T, (t/T)^2), alive-masked: (*R, n, T, 3 d)."""
    from vartools.catalogue.rl.episodes import split_episode

    ep = split_episode(x)
    phi = law.policy.phi(ep.obs)
    tt = np.arange(law.horizon) / law.horizon
    time = np.stack([np.ones_like(tt), tt, tt * tt], axis=-1)  # (T, 3)
    psi = phi[..., :, None] * time[:, None, :]
    return psi.reshape(*psi.shape[:-2], -1) * ep.alive[..., None]


def fitted_critic_baseline(decay: float = 0.9, ridge: float = 1e-3) -> ControlVariate:
    """b_t = w . psi(o_t, t): a linear critic fitted to earlier batches' step weights.

    The state holds exponential moving averages (debiased) of the normal equations
    E[psi psi^T] and E[psi W_t] over the alive steps of earlier batches; w solves
    (A + ridge I) w = c. Unbiased (earlier batches only: a critic "learned elsewhere");
    b = 0 before the first batch. Works on any environment (CartPole, tabular MDPs).

    Args:
        decay: weight of the past in [0, 1).
        ridge: ridge penalty (> 0) on w.
    """
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
        raise ValueError(f"decay must be a number in [0, 1), got {decay!r}")
    if not ridge > 0:
        raise ValueError(f"ridge must be > 0, got {ridge!r}")

    def init(problem: Problem) -> tuple[np.ndarray, np.ndarray, int]:
        k = 3 * episode_law(problem).policy.n_features
        return np.zeros((k, k)), np.zeros(k), 0

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        a_avg, c_avg, count = state
        law = episode_law(problem)
        w = _weights(batch, "fitted_critic_baseline")
        psi = _critic_features(law, np.asarray(batch.x))
        if count > 0:
            scale = 1.0 / (1.0 - decay**count)
            k = a_avg.shape[0]
            coef = np.linalg.solve(a_avg * scale + ridge * np.eye(k), c_avg * scale)
            b = psi @ coef
        else:
            b = np.zeros(w.shape)
        out = subtract_step_baseline(batch, problem, b, "fitted_critic_baseline")
        flat = psi.reshape(-1, psi.shape[-1])
        m = max(float(np.asarray(batch.x)[..., -2].sum()), 1.0)  # alive steps
        a_new = flat.T @ flat / m
        c_new = flat.T @ w.reshape(-1) / m
        state = (
            decay * a_avg + (1 - decay) * a_new,
            decay * c_avg + (1 - decay) * c_new,
            count + 1,
        )
        return out, state

    return ControlVariate(init, apply, name=f"critic({decay:g})", stateful=True)
