"""The contextual-bandit setting's distribution: state, action and reward noise under a policy.

Holds ``ContextualPolicy``, the joint law of x = (state, action, noise index) under a
tabular softmax policy, with its inverse-CDF sampling from three uniforms per outcome,
log density, score (the policy's score) and enumerable support, and the small helpers
it uses (probability-vector checks, CDFs and their inverse). The rewards, problems,
closed forms and baselines are in ``vartools.catalogue.bandit``, which re-exports
``ContextualPolicy``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET, Distribution
from vartools.core.validation import as_finite_array

__all__ = ["ContextualPolicy"]


def _check_probs(value: Any, name: str) -> np.ndarray:
    p = as_finite_array(value, name)
    if p.ndim != 1 or p.size < 1 or (p < 0).any() or abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(
            f"{name} must be a vector of non-negative probabilities summing to 1, got {p}"
        )
    return p


def _inverse_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index k with cdf[k-1] <= u < cdf[k]; cdf (..., K) broadcast against u (...)."""
    k = (cdf[..., :-1] <= u[..., None]).sum(-1)
    return k.astype(np.int64)


def _cdf(p: np.ndarray) -> np.ndarray:
    c = np.cumsum(p, axis=-1)
    c[..., -1] = 1.0
    return c


@dataclass(frozen=True, eq=False)
class ContextualPolicy(Distribution):
    """Joint law of x = (state, action, noise index) under a tabular softmax policy.

    s ~ Categorical(state_probs), a | s ~ Categorical(softmax(logits[s])), j ~
    Categorical(noise_probs), j independent of (s, a). theta = logits (S, A), flattened
    (names ``logits[s,a]``). Outcomes are int64 arrays (*R, n, 3); sampling uses three
    uniforms per outcome through the inverse CDFs.

    Args:
        logits: policy logits, shape (S, A), A >= 2.
        state_probs: rho, shape (S,).
        noise_probs: probabilities of the reward-noise levels, shape (J,).
    """

    logits: Any
    state_probs: Any
    noise_probs: Any = (1.0,)
    enumerable = True

    def __post_init__(self) -> None:
        logits = as_finite_array(self.logits, "logits")
        if logits.ndim != 2 or logits.shape[1] < 2:
            raise ValueError(
                f"logits must have shape (S, A) with A >= 2 actions, got shape {logits.shape}"
            )
        rho = _check_probs(self.state_probs, "state_probs")
        if rho.shape[0] != logits.shape[0]:
            raise ValueError(
                f"state_probs has {rho.shape[0]} entries but logits has {logits.shape[0]} "
                "states (rows); give one probability per state"
            )
        object.__setattr__(self, "logits", logits)
        object.__setattr__(self, "state_probs", rho)
        object.__setattr__(self, "noise_probs", _check_probs(self.noise_probs, "noise_probs"))

    @property
    def n_states(self) -> int:
        """Number S of states."""
        return int(self.logits.shape[0])

    @property
    def n_actions(self) -> int:
        """Number A of actions."""
        return int(self.logits.shape[1])

    @property
    def event_shape(self) -> tuple[int, ...]:
        """(3,): state, action, noise index."""
        return (3,)

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """One block: the policy logits."""
        return [("logits", tuple(self.logits.shape))]

    def with_params(self, theta: Any) -> ContextualPolicy:
        """The same bandit at the flat logits ``theta`` (S A,)."""
        logits = self.check_theta(theta).reshape(self.logits.shape)
        return ContextualPolicy(logits, self.state_probs, self.noise_probs)

    @property
    def policy(self) -> np.ndarray:
        """pi(a | s) = softmax(logits[s]), shape (S, A)."""
        return special.softmax(self.logits, axis=-1)

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Uniforms on [0, 1), shape (*reps, n, 3)."""
        return rng.random(self.noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is the uniform."""
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDFs: state from u[..., 0], action from u[..., 1], noise index from u[..., 2]."""
        s = _inverse_cdf(_cdf(self.state_probs), noise[..., 0])
        a = _inverse_cdf(_cdf(self.policy)[s], noise[..., 1])
        j = _inverse_cdf(_cdf(self.noise_probs), noise[..., 2])
        return np.stack([s, a, j], axis=-1)

    def _split(self, x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = self.check_x(x)
        xi = x.astype(np.int64)
        if not np.array_equal(xi, x):
            raise ValueError("x must hold integer (state, action, noise index) triples")
        s, a, j = xi[..., 0], xi[..., 1], xi[..., 2]
        for v, hi, what in ((s, self.n_states, "state"), (a, self.n_actions, "action")):
            if v.size and (v.min() < 0 or v.max() >= hi):
                raise ValueError(f"x holds a {what} index outside [0, {hi})")
        if j.size and (j.min() < 0 or j.max() >= self.noise_probs.size):
            raise ValueError(f"x holds a noise index outside [0, {self.noise_probs.size})")
        return s, a, j

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log rho(s) + log pi(a | s) + log P(j): (*R, n, 3) -> (*R, n)."""
        s, a, j = self._split(x)
        logpi = special.log_softmax(self.logits, axis=-1)
        with np.errstate(divide="ignore"):
            return np.log(self.state_probs[s]) + logpi[s, a] + np.log(self.noise_probs[j])

    def score(self, x: np.ndarray) -> np.ndarray:
        """onehot(s) (onehot(a) - pi(. | s)), flattened to (*R, n, S A)."""
        s, a, _ = self._split(x)
        one_s = np.eye(self.n_states)[s]
        one_a = np.eye(self.n_actions)[a]
        out = one_s[..., :, None] * (one_a[..., None, :] - self.policy)
        return out.reshape(*s.shape, self.n_params)

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All (s, a, j) triples (state varies slowest) and their probabilities."""
        count = self.n_states * self.n_actions * self.noise_probs.size
        if count > budget:
            raise ValueError(f"the support has {count} outcomes, more than budget={budget}")
        grid = np.array(
            list(
                itertools.product(
                    range(self.n_states), range(self.n_actions), range(self.noise_probs.size)
                )
            ),
            dtype=np.int64,
        )
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]
