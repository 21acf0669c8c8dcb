"""The Bernoulli toy of REBAR (Tucker et al. 2017, t = 0.45) and RELAX (Grathwohl et al. 2018).

Minimise E_{b ~ Bernoulli(sigmoid(phi))}[(b - t)^2] over the logit phi, from phi = 0, one
sample per step, Adam with learning rate 0.01 (REFERENCES.md, E5). The exact gradient is
sigmoid(phi) (1 - sigmoid(phi)) (1 - 2 t).

Compared estimators (f evaluations per estimate in brackets):
score function (1), + EMA baseline (decay 0.9; 1), + optimal baseline b* = E[f s^2] / E[s^2]
computed exactly at the current logit (an oracle coefficient; 1), the same baseline fitted
from running moments of earlier batches only (``optimal_baseline("running")``, warmed up for
50 batches at each checkpoint; 1), RLOO with K = 2 (2), ARM
(Yin & Zhou 2019; 2), DisARM (Dong et al. 2020; 2) and the exact gradient, which is the
Rao-Blackwellization (local expectation) of a single Bernoulli: w (f(1) - f(0)) (2; variance 0).

One trajectory per t, trained with SF (REINFORCE, batch 1: the paper's baseline; RELAX
trains every estimator separately, the harness trains once and measures every estimator
at the same parameters, on common random numbers). At checkpoints: the loss E[f] (exact),
and for every estimator the replicate variance at the current logit (and warmed-up state,
for the EMA baseline) with a 95% CI, and its exact variance. The second figure plots the
same markers against theta = sigmoid(logit), over exact curves on a grid of logits
(``exact_table``; ARM and DisARM by the closed forms below). RELAX's toy script stores a
standard deviation under the name "variance"; we report a real variance.

Seeds: the harness trains the trajectory above once (the measured run; every estimator is
compared at its parameters). ``tables`` repeats that SF training on 5 further seeds
(``seeds.csv``: loss, logit and SF's replicate variance per seed and checkpoint;
``seeds_summary.csv``: mean and Student t 95% interval over the 5 seeds), drawn as the band
of the loss panel.

Exact oracles for one Bernoulli (this module): the score-function family via
vartools.oracles.exact (enumeration) and ARM / DisARM by integrating the uniform u piecewise (the
estimators are piecewise constant, or piecewise linear, in u).
"""

from __future__ import annotations

import pandas as pd

from vartools.core.optim import adam
from vartools.estimators.base import score_function
from vartools.estimators.composed import make_estimator
from vartools.harness.experiment import Experiment, Scale, Trajectory

from .models import T_VALUES, estimators, problem
from .oracles import exact_table

__all__ = ["EXPERIMENT", "HYPERPARAMETERS", "SEEDS", "exact_table", "tables"]

#: Seeds of the repeated training (``seeds.csv``) and replicates per checkpoint, per scale.
SEEDS = {"full": (5, 1000), "quick": (2, 100)}

EXPERIMENT = Experiment(
    name="bernoulli_toy",
    description=(
        "REBAR / RELAX Bernoulli toy (Tucker et al. 2017, t = 0.45; Grathwohl et al. 2018, "
        "t = 0.499): minimise E[(b - t)^2] over the logit from 0 with Adam (lr 0.01), trained "
        "with SF (REINFORCE, batch 1); at checkpoints, the replicate variance (95% CI) and exact "
        "variance of SF, SF + EMA baseline, SF + optimal baseline, RLOO (K = 2), ARM, DisARM "
        "and the Rao-Blackwellised exact gradient."
    ),
    problem=problem,
    points=[{"t": t} for t in T_VALUES],
    estimators=estimators(),
    n_samples=[1, 2],
    n_reps=1000,
    seed=61,
    trajectory=Trajectory(
        estimator=make_estimator(score_function, name="sf"),
        n=1,
        optimizer=adam(0.01),
        steps=10_000,
        every=250,
    ),
    quick=Scale(n_reps=400, steps=2000, every=500),
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Harness hook: the exact curves and the SF training repeated on 5 seeds."""
    from experiments._training_grid import summary_over_seeds, trajectory_seeds

    runs, reps = SEEDS[exp.scale]
    seeds = trajectory_seeds(exp, runs=runs, n_reps=reps)
    return {
        "exact": exact_table(exp.scale),
        "seeds": seeds,
        "seeds_summary": summary_over_seeds(seeds),
    }


#: The training set-up, machine readable (keys shared by every training experiment:
#: ``experiments._training_grid.HYPERPARAMETER_KEYS``); values at the full scale.
HYPERPARAMETERS = {
    "trainer": "sf (score function, no baseline)",
    "samples_per_step": EXPERIMENT.trajectory.n,
    "batch_size": None,  # no data set: one Bernoulli
    "optimizer": "adam",
    "learning_rate": 0.01,
    "lr_schedule": "constant",
    "steps": EXPERIMENT.trajectory.steps,
    "checkpoint_every": EXPERIMENT.trajectory.every,
    "n_reps": EXPERIMENT.n_reps,
    "ema_decay": 0.9,  # the compared sf+ema baseline
    "warmup_batches": EXPERIMENT.warmup,  # stateful baselines, at frozen parameters
    "seeds": 1 + SEEDS["full"][0],  # the measured run and 5 repeated trainings
    "seed_root": EXPERIMENT.seed,
}
