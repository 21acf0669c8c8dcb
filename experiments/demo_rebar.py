"""Demo trajectory: the REBAR Bernoulli toy trained with Adam and one score-function sample.

A small example of a training trajectory (see vartools/harness/experiment.py): minimise
E_{b ~ Bernoulli(sigmoid(phi))}[(b - 0.45)^2] from phi = 0 with Adam (lr 0.01) using the
plain score-function estimator (n = 1); every ``every`` steps, measure the replicate variance
of SF and SF + RLOO (n = 2) at the current logit, the exact loss, and the EMA variance of the
training estimator (the REBAR / DisARM measure, labelled ``ema_variance``).
"""

from vartools.core.optim import adam
from vartools.harness.experiment import Experiment, Scale, Trajectory

__all__ = ["EXPERIMENT"]

EXPERIMENT = Experiment(
    name="demo_rebar",
    description=(
        "Demo trajectory: REBAR's Bernoulli toy (t = 0.45), Adam lr 0.01 on one SF sample per "
        "step; replicate variance of SF and SF + RLOO (n = 2) at checkpoints, exact loss and "
        "the EMA variance of the training estimator."
    ),
    problem="rebar_toy",
    points=[{"t": 0.45}],
    estimators=["sf", "sf+loo"],
    n_samples=[2],
    n_reps=2_000,
    trajectory=Trajectory(
        estimator="sf", n=1, optimizer=adam(0.01), steps=2_000, every=100, ema_decay=0.99
    ),
    seed=0,
    quick=Scale(n_reps=500, steps=400, every=50),
)
