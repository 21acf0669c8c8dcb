"""measure_variance: measured variances against the exact oracles, and seed-tree invariances.

Monte Carlo comparisons use fixed seeds and |measured - exact| <= z * SE, with z the
Bonferroni quantile for a family-wise error of 1e-6 over every comparison made in the
test (computed from the count, about 5.8 for ~150 comparisons).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import Z_ONE, bern_problem, cat_problem, normal_problem
from scipy import stats

import vartools as vt
from vartools.core import rng as rng_mod
from vartools.measure.blocks import run_block, warm_state
from vartools.measure.statistics import replicate_stats
from vartools.measure.summary import COLUMNS
from vartools.oracles import exact

B_CONST = 1.0
N_SAMPLES = (2, 4, 8)


def _z(count: int) -> float:
    return float(stats.norm.isf(0.5e-6 / count))


def _ests() -> list[vt.Estimator]:
    return [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.constant_baseline(B_CONST)),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
    ]


def _closed_form(m: exact.SFMoments, est_name: str, n: int) -> np.ndarray:
    if est_name == "sf":
        return exact.baseline_variance(m, 0.0) / n
    if est_name == f"sf+const({B_CONST:g})":
        return exact.baseline_variance(m, B_CONST) / n
    assert est_name == "sf+loo"
    return exact.rloo_variance(m, n)


PROBLEMS = [
    bern_problem(),
    cat_problem(),
    normal_problem("square", 2.0),
    normal_problem("bump", 0.7),
    normal_problem("cos", 1.5),
]


def test_measured_variance_agrees_with_exact_oracles():
    """SF, SF + constant baseline and RLOO (K = 2, 4, 8), Bernoulli, Categorical, Normal."""
    rows = []
    for prob in PROBLEMS:
        t = vt.measure_variance(prob, _ests(), n_samples=list(N_SAMPLES), n_reps=4000, seed=123)
        m = exact.sf_moments(prob)
        for (est_name, n), sub in t[t["kind"] == "coordinate"].groupby(["estimator", "n"]):
            sub = sub.set_index("coordinate").loc[list(prob.dist.param_names)]
            ref = _closed_form(m, est_name, n)
            # the table's own oracle column, where the enumeration fits the budget, is exact
            has = np.isfinite(sub["exact_variance"].to_numpy())
            np.testing.assert_allclose(sub["exact_variance"].to_numpy()[has], ref[has], rtol=1e-9)
            if isinstance(prob.dist, vt.Normal):
                assert has.all()
            rows.append(
                pd.DataFrame(
                    {
                        "problem": prob.name,
                        "estimator": est_name,
                        "n": n,
                        "variance": sub["variance"].to_numpy(),
                        "variance_se": sub["variance_se"].to_numpy(),
                        "exact": ref,
                        "bias": sub["bias"].to_numpy(),
                        "bias_se": sub["bias_se"].to_numpy(),
                        "truth": sub["truth"].to_numpy(),
                    }
                )
            )
            np.testing.assert_allclose(sub["truth"].to_numpy(), m.g, rtol=1e-12, atol=1e-14)
    res = pd.concat(rows, ignore_index=True)
    z = _z(2 * len(res))
    assert 5.5 < z < 6.2
    dev = np.abs(res["variance"] - res["exact"]) / res["variance_se"]
    worst = res.assign(dev=dev).sort_values("dev").iloc[-1]
    assert (dev <= z).all(), f"measured variance off by {worst['dev']:.2f} SE:\n{worst}"
    bdev = np.abs(res["bias"]) / res["bias_se"]
    assert (bdev <= z).all()
    # and the comparison is sharp enough to see a baseline subtracted twice (2b) or
    # a score with its sign flipped in the baseline term (-b)
    for b_wrong in (2 * B_CONST, -B_CONST):
        detected = {}
        for prob in PROBLEMS:
            m = exact.sf_moments(prob)
            sel = res[(res["problem"] == prob.name) & (res["estimator"] == "sf+const(1)")]
            wrong = np.concatenate([exact.baseline_variance(m, b_wrong) / n for n in N_SAMPLES])
            detected[prob.name] = np.any(np.abs(sel["variance"] - wrong) > z * sel["variance_se"])
        assert detected["bern3"] and detected["cat2x3"] and sum(detected.values()) >= 3, detected


@pytest.mark.parametrize("cost", ["square", "bump", "cos"])
def test_measured_pathwise_variance_agrees_with_quadrature(cost):
    prob = normal_problem(cost, {"square": 2.0, "bump": 0.7, "cos": 1.5}[cost])
    pw = vt.make_estimator(vt.pathwise)
    t = vt.measure_variance(prob, pw, n_samples=[1, 3], n_reps=4000, seed=7)
    t = t[t["kind"] == "coordinate"]
    exact_v = np.concatenate([exact.exact_moments(prob, pw, n)[1] for n in (1, 3)])
    np.testing.assert_allclose(t["exact_variance"].to_numpy(), exact_v, rtol=1e-12)
    dev = np.abs(t["variance"].to_numpy() - exact_v) / t["variance_se"].to_numpy()
    assert (dev <= _z(12)).all()
    assert (np.abs(t["bias"]) <= _z(12) * t["bias_se"]).all()


def _no_time(t: pd.DataFrame) -> pd.DataFrame:
    return t.drop(columns=["time_per_estimate"])


def test_same_seed_identical_table_different_seed_different():
    prob = bern_problem()
    ests = _ests() + [vt.make_estimator(vt.score_function, vt.ema_baseline(0.8))]
    kw = dict(n_samples=[2, 3], n_reps=300, block_size=128)
    a = vt.measure_variance(prob, ests, seed=11, **kw)
    b = vt.measure_variance(prob, ests, seed=11, **kw)
    c = vt.measure_variance(prob, ests, seed=12, **kw)
    assert list(a.columns) == COLUMNS
    pd.testing.assert_frame_equal(_no_time(a), _no_time(b))
    assert not np.array_equal(a["variance"].to_numpy(), c["variance"].to_numpy())
    assert a.attrs["seed"] == 11 and a.attrs["block_size"] == 128


def _blocks(prob, ests, n, n_reps, block_size, seed, states, order):
    n_blocks = -(-n_reps // block_size)
    res = {}
    for blk in order(range(n_blocks)):
        size = min(block_size, n_reps - blk * block_size)
        res[blk] = run_block(prob, ests, n, blk, size, seed=seed, states=states)
    return {
        e.name: np.concatenate([res[i].estimates[e.name] for i in range(n_blocks)]) for e in ests
    }


@pytest.mark.parametrize("prob_factory", [bern_problem, lambda: normal_problem("cos", 1.5)])
def test_block_order_and_growing_n_reps_do_not_change_replicates(prob_factory):
    prob = prob_factory()
    ests = _ests() + [vt.make_estimator(vt.score_function, vt.ema_baseline(0.8))]
    n, seed, bs = 4, 2024, 64
    states = [warm_state(prob, e, n, seed=seed, warmup=10) for e in ests]
    states2 = [warm_state(prob, e, n, seed=seed, warmup=10) for e in ests]
    assert repr(states) == repr(states2)
    fwd = _blocks(prob, ests, n, 200, bs, seed, states, lambda r: list(r))
    rev = _blocks(prob, ests, n, 200, bs, seed, states, lambda r: list(r)[::-1])
    # block 2 on its own, and each estimator on its own, give the same numbers
    alone = run_block(prob, ests[::-1], n, 2, bs, seed=seed, states=states[::-1])
    grown = _blocks(prob, ests, n, 333, bs, seed, states, lambda r: list(r)[::-1])
    for e in ests:
        np.testing.assert_array_equal(fwd[e.name], rev[e.name])
        np.testing.assert_array_equal(alone.estimates[e.name][:8], fwd[e.name][128:136])
        np.testing.assert_array_equal(grown[e.name][:200], fwd[e.name])
        assert not np.array_equal(grown[e.name][200:264], grown[e.name][136:200])
    # common random numbers: every estimator saw the same x, so SF and SF + baseline differ
    # by exactly b * mean(score) for the same samples
    table = vt.measure_variance(
        prob, ests, n_samples=[n], n_reps=200, seed=seed, block_size=bs, warmup=10
    )
    for e in ests:
        st = replicate_stats(fwd[e.name], exact.exact_gradient(prob))
        sub = table[(table["estimator"] == e.name) & (table["kind"] == "coordinate")]
        np.testing.assert_array_equal(sub["variance"].to_numpy(), st["variance"])
        np.testing.assert_array_equal(sub["mean"].to_numpy(), st["mean"])
        np.testing.assert_array_equal(sub["variance_se"].to_numpy(), st["variance_se"])


def test_common_random_numbers_across_estimators():
    prob = cat_problem()
    sf = vt.make_estimator(vt.score_function)
    const = vt.make_estimator(vt.score_function, vt.constant_baseline(B_CONST))
    res = run_block(prob, [sf, const], 3, 0, 50, seed=5)
    rng = rng_mod.generator(5, prob.name, 3, 0)
    x = prob.dist.sample(3, rng=rng, reps=(50,))
    mean_score = prob.dist.score(x).mean(-2)
    np.testing.assert_allclose(
        res.estimates["sf"] - res.estimates["sf+const(1)"], B_CONST * mean_score, atol=1e-13
    )


def test_table_structure_and_reference_ratios():
    prob = bern_problem()
    ests = _ests()
    t = vt.measure_variance(prob, ests, n_samples=[2, 4], n_reps=500, seed=0, reference="sf+loo")
    assert len(t) == len(ests) * 2 * (prob.dist.n_params + 3)
    assert set(t["kind"]) == {"coordinate", "mean", "max", "trace"}
    assert (t["n_evals"] == t["n"]).all() and not t["biased"].any()
    ref = t[t["estimator"] == "sf+loo"]
    np.testing.assert_allclose(ref["ratio"].dropna(), 1.0)
    coord = t[t["kind"] == "coordinate"]
    agg = t[t["kind"] == "mean"].set_index(["estimator", "n"])["variance"]
    mean_var = coord.groupby(["estimator", "n"])["variance"].mean()
    np.testing.assert_allclose(agg.sort_index(), mean_var.sort_index(), rtol=1e-13)
    np.testing.assert_allclose(t["efficiency"], 1.0 / (t["variance"] * t["n_evals"]), rtol=1e-13)
    assert (t["n_reps"] == 500).all()


def test_extreme_logits_measurement_is_finite_and_warning_free():
    """Logits of +-50: no overflow, NaN or RuntimeWarning (warnings are errors here)."""
    prob = vt.Problem(
        "extreme",
        vt.Bernoulli(np.array([50.0, -50.0, 0.0])),
        lambda b: b[..., 0] * b[..., 2] + np.cos(b.sum(-1)),
    )
    t = vt.measure_variance(prob, _ests(), n_samples=[2, 4], n_reps=300, seed=1)
    coord = t[t["kind"] == "coordinate"]
    for col in ("mean", "truth", "variance", "variance_se", "exact_variance", "mse"):
        assert np.all(np.isfinite(coord[col].to_numpy())), col
    # the saturated coordinates have (essentially) zero exact and measured variance
    sat = coord[coord["coordinate"].isin(["logits[0]", "logits[1]"])]
    assert (sat["exact_variance"] < 1e-20).all()
    g = exact.exact_gradient(prob)
    assert np.all(np.isfinite(g)) and abs(g[2]) > 0.01
    cat = vt.Problem(
        "cat_extreme",
        vt.Categorical(np.array([[50.0, -50.0, 0.0], [0.0, 0.5, -50.0]])),
        lambda z: (z[..., 0] + 1.0) * (z[..., 1] - 0.5),
    )
    t = vt.measure_variance(cat, _ests(), n_samples=[2], n_reps=300, seed=1)
    coord = t[t["kind"] == "coordinate"]
    assert np.all(np.isfinite(coord[["mean", "variance", "exact_variance"]].to_numpy()))


def test_one_measurement_single_comparison_uses_z_one():
    """A single SF measurement on a skewed Bernoulli, checked at z = 4.9 (one comparison)."""
    prob = vt.Problem("skewed", vt.Bernoulli(np.array([-2.5])), lambda b: 3.0 + b[..., 0])
    t = vt.measure_variance(
        prob, vt.make_estimator(vt.score_function), n_samples=[1], n_reps=20_000, seed=3
    )
    row = t[t["kind"] == "coordinate"].iloc[0]
    assert abs(row["variance"] - row["exact_variance"]) <= Z_ONE * row["variance_se"]
