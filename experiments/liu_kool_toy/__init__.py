"""Liu et al. (ICML 2019) / Kool et al. (ICLR 2020) Bernoulli toy: variance against f evaluations.

Setting (REFERENCES.md, E6): d = 3 Bernoullis sharing one logit eta, f(z) = sum_i (z_i - p0_i)^2
with p0 = (0.6, 0.51, 0.48), eta in {0, -4}. ``make_problem("liu_toy", eta=)`` gives each
coordinate its own logit (all equal to eta); by the chain rule the gradient of the shared
logit is the sum of the three per-coordinate gradients, and the estimators of the shared
gradient are the sums of the per-coordinate estimates (for score-function estimators the
summed score is exactly the score of the shared logit, sum_i (z_i - sigmoid(eta))). So we
report the variance of the summed gradient estimate. The exact gradient at eta = 0 is -0.045
(Liu et al. 2019, Kool et al. 2020).

Estimators, each against the number of f evaluations per estimate (Kool et al. 2020, Fig. 2):

- REINFORCE with K samples and no baseline (K evaluations; K = 1 is also RLOO with K = 1);
- RLOO with K = 2..8 samples (K evaluations);
- sum-and-sample (Liu et al. 2019) on the joint categorical over the 8 states: the k most
  probable states summed exactly (ties broken uniformly at random per estimate: at eta = 0
  all 8 states are equiprobable, at eta = -4 the three 1-bit and the three 2-bit states
  tie, so k = 1..7 at eta = 0 and k = 2, 3, 5, 6 at eta = -4 have several top sets;
  ``tie_spread.csv`` gives the variance for each choice, min to max, beside the mean),
  one sample from the renormalised rest (k + 1 evaluations,
  k = 0..7; k = 7 leaves a single state, so its variance is 0, as is k = 8 with 8
  evaluations);
- local expectation gradients (Titsias & Lazaro-Gredilla 2015), n = 1, 2 samples (each costs
  1 + d = 4 evaluations: f at the sample and at each coordinate flipped).

Exact variances come from enumerating the 8 joint states (lines); Monte Carlo replicate
variances with 95% CIs are the markers.
"""

from __future__ import annotations

from vartools.harness.experiment import Experiment, Scale
from vartools.harness.plot_spec import Plot

from .models import ETAS, MAX_EVALS, build_estimators, problem
from .oracles import exact_table, tables

__all__ = ["EXPERIMENT", "exact_table", "tables"]

EXPERIMENT = Experiment(
    name="liu_kool_toy",
    description=(
        "Liu et al. (2019) / Kool et al. (2020) toy: 3 Bernoullis sharing one logit eta in "
        "{0, -4}, f = sum (z - p0)^2; variance of the shared-logit gradient of REINFORCE, "
        "RLOO, sum-and-sample and local expectation gradients against f evaluations, exact "
        "by enumeration and Monte Carlo with 95% CIs. Sum-and-sample breaks ties among "
        "equiprobable states uniformly at random per estimate (tie_spread.csv: the variance "
        "over the tie choices)."
    ),
    problem=problem,
    points=[{"eta": eta} for eta in ETAS],
    estimators=build_estimators(),
    n_samples=list(range(1, MAX_EVALS + 1)),
    n_reps=10_000,
    seed=6,
    quick=Scale(n_reps=2000),
    exact=False,  # the exact curves are closed forms (exact_table), tested against enumeration
    plot=Plot(x="n_evals", log_x=False, log_y=True),
)
