"""Binary VAE with MLP encoder and decoder in JAX on the 8x8 digits: every estimator compared.

A VAE with K = 8 Bernoulli latents and tanh-MLP encoder and decoder (32 hidden units) on
scikit-learn's binarised 8x8 digits, written as a vartools JAX model
(``vartools.jax.vae``): theta = the encoder's 2,344 weights, named by layer (``w1[i,j]``,
``b1[j]``, ...).

- Variance (the harness sweep): at snapshots along a reference training run (SF + RLOO,
  4 samples per step, Adam, minibatches of 32, seed 0), for one fixed digit, the replicate
  variance (95% CI, mean over the encoder weights) of SF, SF + RLOO, ARM, DisARM, local
  expectation, Gumbel-softmax (tau = 0.5), straight-through, REBAR (eta tuned, temperature
  0.5), RELAX (surrogate trained, Adam step 0.03), Double CV and RODEO (coefficients fitted) and the
  unordered set estimator (k = 4 per set), at n = 1, 2, 4, 8. The equal-budget comparison
  (``ranking.csv``, the figure) takes each estimator at the n whose cost is nearest to
  ``BUDGET`` = 8 f evaluations (``BUDGET_N``): 8 for all but local expectation (9: one
  sample and its 8 flips) and REBAR (6: 2 samples, each with f and grad f at 2 relaxed
  points). Stateful estimators are warmed up for ``WARMUP`` batches at each snapshot
  (REBAR's eta, RELAX's surrogate, the Double CV / RODEO coefficients) and then frozen.
  With one digit the 2^8 latent configurations are enumerated, so the exact gradient is
  known and the bias of the two relaxations (``biased``) is measured.
- VIMCO (the ``vimco`` table) estimates the gradient of another objective, the K-sample
  (IWAE) bound: VIMCO against K-sample REINFORCE on the bound of the same digit, K = 8
  (8 f evaluations each), at the same snapshots.
- Training (the ``training_curves`` table): the VAE trained with each estimator at about
  4 f evaluations per step (``TRAIN_N``; costs labelled where they differ), 5 seeds, the
  ELBO per digit on all 1,797 digits against steps, cumulative f evaluations and training
  wall time (kernel compilation at step 0 and ELBO evaluations excluded).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.catalogue.sbn import load_digits_binary
from vartools.control_variates.baselines import loo_baseline
from vartools.core.problem import Problem
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.double_cv import double_cv
from vartools.estimators.rao_blackwell import local_expectation
from vartools.estimators.rebar.estimator import rebar
from vartools.estimators.relax import relax
from vartools.estimators.relaxations import gumbel_softmax, straight_through
from vartools.estimators.rodeo import rodeo
from vartools.estimators.tuned import fitted_coefficients
from vartools.estimators.vimco import vimco
from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot

SEED = 8
BUDGET = 8  # f evaluations per estimate in the equal-budget comparison
WARMUP = 500  # batches that warm up the stateful estimators at each snapshot
RELAX_LR = 0.03  # Adam step of the RELAX surrogate (0.01 needs ~1,000 batches to settle)
STEPS_FULL = (0, 100, 300, 1000, 1500)
STEPS_QUICK = (0, 20)
DIGIT = 0  # the measurement digit (index into the data)
VIMCO_K = 8
TRAIN = {
    "full": {"steps": 1500, "seeds": (0, 1, 2, 3, 4), "every": 100, "vimco_reps": 1000},
    "quick": {"steps": 20, "seeds": (0, 1), "every": 10, "vimco_reps": 100},
}

# name: (label, marker, group); the groups are the figure's rows
STYLE = {
    "sf": ("SF", "o", "score function"),
    "sf+rloo": ("SF + RLOO", "s", "score function"),
    "unordered_set4": ("unordered set (k=4)", "P", "score function"),
    "arm": ("ARM", "^", "antithetic / Rao-Blackwell"),
    "disarm": ("DisARM", "D", "antithetic / Rao-Blackwell"),
    "local_expectation": ("local expectation", "*", "antithetic / Rao-Blackwell"),
    "rebar": ("REBAR", "<", "relaxation / Stein control variates"),
    "relax": ("RELAX", ">", "relaxation / Stein control variates"),
    "double_cv": ("Double CV", "h", "relaxation / Stein control variates"),
    "rodeo": ("RODEO", "p", "relaxation / Stein control variates"),
    "gumbel_softmax": ("Gumbel-softmax (0.5, biased)", "v", "biased relaxations"),
    "straight_through": ("straight-through (biased)", "x", "biased relaxations"),
}
GROUPS = tuple(dict.fromkeys(g for _, _, g in STYLE.values()))
REFERENCE = "sf+rloo"  # drawn dashed in every group for comparison

# n per estimate at the equal budget of the sweep (cost nearest BUDGET within n_samples)
BUDGET_N = {
    "sf": 8,
    "sf+rloo": 8,
    "unordered_set4": 2,
    "arm": 4,
    "disarm": 4,
    "local_expectation": 1,
    "rebar": 2,
    "relax": 8,
    "double_cv": 8,
    "rodeo": 8,
    "gumbel_softmax": 8,
    "straight_through": 8,
}
# n per training step: about 4 f evaluations (local expectation: 1 + B K flips; REBAR 3)
TRAIN_N = {
    "sf": 4,
    "sf+rloo": 4,
    "unordered_set4": 1,
    "arm": 2,
    "disarm": 2,
    "local_expectation": 1,
    "rebar": 1,
    "relax": 4,
    "double_cv": 4,
    "rodeo": 4,
    "gumbel_softmax": 4,
    "straight_through": 4,
}
# work besides f evaluations, per sample, for the cost labels
EXTRA_COST = {
    "rebar": "f and grad f at 2 relaxed points per sample (counted)",
    "relax": "2 surrogate evaluations + backward pass per sample (not f; not counted)",
    "double_cv": "grad f with each f (counted as one evaluation)",
    "rodeo": "grad f with each f (counted as one evaluation)",
    "unordered_set4": "k = 4 distinct latents per digit (4 evaluations per set)",
    "local_expectation": "1 + 8 flips per digit sample (the minibatch: 1 + B K)",
}


def estimators() -> list[Estimator]:
    """The compared estimators of the encoder gradient, by the names of STYLE."""
    import vartools.jax as vj
    from vartools.jax.vae.estimators import on_logits, unordered_set_per_example

    return [
        make_estimator(score_function, name="sf"),
        make_estimator(score_function, loo_baseline(), name="sf+rloo"),
        unordered_set_per_example(4),
        make_estimator(vj.via_logits(arm), name="arm"),
        make_estimator(vj.via_logits(disarm), name="disarm"),
        make_estimator(vj.via_logits(local_expectation), name="local_expectation"),
        on_logits(rebar(eta=None, temperature=0.5), name="rebar"),
        on_logits(relax(lr=RELAX_LR), name="relax"),
        on_logits(make_estimator(double_cv(0.0), fitted_coefficients()), name="double_cv", min_n=2),
        on_logits(make_estimator(rodeo(0.0, 0.0), fitted_coefficients()), name="rodeo", min_n=2),
        make_estimator(vj.via_logits(gumbel_softmax(0.5)), name="gumbel_softmax"),
        make_estimator(vj.via_logits(straight_through()), name="straight_through"),
    ]


@functools.lru_cache(maxsize=2)
def _reference(until: int) -> dict[int, Any]:
    from vartools.jax.vae.training import train_vae

    snaps = STEPS_FULL if until == STEPS_FULL[-1] else STEPS_QUICK
    est = make_estimator(score_function, loo_baseline())
    return train_vae(est, load_digits_binary(), until, seed=SEED, n=4, snapshots=snaps)[1]


def problem(step: int, until: int) -> Problem:
    """The encoder-gradient problem for one digit at step ``step`` of the reference run."""
    from vartools.jax.vae.model import encoder_problem

    x = load_digits_binary()[[DIGIT]]
    return encoder_problem(
        _reference(until)[step], x, name=f"vae_digits(step={step})", enumerate_support=True
    )


EXPERIMENT = Experiment(
    name="vae_digits",
    description=(
        "Binary VAE (8 latents, tanh-MLP encoder and decoder, JAX) on the binarised 8x8 "
        "digits: replicate variance of the encoder-weight gradient of SF, SF + RLOO, the "
        "unordered set estimator, ARM, DisARM, local expectation, REBAR, RELAX, Double CV, "
        "RODEO, Gumbel-softmax and straight-through at equal f-evaluation budgets along "
        "training, VIMCO against K-sample REINFORCE on the IWAE bound, and the ELBO of "
        "training with each (5 seeds)."
    ),
    problem=problem,
    points=[{"step": s, "until": STEPS_FULL[-1]} for s in STEPS_FULL],
    estimators=estimators(),
    n_samples=[1, 2, 4, 8],
    n_reps=1000,
    seed=SEED,
    quick=Scale(
        n_reps=200,
        points=[{"step": s, "until": STEPS_QUICK[-1]} for s in STEPS_QUICK],
    ),
    plot=Plot(x="n_evals"),
    warmup=WARMUP,
)


def _t_ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and t-based 95% interval over seeds (of the mean)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if v.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return m, m - half, m + half


def ranking(summary: pd.DataFrame) -> pd.DataFrame:
    """Each estimator at its equal-budget n (``BUDGET_N``): variance with 95% CI per snapshot.

    Rows (estimator, step) with n, f evaluations per estimate, the variance (mean over
    the encoder weights) and its CI, the MSE (biased estimators), the ratio to SF + RLOO
    at the same snapshot, and the rank by variance at that snapshot (1 = lowest) and by
    MSE against the exact gradient (``rank_mse``: what counts for the biased ones).
    """
    s = summary[summary["kind"] == "mean"]
    rows = []
    for name, n in BUDGET_N.items():
        m = s[(s["estimator"] == name) & (s["n"] == n)]
        for _, r in m.iterrows():
            rows.append(
                {
                    "estimator": name,
                    "label": STYLE[name][0],
                    "n": n,
                    "f_evals": int(r["n_evals"]),
                    "extra_cost": EXTRA_COST.get(name, ""),
                    "step": int(r["at_step"]),
                    "variance": r["variance"],
                    "variance_lo": r["variance_lo"],
                    "variance_hi": r["variance_hi"],
                    "mse": r["mse"],
                    "biased": bool(r["biased"]),
                }
            )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    ref = out[out["estimator"] == REFERENCE].set_index("step")["variance"]
    out["ratio_to_rloo"] = out["variance"] / out["step"].map(ref)
    out["rank"] = out.groupby("step")["variance"].rank(method="min").astype(int)
    # the biased relaxations' error is their MSE against the exact gradient (variance + bias^2)
    out["rank_mse"] = out.groupby("step")["mse"].rank(method="min").astype(int)
    return out.sort_values(["step", "rank"]).reset_index(drop=True)


def _vimco_table(exp: Experiment) -> pd.DataFrame:
    """VIMCO against K-sample REINFORCE on the IWAE bound of the measurement digit."""
    from vartools.jax.vae.model import vimco_problem
    from vartools.measure.variance import measure_variance

    steps = STEPS_FULL if exp.scale == "full" else STEPS_QUICK
    x = load_digits_binary()[[DIGIT]]
    probs = [
        vimco_problem(_reference(steps[-1])[s], x, VIMCO_K, name=f"vae_iwae(step={s})")
        for s in steps
    ]
    ests = [make_estimator(score_function, name="sf"), make_estimator(vimco, name="vimco")]
    res = measure_variance(
        probs,
        ests,
        n_samples=1,
        n_reps=TRAIN[exp.scale]["vimco_reps"],
        seed=SEED,
        exact=False,
    )
    res = res[res["kind"] == "mean"].copy()
    res["step"] = res["problem"].str.extract(r"step=(\d+)")[0].astype(int)
    res["K"] = VIMCO_K
    # one outcome of the bound is K draws: K evaluations of log w (f) for either estimator
    # (``n_evals`` of the score function counts outcomes, so it is restated here)
    res["n_evals"] = res["n"] * VIMCO_K
    cols = ["step", "estimator", "K", "n", "n_evals", "variance", "variance_lo", "variance_hi"]
    return res[cols].reset_index(drop=True)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Training curves (5 seeds), the equal-budget ranking and the VIMCO comparison."""
    from vartools.jax.vae.training import train_vae

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
    curves = pd.DataFrame(rows)
    final = []
    last = curves[curves["step"] == curves["step"].max()]
    for name, g in last.groupby("estimator", sort=False):
        m, lo, hi = _t_ci(g["elbo"].to_numpy())
        final.append(
            {
                "estimator": name,
                "n": int(g["n"].iloc[0]),
                "f_evals_per_step": float(g["f_evals"].mean() / max(1, g["step"].iloc[0])),
                "steps": int(g["step"].iloc[0]),
                "seeds": int(g["seed"].nunique()),
                "elbo_mean": m,
                "elbo_lo": lo,
                "elbo_hi": hi,
                "elbo_min": float(g["elbo"].min()),
                "elbo_max": float(g["elbo"].max()),
                "seconds_mean": float(g["seconds"].mean()),
            }
        )
    out = {"training_curves": curves, "training_final": pd.DataFrame(final)}
    if summary is not None:
        out["ranking"] = ranking(summary)
    out["vimco"] = _vimco_table(exp)
    return out


