"""Black-Scholes Greeks: closed forms, score and pathwise derivatives, exact moments, MC."""

from __future__ import annotations

import importlib
import math
from dataclasses import replace

import numpy as np
import pytest
from conftest import Z_HUNDRED, Z_ONE

from vartools.catalogue.black_scholes import BlackScholes
from vartools.catalogue.finance import (
    Payoff,
    call_greeks,
    digital_greeks,
    exact_greeks,
    exact_terms_moments,
    option_problem,
    price_control,
)
from vartools.estimators.base import pathwise, score_function
from vartools.estimators.composed import make_estimator
from vartools.harness.loading import load_experiment
from vartools.measure.variance import measure_variance

EXP = load_experiment("option_greeks")  # puts the experiments package on sys.path
OG = importlib.import_module("experiments.option_greeks.extra")
OM = importlib.import_module("experiments.option_greeks.models")

ARGS = {"strike": 100.0, "rate": 0.05, "sigma": 0.2, "maturity": 1.0}


def _fd(fn, x, h):
    return (fn(x + h) - fn(x - h)) / (2 * h)


@pytest.mark.parametrize("s0", [80.0, 100.0, 125.0])
def test_closed_form_greeks_are_derivatives_of_the_closed_form_prices(s0):
    k, r, sig, t = ARGS["strike"], ARGS["rate"], ARGS["sigma"], ARGS["maturity"]
    for fn in (call_greeks, digital_greeks):
        g = fn(s0, k, r, sig, t)
        assert abs(g.delta - _fd(lambda s, fn=fn: fn(s, k, r, sig, t).price, s0, 1e-3)) < 1e-7
        assert abs(g.vega - _fd(lambda v, fn=fn: fn(s0, k, r, v, t).price, sig, 1e-5)) < 1e-6
    # the textbook value of the at-the-money call (Hull's example): 10.4506
    assert abs(call_greeks(100.0, 100.0, 0.05, 0.2, 1.0).price - 10.450583572185565) < 1e-9


def test_score_and_pathwise_jacobian_are_finite_differences():
    d = BlackScholes(95.0, 0.3, rate=0.02, maturity=0.7)
    z = np.array([[-1.3, 0.2, 2.1]])
    x = d.transform(z)
    s = d.score(x)
    for j, h in ((0, 1e-4), (1, 1e-6)):
        th = d.params
        up, dn = th.copy(), th.copy()
        up[j] += h
        dn[j] -= h
        fd_logp = (d.with_params(up).log_prob(x) - d.with_params(dn).log_prob(x)) / (2 * h)
        assert np.allclose(s[..., j], fd_logp, rtol=1e-6, atol=1e-8)
        fd_x = (d.with_params(up).transform(z) - d.with_params(dn).transform(z)) / (2 * h)
        assert np.allclose(d.transform_vjp(z, np.ones_like(z))[..., j], fd_x, rtol=1e-6)
    # the lognormal density integrates to one and its score has mean zero
    from scipy import integrate

    def dens(v):
        return float(np.exp(d.log_prob(np.array([[v]])))[0, 0])

    assert abs(integrate.quad(dens, 1e-6, 1000.0, points=[95.0], limit=200)[0] - 1.0) < 1e-8
    for j in range(2):
        m = integrate.quad(
            lambda v, j=j: dens(v) * d.score(np.array([[v]]))[0, 0, j],
            1e-6,
            1000.0,
            points=[95.0],
            limit=200,
        )[0]
        assert abs(m) < 1e-7


