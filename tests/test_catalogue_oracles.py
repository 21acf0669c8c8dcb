"""The catalogue's own oracles are reached through exact_moments and measure_variance."""

import numpy as np
import pytest

import vartools as vt

Z = 5.7  # about a hundred comparisons at a family-wise error of 1e-6


@pytest.mark.parametrize(
    "base", [vt.sum_and_sample(2), vt.arm, vt.disarm], ids=["sas2", "arm", "disarm"]
)
def test_discrete_catalogue_exact_variance_in_table(base):
    prob = vt.make_problem("liu_toy", eta=-1.0)
    est = vt.make_estimator(base)
    t = vt.measure_variance(prob, [est], n_samples=[2], n_reps=4000, seed=3)
    rows = t[t.kind == "coordinate"]
    assert rows["exact_variance"].notna().all()
    assert np.all(np.abs(rows["variance"] - rows["exact_variance"]) <= Z * rows["variance_se"])
    # the oracle's mean is the exact gradient
    mean, _ = vt.exact_moments(prob, est, 2)
    np.testing.assert_allclose(mean, vt.exact_gradient(prob), atol=1e-12)


def test_measure_valued_exact_variance_in_table():
    prob = vt.make_problem("gaussian_cost", cost="cos", k=1.5)
    est = vt.make_estimator(vt.measure_valued)
    t = vt.measure_variance(prob, [est], n_samples=[3], n_reps=4000, seed=4)
    rows = t[t.kind == "coordinate"]
    assert rows["exact_variance"].notna().all()
    assert np.all(np.abs(rows["variance"] - rows["exact_variance"]) <= Z * rows["variance_se"])


def test_oracle_refuses_chains_it_does_not_cover():
    prob = vt.make_problem("gaussian_cost", cost="cos", k=1.5)
    est = vt.make_estimator(vt.measure_valued, vt.ema_baseline())
    with pytest.raises((ValueError, TypeError)):
        vt.exact_moments(prob, est, 2)
