"""The REBAR / RELAX Bernoulli toy with every estimator trained separately (5 seeds).

Minimise E_{b ~ Bernoulli(sigmoid(phi))}[(b - t)^2] over the logit phi from phi = 0 with
Adam (lr 0.01), for t = 0.45 (Tucker et al. 2017) and t = 0.499 (Grathwohl et al. 2018,
Fig. 1), training each of REINFORCE (1 sample), RLOO (K = 2), ARM and DisARM (1
antithetic pair = 2 evaluations), REBAR (eta and temperature tuned online) and RELAX
(a 10-unit tanh MLP surrogate on z trained online on the variance) on its own, 5 seeds
each (``experiments/_training_grid.py``). At checkpoints: the exact loss and the
replicate variance of the trainer's own estimate at the current logit and state
(``runs.csv``, one row per seed and checkpoint; ``runs_summary.csv``: the mean and a
Student t 95% interval over the 5 seeds of the loss, and of the variance on the log
scale). The summary table holds the variance of every estimator at the initial logit (the warmed-up
REBAR / RELAX state; exact variances by enumeration or quadrature).

What differs from the originals: RELAX's surrogate here is the MLP alone (the paper's
discrete RELAX adds REBAR's eta f(sigma_lam(z)); on this toy their Fig. 1 uses the MLP),
its parameters are trained with Adam at lr 0.01 on the single-batch variance estimate of
the same batch they are then applied to next; REBAR's eta is fitted in closed form (the
estimate is linear in eta) instead of by gradient steps; variances are replicate
variances (1000 estimates at the full scale), not the EMA of one training run; 10,000
steps instead of RELAX's 10^4 to 10^5 depending on the figure.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.catalogue.settings import make_problem
from vartools.control_variates.baselines import loo_baseline
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rebar.estimator import rebar
from vartools.estimators.relax import relax
from vartools.harness.experiment import Experiment, Scale

T_VALUES = (0.499, 0.45)


def problem(t: float) -> Problem:
    """One Bernoulli at logit 0 with f = (b - t)^2."""
    return make_problem("rebar_toy", t=float(t))


#: label -> (estimator factory, samples or pairs per step).
TRAINERS: dict[str, tuple[Any, int]] = {
    "reinforce": (lambda: make_estimator(score_function, name="reinforce"), 1),
    "rloo": (lambda: make_estimator(score_function, loo_baseline(), name="rloo"), 2),
    "arm": (lambda: make_estimator(arm, name="arm"), 1),
    "disarm": (lambda: make_estimator(disarm, name="disarm"), 1),
    "rebar": (lambda: rebar(name="rebar"), 1),
    "relax": (lambda: relax(name="relax"), 1),
}


def estimators() -> list[Estimator]:
    """The compared estimators, for the summary at the initial logit."""
    return [make() for make, _ in TRAINERS.values()]


EXPERIMENT = Experiment(
    name="rebar_relax_toy",
    description=(
        "REBAR / RELAX Bernoulli toy, t = 0.499 and 0.45: REINFORCE, RLOO (K = 2), ARM, "
        "DisARM, REBAR and RELAX each trained separately from logit 0 with Adam (lr 0.01), "
        "5 seeds; exact loss and replicate variance of each trainer along its own training "
        "(runs.csv), and every estimator's variance at the initial logit (summary.csv)."
    ),
    problem=problem,
    points=[{"t": t} for t in T_VALUES],
    estimators=estimators(),
    n_samples=[1, 2],
    n_reps=2000,
    seed=151,
    warmup=500,
    quick=Scale(n_reps=300),
)

#: Training scale: (runs, steps, every, replicates per checkpoint).
TRAINING = {"full": (5, 10_000, 250, 1000), "quick": (2, 300, 100, 200)}


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Harness hook: the separately trained runs (``runs.csv``)."""
    from experiments._training_grid import train_grid

    runs, steps, every, reps = TRAINING[exp.scale]
    table = train_grid(
        problem,
        exp.points,
        TRAINERS,
        runs=runs,
        steps=steps,
        every=every,
        optimizer=lambda: adam(0.01),
        seed=exp.seed,
        n_reps=reps,
    )
    from experiments._training_grid import summary_over_seeds

    return {"runs": table, "runs_summary": summary_over_seeds(table)}


