"""A contextual bandit with a tabular softmax policy: REINFORCE in reinforcement learning.

A state s is drawn from a known distribution rho (no parameters), an action a from the
policy pi(a | s) = softmax(logits[s])_a, and the reward is r = rbar(s, a) + e, where the
noise e takes one of a few levels (e.g. +-sigma) with known probabilities, independently of
(s, a). The objective is the expected return J(theta) = E[r] and theta = logits, (S, A).

How the reward noise fits ``Problem``: the noise is an extra, parameter-free component of
the outcome, x = (s, a, j) with j the noise level's index, and f(x) = rbar(s, a) +
levels[j] is a deterministic function of x. The joint law of x is ``ContextualPolicy``
(in ``vartools.catalogue.bandit_policy``, re-exported here), whose score is the policy's
score (rho and the noise law do not depend on theta):

    grad_theta log p(x) = onehot(s) (onehot(a) - pi(. | s))        (shape (S, A))

so the noise makes f random exactly as in reinforcement learning, yet the support stays
finite (S A J outcomes) and every enumeration oracle in ``vartools.oracles.exact`` is exact,
including the variance of estimators that couple their samples (per-state RLOO).

Closed forms (Sutton & Barto 2018, ch. 13; Greensmith et al. 2004):
- state values V(s) = sum_a pi(a|s) rbar(s, a);
- policy gradient dJ/dlogits[s, a] = rho(s) pi(a|s) (rbar(s, a) - V(s)).

Baselines (each keeps the estimate unbiased because E[score | s] = 0, so any baseline that
depends on the state of the sample and on the other samples only can be subtracted):
``constant_baseline`` (vartools.control_variates), ``state_value_baseline`` (b_i = V(s_i)),
the per-coordinate optimal constant b* = E[f s^2] / E[s^2] (``optimal_baseline``; for a
tabular policy coordinate (s, a) has a nonzero score only in state s, so this is the optimal
state-dependent baseline, one value per action), and ``per_state_loo_baseline`` (RLOO among
the samples of the same state).

Example:
    >>> import numpy as np
    >>> from vartools.oracles.exact import exact_gradient
    >>> prob = make_bandit()
    >>> bool(np.allclose(exact_gradient(prob), policy_gradient(prob).ravel(), atol=1e-12))
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.catalogue.bandit_policy import ContextualPolicy
from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate, subtract_baseline
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array, check_positive_int
from vartools.oracles.exact import sf_moments

__all__ = [
    "BanditReward",
    "ContextualPolicy",
    "expected_return",
    "expected_return_baseline",
    "make_bandit",
    "optimal_baseline",
    "oracle_optimal_baseline",
    "per_state_loo_baseline",
    "policy_gradient",
    "state_value_baseline",
    "state_values",
]


@dataclass(frozen=True, eq=False)
class BanditReward:
    """Reward f(x) = means[s, a] + levels[j] for outcomes x = (s, a, j) (*R, n, 3).

    Args:
        means: expected rewards rbar(s, a), shape (S, A).
        levels: the reward-noise levels, shape (J,) (mean zero under the noise law keeps
            E[r | s, a] = means[s, a]).
    """

    means: Any
    levels: Any = (0.0,)
    name: str = "reward"

    def __post_init__(self) -> None:
        object.__setattr__(self, "means", as_finite_array(self.means, "means"))
        object.__setattr__(self, "levels", as_finite_array(self.levels, "levels"))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The reward of each outcome, shape (*R, n)."""
        xi = np.asarray(x).astype(np.int64)
        return self.means[xi[..., 0], xi[..., 1]] + self.levels[xi[..., 2]]


def make_bandit(
    n_states: int = 3,
    n_actions: int = 3,
    *,
    noise: float = 0.5,
    offset: float = 1.0,
    logits: Any = None,
    seed: int = 0,
) -> Problem:
    """A contextual bandit problem: fixed random rewards, +-noise reward noise.

    Args:
        n_states: S.
        n_actions: A (>= 2).
        noise: reward noise e = +-noise with probability 1/2 each (0 for none).
        offset: added to every mean reward; a large offset is where baselines help most.
        logits: initial policy logits (S, A); default zeros (uniform policy).
        seed: seed of the (deterministic) reward table and state distribution.

    Returns:
        A ``Problem`` named ``bandit(SxA)`` with a ``ContextualPolicy`` and a
        ``BanditReward``.
    """
    s = check_positive_int(n_states, "n_states")
    a = check_positive_int(n_actions, "n_actions", minimum=2)
    rng = np.random.default_rng(seed)
    means = offset + rng.normal(size=(s, a))
    rho = rng.dirichlet(np.full(s, 5.0))
    lg = np.zeros((s, a)) if logits is None else as_finite_array(logits, "logits")
    noise = float(noise)
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    levels, nprobs = ((-noise, noise), (0.5, 0.5)) if noise > 0 else ((0.0,), (1.0,))
    return Problem(
        f"bandit({s}x{a})",
        ContextualPolicy(lg, rho, nprobs),
        BanditReward(means, levels),
        description=(
            f"contextual bandit, {s} states, {a} actions, tabular softmax policy, "
            f"rewards N(0,1) + {offset:g} plus +-{noise:g} noise"
        ),
    )


