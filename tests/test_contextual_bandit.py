"""Contextual bandit (vartools.catalogue.bandit): model, exact oracles, baselines.

Exact checks enumerate the finite support (state, action, noise level); Monte Carlo
checks use fixed seeds and z * SE tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ATOL, Z_HUNDRED, Z_ONE, central_difference

import vartools as vt
from vartools.catalogue import bandit as bd
from vartools.core.control_variate import subtract_baseline
from vartools.oracles import exact


@pytest.fixture
def prob() -> vt.Problem:
    logits = np.array([[0.3, -0.8, 0.5], [1.2, 0.0, -0.4], [-0.6, 0.9, 0.1]])
    return bd.make_bandit(3, 3, noise=0.7, offset=2.0, logits=logits, seed=1)


def estimators(prob: vt.Problem) -> dict[str, vt.Estimator]:
    sf = vt.score_function
    return {
        "sf": vt.make_estimator(sf),
        "const": vt.make_estimator(sf, vt.constant_baseline(bd.expected_return(prob))),
        "V(s)": vt.make_estimator(sf, bd.state_value_baseline()),
        "opt*": vt.make_estimator(sf, bd.oracle_optimal_baseline()),
        "loo": vt.make_estimator(sf, vt.loo_baseline()),
        "loo(s)": vt.make_estimator(sf, bd.per_state_loo_baseline()),
    }


def test_support_sums_to_one_and_score_has_mean_zero(prob):
    x, w = prob.dist.support()
    assert x.shape == (3 * 3 * 2, 3)
    assert abs(w.sum() - 1.0) < ATOL
    np.testing.assert_allclose(w @ prob.dist.score(x[:, None])[:, 0], 0.0, atol=ATOL)


def test_score_equals_finite_difference_of_log_prob(prob):
    x, _ = prob.dist.support()
    fd = central_difference(
        lambda t: prob.dist.with_params(t).log_prob(x[:, None])[:, 0], prob.dist.params, 1e-6
    )
    np.testing.assert_allclose(prob.dist.score(x[:, None])[:, 0], fd, atol=1e-8)


def test_exact_gradient_equals_closed_form_and_difference_of_expected_return(prob):
    g = exact.exact_gradient(prob)
    np.testing.assert_allclose(g, bd.policy_gradient(prob).ravel(), atol=ATOL)
    fd = central_difference(
        lambda t: exact.exact_expectation(prob.with_params(t)), prob.dist.params, 1e-5
    )
    np.testing.assert_allclose(g, fd, atol=1e-9)
    assert abs(exact.exact_expectation(prob) - bd.expected_return(prob)) < ATOL


def test_sampling_matches_the_joint_law(prob):
    # frequencies of the 18 outcomes against their probabilities, z * SE each
    x, w = prob.dist.support()
    draws = prob.dist.sample(40_000, rng=np.random.default_rng(3))
    idx = (draws[:, 0] * 3 + draws[:, 1]) * 2 + draws[:, 2]
    freq = np.bincount(idx, minlength=18) / len(idx)
    se = np.sqrt(w * (1 - w) / len(idx))
    assert np.all(np.abs(freq - w) <= Z_HUNDRED * se)


def test_reward_noise_makes_f_random_given_state_and_action(prob):
    x = np.array([[[1, 2, 0], [1, 2, 1]]])
    f = prob.evaluate(x)
    assert abs(f[0, 1] - f[0, 0] - 1.4) < ATOL
    assert abs(f.mean() - prob.f.means[1, 2]) < ATOL


@pytest.mark.parametrize("name", ["sf", "const", "V(s)", "opt*", "loo", "loo(s)"])
def test_every_baseline_is_unbiased_by_enumeration(prob, name):
    est = estimators(prob)[name]
    mean, _ = exact.exact_moments(prob, est, 3)
    np.testing.assert_allclose(mean, exact.exact_gradient(prob), atol=ATOL)


def test_per_state_loo_would_be_biased_if_it_used_its_own_sample(prob):
    # a baseline that reads the sample's own reward is biased: the test above can fail
    def own(batch, state, problem):
        return subtract_baseline(batch, batch.fx, "own", per_sample=True), state

    bad = vt.make_estimator(vt.score_function, vt.ControlVariate(lambda p: None, own, "own"))
    mean, _ = exact.exact_moments(prob, bad, 2)
    assert np.abs(mean - exact.exact_gradient(prob)).max() > 1e-3


def test_per_state_loo_baseline_values():
    prob = bd.make_bandit(2, 2, noise=0.0)
    x = np.array([[[0, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]]])
    est = vt.make_estimator(vt.score_function, bd.per_state_loo_baseline())
    batch = est.from_samples(prob, x)
    f = prob.evaluate(x)[0]
    b = np.array(
        [(f[2] + f[3]) / 2, (f[0] + f[2] + f[3]) / 3, (f[0] + f[3]) / 2, (f[0] + f[2]) / 2]
    )
    np.testing.assert_allclose(batch.weight[0], f - b, atol=ATOL)


def test_optimal_baseline_attains_the_closed_form_and_orders_the_baselines(prob):
    m = exact.sf_moments(prob)
    ests = estimators(prob)
    v = {
        k: exact.exact_moments(prob, e, 1)[1] for k, e in ests.items() if k not in ("loo", "loo(s)")
    }
    np.testing.assert_allclose(v["opt*"], exact.optimal_baseline_variance(m), atol=ATOL)
    for other in ("sf", "const", "V(s)"):
        assert np.all(v["opt*"] <= v[other] + ATOL)
    # with rewards offset by 2 every baseline beats no baseline, per coordinate
    assert np.all(v["const"] < v["sf"])


def test_monte_carlo_variances_lie_within_their_intervals_of_the_exact_ones(prob):
    ests = list(estimators(prob).values())
    table = vt.measure_variance(prob, ests, n_samples=[4], n_reps=3000, seed=11, warmup=0)
    rows = table[table["kind"] == "coordinate"]
    assert rows["exact_variance"].notna().all()
    z = np.abs(rows["variance"] - rows["exact_variance"]) / rows["variance_se"]
    assert (z <= Z_HUNDRED).all(), rows.loc[z > Z_HUNDRED, ["estimator", "coordinate"]]
    assert (np.abs(rows["bias"]) <= Z_HUNDRED * rows["bias_se"]).all()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="state_probs"):
        bd.ContextualPolicy(np.zeros((2, 3)), [0.5, 0.4])
    with pytest.raises(ValueError, match="logits"):
        bd.ContextualPolicy(np.zeros(3), [1.0])
    with pytest.raises(TypeError, match="contextual bandit"):
        bd.state_values(vt.make_problem("liu_toy"))
    assert Z_ONE < Z_HUNDRED


def test_experiment_names_its_oracles_and_its_fitted_baselines_are_unbiased(prob):
    import importlib

    from vartools.harness.loading import load_experiment

    load_experiment("contextual_bandit")  # puts the experiments package on sys.path
    cb = importlib.import_module("experiments.contextual_bandit")
    ests = {e.name: e for e in cb.estimators()}
    oracles = [n for n in ests if "(oracle)" in n]
    assert oracles == [
        "constant J (oracle)",
        "state value V(s) (oracle)",
        "optimal b* per logit (oracle)",
    ]
    assert not any("(s,a)" in n or "(s, a)" in n for n in ests)  # not action-dependent
    g = exact.exact_gradient(prob)
    _, v_opt = exact.exact_moments(prob, ests["optimal b* per logit (oracle)"], 3)
    for name in ("b per logit, fitted LOO", "b per logit, cross-fitted"):
        mean, var = exact.exact_moments(prob, ests[name], 4 if "cross" in name else 3)
        np.testing.assert_allclose(mean, g, atol=ATOL)
    # fitting costs variance: the leave-one-out fit is worse than the oracle at n = 3
    _, v_loo = exact.exact_moments(prob, ests["b per logit, fitted LOO"], 3)
    assert v_loo.mean() > v_opt.mean()
