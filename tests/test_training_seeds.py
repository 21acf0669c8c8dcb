"""Issue 17: every training experiment on 5 or more seeds, with seed-to-seed intervals.

The interval method (a Student t interval over the seeds) is checked exactly against its
formula and by its coverage on synthetic seeds; the BLR ratio table on a synthetic input
whose ratios are known; the declarations of every training experiment (>= 5 seeds at the
full scale, the hyperparameter dicts); and the quick-scale seed tables.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments._training_grid import (
    HYPERPARAMETER_KEYS,
    SEEDS,
    summary_over_seeds,
    trajectory_seeds,
)
from vartools.harness.loading import load_experiment
from vartools.measure.training import seed_summary, t_interval

TRAINING_EXPERIMENTS = (
    "blr_vi",
    "bernoulli_toy",
    "arm_toy",
    "quadratic_200",
    "rebar_relax_toy",
    "sbn_digits",
    "rl_cartpole",
)


def test_t_interval_is_the_student_t_interval_of_the_mean():
    x = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    mean, sd, lo, hi = t_interval(x)
    half = stats.t.ppf(0.975, 4) * np.std(x, ddof=1) / np.sqrt(5)
    assert mean == pytest.approx(5.0) and sd == pytest.approx(np.std(x, ddof=1))
    assert (lo, hi) == pytest.approx((5.0 - half, 5.0 + half))
    assert stats.t.ppf(0.975, 4) == pytest.approx(2.7764451)  # the "t = 2.776" of the docs
    assert (lo, hi) == pytest.approx(stats.t.interval(0.95, 4, loc=5.0, scale=sd / np.sqrt(5)))


def test_t_interval_covers_the_true_mean_95_percent_of_the_time():
    """2000 synthetic 'experiments' of 5 seeds each (skewed values, lognormal: the t
    interval is exact for normal values only, so check normal ones for coverage and
    lognormal ones on the log scale, which is what log=True does)."""
    rng = np.random.default_rng(17)
    groups, seeds = 2000, 5
    x = rng.normal(3.0, 2.0, size=(groups, seeds))
    df = pd.DataFrame(
        {"g": np.repeat(np.arange(groups), seeds), "seed": np.tile(np.arange(seeds), groups)}
    ).assign(v=x.ravel(), w=np.exp(x.ravel()))
    s = seed_summary(df, ["g"], ["v"])
    cover = ((s["v_lo"] <= 3.0) & (3.0 <= s["v_hi"])).mean()
    se = np.sqrt(0.95 * 0.05 / groups)
    assert abs(cover - 0.95) <= 5 * se, cover
    g = seed_summary(df, ["g"], ["w"], log=True)
    assert np.allclose(np.log(g["w_mean"]), s["v_mean"]) and np.allclose(
        np.log(g["w_lo"]), s["v_lo"]
    )
    assert (g["n_seeds"] == 5).all() and g["interval"].iloc[0] == "t95, log scale, over seeds"


@pytest.mark.parametrize(
    ("table", "kwargs", "match"),
    [
        (pd.DataFrame({"k": [0], "seed": [0], "v": [1.0]}), {}, "at least 2 seeds"),
        (pd.DataFrame({"k": [0, 0], "seed": [0, 0], "v": [1.0, 2.0]}), {}, "repeated seeds"),
        (pd.DataFrame({"k": [0, 0], "seed": [0, 1], "v": [1.0, 0.0]}), {"log": True}, "<= 0"),
        (pd.DataFrame({"k": [0, 0], "run": [0, 1], "v": [1.0, 2.0]}), {}, "no column"),
    ],
)
def test_seed_summary_refuses_bad_input(table, kwargs, match):
    with pytest.raises(ValueError, match=match):
        seed_summary(table, ["k"], ["v"], **kwargs)


def test_blr_ratio_table_on_a_synthetic_input():
    """Known ratios: sf / sf+delta = 20 * (1 + seed / 10) at every checkpoint; costs 1 and 64."""
    from experiments.blr_vi import ratio_table

    rows = []
    for seed in range(5):
        for step in (0, 10, 20):
            for est, var in (("sf", 20.0 * (1 + seed / 10) * (1 + step)), ("sf+delta", 1 + step)):
                for block in ("loc", "log_scale"):
                    rows.append(
                        {"estimator": est, "seed": seed, "step": step, "block": block}
                        | {"reduce": "mean", "variance": var}
                    )
    r = ratio_table(pd.DataFrame(rows), {"sf": 1, "sf+delta": 64})
    assert list(r["comparison"]) == ["sf / sf+delta"] * 2
    row = r[r["block"] == "loc"].iloc[0]
    truth = 20.0 * (1 + np.arange(5) / 10)
    assert (row["evals_numerator"], row["evals_denominator"]) == (1, 64)
    assert (row["n_checkpoints"], row["n_seeds"], row["last_step"]) == (2, 5, 20)  # step 0 left out
    assert row["variance_ratio_median"] == pytest.approx(np.median(truth))
    assert (row["variance_ratio_min"], row["variance_ratio_max"]) == pytest.approx((20.0, 28.0))
    m, _, lo, hi = t_interval(np.log(truth))
    assert row["variance_ratio_last"] == pytest.approx(np.exp(m))
    assert (row["variance_ratio_last_lo"], row["variance_ratio_last_hi"]) == pytest.approx(
        (np.exp(lo), np.exp(hi))
    )
    # per evaluation: sf+delta costs 64 times more, so it is 64 times less efficient than its
    # variance ratio says
    assert row["efficiency_ratio_last"] == pytest.approx(np.exp(m) / 64)
    assert row["efficiency_ratio_max"] == pytest.approx(28.0 / 64)


def _declared_full_seeds(name: str) -> list[int]:
    mod = importlib.import_module(f"experiments.{name}")
    if name == "blr_vi":
        return [mod.FULL.seeds]
    if name in ("bernoulli_toy", "quadratic_200"):
        return [mod.SEEDS["full"][0]]
    if name == "arm_toy":
        return [
            mod.TRAJECTORY_SEEDS["full"][0],
            importlib.import_module("experiments.arm_toy.grid").GRID["full"][0],
        ]
    if name == "rebar_relax_toy":
        return [mod.TRAINING["full"][0]]
    if name == "rl_cartpole":
        return [mod.SEEDS["full"][0]]
    if name == "sbn_digits":
        runs = {p["run"] for p in load_experiment(name).points}
        return [mod.SEEDS["full"], len(runs)]
    raise AssertionError(name)


@pytest.mark.parametrize("name", TRAINING_EXPERIMENTS)
def test_every_training_experiment_declares_5_seeds_and_its_hyperparameters(name):
    assert min(_declared_full_seeds(name)) >= SEEDS == 5
    hp = importlib.import_module(f"experiments.{name}").HYPERPARAMETERS
    assert tuple(hp) == HYPERPARAMETER_KEYS
    assert hp["seeds"] >= 5 and hp["steps"] > 0 and hp["learning_rate"] > 0
    assert all(v is None or isinstance(v, (str, int, float)) for v in hp.values())


@pytest.mark.parametrize("name", ["bernoulli_toy", "arm_toy", "quadratic_200"])
def test_quick_seed_tables_have_a_seed_column_and_a_summary_over_seeds(name):
    exp = load_experiment(name).at_scale("quick")
    seeds = trajectory_seeds(exp, runs=2, n_reps=50)
    traj = exp.trajectory
    assert set(seeds["seed"]) == {0, 1}
    assert seeds.groupby(["at_index", "seed"]).size().eq(len(traj.checkpoints())).all()
    # different seeds train differently; the same seed reproduces
    last = seeds[seeds["step"] == traj.steps]
    assert last.groupby("at_index")["loss"].nunique().eq(2).all()
    again = trajectory_seeds(exp, runs=2, n_reps=50)
    pd.testing.assert_frame_equal(seeds, again)
    s = summary_over_seeds(seeds)
    assert (s["n_seeds"] == 2).all()
    assert {"loss_mean", "loss_lo", "loss_hi", "variance_mean", "variance_lo"} <= set(s.columns)
    inside = s[s["step"] > 0]
    assert (
        (inside["loss_lo"] <= inside["loss_mean"]) & (inside["loss_mean"] <= inside["loss_hi"])
    ).all()
    one = seeds[(seeds["at_index"] == 0) & (seeds["step"] == traj.steps)]["loss"]
    row = s[(s["at_index"] == 0) & (s["step"] == traj.steps)].iloc[0]
    assert row["loss_mean"] == pytest.approx(one.mean())
