"""Building blocks of figures drawn from summary tables: error bars, legends, log axes, notes.

Used by ``vartools plot`` (the experiments' figure modules) and by the paper's figure
scripts alike. Each takes matplotlib axes and table rows; none computes a statistic
(the confidence intervals are the summary table's ``*_lo`` and ``*_hi`` columns).

- ``errorbar_ci``: markers with 95% CI error bars from a table's columns;
- ``variance_bars``: the same for a summary table's variance, in the paper's style
  (open markers, no connecting line);
- ``legend_below``: one figure legend under the panels;
- ``log_axes`` and ``fixed_log_x``: log scales with plain-number tick labels;
- ``axes_note``: a grey note inside the axes;
- ``run_size``: replicates and scale of a summary table, for titles.

Example:
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> t = pd.DataFrame({"n": [2, 4], "variance": [2.0, 1.0], "variance_lo": [1.5, 0.8],
    ...                   "variance_hi": [2.5, 1.2]})
    >>> bars = variance_bars(ax, t, "n", color="k")
    >>> len(bars.lines[0].get_xdata())
    2
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "axes_note",
    "errorbar_ci",
    "fixed_log_x",
    "legend_below",
    "log_axes",
    "run_size",
    "variance_bars",
]


def errorbar_ci(
    ax: Any,
    rows: pd.DataFrame,
    x: str,
    *,
    y: str = "variance",
    lo: str | None = None,
    hi: str | None = None,
    **style: Any,
) -> Any:
    """Markers at ``rows[y]`` against ``rows[x]`` with error bars from ``rows[lo]`` to ``rows[hi]``.

    Args:
        ax: matplotlib axes.
        rows: table rows (e.g. of a summary table, whose 95% CIs are ``variance_lo`` and
            ``variance_hi``).
        x: column of the x values.
        y: column of the values.
        lo: column of the lower ends (default ``f"{y}_lo"``).
        hi: column of the upper ends (default ``f"{y}_hi"``).
        **style: passed to ``ax.errorbar`` (fmt, color, label...); the defaults are ms=5,
            capsize=2, lw=1.

    Returns:
        The ``ErrorbarContainer``.
    """
    v = np.asarray(rows[y], dtype=float)
    lower = np.asarray(rows[lo or f"{y}_lo"], dtype=float)
    upper = np.asarray(rows[hi or f"{y}_hi"], dtype=float)
    yerr = np.vstack([v - lower, upper - v])
    xv = np.asarray(rows[x], dtype=float)
    return ax.errorbar(xv, v, yerr=yerr, **{"ms": 5, "capsize": 2, "lw": 1, **style})


def variance_bars(ax: Any, table: pd.DataFrame, x: str, **style: Any) -> Any:
    """A summary table's variance with its 95% CI against column ``x``, open markers, no line.

    Args:
        ax: matplotlib axes.
        table: summary rows with ``variance``, ``variance_lo``, ``variance_hi`` and ``x``.
        x: column of the x values.
        **style: passed to ``ax.errorbar``; the defaults are ms=3.5, capsize=1.5, lw=0.8,
            white marker faces and no connecting line.

    Returns:
        The ``ErrorbarContainer``.
    """
    defaults = {"ms": 3.5, "capsize": 1.5, "lw": 0.8, "mfc": "white", "ls": "none"}
    return errorbar_ci(ax, table, x, **{**defaults, **style})


def axes_note(
    ax: Any,
    text: str,
    x: float = 0.02,
    y: float = 0.02,
    *,
    ha: str = "left",
    va: str = "bottom",
    fontsize: float = 8,
) -> None:
    """A grey note at (x, y) in axes coordinates (0 to 1), e.g. what the lines and markers are."""
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=fontsize, color="0.25")


def legend_below(fig: Any, ax: Any, *, ncol: int, fontsize: float = 8) -> Any:
    """One frameless legend for the figure, under the panels, from the entries of ``ax``."""
    handles, labels = ax.get_legend_handles_labels()
    return fig.legend(
        handles, labels, loc="outside lower center", ncol=ncol, fontsize=fontsize, frameon=False
    )


def fixed_log_x(ax: Any, ticks: Any, *, base: float = 10) -> None:
    """Log x axis (of ``base``) with plain-number major labels at ``ticks`` and no minor labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log", base=base)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def log_axes(ax: Any, x: bool = False, y: bool = True, xticks: Any = None) -> None:
    """Log scales with major grid lines only; ``xticks`` labelled as plain numbers."""
    if x:
        ax.set_xscale("log")
    if xticks is not None:
        from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

        ax.xaxis.set_major_locator(FixedLocator(list(xticks)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    if y:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(False, which="minor")


def run_size(summary: pd.DataFrame) -> tuple[int, str]:
    """(replicates per estimate, scale) of a summary table, for figure titles.

    The scale is "" when the table has no ``scale`` column.
    """
    scale = str(summary["scale"].iloc[0]) if "scale" in summary.columns else ""
    return int(summary["n_reps"].iloc[0]), scale
