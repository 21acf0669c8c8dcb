"""One training loop for every trajectory: the runner's ``Trajectory``, BLR and the SBN.

``train`` runs ``steps`` optimiser steps on a flat parameter vector theta (p,):

    for step in 0, 1, ..., steps:
        if step is a checkpoint: on_checkpoint(step, theta, seconds so far)
        if step == steps: stop
        grad = gradient(step, theta, rng)       # of the loss to minimise
        delta, opt_state = optimizer.update(grad, opt_state, step)
        theta = theta + delta

The random numbers of the gradient estimates come from one generator, the seed-tree
node ``(seed, *key)`` (``vartools.core.rng``); a caller that needs further streams
(minibatches, a Monte Carlo loss at a checkpoint) takes them from other nodes of the
same tree, never from ``np.random.default_rng``. What a gradient carries from step to
step (a control-variate state, moving averages) lives in the caller's closure.

Example:
    >>> from vartools.core.optim import sgd
    >>> seen = []
    >>> run = train(
    ...     np.array([1.0]),
    ...     lambda step, theta, rng: 2 * theta + 0.01 * rng.standard_normal(1),
    ...     sgd(0.1),
    ...     steps=50,
    ...     seed=0,
    ...     key=("doc", "train"),
    ...     checkpoints=[0, 50],
    ...     on_checkpoint=lambda step, theta, seconds: seen.append(step),
    ... )
    >>> seen, bool(abs(run.theta[0]) < 0.05)
    ([0, 50], True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.optim import Optimizer
from vartools.core.rng import generator
from vartools.core.validation import check_positive_int

__all__ = ["Gradient", "OnCheckpoint", "TrainingRun", "train"]

#: (step, theta (p,), rng) -> the gradient (p,) of the loss to minimise at theta.
Gradient = Callable[[int, np.ndarray, np.random.Generator], np.ndarray]
#: (step, theta (p,), seconds spent in steps so far) -> None, at every checkpoint.
OnCheckpoint = Callable[[int, np.ndarray, float], Any]


@dataclass(frozen=True)
class TrainingRun:
    """The end of a training run.

    Attributes:
        theta: (p,) the parameters after the last step.
        step_seconds: wall time spent in the steps (gradients and updates), without
            the checkpoints.
        seconds: wall time of the whole run, checkpoints included.
    """

    theta: np.ndarray
    step_seconds: float
    seconds: float


def train(
    theta: Any,
    gradient: Gradient,
    optimizer: Optimizer,
    *,
    steps: int,
    seed: int,
    key: tuple[Any, ...],
    checkpoints: Iterable[int] = (),
    on_checkpoint: OnCheckpoint | None = None,
) -> TrainingRun:
    """Minimise a loss by ``steps`` optimiser steps from ``theta``, seeded from the seed tree.

    Args:
        theta: (p,) the initial parameters (copied, as float64).
        gradient: (step, theta, rng) -> the (p,) gradient of the loss to minimise (for a
            maximisation, return the negated gradient).
        optimizer: ``vartools.core.optim`` optimiser (init, update).
        steps: optimiser steps (>= 0).
        seed: root of the seed tree.
        key: the seed-tree node of the gradient's random numbers, below ``seed``
            (strings and non-negative ints, e.g. ``(problem.name, "train")``).
        checkpoints: steps in [0, steps] at which ``on_checkpoint`` is called with the
            parameters before that step's update.
        on_checkpoint: (step, theta, seconds spent in steps so far) -> None.

    Returns:
        A ``TrainingRun`` (the final theta and the timings).

    Raises:
        ValueError: a negative ``steps`` or a checkpoint outside [0, steps].
    """
    steps = check_positive_int(steps, "steps", minimum=0)
    cps = set(checkpoints)
    outside = sorted(c for c in cps if not 0 <= c <= steps)
    if outside:
        raise ValueError(
            f"checkpoints must lie in [0, steps={steps}], got {outside}; drop them or raise steps"
        )
    rng = generator(seed, *key)
    theta = np.array(theta, dtype=np.float64)
    opt_state = optimizer.init(theta)
    spent = 0.0
    start = time.perf_counter()
    for step in range(steps + 1):
        if step in cps and on_checkpoint is not None:
            on_checkpoint(step, theta, spent)
        if step == steps:
            break
        t0 = time.perf_counter()
        grad = gradient(step, theta, rng)
        delta, opt_state = optimizer.update(grad, opt_state, step)
        theta = theta + delta
        spent += time.perf_counter() - t0
    return TrainingRun(theta, spent, time.perf_counter() - start)
