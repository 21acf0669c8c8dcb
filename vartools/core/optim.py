"""Small optimisers for training trajectories: SGD, Adam, RMSprop (optax-like pure pairs).

An ``Optimizer`` is ``init(theta) -> state`` and ``update(grad, state, step) ->
(delta, state)``; the new parameters are ``theta + delta`` (minimisation: pass
the negated gradient to maximise). Learning rates are a float or a schedule
``step -> lr`` (e.g. ``cosine_decay``). Pure NumPy, no global state.

Example:
    >>> import numpy as np
    >>> opt = adam(0.1)
    >>> theta = np.array([1.0]); state = opt.init(theta)
    >>> for t in range(3):
    ...     delta, state = opt.update(2 * theta, state, t)
    ...     theta = theta + delta
    >>> round(float(theta[0]), 6)
    0.701586
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Optimizer", "adam", "cosine_decay", "rmsprop", "sgd"]

Schedule = Callable[[int], float]


@dataclass(frozen=True, eq=False)
class Optimizer:
    """A pure optimiser: ``init(theta) -> state``, ``update(grad, state, step) -> (delta, state)``.

    Args:
        name: label for tables and metadata (e.g. "adam(0.01)").
        init: theta (p,) -> optimiser state.
        update: (grad (p,), state, step) -> (delta (p,), new state); theta += delta.
    """

    name: str
    init: Callable[[np.ndarray], Any]
    update: Callable[[np.ndarray, Any, int], tuple[np.ndarray, Any]]


def _lr(lr: float | Schedule) -> tuple[Schedule, str]:
    if callable(lr):
        return lr, getattr(lr, "__name__", "schedule")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"lr must be a positive number or a schedule step -> lr, got {lr!r}")
    value = float(lr)
    return (lambda step: value), f"{value:g}"


def cosine_decay(lr: float, steps: int, alpha: float = 0.0) -> Schedule:
    """lr_t = lr ((1 - alpha) (1 + cos(pi min(t, steps) / steps)) / 2 + alpha) (optax's)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")

    def schedule(step: int) -> float:
        frac = min(step, steps) / steps
        return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * frac)) + alpha)

    schedule.__name__ = f"cosine({lr:g},{steps})"
    return schedule


def sgd(lr: float | Schedule) -> Optimizer:
    """Plain gradient descent: delta = -lr_t grad."""
    sched, label = _lr(lr)
    return Optimizer(f"sgd({label})", lambda theta: None, lambda g, s, t: (-sched(t) * g, s))


def adam(lr: float | Schedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba 2015) with bias correction: delta = -lr m_hat / (sqrt(v_hat) + eps)."""
    sched, label = _lr(lr)

    def init(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros_like(theta, dtype=np.float64), np.zeros_like(theta, dtype=np.float64)

    def update(g: np.ndarray, state: Any, t: int) -> tuple[np.ndarray, Any]:
        m, v = state
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** (t + 1))
        v_hat = v / (1 - b2 ** (t + 1))
        return -sched(t) * m_hat / (np.sqrt(v_hat) + eps), (m, v)

    return Optimizer(f"adam({label})", init, update)


def rmsprop(lr: float | Schedule, decay: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """RMSprop (Tieleman & Hinton 2012): delta = -lr g / sqrt(v + eps), v = EMA of g^2.

    ``eps`` sits inside the square root (TensorFlow's convention).
    """
    sched, label = _lr(lr)

    def update(g: np.ndarray, v: Any, t: int) -> tuple[np.ndarray, Any]:
        v = decay * v + (1 - decay) * g * g
        return -sched(t) * g / np.sqrt(v + eps), v

    return Optimizer(
        f"rmsprop({label})", lambda theta: np.zeros_like(theta, dtype=np.float64), update
    )
