"""Figures from summary tables: pure functions of the tables, no statistics computed here.

Figures are built on ``matplotlib.figure.Figure`` objects directly (no pyplot, no
global state, the Agg canvas), coloured by estimator (``vartools.plots.style``: the same
colour for an estimator in every figure, the paper's included), and saved as PNG
(README) and PDF by ``vartools.plots.style.save_figure``.

- ``plot_sweep``: variance against a swept value (a point key such as k or eta, n,
  f evaluations), one line per estimator, 95% CI error bars, exact variances as
  dashed lines; one panel per other varying dimension;
- ``plot_training``: variance at the checkpoints of a training trajectory (with the
  EMA variance, labelled as the DisARM / REBAR measure, when recorded) and the loss.

The building blocks of the experiments' own figures and of the paper's are in
``vartools.plots.helpers`` (error bars, legends, log axes) and ``vartools.plots.style``
(colours, sizes, saving).

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"estimator": ["sf", "sf"], "n": [2, 4], "point": [0, 0],
    ...                   "coordinate": ["(mean)"] * 2, "variance": [2.0, 1.0],
    ...                   "variance_lo": [1.5, 0.8], "variance_hi": [2.5, 1.2],
    ...                   "exact_variance": [2.0, 1.0]})
    >>> fig = plot_sweep(t, "n")
    >>> len(fig.axes)
    1
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vartools.plots.style import estimator_colors, save_figure

if TYPE_CHECKING:
    from vartools.harness.experiment import Experiment

__all__ = ["EMA_LABEL", "plot_experiment", "plot_sweep", "plot_training", "sweep_key"]

#: The label of the exponential-moving-average variance in training figures.
EMA_LABEL = "EMA variance (DisARM/REBAR measure)"


def _plain_log_x(ax: Any, values: np.ndarray) -> None:
    """Log x axis with plain-number labels (mathtext minor labels are slow and cluttered)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ax.set_xscale("log")
    ticks = np.unique(values[np.isfinite(values) & (values > 0)])
    if 0 < len(ticks) <= 10:
        ax.xaxis.set_major_locator(FixedLocator(ticks.tolist()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _xcol(x: str) -> str:
    if x in ("n", "n_evals", "step") or x.startswith("at_"):
        return x
    return f"at_{x}"


def _panels(df: pd.DataFrame, xcol: str) -> list[tuple[str, pd.DataFrame]]:
    """Split the rows into panels by every varying dimension other than the x axis.

    With a point key on the x axis (e.g. at_k) the panels are the other point keys (e.g.
    at_cost) and n; otherwise each point (labelled by its problem) and n.
    """
    at_cols = [str(c) for c in df.columns if str(c).startswith("at_")]
    if xcol in at_cols:
        dims = [c for c in at_cols if c != xcol] + ["n"]
    else:
        dims = ["point", "n"] if "point" in df.columns else ["n"]
    dims = [c for c in dims if c in df.columns and c != xcol]
    if xcol == "n_evals":
        dims = [c for c in dims if c != "n"]
    dims = [c for c in dims if df[c].nunique(dropna=False) > 1]
    if not dims:
        return [("", df)]
    out = []
    for key, sub in df.groupby(dims, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        parts = []
        for d, k in zip(dims, key, strict=True):
            if d == "point" and "problem" in sub.columns:
                parts.append(str(sub["problem"].iloc[0]))
            else:
                parts.append(f"{d.removeprefix('at_')}={k}")
        out.append((", ".join(parts), sub))
    return out


def _floor_log_y(ax: Any, values: np.ndarray) -> None:
    """Keep a log variance axis readable: at most 12 decades below the largest value."""
    v = values[np.isfinite(values) & (values > 0)]
    if len(v):
        lo = max(float(v.min()), float(v.max()) * 1e-12)
        ax.set_ylim(bottom=lo / 2)


def plot_sweep(
    summary: pd.DataFrame,
    x: str,
    *,
    coordinate: str = "(mean)",
    log_x: bool = False,
    log_y: bool = True,
    title: str | None = None,
) -> Figure:
    """Variance against a swept value, per estimator, with CI error bars and exact lines.

    Args:
        summary: a summary table (results/README.md).
        x: "n", "n_evals", "step" or a point key ("k" or "at_k").
        coordinate: which row to plot: "(mean)", "(max)", "(trace)" or a parameter name.
        log_x: log scale on the x axis.
        log_y: log scale on the variance axis.
        title: figure title.

    Returns:
        A matplotlib Figure (one panel per other varying point / n).
    """
    xcol = _xcol(x)
    df = summary[summary["coordinate"] == coordinate]
    if df.empty:
        raise ValueError(f"no rows with coordinate {coordinate!r} in the summary table")
    if xcol not in df.columns:
        raise ValueError(f"the summary table has no column {xcol!r} to plot against")
    panels = _panels(df, xcol)
    ncols = min(len(panels), 3)
    nrows = -(-len(panels) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = estimator_colors(str(e) for e in df["estimator"])
    for ax, (label, sub) in zip(axes, panels, strict=False):
        for est, g in sub.groupby("estimator", sort=False):
            g = g.sort_values(xcol)
            xv = g[xcol].to_numpy(dtype=float)
            v = g["variance"].to_numpy(dtype=float)
            err = np.vstack(
                [v - g["variance_lo"].to_numpy(float), g["variance_hi"].to_numpy(float) - v]
            )
            ax.errorbar(
                xv,
                v,
                yerr=np.nan_to_num(err),
                fmt="o-",
                ms=3,
                lw=1,
                capsize=2,
                color=colors[str(est)],
                label=str(est),
            )
            ex = g["exact_variance"].to_numpy(dtype=float)
            if np.isfinite(ex).any():
                ax.plot(xv, ex, "--", lw=1, color=colors[str(est)])
        ax.set_xlabel(x)
        ax.set_ylabel(f"variance {coordinate}")
        if label:
            ax.set_title(label, fontsize=9)
        if log_x:
            _plain_log_x(ax, sub[xcol].to_numpy(dtype=float))
        if log_y:
            ax.set_yscale("log")
            _floor_log_y(ax, sub["variance"].to_numpy(dtype=float))
        ax.grid(True, alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8, title="dashed: exact", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_training(
    summary: pd.DataFrame,
    training: pd.DataFrame | None = None,
    *,
    coordinate: str = "(mean)",
    log_y: bool = True,
    title: str | None = None,
) -> Figure:
    """Variance at the checkpoints of a training trajectory (top) and the loss (bottom).

    The replicate variance of every compared estimator with its 95% CI band and exact
    line; the training estimator's EMA variance (when recorded) dotted and labelled as
    the DisARM / REBAR measure, which is a different quantity.
    """
    df = summary[summary["coordinate"] == coordinate]
    if df.empty:
        raise ValueError(f"no rows with coordinate {coordinate!r} in the summary table")
    panels = _panels(df, "step")
    ncols = len(panels)
    has_loss = training is not None and len(training) > 0
    fig = Figure(figsize=(4.5 * ncols, 5.5 if has_loss else 3.2), layout="constrained")
    axes = fig.subplots(2 if has_loss else 1, ncols, squeeze=False, sharex="col")
    colors = estimator_colors(str(e) for e in df["estimator"])
    for c, (label, sub) in enumerate(panels):
        ax = axes[0, c]
        for est, g in sub.groupby("estimator", sort=False):
            g = g.sort_values("step")
            s = g["step"].to_numpy(float)
            ax.plot(s, g["variance"], "-", lw=1, color=colors[str(est)], label=str(est))
            ax.fill_between(
                s,
                g["variance_lo"].to_numpy(float),
                g["variance_hi"].to_numpy(float),
                color=colors[str(est)],
                alpha=0.2,
                lw=0,
            )
            ex = g["exact_variance"].to_numpy(float)
            if np.isfinite(ex).any():
                ax.plot(s, ex, "--", lw=0.8, color=colors[str(est)])
        point = int(sub["point"].iloc[0]) if "point" in sub.columns else 0
        if has_loss:
            assert training is not None
            tr = training[training["point"] == point] if "point" in training.columns else training
            tr = tr.sort_values("step")
            if tr["ema_variance"].notna().any():
                ax.plot(
                    tr["step"],
                    tr["ema_variance"],
                    ":",
                    color="k",
                    lw=1.2,
                    label=f"{EMA_LABEL}, {tr['estimator'].iloc[0]}",
                )
            axl = axes[1, c]
            axl.plot(tr["step"], tr["loss"], "-", color="k", lw=1)
            axl.set_xlabel("step")
            axl.set_ylabel("loss E[f]")
            axl.grid(True, alpha=0.3)
        else:
            ax.set_xlabel("step")
        ax.set_ylabel(f"variance {coordinate}")
        if label:
            ax.set_title(label, fontsize=9)
        if log_y:
            ax.set_yscale("log")
            _floor_log_y(ax, sub["variance"].to_numpy(dtype=float))
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=7, title="dashed: exact; band: 95% CI", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def sweep_key(exp: Experiment) -> str:
    """The x axis of an experiment's default figure.

    ``exp.plot.x`` when given, else "step" for a trajectory, the first point key whose
    value varies, else "n".
    """
    if exp.plot.x is not None:
        return exp.plot.x
    if exp.trajectory is not None:
        return "step"
    for k in exp.points[0]:
        if len({repr(p.get(k)) for p in exp.points}) > 1:
            return k
    return "n"


def plot_experiment(
    exp: Experiment,
    summary: pd.DataFrame,
    training: pd.DataFrame | None,
    out_dir: str | Path,
) -> list[Path]:
    """The default figures of an experiment: the "(mean)" aggregate and chosen coordinates.

    Drawn as ``exp.plot`` says (x axis, log scales); one file pair per coordinate.
    """
    out_dir = Path(out_dir)
    files: list[Path] = []
    spec = exp.plot
    for coord in ("(mean)", *exp.coordinates):
        tag = "mean" if coord == "(mean)" else "".join(ch if ch.isalnum() else "_" for ch in coord)
        title = f"{exp.name} ({exp.scale}): {coord}"
        if exp.trajectory is not None:
            fig = plot_training(summary, training, coordinate=coord, log_y=spec.log_y, title=title)
            files += save_figure(fig, out_dir / f"training_{tag}")
        else:
            fig = plot_sweep(
                summary,
                sweep_key(exp),
                coordinate=coord,
                log_x=spec.log_x,
                log_y=spec.log_y,
                title=title,
            )
            files += save_figure(fig, out_dir / f"variance_{tag}")
    return files
