"""Sigmoid belief net on the digits: the encoder problem, the chain rule, training."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED, central_difference

import vartools as vt
from vartools.catalogue import sbn
from vartools.estimators.arm import arm, disarm
from vartools.estimators.rao_blackwell import local_expectation
from vartools.oracles import exact


@pytest.fixture
def prob() -> vt.Problem:
    rng = np.random.default_rng(0)
    model = sbn.SBN.init(3, 64, rng=rng)
    model = sbn.SBN(
        w_enc=0.3 * rng.standard_normal((3, 64)),
        b_enc=np.array([0.2, -0.5, 0.1]),
        w_dec=0.5 * rng.standard_normal((64, 3)),
        b_dec=0.1 * rng.standard_normal(64),
        prior=np.array([0.3, -0.2, 0.0]),
    )
    x = sbn.load_digits_binary()[[5, 17]]  # B = 2, K = 3: 64 joint outcomes
    return sbn.encoder_problem(model, x)


def test_score_is_the_derivative_of_log_prob(prob):
    z, _ = prob.dist.support()
    fd = central_difference(
        lambda t: prob.dist.with_params(t).log_prob(z[:, None])[:, 0], prob.dist.params, 1e-6
    )
    np.testing.assert_allclose(prob.dist.score(z[:, None])[:, 0], fd, atol=1e-7)


def test_exact_gradient_equals_a_difference_of_the_elbo(prob):
    # f holds the encoder fixed inside -log q; the true ELBO moves it there too, and its
    # gradient still equals E[f score] because E[grad log q] = 0
    n_data = prob.dist.x.shape[0]

    def elbo(theta):
        p = prob.with_params(theta)
        z, w = p.dist.support()
        logq_new = p.dist.log_prob(z[:, None])[:, 0]
        logq_old = prob.dist.log_prob(z[:, None])[:, 0]
        return w @ (prob.f(z[:, None])[:, 0] - (logq_new - logq_old) / n_data)

    fd = central_difference(elbo, prob.dist.params, 1e-5)
    np.testing.assert_allclose(exact.exact_gradient(prob), fd, atol=1e-8)


def test_chain_rule_estimators_are_unbiased_by_enumeration(prob):
    g = exact.exact_gradient(prob)
    for est in (
        vt.make_estimator(sbn.encoder_chain_rule(local_expectation)),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
    ):
        mean, _ = exact.exact_moments(prob, est, 2 if est.min_n > 1 else 1)
        np.testing.assert_allclose(mean, g, atol=ATOL)


def test_chain_rule_arm_and_disarm_match_the_exact_gradient_within_se(prob):
    g = exact.exact_gradient(prob)
    for base in (arm, disarm):
        est = vt.make_estimator(sbn.encoder_chain_rule(base))
        e, _ = est(prob, 1, rng=np.random.default_rng(4), reps=(20_000,))
        se = e.std(0, ddof=1) / np.sqrt(len(e))
        ok = se > 0
        assert np.all(np.abs(e.mean(0) - g)[ok] <= Z_HUNDRED * se[ok])
        assert np.all(np.abs(e.mean(0) - g)[~ok] < ATOL)


def test_training_increases_the_elbo():
    _, curve = sbn.train_sbn(200, seed=1, elbo_every=100)
    assert curve[-1][1] > curve[0][1] + 5.0
