"""The ARM toy's p0 grid: f = (z - p0)^2, each estimator trained separately (Yin & Zhou 2019).

The p0 grid (Yin & Zhou 2019, Fig. 1; ``p0_grid.csv``, figure ``p0_grid``): f = (z - p0)^2
for p0 in {0.49, 0.499, 0.501, 0.51}, each of REINFORCE, RLOO (K = 2), ARM, DisARM, REBAR
and RELAX trained separately (5 seeds, 2000 Adam steps at lr 0.01, by
``experiments/_training_grid.py``), with sigmoid(phi), the exact E[f] and the replicate
variance of the trainer's own estimate against the iteration. What differs from the
paper: the variance is a replicate variance (1000 estimates per checkpoint), not a moving
average along one run; 5 seeds (Student t 95% intervals over them in
``p0_grid_summary.csv``); REBAR / RELAX as in ``experiments/rebar_relax_toy.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vartools.core.objectives import square_distance
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.harness.experiment import Experiment

from .oracles import exact_table

__all__ = ["GRID", "P0_VALUES", "grid_problem", "tables"]


P0_VALUES = (0.49, 0.499, 0.501, 0.51)
#: Training scale of the p0 grid: (runs, steps, every, replicates per checkpoint).
GRID = {"full": (5, 2000, 100, 1000), "quick": (2, 200, 100, 100)}
#: Seeds of the ARM-trained trajectory repeated (``seeds.csv``), and replicates per checkpoint.
TRAJECTORY_SEEDS = {"full": (5, 500), "quick": (2, 100)}


def grid_problem(p0: float) -> Problem:
    """One Bernoulli at logit 0, f = (z - p0)^2 (maximised)."""
    return Problem(
        f"arm_toy(p0={p0:g})", Bernoulli(np.zeros(1)), square_distance(p0), description="p0 grid"
    )


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Harness hook: the exact curves, the p0 grid trained estimator by estimator (with its
    summary over seeds) and the ARM-trained trajectory repeated on 5 seeds (``seeds.csv``,
    ``seeds_summary.csv``)."""
    from experiments._training_grid import summary_over_seeds, train_grid, trajectory_seeds
    from experiments.rebar_relax_toy import TRAINERS

    runs, steps, every, reps = GRID[exp.scale]
    grid = train_grid(
        grid_problem,
        [{"p0": p0} for p0 in P0_VALUES],
        TRAINERS,
        runs=runs,
        steps=steps,
        every=every,
        optimizer=lambda: adam(0.01),
        seed=exp.seed,
        n_reps=reps,
        maximize=True,
    )
    runs, reps = TRAJECTORY_SEEDS[exp.scale]
    seeds = trajectory_seeds(exp, runs=runs, n_reps=reps)
    return {
        "exact": exact_table(exp.scale),
        "p0_grid": grid,
        "p0_grid_summary": summary_over_seeds(grid),
        "seeds": seeds,
        "seeds_summary": summary_over_seeds(seeds),
    }
