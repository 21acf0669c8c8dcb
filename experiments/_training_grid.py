"""Train several estimators *separately* on the same problem, several seeds each (a helper).

The harness's ``Trajectory`` trains once with one estimator and measures the others at
its parameters; the REBAR / RELAX and ARM papers instead train every estimator on its
own. ``train_grid`` does that: for every point, trainer and seed it runs Adam on the
logits with the trainer's estimate (its state, e.g. REBAR's eta and temperature or
RELAX's surrogate, carried along), and at checkpoints records the exact loss E[f] and
the replicate variance of the trainer's own estimator at the current parameters and
state (common random numbers across trainers at the same point, seed and step). Seeds
come from the seed tree ``(seed, problem, trainer, run, ...)`` only, so the table does
not depend on the order of the loops. Called from the experiments' ``tables`` hooks.
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
from vartools.measure.statistics import replicate_stats
from vartools.oracles.exact import exact_expectation

__all__ = ["train_grid"]


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
) -> pd.DataFrame:
    """One row per (point, trainer, run, checkpoint): loss, parameters and variance.

    Args:
        problem: factory (**point) -> Problem (an enumerable one: the loss is exact).
        points: the factory's keyword arguments, one problem each.
        trainers: label -> (estimator factory, n samples or pairs per step).
        runs: seeds per (point, trainer).
        steps: optimisation steps.
        every: checkpoint interval (step 0 and the last step are always included).
        optimizer: factory of a fresh optimiser per run.
        seed: root of the seed tree.
        n_reps: replicate estimates for the variance at each checkpoint.
        maximize: ascend E[f] instead of descending it.
    """
    checkpoints = set(range(0, steps + 1, every)) | {steps}
    rows: list[dict[str, Any]] = []
    for point in points:
        base = problem(**point)
        at = {f"at_{k}": v for k, v in point.items()}
        for label, (make, n) in trainers.items():
            for run in range(runs):
                est, opt = make(), optimizer()
                theta = np.array(base.dist.params, dtype=np.float64)
                opt_state, state = opt.init(theta), est.init(base)
                rng = generator(seed, base.name, label, run, "train")
                for step in range(steps + 1):
                    prob = base.with_params(theta)
                    if step in checkpoints:
                        mrng = generator(seed, base.name, run, step, "measure")
                        g, _ = est(prob, n, rng=mrng, reps=(n_reps,), state=state)
                        st = replicate_stats(g)
                        row = {
                            **at,
                            "problem": base.name,
                            "trainer": label,
                            "n": n,
                            "run": run,
                            "step": step,
                            "loss": exact_expectation(prob),
                            "variance": float(st["variance"].mean()),
                            "variance_se": float(np.sqrt((st["variance_se"] ** 2).mean())),
                            "n_reps": n_reps,
                            **{f"theta[{i}]": float(t) for i, t in enumerate(theta)},
                            **_state_columns(state),
                        }
                        rows.append(row)
                    if step == steps:
                        break
                    g, state = est(prob, n, rng=rng, state=state)
                    delta, opt_state = opt.update(-g if maximize else g, opt_state, step)
                    theta = theta + delta
    return pd.DataFrame(rows)