def _parts(problem: Problem) -> tuple[ContextualPolicy, BanditReward]:
    dist, f = problem.dist, problem.f
    if not isinstance(dist, ContextualPolicy) or not isinstance(f, BanditReward):
        raise TypeError(
            f"problem {problem.name!r} is not a contextual bandit (it needs a ContextualPolicy "
            "and a BanditReward); build one with make_bandit"
        )
    return dist, f


def _mean_rewards(problem: Problem) -> np.ndarray:
    dist, f = _parts(problem)
    return f.means + float(dist.noise_probs @ f.levels)


def state_values(problem: Problem) -> np.ndarray:
    """V(s) = sum_a pi(a | s) E[r | s, a], shape (S,)."""
    dist, _ = _parts(problem)
    return (dist.policy * _mean_rewards(problem)).sum(-1)


def expected_return(problem: Problem) -> float:
    """J = sum_s rho(s) V(s)."""
    dist, _ = _parts(problem)
    return float(dist.state_probs @ state_values(problem))


def policy_gradient(problem: Problem) -> np.ndarray:
    """dJ/dlogits[s, a] = rho(s) pi(a | s) (E[r | s, a] - V(s)), shape (S, A) (closed form)."""
    dist, _ = _parts(problem)
    q = _mean_rewards(problem)
    return dist.state_probs[:, None] * dist.policy * (q - state_values(problem)[:, None])


def optimal_baseline(problem: Problem) -> np.ndarray:
    """Per-coordinate optimal constant baseline b* = E[f s^2] / E[s^2], shape (p,).

    For the bandit, coordinate (s, a) has a nonzero score only in state s, so b* is the
    optimal state-dependent baseline, one value per (state, action). Computed exactly by
    enumeration (any enumerable problem); ``constant_baseline(optimal_baseline(problem))``
    attains ``exact.optimal_baseline_variance`` (Mohamed et al. 2020, eq. 65). A
    coordinate whose score is always zero gets b* = 0.
    """
    m = sf_moments(problem)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m.m0 > 0, m.m1 / np.where(m.m0 > 0, m.m0, 1.0), 0.0)


def expected_return_baseline() -> ControlVariate:
    """Subtract a constant baseline equal to the expected return J(theta) (an oracle constant).

    terms_i = (f(x_i) - J) score_i, the same constant for every state and action; J is
    recomputed from the problem's current policy, so along training it is the constant
    baseline a perfect running average would give. Unbiased; no extra evaluations of f.
    """

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        b = expected_return(problem)
        out = subtract_baseline(batch, b, "expected_return_baseline").with_info(baseline=b)
        return out, state

    return ControlVariate(lambda problem: None, apply, name="J")


def oracle_optimal_baseline() -> ControlVariate:
    """Subtract the exact per-coordinate optimal baseline b* = E[f s^2] / E[s^2].

    b* is recomputed by enumeration (``vartools.oracles.exact.sf_moments``) at the problem's
    current parameters, so along a training trajectory it follows the policy: an oracle
    coefficient, the variance floor of every constant baseline (Mohamed et al. 2020,
    eq. 65); its exact variance is ``exact.optimal_baseline_variance``. Works for any
    enumerable problem. Unbiased (b* does not depend on the batch); no extra evaluations.
    """

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        b = optimal_baseline(problem)
        out = subtract_baseline(batch, b, "oracle_optimal_baseline").with_info(baseline=b)
        return out, state

    return ControlVariate(lambda problem: None, apply, name="opt*")


def state_value_baseline() -> ControlVariate:
    """Subtract the state value: terms_i = (f(x_i) - V(s_i)) score_i.

    V is computed exactly from the problem at its current policy (an oracle critic).
    Unbiased because V(s_i) depends on the state only and E[score | s] = 0. No extra
    evaluations of f.
    """

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        v = state_values(problem)
        b = v[np.asarray(batch.x)[..., 0].astype(np.int64)]
        out = subtract_baseline(batch, b, "state_value_baseline", per_sample=True)
        return out, state

    return ControlVariate(lambda problem: None, apply, name="V(s)")


def per_state_loo_baseline() -> ControlVariate:
    """Leave-one-out baseline among the samples of the same state (RLOO per state).

    b_i = mean of f_j over j != i with s_j = s_i; when no other sample shares the state,
    b_i = mean of f_j over all j != i. b_i depends on s_i and the other samples only, and
    E[score_i | s_i, x_-i] = 0 for independent samples, so the estimate is unbiased
    (Kool et al. 2019 applied per state). Needs n >= 2 independent samples; costs O(n^2)
    per replicate and no extra evaluations of f.
    """

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        n = batch.n
        if n < 2:
            raise ValueError(f"per_state_loo_baseline needs n >= 2 samples, got n={n}")
        fx = batch.fx
        s = np.asarray(batch.x)[..., 0]
        same = (s[..., :, None] == s[..., None, :]).astype(np.float64)
        count = same.sum(-1) - 1.0
        total = np.matmul(same, fx[..., None])[..., 0] - fx
        fallback = (fx.sum(-1, keepdims=True) - fx) / (n - 1)
        b = np.where(count > 0, total / np.maximum(count, 1.0), fallback)
        return subtract_baseline(batch, b, "per_state_loo_baseline", per_sample=True), state

    return ControlVariate(
        lambda problem: None,
        apply,
        name="loo(s)",
        min_n=2,
        requires_independent=True,
        per_sample=False,
    )
