"""The one plotting library: estimator colours, the default figures' spec, no second palette."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.colors as mcolors
import pandas as pd
import pytest

import vartools.plots.figures as figures_mod
from vartools.harness.experiment import Experiment
from vartools.harness.plot_spec import Plot
from vartools.plots.style import (
    ESTIMATOR_COLORS,
    PALETTE,
    estimator_color,
    estimator_colors,
)

ROOT = Path(__file__).resolve().parent.parent


def test_one_estimator_has_one_colour_under_all_its_names():
    assert estimator_color("sf") == estimator_color("reinforce") == estimator_color("lr")
    assert estimator_color("sf+loo") == estimator_color("rloo") == estimator_color("sf+rloo")
    assert estimator_color("sf") != estimator_color("pathwise") != estimator_color("mvd")
    assert set(ESTIMATOR_COLORS.values()) <= set(PALETTE)
    assert len(set(PALETTE)) == len(PALETTE)


def test_unknown_estimators_get_free_palette_colours():
    colors = estimator_colors(["mine", "sf", "theirs", "pathwise"])
    assert colors["sf"] == estimator_color("sf") and colors["pathwise"] == estimator_color(
        "pathwise"
    )
    assert len(set(colors.values())) == 4  # the unknown names take colours nobody else uses
    with pytest.raises(KeyError, match="'mine' has no fixed colour.*ESTIMATOR_COLORS"):
        estimator_color("mine")


def test_two_estimators_sharing_a_colour_are_refused_in_one_figure():
    with pytest.raises(ValueError, match="'sf' and 'reinforce' share the colour"):
        estimator_colors(["sf", "reinforce"])


def test_figure_code_has_no_palette_of_its_own():
    """Colours come from vartools.plots.style only (paper and results figures used to differ)."""
    files = sorted((ROOT / "paper").glob("*.py")) + sorted((ROOT / "experiments").rglob("*.py"))
    assert len(files) > 20
    offenders = [
        f"{f.relative_to(ROOT)}: {m}"
        for f in files
        for m in re.findall(r"#[0-9A-Fa-f]{6}\b|COLORS\[|\bpalette\(|_common", f.read_text())
    ]
    assert offenders == []
    assert not (ROOT / "paper" / "_common.py").exists()
    assert not (ROOT / "experiments" / "_common.py").exists()


def _summary() -> pd.DataFrame:
    rows = []
    for est in ("sf", "sf+loo"):
        for point, eta in enumerate((0.5, 2.0, 8.0)):
            v = (1.0 if est == "sf" else 0.25) * eta
            rows.append(
                {
                    "estimator": est,
                    "n": 2,
                    "point": point,
                    "at_eta": eta,
                    "coordinate": "(mean)",
                    "variance": v,
                    "variance_lo": 0.9 * v,
                    "variance_hi": 1.1 * v,
                    "exact_variance": v,
                }
            )
    return pd.DataFrame(rows)


def test_default_figures_follow_the_plot_spec(monkeypatch, tmp_path):
    """plot_experiment reads its axes from exp.plot and its colours from the estimators."""
    drawn = []

    def keep(fig, stem, formats=("png", "pdf")):
        drawn.append((fig, Path(stem).name))
        return [Path(stem).with_suffix(".png")]

    monkeypatch.setattr(figures_mod, "save_figure", keep)
    exp = Experiment(
        name="spec",
        description="d",
        problem="liu_toy",
        points=[{"eta": e} for e in (0.5, 2.0, 8.0)],
        estimators=["sf", "sf+loo"],
        n_samples=[2],
        n_reps=10,
        plot=Plot(log_x=True, log_y=False),
    )
    figures_mod.plot_experiment(exp, _summary(), None, tmp_path)
    ((fig, name),) = drawn
    ax = fig.axes[0]
    assert name == "variance_mean"
    assert (ax.get_xscale(), ax.get_yscale(), ax.get_xlabel()) == ("log", "linear", "eta")
    markers = {c.get_label(): mcolors.to_hex(c.lines[0].get_color()) for c in ax.containers}
    assert markers == {
        "sf": estimator_color("sf").lower(),
        "sf+loo": estimator_color("sf+loo").lower(),
    }
