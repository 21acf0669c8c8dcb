"""ARM toy (Yin & Zhou 2019): exact curves and Monte Carlo markers at the quick scale."""

from __future__ import annotations

import importlib

import numpy as np
from conftest import ATOL, Z_HUNDRED
from scipy import special

from vartools.harness.loading import load_experiment
from vartools.harness.runner import run_experiment
from vartools.oracles import exact

EXP = load_experiment("arm_toy")
A = importlib.import_module("experiments.arm_toy.models")
AO = importlib.import_module("experiments.arm_toy.oracles")
AF = importlib.import_module("experiments.arm_toy.figures")
B = importlib.import_module("experiments.bernoulli_toy.oracles")


def test_exact_table_matches_the_closed_forms():
    tab = AO.exact_table("quick")
    t = A.TARGET
    for phi in (0.0, 1.15, 4.6):
        rows = tab[np.isclose(tab["logit"], phi)].set_index(["estimator", "n"])["exact_variance"]
        assert abs(rows["arm", 1] - B.arm_moments(phi, t * t, (1 - t) ** 2)[1]) < ATOL
        assert abs(rows["disarm", 1] - B.disarm_moments(phi, t * t, (1 - t) ** 2)[1]) < ATOL
        assert abs(rows["sf", 2] - rows["sf", 1] / 2) < ATOL
        prob = A.problem().with_params(np.array([phi]))
        var = exact.exact_moments(prob, A.estimators()[1], 2)[1][0]
        assert abs(rows["rloo", 2] - var) < ATOL


def test_trajectory_ascends_and_markers_lie_within_their_intervals(tmp_path):
    rep = run_experiment(EXP, scale="quick", out=tmp_path, progress=False)
    theta = special.expit(rep.training["theta.logits[0]"].to_numpy())
    assert theta[-1] > 0.9 and np.all(np.diff(rep.training["loss"]) > -1e-3)
    mk = AF.markers(rep.summary, rep.training)
    t = A.TARGET
    checked = 0
    for r in mk.itertuples():
        phi = float(special.logit(r.theta))
        if r.estimator in ("arm", "disarm"):
            fn = B.arm_moments if r.estimator == "arm" else B.disarm_moments
            truth = fn(phi, t * t, (1 - t) ** 2)[1] / r.n
        else:
            truth = r.exact_variance
        if truth < 1e-20:  # DisARM at sigmoid(phi) = 1/2 has variance 0
            assert r.variance < 1e-20
            continue
        assert abs(r.variance - truth) <= Z_HUNDRED * r.variance_se, r
        checked += 1
    assert checked >= 50
