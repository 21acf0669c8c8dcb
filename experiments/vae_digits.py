"""Binary VAE with MLP encoder and decoder in JAX on the 8x8 digits: encoder-gradient variance.

A VAE with K = 8 Bernoulli latents and tanh-MLP encoder and decoder (32 hidden units) on
scikit-learn's binarised 8x8 digits, written as a vartools JAX model
(``vartools.jax.vae``): theta = the encoder's 2,344 weights, named by layer (``w1[i,j]``,
``b1[j]``, ...).

- Variance (the harness sweep): at snapshots along a reference training run (SF + RLOO,
  4 samples per step, Adam, minibatches of 32, seed 0), for one fixed digit, the replicate
  variance (95% CI, mean over the encoder weights) of SF, SF + RLOO, ARM, DisARM, local
  expectation, Gumbel-softmax (tau = 0.5) and straight-through at equal f-evaluation
  budgets (8 per estimate: n = 8 samples, 4 antithetic pairs, or one local-expectation
  sample that flips each of the 8 latents). With one digit the 2^8 latent configurations
  are enumerated, so the exact gradient is known and the bias of the two relaxations
  (``biased``) is measured (their MSE against the truth is plotted beside the variance).
- Training (the ``training_curves`` table): the VAE trained with each estimator, 3 seeds,
  ELBO per digit on all 1,797 digits against steps and against training wall time
  (kernel compilation at step 0 and ELBO evaluations excluded).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pandas as pd

from vartools.catalogue.sbn import load_digits_binary
from vartools.control_variates.baselines import loo_baseline
from vartools.core.problem import Problem
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rao_blackwell import local_expectation
from vartools.estimators.relaxations import gumbel_softmax, straight_through
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot

SEED = 8
BUDGET = 8  # f evaluations per estimate in the equal-budget comparison
STEPS_FULL = (0, 100, 300, 1000, 2000)
STEPS_QUICK = (0, 20)
DIGIT = 0  # the measurement digit (index into the data)
TRAIN = {
    "full": {"steps": 2000, "seeds": (0, 1, 2), "every": 100},
    "quick": {"steps": 20, "seeds": (0, 1), "every": 10},
}

# (name, estimator factory, n per training step): 4 evaluations of f per training step,
# except local expectation (1 + K flips per digit: n D = 256 for 32 digits x 8 latents)
STYLE = {
    "sf": ("SF", "o"),
    "sf+rloo": ("SF + RLOO", "s"),
    "arm": ("ARM", "^"),
    "disarm": ("DisARM", "D"),
    "local_expectation": ("local expectation", "*"),
    "gumbel_softmax": ("Gumbel-softmax (0.5, biased)", "v"),
    "straight_through": ("straight-through (biased)", "x"),
}


def estimators() -> list[Estimator]:
    """The compared estimators of the encoder gradient, by the names of STYLE."""
    import vartools.jax as vj

    return [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, loo_baseline(), name="sf+rloo"),
        make_estimator(vj.via_logits(arm), name="arm"),
        make_estimator(vj.via_logits(disarm), name="disarm"),
        make_estimator(vj.via_logits(local_expectation), name="local_expectation"),
        make_estimator(vj.via_logits(gumbel_softmax(0.5)), name="gumbel_softmax"),
        make_estimator(vj.via_logits(straight_through()), name="straight_through"),
    ]


TRAIN_N = {
    "sf": 4,
    "sf+rloo": 4,
    "arm": 2,
    "disarm": 2,
    "local_expectation": 1,
    "gumbel_softmax": 4,
    "straight_through": 4,
}


@functools.lru_cache(maxsize=2)
def _reference(until: int) -> dict[int, Any]:
    from vartools.jax.vae import train_vae

    snaps = STEPS_FULL if until == STEPS_FULL[-1] else STEPS_QUICK
    est = make_estimator(score_function, loo_baseline())
    return train_vae(est, load_digits_binary(), until, seed=SEED, n=4, snapshots=snaps)[1]


def problem(step: int, until: int) -> Problem:
    """The encoder-gradient problem for one digit at step ``step`` of the reference run."""
    from vartools.jax.vae import encoder_problem

    x = load_digits_binary()[[DIGIT]]
    return encoder_problem(
        _reference(until)[step], x, name=f"vae_digits(step={step})", enumerate_support=True
    )


EXPERIMENT = Experiment(
    name="vae_digits",
    description=(
        "Binary VAE (8 latents, tanh-MLP encoder and decoder, JAX) on the binarised 8x8 "
        "digits: replicate variance of the encoder-weight gradient of SF, SF + RLOO, ARM, "
        "DisARM, local expectation, Gumbel-softmax and straight-through at equal f-evaluation "
        "budgets along training, and the ELBO of training with each (3 seeds)."
    ),
    problem=problem,
    points=[{"step": s, "until": STEPS_FULL[-1]} for s in STEPS_FULL],
    estimators=estimators(),
    n_samples=[1, 4, 8],
    n_reps=1000,
    seed=SEED,
    quick=Scale(
        n_reps=200,
        points=[{"step": s, "until": STEPS_QUICK[-1]} for s in STEPS_QUICK],
    ),
    plot=Plot(x="n_evals"),
    warmup=0,
)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Training curves: ELBO per digit against steps and wall time, per estimator and seed."""
    from vartools.jax.vae import train_vae

    cfg = TRAIN[exp.scale]
    data = load_digits_binary()
    rows = []
    for est in estimators():
        for seed in cfg["seeds"]:
            curve, _ = train_vae(
                est,
                data,
                cfg["steps"],
                seed=100 + seed,
                n=TRAIN_N[est.name],
                elbo_every=cfg["every"],
            )
            rows += [
                {"estimator": est.name, "seed": seed, "n": TRAIN_N[est.name], **c} for c in curve
            ]
    return {"training_curves": pd.DataFrame(rows)}


