"""Frontier reproductions at the quick scale: the REBAR / RELAX toy, the ARM p0 grid, Double CV."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
from conftest import Z_HUNDRED
from scipy import special

from vartools.harness.loading import load_experiment
from vartools.harness.runner import run_experiment

load_experiment("rebar_relax_toy")  # loads the experiments package (sys.modules)
load_experiment("arm_toy")
RR = importlib.import_module("experiments.rebar_relax_toy")
ARM = importlib.import_module("experiments.arm_toy")
ARM_GRID = importlib.import_module("experiments.arm_toy.grid")


def _check_runs(runs: pd.DataFrame, target_of) -> None:
    assert set(runs["trainer"]) == set(RR.TRAINERS)
    theta = special.expit(runs["theta[0]"].to_numpy())
    t = runs.apply(target_of, axis=1).to_numpy()
    loss = theta * (1 - t) ** 2 + (1 - theta) * t**2  # exact E[(b - t)^2]
    assert np.allclose(runs["loss"], loss, atol=1e-12)
    assert (runs["variance"] >= 0).all() and (runs["variance_se"] >= 0).all()
    rebar = runs[runs["trainer"] == "rebar"]
    assert rebar["eta"].notna().all() and (rebar["temperature"] > 0).all()


def test_rebar_relax_toy_quick(tmp_path):
    rep = run_experiment(
        load_experiment("rebar_relax_toy"), scale="quick", out=tmp_path, progress=False
    )
    runs = pd.read_csv(tmp_path / "rebar_relax_toy" / "runs.csv")
    _check_runs(runs, lambda r: r["at_t"])
    assert runs.groupby(["at_t", "trainer", "seed"]).size().eq(4).all()  # steps 0..300 by 100
    # summary: every estimator's replicate variance at the initial logit against its exact one
    s = rep.summary[(rep.summary["kind"] == "coordinate") & rep.summary["exact_variance"].notna()]
    checked = 0
    for r in s.itertuples():
        if r.exact_variance < 1e-20:  # DisARM at theta = 1/2
            assert r.variance < 1e-20
            continue
        assert abs(r.variance - r.exact_variance) <= Z_HUNDRED * r.variance_se, r
        checked += 1
    assert checked >= 16 and {"rebar", "relax"} <= set(s["estimator"])
    fl = RR.final_losses(runs)
    assert set(fl.columns) >= {"loss_mean", "loss_std", "theta_mean", "optimum"}
    assert (fl["loss_mean"] >= fl["optimum"] - 1e-12).all()


def test_arm_toy_p0_grid_table():
    exp = load_experiment("arm_toy").at_scale("quick")
    out = ARM.tables(exp)
    assert set(out) == {"exact", "p0_grid", "p0_grid_summary", "seeds", "seeds_summary"}
    grid = out["p0_grid"]
    assert set(grid["at_p0"]) == set(ARM_GRID.P0_VALUES)
    _check_runs(grid, lambda r: r["at_p0"])
    # maximising (z - p0)^2 from theta = 1/2: ARM moves theta away from p0's side
    last = grid[(grid["trainer"] == "arm") & (grid["step"] == grid["step"].max())]
    theta = special.expit(last.set_index("at_p0")["theta[0]"])
    assert (theta[0.49] > 0.5).all() and (theta[0.51] < 0.5).all()  # every seed


def test_quadratic_200_lists_double_cv_and_rodeo():
    exp = load_experiment("quadratic_200")
    names = [e.name for e in exp.build_estimators()]
    assert {"double_cv", "rodeo"} <= set(names)
    prob = exp.build_problem(0)
    b = np.array([[[0.0] * 199 + [1.0]]])
    assert np.allclose(prob.evaluate_grad(b), 2 * (b - 0.499) / 200)