@pytest.mark.parametrize("kind", ["call", "digital"])
@pytest.mark.parametrize("moneyness", [0.8, 1.0, 1.2])
def test_exact_means_equal_the_greeks_and_pathwise_digital_is_biased(kind, moneyness):
    prob = option_problem(kind, s0=100.0 * moneyness, **ARGS)
    truth = exact_greeks(prob)
    for est in OM.build_estimators():
        if est.name in OM.FITTED:  # no single-sample oracle: tested by Monte Carlo below
            continue
        mean, var = exact_terms_moments(prob, est)
        if kind == "digital" and est.base is pathwise:
            assert np.all(mean == 0.0) and np.all(var == 0.0)  # biased: the Greeks are not 0
            assert np.all(np.abs(truth) > 1e-3)
        else:
            assert np.allclose(mean, truth, rtol=1e-8, atol=1e-10), est.name
    # the terminal-price control variate reduces the likelihood-ratio variance
    lr = exact_terms_moments(prob, make_estimator(score_function))[1]
    lr_cv = exact_terms_moments(prob, make_estimator(score_function, price_control("sf")))[1]
    assert np.all(lr_cv < lr)


def test_price_control_refuses_the_wrong_estimator():
    prob = option_problem("call", s0=100.0, **ARGS)
    est = make_estimator(pathwise, price_control("sf"))
    with pytest.raises(TypeError, match="kind='pathwise'"):
        est(prob, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind"):
        price_control("lr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        Payoff("put", 100.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["call", "digital"])
def test_monte_carlo_agrees_with_exact_values(kind):
    prob = option_problem(kind, s0=100.0, **ARGS)
    truth = exact_greeks(prob)
    ests = [e for e in OM.build_estimators() if e.name not in OM.FITTED]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = measure_variance(
            prob, ests, n_samples=[1], n_reps=20_000, seed=11, truth=truth, exact=False
        )
    t = t[t["kind"] == "coordinate"]
    for est in ests:
        mean, var = exact_terms_moments(prob, est)
        for j, coord in enumerate(prob.dist.param_names):
            r = t[(t["estimator"] == est.name) & (t["coordinate"] == coord)].iloc[0]
            if var[j] == 0.0:  # pathwise digital: identically 0, bias = -truth exactly
                assert r["variance"] == 0.0 and r["mean"] == 0.0
                assert abs(r["bias"] + truth[j]) < 1e-15
                continue
            se = math.sqrt(r["variance"] / r["n_reps"])
            assert abs(r["mean"] - truth[j]) <= Z_ONE * se, (est.name, coord)
            assert abs(r["variance"] - var[j]) <= Z_HUNDRED * r["variance_se"], (est.name, coord)


@pytest.mark.parametrize("moneyness", [0.8, 1.2])
def test_fitted_price_control_is_unbiased_and_named_beside_its_oracle(moneyness):
    prob = option_problem("call", s0=100.0 * moneyness, **ARGS)
    truth = exact_greeks(prob)
    ests = OM.build_estimators()
    names = [e.name for e in ests]
    for fitted in OM.FITTED:  # every fitted estimator sits beside its oracle
        assert fitted.replace("+cv (loo)", "+cv* (oracle)") in names
    fit = [e for e in ests if e.name in OM.FITTED]
    t = measure_variance(prob, fit, n_samples=[2, 8], n_reps=20_000, seed=5, truth=truth)
    t = t[t["kind"] == "coordinate"]
    assert len(t) == 2 * 2 * 2
    assert np.all(np.abs(t["bias"]) <= Z_HUNDRED * t["bias_se"])
    assert set(t["n_evals"]) == {2, 8}  # the payoff's evaluations only, as the oracle's


def test_bias_table_flags_the_pathwise_digital_delta_only():
    import pandas as pd

    exp = EXP.at_scale("quick")
    exact = OG.exact_table_at([1.0])
    one = replace(exp, points=[{"kind": "call", "moneyness": 1.0}], n_samples=(16,))
    dig = OG.digital_sweep(one)
    b = OG.bias_table(pd.concat([dig]), exact)
    delta = b[b["greek"] == "delta"].set_index("estimator")
    assert np.isinf(delta.loc["pathwise", "z"]) and delta.loc["pathwise", "mean"] == 0.0
    assert abs(delta.loc["lr", "z"]) <= Z_ONE
