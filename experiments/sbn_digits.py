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
from typing import Any

import numpy as np
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
    x="n_evals",
    exact=False,
    warmup=0,
)


def exact_table(scale: str = "full") -> pd.DataFrame:
    """The training run's ELBO per example on all 1797 digits (Monte Carlo, 16 draws)."""
    until = STEPS_FULL[-1] if scale == "full" else STEPS_QUICK[-1]
    _, curve = train_sbn(until, seed=SEED, elbo_every=max(until // 30, 1))
    return pd.DataFrame(curve, columns=["step", "elbo"])


STYLE = {
    "sf+rloo": ("SF + RLOO (n samples)", "o"),
    "arm": ("ARM (n pairs)", "^"),
    "disarm": ("DisARM (n pairs)", "D"),
    "local_expectation": ("local expectation (n samples)", "*"),
}


def _figures(summary: pd.DataFrame, exact: Any, out_dir: Any, training: Any = None) -> list[Any]:
    """ELBO against steps, and the mean encoder-gradient variance against f evaluations."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments._common import run_size
    from vartools.plots.figures import errorbar_ci, palette, save_figure

    colors = palette(STYLE)
    s = summary[summary["kind"] == "mean"]
    steps = sorted(s["at_step"].astype(int).unique())
    ncol = min(3, len(steps) + 1)
    nrow = -(-(len(steps) + 1) // ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.9 * nrow + 0.6), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(nrow, ncol)).ravel())
    for extra in axes[len(steps) + 1 :]:
        extra.set_visible(False)
    ax = axes[0]
    if exact is not None:
        ax.plot(exact["step"], exact["elbo"], "-", color="k", lw=1.2)
    for st in steps:
        ax.axvline(st, color="0.7", ls=":", lw=1)
    ax.set_xlabel("training step")
    ax.set_ylabel("ELBO per digit (nats)")
    ax.set_title("training (RLOO, Adam)")
    ax.grid(alpha=0.3)
    for ax, st in zip(axes[1 : len(steps) + 1], steps, strict=True):
        sub = s[s["at_step"].astype(int) == st]
        for name, (label, marker) in STYLE.items():
            m = sub[sub["estimator"] == name].sort_values("n_evals")
            errorbar_ci(ax, m, "n_evals", fmt=marker + "-", color=colors[name], label=label)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("f evaluations per estimate")
        ax.set_ylabel("variance, mean over encoder weights")
        ax.set_title(f"step {st}")
        ax.grid(alpha=0.3, which="both")
    axes[1].legend(fontsize=8, frameon=False)
    n_reps, scale = run_size(summary)
    fig.suptitle(f"Sigmoid belief net on 8x8 digits: {n_reps} replicates, 95% CIs ({scale} scale)")
    return save_figure(fig, Path(out_dir) / "variance_vs_evals")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir, training=extra.get("training"))
