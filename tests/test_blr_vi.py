"""Bayesian logistic regression setting: data, objective derivatives, KL, unbiasedness, training."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest
from conftest import Z_HUNDRED, Z_ONE
from threadpoolctl import threadpool_limits

from vartools.catalogue.logistic import (
    LogLikelihood,
    TrainConfig,
    blr_problem,
    breast_cancer,
    elbo,
    kl_gradient,
    kl_to_standard_normal,
    train_blr,
)
from vartools.core.rng import generator
from vartools.harness.loading import load_experiment

EXP = load_experiment("blr_vi")  # puts the experiments package on sys.path
B = importlib.import_module("experiments.blr_vi")
DATA = breast_cancer()


def test_data_is_standardised_with_a_bias_column():
    x, y = DATA.x, DATA.y
    assert x.shape == (569, 31) and y.shape == (569,)
    assert np.allclose(x[:, :30].mean(0), 0.0, atol=1e-12)
    assert np.allclose(x[:, :30].std(0), 1.0, atol=1e-12)
    assert np.all(x[:, 30] == 1.0)
    assert set(np.unique(y)) == {0.0, 1.0}


def test_loglik_gradient_and_hessian_are_finite_differences():
    f = LogLikelihood(DATA.subset(np.arange(40)), scale=569 / 40)
    w = generator(0, "w").normal(size=(2, 3, 31)) * 0.3
    g, h = f.grad(w), f.hessian_diag(w)
    eps = 1e-5
    for d in (0, 7, 30):
        e = np.zeros(31)
        e[d] = eps
        assert np.allclose((f(w + e) - f(w - e)) / (2 * eps), g[..., d], rtol=1e-6, atol=1e-6)
        fd_h = (f.grad(w + e)[..., d] - f.grad(w - e)[..., d]) / (2 * eps)
        assert np.allclose(fd_h, h[..., d], rtol=1e-6, atol=1e-6)
    assert np.allclose(np.diag(f.hessian(w[0, 0])), h[0, 0])
    # the loglikelihood of labels 0/1: y l - softplus(l), evaluated pointwise
    logit = DATA.x[:40] @ w[0, 0]
    direct = np.sum(np.where(DATA.y[:40] == 1, -np.logaddexp(0, -logit), -np.logaddexp(0, logit)))
    assert abs(f(w)[0, 0] - 569 / 40 * direct) < 1e-9 * abs(direct) * 569 / 40


def test_minibatch_objective_is_scaled_to_the_full_data():
    w = generator(1, "w").normal(size=(1, 2, 31)) * 0.2
    full = blr_problem(DATA).f(w)
    parts = [blr_problem(DATA, batch=np.arange(i, 569, 7)) for i in range(7)]
    # f_batch = (N / B) sum_batch: the size-weighted average of the parts is the full f
    sizes = [len(np.arange(i, 569, 7)) for i in range(7)]
    avg = sum(s / 569 * p.f(w) for s, p in zip(sizes, parts, strict=True))
    assert np.allclose(avg, full, rtol=1e-12)


def test_kl_and_its_gradient():
    m, ls = np.array([0.3, -1.0]), np.array([0.2, -0.5])
    s2 = np.exp(2 * ls)
    want = 0.5 * np.sum(s2 + m * m - 1 - np.log(s2))
    assert abs(kl_to_standard_normal(m, ls) - want) < 1e-12
    th = np.concatenate([m, ls])
    fd = [
        (kl_to_standard_normal(*np.split(th + e, 2)) - kl_to_standard_normal(*np.split(th - e, 2)))
        / 2e-6
        for e in np.eye(4) * 1e-6
    ]
    assert np.allclose(kl_gradient(m, ls), fd, atol=1e-7)


def _estimates(prob, ests, reps, out):
    for name, est in ests.items():
        r = generator(4, "estimates")
        state = est.init(prob)
        for _ in range(5):  # running coefficients: warm the state at these parameters
            _, state = est(prob, 50, rng=generator(5, name), state=state)
        out[name], _ = est(prob, 1, rng=r, reps=(reps,), state=state)


def test_estimators_agree_on_the_gradient_at_a_posterior():
    # No closed form in 31 dimensions: every estimator's mean must agree with the pathwise
    # one (paired differences on common random numbers, SE-derived tolerance).
    rng = generator(3, "theta")
    prob = blr_problem(DATA, rng.normal(size=31) * 0.1, np.full(31, -2.0))
    ests = {e.name: e for e in B.build_estimators()}
    reps = 600
    out = {}
    with threadpool_limits(1, user_api="blas"):  # small products: one BLAS thread is faster
        _estimates(prob, ests, reps, out)
    ref = out["pathwise"]
    for name, e in out.items():
        if name == "pathwise":
            continue
        diff = e - ref
        se = diff.std(axis=0, ddof=1) / math.sqrt(reps)
        assert np.all(np.abs(diff.mean(0)) <= Z_HUNDRED * se), name
    # and the score function is far noisier than the pathwise estimator here
    assert np.mean(out["sf"].var(0)) > 10 * np.mean(out["pathwise"].var(0))


def test_training_improves_the_elbo_and_is_reproducible():
    cfg = TrainConfig(steps=30, every=15, n_reps=40, elbo_samples=200)
    est = B.build_estimators()[0]
    a = train_blr(DATA, est, cfg, seed=0)
    b = train_blr(DATA, est, cfg, seed=0)
    cols = ["step", "elbo", "variance", "variance_lo", "variance_hi"]
    assert a[cols].equals(b[cols])
    el = a.groupby("step")["elbo"].first()
    assert list(el.index) == [0, 15, 30]
    se = a.groupby("step")["elbo_se"].first()
    assert el[30] - el[0] > Z_ONE * (se[0] + se[30])  # from about -1200 nats to about -160
    assert set(a["block"]) == {"loc", "log_scale"} and set(a["reduce"]) == {"mean", "max"}
    assert np.all(a["variance_lo"] <= a["variance"]) and np.all(a["variance"] <= a["variance_hi"])


def test_elbo_matches_its_definition():
    m, ls = np.zeros(31), np.full(31, -1.0)
    val, se = elbo(DATA, m, ls, rng=generator(0, "e"), n_samples=4000)
    w = np.zeros((1, 1, 31))
    at_mean = blr_problem(DATA).f(w)[0, 0] - kl_to_standard_normal(m, ls)
    # Jensen: E_q[loglik] <= loglik at the mean for a concave loglik
    assert val <= at_mean + 4.9 * se


@pytest.mark.parametrize("bad", [np.zeros(30), np.zeros((2, 31))])
def test_blr_problem_checks_shapes(bad):
    with pytest.raises(ValueError, match="shape"):
        blr_problem(DATA, bad)
