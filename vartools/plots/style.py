"""One look for every figure: the estimator colours, the palette, figure sizes and saving.

The same estimator has the same colour in every figure, the paper's and the results'
(``vartools plot``): ``estimator_color("sf")`` is the score function's blue everywhere.
Colours are keyed by the estimator names used in the tables; a few families have
several names (the score function is ``sf`` in most tables, ``reinforce`` in the Liu /
Kool toy and ``lr``, likelihood ratio, in the option Greeks). Estimators without a fixed
colour (a user's own) get the palette's unused colours in order (``estimator_colors``).
The palette is Okabe and Ito's colour-blind-safe one, extended by four of Paul Tol's
"muted" colours.

Example:
    >>> estimator_color("sf") == estimator_color("reinforce") == estimator_color("lr")
    True
    >>> colors = estimator_colors(["sf", "my_estimator"])
    >>> colors["sf"] == estimator_color("sf") and colors["my_estimator"] not in {colors["sf"]}
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

__all__ = [
    "ESTIMATOR_COLORS",
    "PALETTE",
    "TEXT_WIDTH",
    "estimator_color",
    "estimator_colors",
    "paper_figure",
    "save_figure",
]

#: Okabe-Ito (colour-blind safe), then Paul Tol's muted indigo, wine, olive and teal.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#999999",  # grey
    "#332288",  # indigo
    "#882255",  # wine
    "#999933",  # olive
    "#44AA99",  # teal
)
_BLUE, _ORANGE, _GREEN, _VERMILLION, _PURPLE, _SKY, _BLACK, _GREY = PALETTE[:8]
_INDIGO, _WINE, _OLIVE, _TEAL = PALETTE[8:]

#: The colour of every named estimator (all names of one estimator share it).
ESTIMATOR_COLORS: dict[str, str] = {
    # the score function (REINFORCE, likelihood ratio), without a baseline
    "sf": _BLUE,
    "reinforce": _BLUE,
    "lr": _BLUE,
    "no baseline": _BLUE,
    # baselines
    "sf+b*": _ORANGE,
    "sf+opt*": _ORANGE,
    "optimal b*(s,a)": _ORANGE,
    "sf+ema": _SKY,
    "rloo per state": _SKY,
    "sf+loo": _VERMILLION,
    "sf+rloo": _VERMILLION,
    "rloo": _VERMILLION,
    "constant J": _PURPLE,
    "state value V(s)": _GREEN,
    # control variates on the score function
    "sf+delta": _OLIVE,
    "sf+delta*": _OLIVE,
    "lr+cv": _OLIVE,
    # reparameterisation and measure-valued
    "pathwise": _GREEN,
    "pathwise+delta": _BLACK,
    "pathwise+delta*": _BLACK,
    "pathwise+cv": _BLACK,
    "mvd": _WINE,
    "mvd+delta": _GREY,
    # antithetic and Rao-Blackwellised estimators of discrete problems
    "arm": _PURPLE,
    "disarm": _INDIGO,
    "local_expectation": _TEAL,
    "exact (RB)": _TEAL,  # the local expectation of one Bernoulli is its exact gradient
    "sum_and_sample": _GREEN,
    "dependency_aware": _GREY,
    # the state of the art (VIMCO, unordered set, REBAR, RELAX, Double CV, RODEO)
    "vimco": _ORANGE,
    "unordered_set4": _GREY,
    "rebar": _GREEN,
    "relax": _WINE,
    "double_cv": _OLIVE,
    "rodeo": _ORANGE,  # not grey: quadratic_200 shows it beside dependency_aware
    # knowingly biased relaxations
    "straight_through": _BLACK,
    "gumbel_softmax": _SKY,
    # reinforcement learning with time (vartools.catalogue.rl): the baseline's colour
    # follows its kind above (moving average sky blue, leave-one-out vermillion, ...)
    "rtg": _BLACK,
    "rtg+const(1)": _PURPLE,
    "rtg+ema(t)": _SKY,
    "rtg+loo(t)": _VERMILLION,
    "rtg+V(s)": _GREEN,
    "rtg+b*(s)": _ORANGE,
    "rtg+critic": _OLIVE,
    "GAE, critic Vbar": _VERMILLION,
    "GAE, critic V*": _BLUE,
    "discounted reward-to-go": _GREEN,
}

#: The LaTeX text width in inches (A4, 2.5 cm margins): the paper's figures are this wide.
TEXT_WIDTH = 6.25


def estimator_color(name: str) -> str:
    """The colour of estimator ``name`` in every figure.

    Raises:
        KeyError: ``name`` has no fixed colour; add it to ``ESTIMATOR_COLORS`` (or use
            ``estimator_colors``, which colours unknown names from the palette).
    """
    try:
        return ESTIMATOR_COLORS[name]
    except KeyError:
        raise KeyError(
            f"estimator {name!r} has no fixed colour; add it to "
            "vartools.plots.style.ESTIMATOR_COLORS or use estimator_colors(names)"
        ) from None


def estimator_colors(names: Iterable[str]) -> dict[str, str]:
    """Colours for ``names``: the fixed ones, and the palette's unused colours for the rest.

    Raises:
        ValueError: two of ``names`` have the same fixed colour (they could not be told
            apart in one figure).
    """
    names = list(dict.fromkeys(names))
    fixed = {n: ESTIMATOR_COLORS[n] for n in names if n in ESTIMATOR_COLORS}
    seen: dict[str, str] = {}
    for n, c in fixed.items():
        if c in seen:
            raise ValueError(
                f"estimators {seen[c]!r} and {n!r} share the colour {c} and cannot be told apart "
                "in one figure; give one of them another colour in ESTIMATOR_COLORS"
            )
        seen[c] = n
    free = [c for c in PALETTE if c not in seen]
    out: dict[str, str] = {}
    for n in names:
        if n in fixed:
            out[n] = fixed[n]
        else:
            out[n] = free.pop(0) if free else PALETTE[len(out) % len(PALETTE)]
    return out


def paper_figure(height: float, ncols: int = 1, nrows: int = 1, **kw: Any) -> tuple[Figure, Any]:
    """A constrained-layout figure of the paper's text width with 7.5-8 pt fonts.

    The 8-pt style is set in matplotlib's ``rcParams``, for the whole process (as the
    paper's scripts always did); ``vartools plot`` draws its figures without this call.

    Args:
        height: height in inches.
        ncols: panels per row.
        nrows: rows of panels.
        **kw: passed to ``Figure.subplots`` (e.g. ``sharex``).

    Returns:
        ``(figure, axes)`` with ``axes`` of shape (nrows, ncols).
    """
    import matplotlib

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


def save_figure(
    fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (directories created); returns the paths.

    PDFs carry no timestamp, so an unchanged figure is byte-identical when rebuilt.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in formats:
        path = stem.with_suffix(f".{ext}")
        fig.savefig(
            path,
            dpi=150 if ext == "png" else None,
            metadata={"CreationDate": None, "ModDate": None} if ext == "pdf" else None,
        )
        paths.append(path)
    return paths
