"""Demo sweep: SF vs SF + RLOO on the Liu et al. (2019) three-Bernoulli toy, against n and eta.

A small example of a frozen-parameter sweep (see vartools/harness/experiment.py): two
parameter points (eta = 0 and eta = -4), three sample sizes, two estimators on common
random numbers. Exact
variances come from enumerating the n-sample joint support where it fits the budget
(n <= 4), and beyond it from the closed forms (SF: the one-sample variance / n; RLOO: the
U-statistic formula from the exact single-sample moments), so the exact lines cover every
n. Runs in about a second at the quick scale.
"""

from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot

__all__ = ["EXPERIMENT"]

EXPERIMENT = Experiment(
    name="demo_liu",
    description=(
        "Demo sweep: score function vs score function + leave-one-out baseline on the "
        "Liu et al. (2019) toy (3 Bernoullis, f = sum (z - p0)^2), eta in {0, -4}, n in "
        "{2, 4, 8}; replicate variance with CIs and the exact variance (enumeration, or "
        "closed forms beyond its budget)."
    ),
    problem="liu_toy",
    points=[{"eta": 0.0}, {"eta": -4.0}],
    estimators=["sf", "sf+loo"],
    n_samples=[2, 4, 8],
    n_reps=20_000,
    seed=0,
    quick=Scale(n_reps=2_000),
    plot=Plot(x="n", log_x=True),
)
