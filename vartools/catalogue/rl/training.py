"""Policy-gradient training with the replicate variance of every estimator at checkpoints.

``train_and_measure`` ascends the expected return with one estimator (n episodes per
step, an ``vartools.core.optim`` optimiser) and, every ``every`` steps, freezes the policy and
records: the environment steps consumed so far by training, the expected return (mean of
``return_episodes`` fresh episodes, with its standard error) and the fraction of those
episodes truncated at the horizon, and for every compared estimator the replicate
variance of its n-episode gradient estimate (``vartools.measure_variance``: ``n_reps``
replicates, fourth-moment 95% CIs, common random numbers across estimators, so every
estimator sees the same episodes, i.e. exactly the same number of environment steps;
stateful baselines warmed up at the frozen policy). Every random draw comes from the seed
tree: (seed, problem, "train"), (seed, problem, "return", step) and a checkpoint seed
(seed, problem, "checkpoint", step) for the replicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vartools.catalogue.rl.episodes import episode_stats
from vartools.core.optim import Optimizer
from vartools.core.problem import Problem
from vartools.core.rng import generator, seed_node
from vartools.core.validation import check_positive_int
from vartools.estimators.composed import Estimator
from vartools.measure.variance import measure_variance

__all__ = ["TrainConfig", "train_and_measure"]


@dataclass(frozen=True)
class TrainConfig:
    """Training and measurement sizes.

    Args:
        steps: optimisation steps.
        every: checkpoint interval (checkpoints 0, every, ..., steps).
        n: episodes per gradient estimate (training and measurement).
        n_reps: replicate estimates per estimator and checkpoint.
        return_episodes: episodes for the expected return at a checkpoint.
        warmup: batches that warm up stateful baselines at a frozen policy.
    """

    steps: int
    every: int
    n: int
    n_reps: int
    return_episodes: int = 1000
    warmup: int = 20

    def __post_init__(self) -> None:
        for name in ("steps", "every", "n", "n_reps", "return_episodes"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.warmup, "warmup", minimum=0)

    def checkpoints(self) -> list[int]:
        """0, every, 2 every, ..., and the last step."""
        out = list(range(0, self.steps + 1, self.every))
        return out if out[-1] == self.steps else [*out, self.steps]


def _checkpoint_seed(seed: int, problem: Problem, step: int) -> int:
    return int(seed_node(seed, problem.name, "checkpoint", step).generate_state(1, np.uint64)[0])


def _checkpoint(
    prob: Problem, compare: Sequence[Estimator], cfg: TrainConfig, seed: int, step: int
) -> pd.DataFrame:
    x = prob.dist.sample(cfg.return_episodes, rng=generator(seed, prob.name, "return", step))
    ret = prob.evaluate(x)
    stats = episode_stats(x)
    table = measure_variance(
        prob,
        list(compare),
        n_samples=[cfg.n],
        n_reps=cfg.n_reps,
        seed=_checkpoint_seed(seed, prob, step),
        truth=None,
        exact=False,
        warmup=cfg.warmup,
        # the experiment's scale sets n_reps (rl_cartpole's quick scale: 32, below
        # MIN_REPS); measured as declared, with the SmallRepsWarning shown
        allow_small_reps=True,
    )
    rows = table[table["kind"] == "mean"].copy()
    rows["return_mean"] = float(ret.mean())
    rows["return_se"] = float(ret.std(ddof=1) / np.sqrt(ret.size))
    rows["truncated_fraction"] = stats.truncated / ret.size
    rows["mean_length"] = float(stats.lengths.mean())
    return rows


def train_and_measure(
    problem: Problem,
    trainer: Estimator,
    compare: Sequence[Estimator],
    optimizer: Optimizer,
    config: TrainConfig,
    *,
    seed: int,
) -> pd.DataFrame:
    """Train with ``trainer``; measure every ``compare`` estimator at the checkpoints.

    Returns:
        One row per (checkpoint, estimator): ``step``, ``env_steps`` (environment steps
        used by training so far), ``train_truncated`` (training episodes truncated so
        far), the expected return and its standard error, the truncated fraction and mean
        length of the return episodes, and the ``measure_variance`` columns of the
        "(mean)" aggregate over parameters (variance, its CI, the ratio to the first
        compared estimator with its paired CI, ...).
    """
    theta = np.array(problem.dist.params, dtype=np.float64)
    opt_state = optimizer.init(theta)
    state: Any = trainer.init(problem)
    rng = generator(seed, problem.name, "train")
    checkpoints = set(config.checkpoints())
    env_steps, truncated = 0, 0
    parts = []
    for step in range(config.steps + 1):
        prob = problem.with_params(theta)
        if step in checkpoints:
            rows = _checkpoint(prob, compare, config, seed, step)
            rows.insert(0, "step", step)
            rows.insert(1, "env_steps", env_steps)
            rows.insert(2, "train_truncated", truncated)
            parts.append(rows)
        if step == config.steps:
            break
        batch, state = trainer.batch(prob, config.n, rng=rng, state=state)
        ep = episode_stats(np.asarray(batch.x))
        env_steps += int(ep.lengths.sum())
        truncated += ep.truncated
        delta, opt_state = optimizer.update(-batch.estimate, opt_state, step)
        theta = theta + delta
    out = pd.concat(parts, ignore_index=True)
    out.insert(0, "trainer", trainer.name)
    return out