def _figures(summary: pd.DataFrame, curves: Any, out_dir: Any) -> list[Any]:
    from matplotlib.figure import Figure

    from vartools.plots.helpers import errorbar_ci, run_size
    from vartools.plots.style import estimator_colors, save_figure

    colors = estimator_colors(STYLE)
    s = summary[summary["kind"] == "mean"]
    # per estimator, the smallest cost >= BUDGET: 8 for all but local expectation (1 + 8)
    cost = s[s["n_evals"] >= BUDGET].groupby("estimator")["n_evals"].min()
    s = s[s["n_evals"] == s["estimator"].map(cost)]
    fig = Figure(figsize=(14, 5.0), layout="constrained")
    ax_v, ax_s, ax_t = fig.subplots(1, 3)
    for name, (label, marker) in STYLE.items():
        m = s[s["estimator"] == name].sort_values("at_step")
        if m.empty:
            continue
        lab = f"{label}, {int(m['n_evals'].iloc[0])} evals"
        errorbar_ci(ax_v, m, "at_step", fmt=marker + "-", color=colors[name], label=lab)
        if bool(m["biased"].iloc[0]):
            ax_v.plot(m["at_step"], m["mse"], marker + ":", color=colors[name], alpha=0.6)
    ax_v.set_yscale("log")
    ax_v.set_xlabel("training step (reference run: SF + RLOO)")
    ax_v.set_ylabel(f"variance at ~{BUDGET} f evaluations (mean over weights)")
    ax_v.set_title("encoder-gradient variance (dotted: MSE of the biased ones)")
    ax_v.grid(alpha=0.3, which="both")
    handles, labels = ax_v.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    if curves is not None:
        for name, (label, _) in STYLE.items():
            c = curves[curves["estimator"] == name]
            if c.empty:
                continue
            g = c.groupby("step")
            for ax, x in ((ax_s, g["step"].first()), (ax_t, g["seconds"].median())):
                lo, hi = g["elbo"].min(), g["elbo"].max()
                ax.plot(x, g["elbo"].mean(), "-", color=colors[name], label=label)
                ax.fill_between(x, lo, hi, color=colors[name], alpha=0.2, lw=0)
        nseeds = curves["seed"].nunique()
        for ax, xl in ((ax_s, "training step"), (ax_t, "training wall time (s)")):
            ax.set_xlabel(xl)
            ax.set_ylabel("ELBO per digit (nats)")
            ax.set_title(f"training: mean and range over {nseeds} seeds")
            ax.set_ylim(bottom=max(ax.get_ylim()[0], -30.0))  # the start (-46) squashes the rest
            ax.grid(alpha=0.3)
    n_reps, scale = run_size(summary)
    fig.suptitle(f"Binary VAE on 8x8 digits (JAX): {n_reps} replicates, 95% CIs ({scale} scale)")
    return save_figure(fig, Path(out_dir) / "vae_digits")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figure from summary.csv and training_curves.csv."""
    return _figures(summary, extra.get("training_curves"), out_dir)