def _group_axes(fig: Any, nrows: int, ncols: int, **kw: Any) -> Any:
    return fig.subplots(nrows, ncols, squeeze=False, **kw)


def _signed_sqrt(x: Any) -> Any:
    return np.sign(x) * np.sqrt(np.abs(x))


def _signed_square(y: Any) -> Any:
    return np.sign(y) * np.square(y)


def _step_axis(ax: Any, steps: Any) -> None:
    """Snapshot steps on a square-root axis (early steps spread out), labelled by value."""
    steps = sorted(int(v) for v in steps)
    ax.set_xscale("function", functions=(_signed_sqrt, _signed_square))
    ax.set_xlim(-0.01 * steps[-1], 1.05 * steps[-1])
    ax.set_xticks(steps, [str(v) for v in steps])
    ax.minorticks_off()
    ax.set_xlabel("training step (reference run: SF + RLOO)")


def _variance_figure(summary: pd.DataFrame, vim: Any, out_dir: Any) -> list[Any]:
    from matplotlib.figure import Figure

    from vartools.plots.helpers import errorbar_ci, run_size
    from vartools.plots.style import estimator_colors, save_figure

    colors = estimator_colors(STYLE)
    colors_iwae = estimator_colors(["sf", "vimco"])
    rank = ranking(summary)
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    axes = _group_axes(fig, 1, len(GROUPS) + 1, sharey=False)[0]
    for ax, group in zip(axes, GROUPS, strict=False):
        names = [k for k, v in STYLE.items() if v[2] == group]
        if REFERENCE not in names:
            r = rank[rank["estimator"] == REFERENCE].sort_values("step")
            ax.plot(
                r["step"],
                r["variance"],
                "--",
                color=colors[REFERENCE],
                lw=1.5,
                alpha=0.7,
                zorder=0,
                label=f"{STYLE[REFERENCE][0]}, {int(r['f_evals'].iloc[0])} evals",
            )
        for name in names:
            r = rank[rank["estimator"] == name].sort_values("step")
            if r.empty:
                continue
            label, marker, _ = STYLE[name]
            lab = f"{label}, {int(r['f_evals'].iloc[0])} evals"
            errorbar_ci(ax, r, "step", fmt=marker + "-", color=colors[name], label=lab)
            if bool(r["biased"].iloc[0]):
                ax.plot(
                    r["step"],
                    r["mse"],
                    marker + ":",
                    color=colors[name],
                    alpha=0.7,
                    label=f"{label}: MSE",
                )
        ax.set_yscale("log")
        _step_axis(ax, rank["step"].unique())
        ax.set_title(group, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7.5, loc="best")
    axes[0].set_ylabel(f"variance at ~{BUDGET} f evals (mean over weights)")
    ax = axes[-1]
    if vim is not None and len(vim):
        for name, label, marker in (("sf", "K-sample REINFORCE", "o"), ("vimco", "VIMCO", "s")):
            r = vim[vim["estimator"] == name].sort_values("step")
            errorbar_ci(
                ax,
                r,
                "step",
                fmt=marker + "-",
                color=colors_iwae[name],
                label=f"{label}, {int(r['n_evals'].iloc[0])} evals",
            )
        ax.set_yscale("log")
        _step_axis(ax, vim["step"].unique())
        ax.set_title(f"IWAE bound, K = {VIMCO_K} (another objective)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7.5)
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"Binary VAE on 8x8 digits (JAX), one digit: encoder-gradient variance along training "
        f"at equal cost, {n_reps} replicates, 95% CIs ({scale} scale)"
    )
    return save_figure(fig, Path(out_dir) / "vae_digits")


