"""Figure: ARM toy (variance against sigmoid(phi)) and Double-CV toy (variance along training).

Reads results/arm_toy/{summary,training,exact}.csv and results/quadratic_200/summary.csv;
writes figures/antithetic.pdf.
"""

import importlib
import sys
from pathlib import Path

from vartools.plots.helpers import log_axes, variance_bars
from vartools.plots.paper import read, save_paper_figure
from vartools.plots.style import estimator_color, paper_figure

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's experiments/
markers = importlib.import_module("experiments.arm_toy.figures").markers


ARM = {
    ("sf", 2): ("SF", estimator_color("sf"), "o"),
    ("rloo", 2): ("RLOO", estimator_color("rloo"), "s"),
    ("arm", 1): ("ARM", estimator_color("arm"), "^"),
    ("disarm", 1): ("DisARM", estimator_color("disarm"), "D"),
}
QUAD = {
    "sf": ("SF", estimator_color("sf"), "o"),
    "rloo": ("RLOO", estimator_color("rloo"), "s"),
    "disarm": ("DisARM", estimator_color("disarm"), "D"),
    "dependency_aware": ("dependency-aware RB", estimator_color("dependency_aware"), "v"),
}


def _eval_label(label: str, n_evals: int) -> str:
    return f"{label} ({n_evals} evals)"


def main() -> None:
    """Left: ARM toy, exact lines and markers; right: mean per-dimension variance, D = 200."""
    summary = read("arm_toy")
    exact = read("arm_toy", "exact")
    mk = markers(summary, read("arm_toy", "training"))
    fig, axes = paper_figure(2.8, ncols=2)
    ax_a, ax_q = axes[0]
    floor = 1e-12 * exact["exact_variance"].max()
    reach = mk["theta"].max()  # the exact lines stop where the trajectory stops
    for (name, n), (label, color, marker) in ARM.items():
        e = exact[(exact["estimator"] == name) & (exact["n"] == n)]
        e = e[(e["exact_variance"] > floor) & (e["theta"] <= reach)].sort_values("theta")
        m = mk[(mk["estimator"] == name) & (mk["n"] == n) & (mk["variance"] > floor)]
        ax_a.plot(e["theta"], e["exact_variance"], color=color)
        variance_bars(
            ax_a,
            m,
            "theta",
            color=color,
            marker=marker,
            ms=3,
            label=_eval_label(label, int(m["n_evals"].iloc[0])),
        )
    log_axes(ax_a)
    ax_a.set_xlabel("$\\sigma(\\phi)$ along gradient ascent")
    ax_a.set_ylabel("variance (log scale)")
    ax_a.set_title("ARM toy: one Bernoulli, $f = (z - 0.49)^2$")
    ax_a.legend(loc="center left", bbox_to_anchor=(0, 0.62), frameon=False)
    s = read("quadratic_200")
    s = s[s["kind"] == "mean"]
    for name, (label, color, marker) in QUAD.items():
        n = 1 if name == "disarm" else 2  # 2 f evaluations each: one pair, or K = 2
        m = s[(s["estimator"] == name) & (s["n"] == n)].sort_values("step")
        variance_bars(
            ax_q,
            m,
            "step",
            color=color,
            marker=marker,
            ms=3,
            ls="-",
            label=_eval_label(label, int(m["n_evals"].iloc[0])),
        )
    log_axes(ax_q)
    ax_q.set_xlabel("training step (RLOO, RMSprop)")
    ax_q.set_ylabel("mean per-dimension variance (log scale)")
    ax_q.set_title("Double-CV toy: $D = 200$ Bernoullis")
    ax_q.legend(loc="center right", bbox_to_anchor=(1, 0.7), frameon=False)
    save_paper_figure(fig, "antithetic")


if __name__ == "__main__":
    main()