#: The training set-up, machine readable (``experiments._training_grid.HYPERPARAMETER_KEYS``).
HYPERPARAMETERS = {
    "trainer": "each estimator separately (reinforce, rloo, arm, disarm, rebar, relax)",
    "samples_per_step": "1 (rloo: 2; arm / disarm: 1 pair)",
    "batch_size": None,  # no data set: one Bernoulli
    "optimizer": "adam",
    "learning_rate": 0.01,
    "lr_schedule": "constant",
    "steps": TRAINING["full"][1],
    "checkpoint_every": TRAINING["full"][2],
    "n_reps": TRAINING["full"][3],
    "ema_decay": None,
    "warmup_batches": EXPERIMENT.warmup,  # REBAR / RELAX state before the summary sweep
    "seeds": TRAINING["full"][0],
    "seed_root": EXPERIMENT.seed,
}


def final_losses(runs: pd.DataFrame) -> pd.DataFrame:
    """Final loss and sigmoid(phi) per (t, trainer): mean, seed-to-seed sd, min and max."""
    last = runs[runs["step"] == runs["step"].max()].copy()
    last["theta"] = special.expit(last["theta[0]"])
    g = last.groupby(["at_t", "trainer"], sort=False)
    out = g["loss"].agg(["mean", "std", "min", "max"]).add_prefix("loss_")
    out["theta_mean"] = g["theta"].mean()
    out["optimum"] = [min(t * t, (1 - t) ** 2) for t, _ in out.index]
    return out.reset_index()


#: Variances at or below this are zero up to rounding (DisARM at theta = 1/2).
ZERO = 1e-20

STYLE = {
    "reinforce": ("REINFORCE (1 eval)", "o"),
    "rloo": ("RLOO, K = 2 (2 evals)", "s"),
    "arm": ("ARM, 1 pair (2 evals)", "^"),
    "disarm": ("DisARM, 1 pair (2 evals)", "D"),
    "rebar": ("REBAR, tuned (7 evals)", "v"),
    "relax": ("RELAX, MLP surrogate (1 eval)", "*"),
}


def _figures(runs: pd.DataFrame, out_dir: Any, n_reps: int, scale: str) -> list[Any]:
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments._training_grid import seed_band
    from vartools.plots.helpers import legend_below
    from vartools.plots.style import estimator_colors, save_figure

    colors = estimator_colors(STYLE)
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, len(T_VALUES), sharex="col", height_ratios=[1, 1.6])
    for j, t in enumerate(T_VALUES):
        ax_l, ax_v = axes[0, j], axes[1, j]
        r = runs[np.isclose(runs["at_t"].astype(float), t)]
        for name, (label, marker) in STYLE.items():
            m = r[r["trainer"] == name]
            if m.empty:
                continue
            g = m.groupby("step")
            seed_band(ax_l, m, "step", "loss", color=colors[name], lw=1.2, label=label)
            var = g["variance"].mean()
            var = var[var > ZERO]  # DisARM at theta = 1/2 has variance 0 (not drawn)
            ax_v.plot(var.index, var, marker + "-", color=colors[name], ms=3, lw=1, label=label)
        ax_l.axhline(min(t * t, (1 - t) ** 2), color="0.4", ls=":", lw=1)
        ax_l.set_ylabel("loss E[(b - t)^2] (exact)")
        ax_l.set_title(f"t = {t:g}: each estimator trained separately, Adam lr 0.01")
        ax_l.grid(alpha=0.3)
        ax_v.set_yscale("log")
        ax_v.set_xlabel("training step")
        ax_v.set_ylabel("variance of d/d logit (own trainer)")
        ax_v.grid(alpha=0.3, which="both")
    legend_below(fig, axes[1, 0], ncol=3)
    fig.suptitle(
        f"REBAR / RELAX toy, {runs['seed'].nunique()} seeds: loss (mean, band = 95% t interval "
        "over the seeds) and replicate variance\n"
        f"({n_reps} estimates per checkpoint, mean over seeds; variance 0 not drawn; {scale} scale)"
    )
    return save_figure(fig, Path(out_dir) / "training")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): loss and variance against step from runs.csv."""
    runs = extra.get("runs")
    if runs is None:
        raise ValueError("the rebar_relax_toy figure needs runs.csv (run the experiment first)")
    scale = str(summary["scale"].iloc[0])
    return _figures(runs, out_dir, int(runs["n_reps"].iloc[0]), scale)