def _training_figure(curves: pd.DataFrame, out_dir: Any) -> list[Any]:
    from matplotlib.figure import Figure

    from vartools.plots.style import estimator_colors, save_figure

    colors = estimator_colors(STYLE)
    xs = (
        ("step", "training step"),
        ("f_evals", "cumulative f evaluations"),
        ("seconds", "training wall time (s)"),
    )
    fig = Figure(figsize=(14, 13), layout="constrained")
    axes = _group_axes(fig, len(GROUPS), len(xs), sharey=True, sharex="col")
    nseeds = curves["seed"].nunique()
    lo_y = []
    for row, group in zip(axes, GROUPS, strict=False):
        names = [k for k, v in STYLE.items() if v[2] == group]
        shown = ([REFERENCE] if REFERENCE not in names else []) + names
        for name in shown:
            c = curves[curves["estimator"] == name]
            if c.empty:
                continue
            stats = []
            for step, g in c.groupby("step"):
                m, lo, hi = _t_ci(g["elbo"].to_numpy())
                stats.append((step, g["f_evals"].mean(), g["seconds"].mean(), m, lo, hi))
            st = np.array(stats)
            ref = name == REFERENCE and name not in names
            color = colors[name]
            n = int(c["n"].iloc[0])
            per = st[-1, 1] / max(1.0, st[-1, 0])
            label = f"{STYLE[name][0]} (n={n}, {per:g} f evals/step)"
            lo_y.append(st[1:, 3].min() if len(st) > 1 else st[0, 3])
            for ax, j in zip(row, (0, 1, 2), strict=True):
                ax.plot(
                    st[:, j],
                    st[:, 3],
                    "--" if ref else "-",
                    color=color,
                    lw=1.4,
                    alpha=0.7 if ref else 1.0,
                    label=label,
                    zorder=0 if ref else 2,
                )
                band = 0.08 if ref else 0.2
                ax.fill_between(st[:, j], st[:, 4], st[:, 5], color=color, alpha=band, lw=0)
        row[0].set_ylabel(f"{group}\nELBO per digit (nats)")
        row[0].legend(fontsize=8, loc="lower right")
    for ax, (_, xl) in zip(axes[-1], xs, strict=True):
        ax.set_xlabel(xl)
    for ax in axes[:, 1]:  # local expectation's 257 evaluations per step: a log axis
        ax.set_xscale("log")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    if lo_y:  # the start (about -46 nats) would squash the rest: from the lowest later mean
        axes[0, 0].set_ylim(bottom=min(lo_y) - 1.0)
    fig.suptitle(
        f"Binary VAE on 8x8 digits: ELBO on all digits while training, mean over {nseeds} "
        "seeds with t-based 95% CI band (dashed: SF + RLOO for comparison)"
    )
    return save_figure(fig, Path(out_dir) / "vae_digits_training")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from the tables."""
    out = _variance_figure(summary, extra.get("vimco"), out_dir)
    curves = extra.get("training_curves")
    if curves is not None and "f_evals" in curves.columns:
        out += _training_figure(curves, out_dir)
    return out
