"""ARM toy (Yin & Zhou 2019, as re-implemented in alekdimi/arms): one Bernoulli, f = (z - 0.49)^2.

E_{z ~ Bernoulli(sigmoid(phi))}[(z - 0.49)^2] is *maximised* by gradient ascent on the logit
phi from 0 (Adam, lr 0.01, trained with ARM); the maximiser is sigmoid(phi) -> 1. Along the
trajectory, the replicate variance (500 estimates, 95% CI) of SF, RLOO (K = 2), ARM and
DisARM, plotted against sigmoid(phi) with the exact variance of each estimator on a dense
grid of sigmoid(phi) (REFERENCES.md, E7). SF and RLOO are exact by enumeration; ARM and
DisARM by integrating the uniform u cell by cell (``vartools.estimators.arm.antithetic_moments``).
Compared at equal cost: ARM / DisARM use 1 antithetic pair (2 evaluations), SF and RLOO
K = 2 samples; SF with one sample is also shown. The ARM-trained trajectory is also
repeated on 5 seeds (``seeds.csv``: loss, sigmoid(phi) and ARM's replicate variance per seed
and checkpoint; ``seeds_summary.csv``: mean and Student t 95% interval over the seeds).

The p0 grid (Yin & Zhou 2019, Fig. 1; ``p0_grid.csv``, figure ``p0_grid``): f = (z - p0)^2
for p0 in {0.49, 0.499, 0.501, 0.51}, each of REINFORCE, RLOO (K = 2), ARM, DisARM, REBAR
and RELAX trained separately (5 seeds, 2000 Adam steps at lr 0.01, by
``experiments/_training_grid.py``), with sigmoid(phi), the exact E[f] and the replicate
variance of the trainer's own estimate against the iteration. What differs from the
paper: the variance is a replicate variance (1000 estimates per checkpoint), not a moving
average along one run; 5 seeds; REBAR / RELAX as in ``experiments/rebar_relax_toy.py``.
"""

from __future__ import annotations

from vartools.core.optim import adam
from vartools.estimators.arm import arm
from vartools.estimators.composed import make_estimator
from vartools.harness.experiment import Experiment, Scale, Trajectory

from .grid import TRAJECTORY_SEEDS, tables
from .models import estimators, problem
from .oracles import exact_table

__all__ = ["EXPERIMENT", "HYPERPARAMETERS", "exact_table", "tables"]

EXPERIMENT = Experiment(
    name="arm_toy",
    description=(
        "ARM toy (Yin & Zhou 2019): maximise E[(z - 0.49)^2] over one Bernoulli logit with "
        "Adam (lr 0.01), trained with ARM; replicate variance of SF, RLOO, ARM and DisARM "
        "against sigmoid(phi) along the trajectory, with exact curves."
    ),
    problem=problem,
    estimators=estimators(),
    n_samples=[1, 2],
    n_reps=500,
    seed=63,
    trajectory=Trajectory(
        estimator=make_estimator(arm, name="arm"),
        n=1,
        optimizer=adam(0.01),
        steps=2000,
        every=50,
        maximize=True,
    ),
    quick=Scale(n_reps=500, steps=1000, every=100),
)


#: The training set-up, machine readable (``experiments._training_grid.HYPERPARAMETER_KEYS``):
#: the ARM-trained trajectory; the p0 grid (``GRID``) trains every estimator the same way
#: for 2000 steps, checkpoints every 100, 1000 replicates, 5 seeds.
HYPERPARAMETERS = {
    "trainer": "arm (1 antithetic pair; the p0 grid: each estimator)",
    "samples_per_step": EXPERIMENT.trajectory.n,
    "batch_size": None,  # no data set: one Bernoulli
    "optimizer": "adam",
    "learning_rate": 0.01,
    "lr_schedule": "constant",
    "steps": EXPERIMENT.trajectory.steps,
    "checkpoint_every": EXPERIMENT.trajectory.every,
    "n_reps": EXPERIMENT.n_reps,
    "ema_decay": None,
    "warmup_batches": EXPERIMENT.warmup,
    "seeds": 1 + TRAJECTORY_SEEDS["full"][0],  # the measured run and 5 repeated trainings
    "seed_root": EXPERIMENT.seed,
}
