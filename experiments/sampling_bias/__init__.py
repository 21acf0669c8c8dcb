"""Better sampling, relaxation bias and same-batch coefficient bias, at frozen parameters.

Three things the toolkit provides and the report described without evaluating them
(issue 17), measured here on two settings: a continuous one, f = cos(2x) with
x ~ N(1, 1) (gradient w.r.t. the mean and the standard deviation), and a discrete one, the
Liu et al. (2019) toy at eta = -1.5 (3 Bernoullis, f = sum (z - p0)^2, p0 = (0.6, 0.51, 0.48)).

1. Sampling (``summary.csv``, estimators ``sf``, ``sf@antithetic``, ``sf@stratified``,
   ``sf@sobol``): the score-function estimator with iid, antithetic, stratified and
   randomised Sobol (LMS scrambling) samples, all at n evaluations of f per estimate, so the
   paired variance ratio to iid SF (``ratio``, 95% CI) is at equal cost. n = 2..32.
2. Same-batch coefficient bias (``summary.csv``, ``sf+optbase_batch``, ``sf+optbase_loo``,
   ``sf+optbase_xfit``): the optimal baseline b fitted on the very batch it corrects
   (flagged biased) against leave-one-out and cross-fitted b (unbiased): bias with its SE
   against n on both settings, and the exact bias by enumerating the n-sample joint on the
   discrete one for n = 2..6 (``batch_bias.csv``; 8^6 joint outcomes).
3. Relaxation bias (``relaxation.csv``): straight-through and Gumbel-softmax (binary
   Concrete) at temperatures 0.1..2 on the discrete setting, n = 1 (bias does not depend
   on n), with 5 x n_reps replicates: bias against the exact gradient with its SE, and the
   exact mean of straight-through by enumeration.

Stateless estimators only: nothing is warmed up.
"""

from __future__ import annotations

from vartools.harness.experiment import Experiment, Scale

from .extra import tables
from .models import N_FULL, N_QUICK, SETTINGS, build_estimators, problem

__all__ = ["EXPERIMENT", "tables"]

EXPERIMENT = Experiment(
    name="sampling_bias",
    description=(
        "Frozen parameters, cos(2x) with x ~ N(1, 1) and the Liu toy at eta = -1.5: SF with iid, "
        "antithetic, stratified and Sobol sampling at equal f evaluations (paired variance "
        "ratios); the bias of the optimal baseline fitted on the same batch against its "
        "leave-one-out and cross-fitted versions (Monte Carlo with SE, exact by enumeration); "
        "the bias of straight-through and Gumbel-softmax against the temperature."
    ),
    problem=problem,
    points=[{"setting": s} for s in SETTINGS],
    estimators=build_estimators(),
    n_samples=N_FULL,
    n_reps=20_000,
    seed=17,
    warmup=0,
    quick=Scale(n_reps=2_000, n_samples=N_QUICK),
)
