"""The vae_digits experiment at the quick scale: equal budgets, its tables, the ranking."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("jax")

from vartools.harness.loading import load_experiment  # noqa: E402
from vartools.harness.runner import run_experiment  # noqa: E402

load_experiment("vae_digits")  # loads the experiments package (sys.modules)
V = importlib.import_module("experiments.vae_digits")


def test_every_estimator_is_named_styled_and_budgeted():
    names = [e.name for e in V.estimators()]
    assert names == list(V.STYLE) == list(V.BUDGET_N) == list(V.TRAIN_N)


def test_equal_budgets_hold_or_are_labelled():
    """Each estimator's cost at its budget n is BUDGET, or within 2 and labelled."""
    prob = V.problem(0, V.STEPS_QUICK[-1])
    from vartools.catalogue.sbn import load_digits_binary
    from vartools.jax.vae.model import encoder_problem, init_vae

    params = init_vae(8, 32, rng=np.random.default_rng(0))
    minibatch = encoder_problem(params, load_digits_binary()[:32])
    for est in V.estimators():
        b, _ = est.batch(prob, V.BUDGET_N[est.name], rng=np.random.default_rng(0))
        cost = int(b.n_evals)
        assert abs(cost - V.BUDGET) <= 2, (est.name, cost)
        if cost != V.BUDGET:
            assert est.name in V.EXTRA_COST, f"{est.name} costs {cost}: label it"
        b, _ = est.batch(minibatch, V.TRAIN_N[est.name], rng=np.random.default_rng(0))
        per_step = int(b.n_evals)
        if per_step != 4:  # REBAR 3, local expectation 1 + B K: labelled
            assert est.name in V.EXTRA_COST, f"{est.name} costs {per_step} per step: label it"
    assert per_step == 4


def test_ranking_orders_each_snapshot_and_divides_by_rloo():
    rows = []
    for i, name in enumerate(V.BUDGET_N):
        for step, var in ((0, 2.0), (20, 1.0)):
            v = var * (3.0 if name == "sf" else 1.0 + i / 100)
            rows.append(
                {
                    "kind": "mean",
                    "estimator": name,
                    "n": V.BUDGET_N[name],
                    "n_evals": V.BUDGET,
                    "at_step": step,
                    "variance": v,
                    "variance_lo": v * 0.9,
                    "variance_hi": v * 1.1,
                    "mse": v,
                    "biased": False,
                }
            )
    r = V.ranking(pd.DataFrame(rows))
    assert len(r) == 2 * len(V.BUDGET_N)
    for _, g in r.groupby("step"):
        assert sorted(g["rank"]) == list(range(1, len(V.BUDGET_N) + 1))
        assert g.loc[g["estimator"] == "sf", "rank"].item() == len(V.BUDGET_N)
        assert g.loc[g["estimator"] == V.REFERENCE, "ratio_to_rloo"].item() == 1.0


@pytest.mark.slow
def test_vae_digits_quick(tmp_path):
    rep = run_experiment(load_experiment("vae_digits"), scale="quick", out=tmp_path, progress=False)
    d = tmp_path / "vae_digits"
    curves = pd.read_csv(d / "training_curves.csv")
    assert set(curves["estimator"]) == set(V.STYLE)
    assert curves.groupby("estimator")["seed"].nunique().eq(len(V.TRAIN["quick"]["seeds"])).all()
    assert np.isfinite(curves["elbo"]).all() and (curves["f_evals"] >= 0).all()
    rank = pd.read_csv(d / "ranking.csv")
    assert set(rank["estimator"]) == set(V.STYLE)
    assert rank.groupby("step").size().eq(len(V.STYLE)).all()
    assert ((rank["f_evals"] - V.BUDGET).abs() <= 2).all()
    assert (rank["variance_lo"] <= rank["variance"]).all()
    assert (rank["variance"] <= rank["variance_hi"]).all()
    vim = pd.read_csv(d / "vimco.csv")
    assert set(vim["estimator"]) == {"sf", "vimco"} and (vim["n_evals"] == V.VIMCO_K).all()
    final = pd.read_csv(d / "training_final.csv")
    assert set(final["estimator"]) == set(V.STYLE) and (final["elbo_lo"] <= final["elbo_hi"]).all()
    assert rep.complete
