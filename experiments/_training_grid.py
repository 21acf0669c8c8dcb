"""Train several estimators *separately* on the same problem, several seeds each (a helper).

The harness's ``Trajectory`` trains once with one estimator and measures the others at
its parameters; the REBAR / RELAX and ARM papers instead train every estimator on its
own. ``train_grid`` does that: for every point, trainer and seed it runs Adam on the
logits with the trainer's estimate (its state, e.g. REBAR's eta and temperature or
RELAX's surrogate, carried along), and at checkpoints records the exact loss E[f] and
the replicate variance of the trainer's own estimator at the current parameters and
state (common random numbers across trainers at the same point, seed and step). Seeds
come from the seed tree ``(seed, problem, trainer, s, "train")`` (training) and ``(seed,
problem, s, step, "measure")`` (measurement) only, so the table does not depend on the
order of the loops; every run goes through the one training loop,
``vartools.measure.training.train``. Called from the experiments' ``tables`` hooks.

``trajectory_seeds`` repeats a harness ``Trajectory`` (which the harness trains once, for
the comparison of every estimator at the same parameters) on ``SEEDS`` independent seeds
with the same trainer, optimiser, steps and checkpoints, and ``summary_over_seeds``
summarises loss and variance over the seeds (Student t 95% interval over the seeds,
``vartools.measure.training.seed_summary``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from vartools.core.optim import Optimizer
from vartools.core.problem import Problem
from vartools.core.rng import generator
from vartools.estimators.composed import Estimator
from vartools.harness.experiment import Experiment
from vartools.measure.statistics import replicate_stats
from vartools.measure.training import seed_summary, train
from vartools.oracles.exact import exact_expectation

__all__ = [
    "HYPERPARAMETER_KEYS",
    "SEEDS",
    "seed_band",
    "summary_over_seeds",
    "train_grid",
    "trajectory_seeds",
]

#: Seeds of every training experiment at the full scale (issue 17: 5 or more).
SEEDS = 5

#: The keys of every training experiment's ``HYPERPARAMETERS`` dict (values: str, int,
#: float or None where a key does not apply), for the report's hyperparameter appendix.
HYPERPARAMETER_KEYS = (
    "trainer",
    "samples_per_step",
    "batch_size",
    "optimizer",
    "learning_rate",
    "lr_schedule",
    "steps",
    "checkpoint_every",
    "n_reps",
    "ema_decay",
    "warmup_batches",
    "seeds",
    "seed_root",
)


def _state_columns(state: Any) -> dict[str, float]:
    """REBAR's eta and temperature when the state carries them (else nothing)."""
    out: dict[str, float] = {}
    if hasattr(state, "eta") and hasattr(state, "log_temperature"):
        out["eta"] = float(state.eta)
        out["temperature"] = float(np.exp(state.log_temperature))
    return out


def train_grid(
    problem: Callable[..., Problem],
    points: Sequence[Mapping[str, Any]],
    trainers: Mapping[str, tuple[Callable[[], Estimator], int]],
    *,
    runs: int,
    steps: int,
    every: int,
    optimizer: Callable[[], Optimizer],
    seed: int,
    n_reps: int,
    maximize: bool = False,
    loss: Callable[[Problem], float] | None = None,
) -> pd.DataFrame:
    """One row per (point, trainer, seed, checkpoint): loss, parameters and variance.

    Args:
        problem: factory (**point) -> Problem (an enumerable one unless ``loss`` is given).
        points: the factory's keyword arguments, one problem each.
        trainers: label -> (estimator factory, n samples or pairs per step).
        runs: seeds per (point, trainer): the column ``seed`` = 0, ..., runs - 1.
        steps: optimisation steps.
        every: checkpoint interval (step 0 and the last step are always included).
        optimizer: factory of a fresh optimiser per run.
        seed: root of the seed tree.
        n_reps: replicate estimates for the variance at each checkpoint.
        maximize: ascend E[f] instead of descending it.
        loss: problem -> the loss at a checkpoint (default: the exact E[f] by enumeration).
    """
    checkpoints = sorted(set(range(0, steps + 1, every)) | {steps})
    loss_of = exact_expectation if loss is None else loss
    rows: list[dict[str, Any]] = []
    for point in points:
        base = problem(**point)
        at = {f"at_{k}": v for k, v in point.items()}
        for label, (make, n) in trainers.items():
            for run in range(runs):
                rows += _one_run(
                    base,
                    make(),
                    n,
                    optimizer(),
                    steps=steps,
                    checkpoints=checkpoints,
                    seed=seed,
                    key=(base.name, label, run, "train"),
                    measure=(seed, base.name, run),
                    n_reps=n_reps,
                    maximize=maximize,
                    loss=loss_of,
                    columns={**at, "problem": base.name, "trainer": label, "n": n, "seed": run},
                )
    return pd.DataFrame(rows)


