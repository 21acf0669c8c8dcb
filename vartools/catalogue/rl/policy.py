"""Softmax policies with linear logits: tabular (one-hot features) or linear in observations.

pi(a | o) = softmax(phi(o) @ theta)_a with theta of shape (d, A), flattened row-major
(coordinates ``theta[i,a]``). ``features="onehot"`` reads the observation as a state
index s and uses phi(s) = onehot(s) (d = S): the tabular softmax policy, theta[s, a] the
logit of action a in state s. ``features="linear"`` uses phi(o) = (o, 1) (d = dim(o) + 1):
the linear-softmax policy of classic-control tasks.

The per-step score is g = grad_theta log pi(a | o) = phi(o) (e_a - pi(. | o))^T, shape
(d, A) (Sutton & Barto 2018, eq. 13.9 for linear action preferences).

Example:
    >>> import numpy as np
    >>> pol = SoftmaxPolicy(np.zeros((3, 2)), "onehot")
    >>> pol.probs(np.array([[0.0], [2.0]])).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.validation import as_finite_array, short_repr

__all__ = ["SoftmaxPolicy", "check_probabilities"]

_FEATURES = ("onehot", "linear")


def check_probabilities(p: np.ndarray, who: str) -> np.ndarray:
    """Return ``p`` (..., A) if every row is a probability vector, else raise naming ``who``.

    Raises:
        ValueError: a NaN, a negative entry or a row that does not sum to 1 (within 1e-9).
    """
    if p.size == 0 or (np.all(np.abs(p.sum(-1) - 1.0) <= 1e-9) and p.min() >= 0):
        return p  # fast path (NaN fails both comparisons)
    bad = ~np.isfinite(p).all(-1) | (p < 0).any(-1) | ~(np.abs(p.sum(-1) - 1.0) <= 1e-9)
    if bad.any():
        row = p[bad][0]
        raise ValueError(
            f"{who} returned invalid action probabilities {short_repr(row.tolist())} "
            f"({int(bad.sum())} of {bad.size} rows): every row must be finite, non-negative "
            "and sum to 1; compute probabilities with a stable softmax of finite logits"
        )
    return p


@dataclass(frozen=True, eq=False)
class SoftmaxPolicy:
    """pi(a | o) = softmax(phi(o) @ theta): tabular (``"onehot"``) or ``"linear"`` features.

    Args:
        theta: logits weights, shape (d, A) with A >= 2.
        features: ``"onehot"`` (o is a state index in [0, d)) or ``"linear"`` (o is a
            vector of d - 1 numbers; phi(o) = (o, 1)).
    """

    theta: Any
    features: str = "onehot"

    def __post_init__(self) -> None:
        theta = as_finite_array(self.theta, "theta")
        if theta.ndim != 2 or theta.shape[1] < 2:
            raise ValueError(
                f"theta must have shape (d, A) with A >= 2 actions, got shape {theta.shape}"
            )
        if self.features not in _FEATURES:
            raise ValueError(f"features must be one of {_FEATURES}, got {self.features!r}")
        object.__setattr__(self, "theta", theta)

    @property
    def n_features(self) -> int:
        """d, the number of features."""
        return int(self.theta.shape[0])

    @property
    def n_actions(self) -> int:
        """A, the number of actions."""
        return int(self.theta.shape[1])

    @property
    def obs_dim(self) -> int:
        """Length of one observation: 1 (a state index) or d - 1."""
        return 1 if self.features == "onehot" else self.n_features - 1

    def with_theta(self, theta: Any) -> SoftmaxPolicy:
        """The same policy with weights ``theta`` (d, A) or flat (d A,)."""
        return SoftmaxPolicy(np.reshape(theta, self.theta.shape), self.features)

    def phi(self, obs: np.ndarray) -> np.ndarray:
        """The features of observations (..., obs_dim): shape (..., d)."""
        if self.features == "onehot":
            s = obs[..., 0].astype(np.int64)
            return np.eye(self.n_features)[s]
        return np.concatenate([obs, np.ones((*obs.shape[:-1], 1))], axis=-1)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Action logits phi(o) @ theta, (..., A)."""
        if self.features == "onehot":
            return self.theta[obs[..., 0].astype(np.int64)]
        return obs @ self.theta[:-1] + self.theta[-1]

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """pi(. | o), (..., A), checked to be probability vectors."""
        logits = self.logits(obs)
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(logits - logits.max(-1, keepdims=True))
            p = e / e.sum(-1, keepdims=True)
        return check_probabilities(p, f"policy {type(self).__name__}")

    def table(self) -> np.ndarray:
        """pi(a | s) for every state, (S, A) (tabular policies only)."""
        if self.features != "onehot":
            raise TypeError("table() needs a tabular policy (features='onehot')")
        return self.probs(np.arange(self.n_features, dtype=np.float64)[:, None])
