"""Binary VAE / sigmoid belief net on the 8x8 digits: encoder-gradient variance along training.

scikit-learn's 8x8 digits (1797 images, binarised at pixel > 7 of 16) stand in for MNIST
(REFERENCES.md, E9). One layer of K = 16 Bernoulli latents, linear encoder and decoder,
trained by Adam (lr 3e-3, minibatches of 32) on the ELBO with RLOO (2 samples per digit) for
the encoder and exact conditional gradients for the decoder and prior
(``vartools.catalogue.sbn``). At snapshots along training (the parameter points ``step``),
for a fixed minibatch of 4 digits, the replicate variance (95% CI) of the gradient with
respect to the encoder weights (K x (64 + 1) = 1040 parameters, mean over them) of:

- SF + RLOO (n samples, n evaluations of f);
- ARM and DisARM (n antithetic pairs, 2n evaluations);
- local expectation gradients (n samples, n (1 + 4 x 16) = 65 n evaluations),

plotted against the f-evaluation budget, plus the ELBO curve of the training run.
DisARM's paper reports an exponential moving average of g and g^2 along training; we report
the replicate variance at frozen parameters.

Seeds: 5 training runs (``train_sbn(run=s)``, s = 0..4: independent initial weights,
minibatches and latent draws; run 0 is the original run), each measured at its own
snapshots (the points carry ``run``; summary.csv column ``at_run``). ``variance_summary.csv``:
per (snapshot step, estimator, n) the geometric mean over the 5 runs of the mean
encoder-weight variance with a Student t 95% interval of its logs; ``exact.csv`` the ELBO
curve of every run (column ``seed``) and ``elbo_summary.csv`` its mean and t interval.
"""

from __future__ import annotations

import functools

import pandas as pd

from vartools.catalogue.sbn import (
    SBN,
    encoder_chain_rule,
    encoder_problem,
    load_digits_binary,
    train_sbn,
)
from vartools.control_variates.baselines import loo_baseline
from vartools.core.problem import Problem
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rao_blackwell import local_expectation
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot

__all__ = [
    "EXPERIMENT",
    "HYPERPARAMETERS",
    "SEEDS",
    "estimators",
    "exact_table",
    "problem",
    "tables",
]

SEED = 65
#: Training runs (seeds) per scale.
SEEDS = {"full": 5, "quick": 2}
STEPS_FULL = (0, 300, 1000, 3000)
STEPS_QUICK = (0, 300)
BATCH_IDS = (0, 1, 2, 3)  # the measurement minibatch: the first four digits (0, 1, 2, 3)


@functools.lru_cache(maxsize=16)
def _trained(until: int, run: int = 0) -> dict[int, SBN]:
    steps = STEPS_FULL if until == STEPS_FULL[-1] else STEPS_QUICK
    return train_sbn(until, seed=SEED, snapshots=steps, run=run)[0]


def problem(step: int, until: int, run: int = 0) -> Problem:
    """The encoder-gradient problem at step ``step`` of training run ``run`` of ``until`` steps.

    Run 0 keeps its original name (and hence its seed-tree nodes); run s > 0 is named
    ``sbn_digits(step=..., seed=s)``.
    """
    x = load_digits_binary()[list(BATCH_IDS)]
    name = f"sbn_digits(step={step})" if run == 0 else f"sbn_digits(step={step}, seed={run})"
    return encoder_problem(_trained(until, run)[step], x, name=name)


def estimators() -> list[Estimator]:
    """SF + RLOO, ARM, DisARM and local expectation gradients, for the encoder weights."""
    return [
        make_estimator(score_function, loo_baseline(), name="sf+rloo"),
        make_estimator(encoder_chain_rule(arm), name="arm"),
        make_estimator(encoder_chain_rule(disarm), name="disarm"),
        make_estimator(encoder_chain_rule(local_expectation), name="local_expectation"),
    ]


EXPERIMENT = Experiment(
    name="sbn_digits",
    summary_rows="aggregates",  # thousands of per-coordinate rows would not be worth committing
    description=(
        "Binary VAE (sigmoid belief net, 16 latents, linear encoder and decoder) on the "
        "binarised 8x8 digits, trained with RLOO: replicate variance of the encoder-weight "
        "gradient of SF + RLOO, ARM, DisARM and local expectation gradients against f "
        "evaluations at snapshots along training, with the ELBO."
    ),
    problem=problem,
    points=[
        {"step": s, "until": STEPS_FULL[-1], "run": r}
        for r in range(SEEDS["full"])
        for s in STEPS_FULL
    ],
    estimators=estimators(),
    n_samples=[1, 2, 32],
    n_reps=500,
    seed=SEED,
    quick=Scale(
        n_reps=100,
        n_samples=[1, 2, 8],
        points=[
            {"step": s, "until": STEPS_QUICK[-1], "run": r}
            for r in range(SEEDS["quick"])
            for s in STEPS_QUICK
        ],
    ),
    plot=Plot(x="n_evals"),
    exact=False,
    warmup=0,
)


def exact_table(scale: str = "full") -> pd.DataFrame:
    """Every training run's ELBO per example on all 1797 digits (Monte Carlo, 16 draws)."""
    until = STEPS_FULL[-1] if scale == "full" else STEPS_QUICK[-1]
    parts = []
    for run in range(SEEDS[scale]):
        _, curve = train_sbn(until, seed=SEED, elbo_every=max(until // 30, 1), run=run)
        parts.append(pd.DataFrame(curve, columns=["step", "elbo"]).assign(seed=run))
    return pd.concat(parts, ignore_index=True)[["seed", "step", "elbo"]]


def variance_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Per (snapshot, estimator, n): the mean encoder-weight variance over the runs (t 95%)."""
    from vartools.measure.training import seed_summary

    m = summary[summary["kind"] == "mean"].rename(columns={"at_run": "seed"})
    by = ["at_step", "estimator", "n", "n_evals"]
    return seed_summary(m, by, ["variance"], log=True)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Harness hook: the ELBO curves of the runs, their summary and the variance summary."""
    from vartools.measure.training import seed_summary

    curves = exact_table(exp.scale)
    out = {"exact": curves, "elbo_summary": seed_summary(curves, ["step"], ["elbo"])}
    if summary is not None:
        out["variance_summary"] = variance_summary(summary)
    return out


#: The training set-up, machine readable (``experiments._training_grid.HYPERPARAMETER_KEYS``):
#: ``train_sbn``'s defaults.
HYPERPARAMETERS = {
    "trainer": "sf+rloo for the encoder (2 samples per digit); exact gradients for the decoder",
    "samples_per_step": 2,
    "batch_size": 32,
    "optimizer": "adam",
    "learning_rate": 3e-3,
    "lr_schedule": "constant",
    "steps": STEPS_FULL[-1],
    "checkpoint_every": "snapshots at steps 0, 300, 1000, 3000; ELBO every 100",
    "n_reps": EXPERIMENT.n_reps,
    "ema_decay": None,
    "warmup_batches": EXPERIMENT.warmup,
    "seeds": SEEDS["full"],
    "seed_root": SEED,
}
