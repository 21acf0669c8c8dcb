"""Parameter names of pytrees and the per-block aggregate rows of measure_variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jax")

import jax_models as jm  # noqa: E402

import vartools as vt  # noqa: E402
from vartools.measure import rows as variance_rows  # noqa: E402
from vartools.measure import statistics, summary
from vartools.measure.blocks import run_block
from vartools.measure.statistics import aggregate_stats, paired_ratio  # noqa: E402

ESTS = [
    vt.make_estimator(vt.score_function),
    vt.make_estimator(vt.score_function, vt.loo_baseline()),
]


def test_pytree_coordinate_names_and_blocks():
    prob = jm.policy_problem()
    names = prob.dist.param_names
    assert "policy.w1[3,4]" in names and "policy.b2[2]" in names
    assert len(names) == prob.dist.n_params == 4 * 8 + 8 + 8 * 3 + 3
    blocks = [b for b, _ in prob.dist.param_blocks()]
    assert blocks == ["policy.b1", "policy.b2", "policy.w1", "policy.w2"]
    tree = prob.dist.to_tree(np.arange(prob.dist.n_params, dtype=float))
    assert tree["policy"]["w1"].shape == (4, 8)
    np.testing.assert_array_equal(
        prob.dist.unflatten(prob.dist.params)["policy.w2"], jm.mlp_params()["policy"]["w2"]
    )


def test_mixed_noise_samples_states_and_actions():
    prob = jm.policy_problem()
    x = prob.dist.sample(500, rng=np.random.default_rng(0), reps=(2,))
    assert x.shape == (2, 500, 5)
    assert set(np.unique(x[..., 4])) <= {0.0, 1.0, 2.0}
    # the states are standard normal: each coordinate's mean within z * SE of 0, with
    # SE = 1 / sqrt(1000) and z = 5.3 for four comparisons (family-wise error 1e-6)
    assert np.all(np.abs(x[..., :4].reshape(-1, 4).mean(0)) <= 5.3 / np.sqrt(1000))


def _table(rows, **kw):
    return vt.measure_variance(
        jm.policy_problem(), ESTS, n_samples=[4], n_reps=300, seed=3, rows=rows, **kw
    )


def test_block_rows_aggregate_the_coordinate_rows():
    full = _table("all")
    coords = full.query("kind == 'coordinate'")
    prob = jm.policy_problem()
    est = {e.name: None for e in ESTS}
    for name in est:
        c = coords[coords["estimator"] == name].set_index("coordinate")
        for block, shape in prob.dist.param_blocks():
            sub = c.loc[[n for n in c.index if n.startswith(block + "[")]]
            assert len(sub) == int(np.prod(shape))
            row = full.query("estimator == @name and coordinate == @block")
            got = row.set_index("kind")["variance"]
            np.testing.assert_allclose(got["block_mean"], sub["variance"].mean(), rtol=1e-12)
            np.testing.assert_allclose(got["block_trace"], sub["variance"].sum(), rtol=1e-12)
            np.testing.assert_allclose(got["block_max"], sub["variance"].max(), rtol=1e-12)
    assert set(full["kind"]) == {
        "coordinate",
        "mean",
        "trace",
        "max",
        "block_mean",
        "block_trace",
        "block_max",
    }


def test_block_ratio_and_ci_equal_the_whole_model_formulas_on_the_block():
    prob = jm.policy_problem()
    rng_est = {}
    for e in ESTS:
        res = run_block(prob, [e], 4, 0, 256, seed=3)
        rng_est[e.name] = res.estimates[e.name]
    b0, b1 = 0, 8  # policy.b1
    est, ref = rng_est["sf+loo"], rng_est["sf"]
    want = aggregate_stats(est[:, b0:b1])
    want_ratio = paired_ratio(est[:, b0:b1], ref[:, b0:b1], reduce="mean")
    table = summary.summarize(
        prob,
        ESTS,
        4,
        rng_est,
        seconds={"sf": 1.0, "sf+loo": 1.0},
        n_evals={"sf": 4, "sf+loo": 4},
        rows="blocks",
    )
    row = table.query("estimator == 'sf+loo' and coordinate == 'policy.b1'").set_index("kind")
    for kind in ("mean", "trace", "max"):
        for col in ("variance", "variance_lo", "variance_hi"):
            np.testing.assert_allclose(row.loc["block_" + kind, col], want[kind][col], rtol=1e-10)
    for i, col in enumerate(("ratio", "ratio_lo", "ratio_hi")):
        np.testing.assert_allclose(row.loc["block_mean", col], want_ratio[i], rtol=1e-10)
    assert not (table["kind"] == "coordinate").any()


def test_column_chunked_statistics_equal_the_unchunked_ones(monkeypatch):
    whole = _table("all")
    monkeypatch.setattr(statistics, "STATS_ELEMENTS", 300 * 7)  # chunks of 7 columns
    chunked = _table("all")
    num = [c for c in summary.COLUMNS if c not in ("time_per_estimate", "efficiency")]
    num = [c for c in num if pd.api.types.is_float_dtype(whole[c])]
    np.testing.assert_allclose(
        chunked[num].to_numpy(float), whole[num].to_numpy(float), rtol=1e-10, atol=1e-15
    )


def test_auto_rows_switch_to_blocks_for_large_models(monkeypatch):
    assert not (_table("auto")["kind"].str.startswith("block_")).any()  # p = 67
    monkeypatch.setattr(variance_rows, "MAX_COORDINATE_ROWS", 50)
    t = _table("auto")
    assert not (t["kind"] == "coordinate").any()
    assert (t["kind"] == "block_mean").sum() == 2 * 4
    with pytest.raises(ValueError, match=r"rows must be one of"):
        _table("weights")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mixed_noise_chunked_draws_equal_one_draw(dtype):
    prob = jm.policy_problem()
    est = vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype=dtype)
    g0, _ = est(prob, 4, rng=np.random.default_rng(5), reps=(50,), chunk=0)
    g7, _ = est(prob, 4, rng=np.random.default_rng(5), reps=(50,), chunk=7)
    # the same noise; XLA may round differently for different batch shapes (a different
    # stream would differ at order one)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(g7, g0, rtol=rtol, atol=rtol * np.abs(g0).max())
