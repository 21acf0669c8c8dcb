"""sampling_bias: exact batch bias by an independent enumeration, relaxation bias, samplers."""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED
from scipy import special

from vartools.harness.loading import load_experiment
from vartools.measure.variance import measure_variance

EXP = load_experiment("sampling_bias")  # puts the experiments package on sys.path
SX = importlib.import_module("experiments.sampling_bias.extra")
SM = importlib.import_module("experiments.sampling_bias.models")


def _batch_mean_by_hand(prob, n):
    """E[SF + b fitted on the same batch] by enumerating the n-sample joint (LS slope per d)."""
    x, q = prob.dist.support()
    f = prob.evaluate(x[:, None])[:, 0]
    s = prob.dist.score(x[:, None])[:, 0, :]  # (8, p)
    mean = np.zeros(s.shape[1])
    for idx in itertools.product(range(len(q)), repeat=n):
        idx = list(idx)
        si, fi = s[idx], f[idx]
        g = fi[:, None] * si
        sc, gc = si - si.mean(0), g - g.mean(0)
        sxx = (sc * sc).sum(0)
        b = np.where(sxx > 0, (sc * gc).sum(0) / np.where(sxx > 0, sxx, 1.0), 0.0)
        mean += np.prod(q[idx]) * (g - b * si).mean(0)
    return mean


def test_batch_bias_table_exact_and_against_a_hand_enumeration():
    t = SX.batch_bias_table()
    assert set(t["estimator"]) == set(SM.BATCH) and set(t["n"]) == set(SX.EXACT_N)
    fitted = t[t["estimator"] != "sf+optbase_batch"]
    assert np.all(np.abs(fitted["exact_bias"]) < ATOL)  # LOO and cross-fitting: unbiased
    prob = SM.problem("liu_toy")
    batch = t[t["estimator"] == "sf+optbase_batch"]
    for n in (2, 3):
        mean = _batch_mean_by_hand(prob, n)
        got = batch[batch["n"] == n].sort_values("coordinate")["exact_mean"].to_numpy()
        np.testing.assert_allclose(got, mean, atol=1e-10)
    # the same-batch coefficient is biased by more than the gradient itself at n = 2
    b2 = batch[batch["n"] == 2]
    assert np.max(np.abs(b2["relative_bias"])) > 1.0


def test_relaxation_bias_straight_through_closed_form_and_gumbel_measured():
    exp = EXP.at_scale("quick")
    t = SX.relaxation_table(exp)
    prob = SM.problem("liu_toy")
    p = special.expit(prob.dist.params)
    # ST: E[2 (z - p0) p (1 - p)] - (1 - 2 p0) p (1 - p) = (2p - 1) p (1 - p), any p0
    st = t[t["estimator"] == "st"].sort_values("coordinate")
    np.testing.assert_allclose(st["exact_mean"] - st["truth"], (2 * p - 1) * p * (1 - p), atol=ATOL)
    assert np.all(
        np.abs(st["bias"] - (st["exact_mean"] - st["truth"])) <= Z_HUNDRED * st["bias_se"]
    )
    sf = t[t["estimator"] == "sf"]
    assert np.all(np.abs(sf["bias"]) <= Z_HUNDRED * sf["bias_se"])  # SF is unbiased
    g1 = t[t["estimator"] == "gumbel(1)"]
    assert np.all(np.abs(g1["bias"]) > Z_HUNDRED * g1["bias_se"])  # biased, measurably
    assert set(t["temperature"].dropna()) == set(SM.TEMPERATURES)
    assert t["biased"].sum() == len(t) - len(sf)


@pytest.mark.parametrize("setting", list(SM.SETTINGS))
def test_samplers_at_equal_evaluations_and_unbiased(setting):
    prob = SM.problem(setting)
    ests = [e for e in SM.build_estimators() if e.name in SM.SAMPLERS]
    t = measure_variance(prob, ests, n_samples=[16], n_reps=4000, seed=3, exact=False, warmup=0)
    c = t[t["kind"] == "coordinate"]
    assert set(c["n_evals"]) == {16}
    assert np.all(np.abs(c["bias"]) <= Z_HUNDRED * c["bias_se"])
    # stratified and Sobol beat iid at n = 16 on both settings (paired 95% CI below 1)
    m = t[(t["kind"] == "mean") & t["estimator"].isin(["sf@stratified", "sf@sobol"])]
    assert np.all(m["ratio_hi"] < 1.0)
