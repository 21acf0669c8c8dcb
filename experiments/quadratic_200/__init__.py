"""Double control variates toy (Titsias & Shi 2022): 200 Bernoullis, f = ||b - 0.499||^2 / 200.

D = 200 independent Bernoullis with logits eta (initialised at 0), f(b) = sum_d (b_d -
0.499)^2 / D, declared as a sum of per-coordinate terms (``vartools.core.objectives.separable``)
so that the dependency-aware estimator knows each term reads one coordinate. Training
minimises E[f] with RMSprop (lr 0.01) using RLOO with K = 2 samples (REFERENCES.md, E8);
at checkpoints, the mean over the 200 coordinates of the replicate variance of:

- SF (K = 2 samples, no baseline), RLOO (K = 2), DisARM (1 antithetic pair = 2 evaluations);
- local expectation gradients (1 + D = 201 evaluations per sample): for this separable f
  the local expectation of coordinate d is w_d ((1 - t)^2 - t^2) / D, a constant given eta,
  so its variance is 0 (to rounding);
- dependency-aware Rao-Blackwellization (K = 2; f's terms are evaluated once per sample):
  coordinate d's score multiplies only the term (b_d - t)^2 / D;
- the Double CV estimator itself (``vartools.estimators.double_cv``, K = 2: RLOO plus the
  Taylor control variate with the leave-one-out average gradient 2 (b_j - t) / D, alpha
  fitted on earlier batches by minimising the variance, warmed up over 50 batches at each
  checkpoint) and RODEO (``vartools.estimators.rodeo``, Gibbs Stein operators on the same
  Taylor surrogate, alpha and beta fitted likewise). What differs from the paper: alpha
  is the closed-form minimiser of the running variance estimate instead of an SGD
  iterate, and RODEO's surrogate has no neural network.

The paper measures every 10 steps from 2000 estimates; we measure every 100 steps from
1000 estimates at the full scale (the local-expectation estimator costs 201 f evaluations per
sample) and say so in the README. Seeds: the harness trains the trajectory once (the
measured run, every estimator compared at its parameters); ``tables`` repeats the RLOO
training on 5 further seeds (``seeds.csv``: loss and RLOO's replicate variance per seed and
checkpoint; ``seeds_summary.csv``: mean and Student t 95% interval over the 5 seeds). No
exact oracle: 2^200 states (the exact variance of a separable objective has a closed form,
but the coordinates drift apart along training).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from vartools.control_variates.baselines import loo_baseline
from vartools.core.objectives import separable
from vartools.core.optim import rmsprop
from vartools.core.problem import Problem
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.estimators.arm import disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.double_cv import double_cv
from vartools.estimators.rao_blackwell import dependency_aware, local_expectation
from vartools.estimators.rodeo import rodeo
from vartools.estimators.tuned import fitted_coefficients
from vartools.harness.experiment import Experiment, Scale, Trajectory

__all__ = [
    "D",
    "EXPERIMENT",
    "HYPERPARAMETERS",
    "SEEDS",
    "TARGET",
    "estimators",
    "expected_loss",
    "problem",
    "tables",
]

#: Seeds of the repeated training (``seeds.csv``) and replicates per checkpoint, per scale.
SEEDS = {"full": (5, 1000), "quick": (2, 100)}

D = 200
TARGET = 0.499


def problem() -> Problem:
    """200 Bernoullis at logit 0, f = ||b - 0.499||^2 / 200 as a sum of per-coordinate terms."""
    return Problem(
        "quadratic_200",
        Bernoulli(np.zeros(D)),
        separable(
            lambda b: (b - TARGET) ** 2 / D,
            D,
            grad=lambda b: 2.0 * (b - TARGET) / D,  # on real b: Double CV and RODEO use it
            name="||b - 0.499||^2 / 200",
        ),
        description="200 Bernoullis, f = ||b - 0.499||^2 / 200 (Titsias & Shi 2022)",
    )


def expected_loss(prob: Problem) -> float:
    """E[f] = mean_d [theta_d (1 - t)^2 + (1 - theta_d) t^2] (exact, f is separable)."""
    theta = special.expit(prob.dist.params)
    return float(np.mean(theta * (1 - TARGET) ** 2 + (1 - theta) * TARGET**2))


def estimators() -> list[Estimator]:
    """SF, RLOO, DisARM, local expectation, dependency-aware RB, Double CV and RODEO."""
    return [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, loo_baseline(), name="rloo"),
        make_estimator(disarm, name="disarm"),
        make_estimator(local_expectation, name="local_expectation"),
        make_estimator(dependency_aware, name="dependency_aware"),
        make_estimator(double_cv(0.0), fitted_coefficients(), name="double_cv"),
        make_estimator(rodeo(0.0, 0.0), fitted_coefficients(), name="rodeo"),
    ]


EXPERIMENT = Experiment(
    name="quadratic_200",
    summary_rows="aggregates",  # thousands of per-coordinate rows would not be worth committing
    description=(
        "Double-CV toy (Titsias & Shi 2022): 200 Bernoullis, f = ||b - 0.499||^2 / 200, "
        "trained with RLOO (K = 2) and RMSprop (lr 0.01); mean per-dimension replicate "
        "variance of SF, RLOO, DisARM, local expectation, dependency-aware "
        "Rao-Blackwellization, Double CV and RODEO along training."
    ),
    problem=problem,
    estimators=estimators(),
    n_samples=[1, 2],  # DisARM at 1 pair = 2 evaluations, the others at K = 2
    n_reps=1000,
    seed=62,
    trajectory=Trajectory(
        estimator=make_estimator(score_function, loo_baseline(), name="rloo"),
        n=2,
        optimizer=rmsprop(0.01),
        steps=2000,
        every=100,
        loss=expected_loss,
    ),
    quick=Scale(n_reps=200, steps=200, every=100),
    exact=False,
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Harness hook: the RLOO training repeated on 5 seeds (``seeds.csv``, its summary)."""
    from experiments._training_grid import summary_over_seeds, trajectory_seeds

    runs, reps = SEEDS[exp.scale]
    seeds = trajectory_seeds(exp, runs=runs, n_reps=reps)
    keep = [c for c in seeds.columns if not c.startswith("theta[")]  # 200 logits: not kept
    return {"seeds": seeds[keep], "seeds_summary": summary_over_seeds(seeds)}


#: The training set-up, machine readable (``experiments._training_grid.HYPERPARAMETER_KEYS``).
HYPERPARAMETERS = {
    "trainer": "rloo (score function, leave-one-out baseline)",
    "samples_per_step": EXPERIMENT.trajectory.n,
    "batch_size": None,  # no data set
    "optimizer": "rmsprop",
    "learning_rate": 0.01,
    "lr_schedule": "constant",
    "steps": EXPERIMENT.trajectory.steps,
    "checkpoint_every": EXPERIMENT.trajectory.every,
    "n_reps": EXPERIMENT.n_reps,
    "ema_decay": None,
    "warmup_batches": EXPERIMENT.warmup,  # Double CV / RODEO coefficients at frozen parameters
    "seeds": 1 + SEEDS["full"][0],
    "seed_root": EXPERIMENT.seed,
}
