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

__all__ = ["EXPERIMENT", "estimators", "exact_table", "problem"]

SEED = 65
STEPS_FULL = (0, 300, 1000, 3000)
STEPS_QUICK = (0, 300)
BATCH_IDS = (0, 1, 2, 3)  # the measurement minibatch: the first four digits (0, 1, 2, 3)


@functools.lru_cache(maxsize=2)
def _trained(until: int) -> dict[int, SBN]:
    steps = STEPS_FULL if until == STEPS_FULL[-1] else STEPS_QUICK
    return train_sbn(until, seed=SEED, snapshots=steps)[0]


def problem(step: int, until: int) -> Problem:
    """The encoder-gradient problem at training step ``step`` of a run of ``until`` steps."""
    x = load_digits_binary()[list(BATCH_IDS)]
    return encoder_problem(_trained(until)[step], x, name=f"sbn_digits(step={step})")


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
    points=[{"step": s, "until": STEPS_FULL[-1]} for s in STEPS_FULL],
    estimators=estimators(),
    n_samples=[1, 2, 32],
    n_reps=500,
    seed=SEED,
    quick=Scale(
        n_reps=100,
        n_samples=[1, 2, 8],
        points=[{"step": s, "until": STEPS_QUICK[-1]} for s in STEPS_QUICK],
    ),
    plot=Plot(x="n_evals"),
    exact=False,
    warmup=0,
)


def exact_table(scale: str = "full") -> pd.DataFrame:
    """The training run's ELBO per example on all 1797 digits (Monte Carlo, 16 draws)."""
    until = STEPS_FULL[-1] if scale == "full" else STEPS_QUICK[-1]
    _, curve = train_sbn(until, seed=SEED, elbo_every=max(until // 30, 1))
    return pd.DataFrame(curve, columns=["step", "elbo"])
