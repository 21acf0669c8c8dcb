"""Shared helpers of the paper's figure scripts and of ``make_numbers.py``.

Every script reads the committed tables in ``results/`` (never recomputing an estimate) and
writes into an output directory: the first command-line argument, else ``$VT_PAPER_OUT``,
else ``paper/figures`` (figures) or ``paper/generated`` (numbers). ``$VT_RESULTS`` points at
another results directory (the tests use the committed one).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COLORS",
    "HERE",
    "TEXT_WIDTH",
    "errorbars",
    "legend_below",
    "log_axes",
    "meta",
    "new_figure",
    "out_dir",
    "read",
    "results_dir",
    "save",
    "variance_bars",
]

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # the experiments package (plotting helpers on tables)
    sys.path.insert(0, str(HERE.parent))
#: the LaTeX text width in inches (A4, 2.5 cm margins); figures are drawn at this width
TEXT_WIDTH = 6.25
#: Okabe-Ito colour-blind-safe palette
COLORS = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#999999",
]


def results_dir() -> Path:
    """The results directory: ``$VT_RESULTS`` or ``../results``."""
    return Path(os.environ.get("VT_RESULTS", HERE.parent / "results"))


def out_dir(default: str = "figures") -> Path:
    """The output directory (argv[1], ``$VT_PAPER_OUT`` or ``paper/<default>``), created."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if path is None:
        env = os.environ.get("VT_PAPER_OUT")
        path = Path(env) if env else HERE / default
    path.mkdir(parents=True, exist_ok=True)
    return path


def read(experiment: str, table: str = "summary") -> pd.DataFrame:
    """``results/<experiment>/<table>.csv``, with a message naming the command if missing."""
    path = results_dir() / experiment / f"{table}.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `vartools run {experiment} --scale full`")
    return pd.read_csv(path)


def meta(experiment: str) -> dict[str, Any]:
    """``results/<experiment>/meta.json``."""
    with open(results_dir() / experiment / "meta.json") as fh:
        return json.load(fh)


def new_figure(height: float, ncols: int = 1, nrows: int = 1, **kw: Any) -> tuple[Any, Any]:
    """A constrained-layout figure of the text width with 8-pt fonts."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(
        {
            "font.size": 8,
            "axes.titlesize": 8,
            "axes.labelsize": 8,
            "legend.fontsize": 7.5,
            "xtick.labelsize": 7.5,
            "ytick.labelsize": 7.5,
            "pdf.fonttype": 42,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "lines.linewidth": 1.2,
        }
    )
    fig = Figure(figsize=(TEXT_WIDTH, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def errorbars(ax: Any, x: Any, y: Any, lo: Any, hi: Any, **style: Any) -> Any:
    """Markers with asymmetric 95% CI bars (open markers by default)."""
    x, y, lo, hi = (np.asarray(v, dtype=float) for v in (x, y, lo, hi))
    style = {"ms": 3.5, "capsize": 1.5, "lw": 0.8, "mfc": "white", "ls": "none", **style}
    return ax.errorbar(x, y, yerr=np.vstack([y - lo, hi - y]), **style)


def variance_bars(ax: Any, table: pd.DataFrame, x: str, **style: Any) -> Any:
    """``errorbars`` of a summary table's variance with its 95% CI against column ``x``."""
    return errorbars(
        ax, table[x], table["variance"], table["variance_lo"], table["variance_hi"], **style
    )


def legend_below(fig: Any, ax: Any, ncol: int) -> Any:
    """The legend of ``ax``'s artists, below the figure, without a frame."""
    return fig.legend(
        *ax.get_legend_handles_labels(), loc="outside lower center", ncol=ncol, frameon=False
    )


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


def save(fig: Any, name: str) -> Path:
    """Write ``<out>/<name>.pdf`` (fonts embedded, no timestamp) and return its path."""
    path = out_dir() / f"{name}.pdf"
    fig.savefig(path, metadata={"CreationDate": None, "ModDate": None})
    print(path)
    return path
