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

Seeds. A training experiment repeats ``train`` for several seeds (5 or more; each seed
a node of the seed tree, e.g. ``key=(problem.name, "seed", s, "train")``) and summarises a
quantity over them with ``seed_summary``: the mean over seeds and a seed-to-seed 95%
interval, a Student t interval mean +- t_{0.975, S - 1} sd / sqrt(S) over the S seeds
(with S = 5, t = 2.776). ``log=True`` summarises a positive quantity (a variance, a
ratio of variances) on the log scale: the geometric mean and exp of the t interval of
the logs.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"seed": [0, 1, 2], "step": 0, "loss": [1.0, 2.0, 3.0]})
    >>> row = seed_summary(df, ["step"], ["loss"]).iloc[0]
    >>> int(row["n_seeds"]), float(row["loss_mean"]), round(float(row["loss_hi"]), 3)
    (3, 2.0, 4.484)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from vartools.core.optim import Optimizer
from vartools.core.rng import generator
from vartools.core.validation import check_positive_int

__all__ = ["Gradient", "OnCheckpoint", "TrainingRun", "seed_summary", "t_interval", "train"]

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


def t_interval(values: Any, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """Mean, sd and the Student t interval of the mean over independent seeds.

    Args:
        values: (S,) one value per seed (S >= 2, finite).
        confidence: two-sided level in (0, 1).

    Returns:
        (mean, sd, lo, hi) with lo, hi = mean -+ t_{(1 + confidence) / 2, S - 1} sd / sqrt(S).

    Raises:
        ValueError: fewer than 2 values, a non-finite value or a level outside (0, 1).
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(
            f"a seed-to-seed interval needs at least 2 seeds, got {x.size}; run more seeds"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite, got {x.tolist()}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 1)) * sd / np.sqrt(x.size)
    return mean, sd, mean - half, mean + half


def seed_summary(
    table: pd.DataFrame,
    by: list[str],
    values: list[str],
    *,
    seed: str = "seed",
    log: bool = False,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Summary over seeds: one row per group of ``by``, the seeds being the rows of a group.

    For each column v of ``values``: ``v_mean``, ``v_sd``, ``v_lo``, ``v_hi`` (the Student t
    interval of ``t_interval`` over the seeds; ``log=True``: on log(v), mean and bounds
    exponentiated, sd of log(v)), plus ``n_seeds`` and ``interval`` (the method's name).

    Raises:
        ValueError: a missing column, a group whose seeds repeat, or (``log``) a value <= 0.
    """
    missing = [c for c in [*by, seed, *values] if c not in table.columns]
    if missing:
        raise ValueError(f"seed_summary: table has no column(s) {missing}; pass existing names")
    rows = []
    for key, group in table.groupby(by, sort=False):
        if group[seed].duplicated().any():
            raise ValueError(
                f"seed_summary: group {key!r} has repeated seeds {group[seed].tolist()}; "
                "add the column that tells them apart to `by`"
            )
        row: dict[str, Any] = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row["n_seeds"] = len(group)
        for v in values:
            x = group[v].to_numpy(dtype=np.float64)
            if log:
                if np.any(x <= 0):
                    raise ValueError(f"seed_summary(log=True): column {v!r} has values <= 0")
                m, sd, lo, hi = t_interval(np.log(x), confidence)
                m, lo, hi = np.exp(m), np.exp(lo), np.exp(hi)
            else:
                m, sd, lo, hi = t_interval(x, confidence)
            row.update({f"{v}_mean": m, f"{v}_sd": sd, f"{v}_lo": lo, f"{v}_hi": hi})
        row["interval"] = (
            f"t{int(round(confidence * 100))}, {'log scale, ' if log else ''}over seeds"
        )
        rows.append(row)
    return pd.DataFrame(rows)
