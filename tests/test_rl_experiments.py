"""The RL experiments (rl_tabular, rl_gae, rl_cartpole): definitions, exact tables, quick runs."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ATOL, Z_HUNDRED

from vartools.catalogue.rl.problems import mdp_gradient, mdp_problem
from vartools.harness.loading import load_experiment
from vartools.harness.runner import run_experiment

TAB = load_experiment("rl_tabular")  # puts the experiments package on sys.path
GAE = load_experiment("rl_gae")
CART = load_experiment("rl_cartpole")
T_MOD = importlib.import_module("experiments.rl_tabular")
G_MOD = importlib.import_module("experiments.rl_gae")
C_MOD = importlib.import_module("experiments.rl_cartpole")
TAB_FILE = T_MOD.__file__


def test_definitions_resolve_at_both_scales():
    for exp in (TAB, GAE, CART):
        for scale in ("quick", "full"):
            e = exp.at_scale(scale)
            names = [p.name for p in (e.build_problem(i) for i in range(len(e.points)))]
            assert len(set(names)) == len(names)
            assert len(e.build_estimators()) >= 5
    full = {(p["theta"], p["horizon"]) for p in TAB.points}
    assert full == {(th, t) for th in ("zero", "ref") for t in (2, 4, 8, 16)}


def test_tabular_quick_run_matches_the_exact_oracles(tmp_path):
    rep = run_experiment(TAB, scale="quick", out=tmp_path, progress=False)
    s = rep.summary
    rows = s[(s["kind"] == "coordinate") & s["exact_variance"].notna()]
    assert len(rows) > 100
    z = np.abs(rows["variance"] - rows["exact_variance"]) / rows["variance_se"]
    assert (z <= Z_HUNDRED).all()
    assert (np.abs(rows["bias"]) <= Z_HUNDRED * rows["bias_se"]).all()
    tables = T_MOD.tables(TAB.at_scale("quick"), s)
    exact, table = tables["exact"], tables["table"]
    for th in ("zero", "ref"):
        g = exact[(exact["theta"] == th) & (exact["horizon"] == 4)]["gradient"].to_numpy()
        np.testing.assert_allclose(g, mdp_gradient(mdp_problem(th, 4)).ravel(), atol=ATOL)
    assert len(table) == 12 and table["z[rtg]"].abs().max() <= Z_HUNDRED
    files = T_MOD.figures(s, tables, tmp_path / "figures")
    assert any(p.suffix == ".png" for p in files)


def test_gae_exact_table_biases():
    ex = G_MOD.tables(GAE)["exact"]
    tot = ex[ex["coordinate"] == "(sum)"].set_index("estimator")
    for lam in G_MOD.LAMBDAS:  # the exact critic: unbiased for every lambda
        assert tot.loc[f"gae({lam:g},V*)", "bias2"] < 1e-24
    assert tot.loc["gae(1,Vbar)", "bias2"] < 1e-24 and tot.loc["rtg(gamma=1)", "bias2"] < 1e-24
    b2 = [tot.loc[f"gae({lam:g},Vbar)", "bias2"] for lam in G_MOD.LAMBDAS]
    assert all(b > 1e-4 for b in b2[:-1])  # the approximate critic: biased for lambda < 1
    assert all(tot.loc[f"rtg(gamma={g:g})", "bias2"] > 1e-5 for g in G_MOD.GAMMAS[:-1])
    np.testing.assert_allclose(tot["mse[n=1]"], tot["bias2"] + tot["variance"], atol=ATOL)


def test_cartpole_configuration():
    assert CART.exact is False
    assert set(C_MOD.FULL) == set(C_MOD.ENVS) == {"CartPole-v1", "Acrobot-v1"}
    assert [e.name for e in C_MOD.build_estimators()] == list(C_MOD.MARKS)
    assert C_MOD.trainer().name in C_MOD.MARKS


@pytest.mark.slow
def test_rl_tables_are_identical_on_serial_and_processes(tmp_path):
    exp_dir = Path(TAB_FILE).parent
    kw = {"scale": "quick", "directory": exp_dir, "progress": False}
    a = run_experiment("rl_tabular", out=tmp_path / "a", **kw)
    b = run_experiment("rl_tabular", out=tmp_path / "b", executor="processes", workers=2, **kw)
    assert b.cells_computed == b.cells_total > 2
    drop = ["time_per_estimate"]  # wall time: the only column that may differ
    pd.testing.assert_frame_equal(
        a.summary.drop(columns=drop).reset_index(drop=True),
        b.summary.drop(columns=drop).reset_index(drop=True),
        check_exact=True,
    )