def _one_run(
    base: Problem,
    est: Estimator,
    n: int,
    opt: Optimizer,
    *,
    steps: int,
    checkpoints: Sequence[int],
    seed: int,
    key: tuple[Any, ...],
    measure: tuple[Any, ...],
    n_reps: int,
    maximize: bool,
    loss: Callable[[Problem], float],
    columns: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """One training run with ``train``; a row per checkpoint (``train_grid``'s columns)."""
    carry: dict[str, Any] = {"state": est.init(base)}
    rows: list[dict[str, Any]] = []

    def gradient(step: int, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        g, carry["state"] = est(base.with_params(theta), n, rng=rng, state=carry["state"])
        return -g if maximize else g

    def checkpoint(step: int, theta: np.ndarray, spent: float) -> None:
        prob = base.with_params(theta)
        mrng = generator(*measure, step, "measure")
        g, _ = est(prob, n, rng=mrng, reps=(n_reps,), state=carry["state"])
        st = replicate_stats(g)
        rows.append(
            {
                **columns,
                "step": step,
                "loss": float(loss(prob)),
                "variance": float(st["variance"].mean()),
                "variance_se": float(np.sqrt((st["variance_se"] ** 2).mean())),
                "n_reps": n_reps,
                **{f"theta[{i}]": float(t) for i, t in enumerate(theta)},
                **_state_columns(carry["state"]),
            }
        )

    theta0 = np.array(base.dist.params, dtype=np.float64)
    train(
        theta0,
        gradient,
        opt,
        steps=steps,
        seed=seed,
        key=key,
        checkpoints=checkpoints,
        on_checkpoint=checkpoint,
    )
    return rows


def trajectory_seeds(exp: Experiment, *, runs: int, n_reps: int) -> pd.DataFrame:
    """The experiment's ``Trajectory`` trained on ``runs`` seeds (``train_grid``'s table).

    Same trainer (estimator and n), optimiser, steps, checkpoints, direction and loss as
    the harness trajectory, at every point of ``exp`` (column ``at_index``: the point's
    index, plus the point's own columns); the variance column is the trainer's own
    replicate variance (``n_reps`` estimates) at each checkpoint.
    """
    traj = exp.trajectory
    if traj is None:
        raise ValueError(f"experiment {exp.name!r} has no Trajectory; use train_grid")
    if traj.extra_grad is not None:
        raise ValueError(f"experiment {exp.name!r}: trajectory_seeds does not add extra_grad")
    trainer = traj.build_estimator()
    table = train_grid(
        lambda index: exp.build_problem(index),
        [{"index": i} for i in range(len(exp.points))],
        {trainer.name: (traj.build_estimator, traj.n)},
        runs=runs,
        steps=traj.steps,
        every=traj.every,
        optimizer=lambda: traj.optimizer,
        seed=exp.seed,
        n_reps=n_reps,
        maximize=traj.maximize,
        loss=traj.loss,
    )
    for i, point in enumerate(exp.points):
        for k, v in point.items():
            table.loc[table["at_index"] == i, f"at_{k}"] = v
    front = [c for c in table.columns if c.startswith("at_")]
    return table[front + [c for c in table.columns if c not in front]]


def summary_over_seeds(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (point, trainer, step): loss mean and t interval over the seeds; variance likewise
    on the log scale (geometric mean; rows whose variance is 0 at some seed get NaN there)."""
    by = [c for c in runs.columns if c.startswith("at_")] + ["problem", "trainer", "n", "step"]
    loss = seed_summary(runs, by, ["loss"])
    pos = runs.groupby(by, sort=False)["variance"].transform("min") > 0
    var = seed_summary(runs[pos], by, ["variance"], log=True).drop(columns=["n_seeds"])
    var = var.rename(columns={"interval": "variance_interval"})
    return loss.merge(var, on=by, how="left")


def seed_band(ax: Any, table: pd.DataFrame, x: str, y: str, *, log: bool = False, **style: Any):
    """Plot the mean over seeds of ``y`` against ``x`` with its 95% t band over the seeds.

    ``table`` holds one row per (x, seed) (column ``seed``); ``log=True``: geometric mean
    and the band of the logs (for variances; rows with y <= 0 are dropped). Returns the line.
    """
    t = table[table[y] > 0] if log else table
    s = seed_summary(t.assign(_x=t[x]), ["_x"], [y], log=log).sort_values("_x")
    (line,) = ax.plot(s["_x"], s[f"{y}_mean"], **style)
    ax.fill_between(s["_x"], s[f"{y}_lo"], s[f"{y}_hi"], color=line.get_color(), alpha=0.2, lw=0)
    return line
