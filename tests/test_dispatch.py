"""Dispatch by capability, flag and attached oracle, never by a display name or class.

The first group reproduces the label-dispatch bugs of the code before this change
(each of these tests failed on it): a hand-built control variate named "loo" got
RLOO's exact variance, a renamed score-function estimator or RLOO lost it, a
hand-built "none" after ARM got plain ARM's oracle, a hand-built sampler named "iid"
was enumerated as iid, and a bug inside an oracle was reported as a NaN. The rest
checks the capability table, the errors, the flags and the named control-variate
states. Everything is exact (enumeration, quadrature, identities): no Monte Carlo.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import bern_f, bern_problem, cat_problem, normal_problem

import vartools as vt
from vartools.control_variates.baselines import EmaState, ema_baseline, loo_baseline
from vartools.control_variates.coefficients import optimal_baseline
from vartools.control_variates.fitting import Moments
from vartools.core.capabilities import CAPABILITIES
from vartools.core.control_variate import ControlVariate, chain
from vartools.core.distribution import Distribution
from vartools.core.errors import BudgetExceededError, NoOracleError, NotSupportedError
from vartools.estimators.arm import antithetic_moments, arm
from vartools.estimators.base import BaseEstimator
from vartools.estimators.measure_valued import measure_valued
from vartools.estimators.rao_blackwell import local_expectation
from vartools.estimators.sum_and_sample import sum_and_sample, sum_and_sample_moments
from vartools.oracles import exact
from vartools.oracles.registry import cv_oracle, register_cv_oracle
from vartools.samplers.sampling import Sampler, antithetic, iid, sobol, stratified


def _double(batch, state, problem):
    """A hand-built control variate's apply: every term doubled (not RLOO, not identity)."""
    return batch.with_terms(2.0 * batch.terms), state


# -- the label-dispatch bugs ------------------------------------------------------------------


def test_hand_built_cv_named_loo_gets_no_rloo_oracle():
    prob = normal_problem("cos", 1.0)
    fake = ControlVariate(lambda p: None, _double, name="loo", min_n=2, per_sample=False)
    est = vt.make_estimator(vt.score_function, fake)
    with pytest.raises(NoOracleError, match="couples its samples"):
        exact.exact_moments(prob, est, 3)
    # its true variance (4 x the plain estimator's) is not RLOO's, which it used to get
    _, v_sf = exact.exact_moments(prob, vt.make_estimator(vt.score_function), 3)
    _, v_rloo = exact.exact_moments(prob, vt.make_estimator(vt.score_function, loo_baseline()), 3)
    assert not np.allclose(4.0 * v_sf, v_rloo)


def test_renamed_estimator_or_rloo_keeps_the_rloo_oracle():
    prob = normal_problem("cos", 1.0)
    _, ref = exact.exact_moments(prob, vt.make_estimator(vt.score_function, loo_baseline()), 3)
    m = exact.sf_moments(prob)
    np.testing.assert_array_equal(ref, exact.rloo_variance(m, 3))
    reinforce = dataclasses.replace(vt.score_function, name="reinforce")
    renamed_cv = dataclasses.replace(loo_baseline(), name="rloo")
    for est in (
        vt.make_estimator(vt.score_function, loo_baseline(), name="sf"),
        vt.make_estimator(reinforce, loo_baseline()),
        vt.make_estimator(vt.score_function, renamed_cv),
    ):
        np.testing.assert_array_equal(exact.exact_moments(prob, est, 3)[1], ref)


def test_hand_built_base_named_sf_gets_no_rloo_oracle():
    prob = normal_problem("cos", 1.0)
    fake_sf = BaseEstimator(name="sf", from_noise=vt.score_function.from_noise)  # sf_terms=False
    with pytest.raises(NoOracleError, match="RLOO closed form"):
        exact.exact_moments(prob, vt.make_estimator(fake_sf, loo_baseline()), 3)


def test_hand_built_cv_named_none_after_arm_gets_no_arm_oracle():
    prob = bern_problem()
    fake = ControlVariate(lambda p: None, _double, name="none")
    with pytest.raises(NoOracleError, match="plain ARM"):
        exact.exact_moments(prob, vt.make_estimator(arm, fake), 1)
    # a renamed ARM keeps its oracle; a hand-built base named "arm" is not ARM
    mean, var = exact.exact_moments(prob, vt.make_estimator(arm, name="mine"), 2)
    m1, v1 = antithetic_moments(prob, "arm", 2)
    np.testing.assert_array_equal(mean, m1)
    np.testing.assert_array_equal(var, v1)
    fake_arm = BaseEstimator(name="arm", from_noise=vt.score_function.from_noise)
    with pytest.raises(ValueError, match="'arm' or 'disarm'"):
        antithetic_moments(prob, vt.make_estimator(fake_arm), 1)


def test_hand_built_sampler_named_iid_is_not_enumerated():
    fake_iid = Sampler("iid", antithetic().draw_fn, independent=False, min_n=2)
    est = vt.make_estimator(vt.score_function, sampler=fake_iid)
    assert est.name == "sf+iid"  # only the real iid sampler is left out of names
    assert est._chunk_rows(bern_problem(), 2, (10_000,), None) == 0  # never chunked
    with pytest.raises(NoOracleError, match="dependent"):
        exact.exact_moments(bern_problem(), est, 2)


def test_a_bug_in_an_oracle_surfaces_and_no_oracle_gives_nan():
    def buggy(problem, est, n, state):
        raise ValueError("bug inside the oracle")

    def absent(problem, est, n, state):
        raise NoOracleError("no oracle here")

    prob = bern_problem()
    kw = {"n_samples": 2, "n_reps": 100, "seed": 0}
    with pytest.raises(ValueError, match="bug inside"):
        vt.measure_variance(
            prob, vt.make_estimator(dataclasses.replace(vt.score_function, oracle=buggy)), **kw
        )
    est = vt.make_estimator(dataclasses.replace(vt.score_function, oracle=absent))
    table = vt.measure_variance(prob, est, **kw)
    assert table["exact_variance"].isna().all()
    assert table["variance"].notna().all()


# -- NoOracleError: every "no oracle" path, and only those ------------------------------------


def test_no_oracle_paths_raise_no_oracle_error():
    sf = vt.make_estimator(vt.score_function)
    two_d = vt.Problem("n2", vt.Normal([0.0, 1.0], [1.0, 1.0]), lambda x: x.sum(-1))
    for call in (
        lambda: exact.exact_gradient(two_d),
        lambda: exact.exact_moments(two_d, sf, 2),
        lambda: exact.quadrature(bern_problem(), lambda x, e: x),
        lambda: exact.exact_moments(bern_problem(), vt.make_estimator(vt.pathwise), 2),
        lambda: exact.exact_moments(
            bern_problem(), vt.make_estimator(vt.score_function, sampler=stratified()), 2
        ),
    ):
        with pytest.raises(NoOracleError):
            call()
    with pytest.raises(BudgetExceededError, match="budget"):
        vt.Bernoulli(np.zeros(30)).support()
    # SF at n = 9 exceeds the joint budget but has a closed form (variance / n, one sample
    # enumerated); a non-separable f on 30 Bernoullis has neither.
    m1, v1 = exact.exact_moments(cat_problem(), sf, 1)
    m9, v9 = exact.exact_moments(cat_problem(), sf, 9)
    np.testing.assert_allclose(m9, m1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(v9, v1 / 9, rtol=1e-14, atol=0)
    b30 = vt.Problem("b30", vt.Bernoulli(np.zeros(30)), lambda b: b.prod(-1))
    with pytest.raises(
        BudgetExceededError, match="no closed form applies either: f is not declared"
    ):
        exact.exact_moments(b30, sf, 2)
    b12 = vt.Problem("b12", vt.Bernoulli(np.zeros(12)), lambda b: b.sum(-1))
    with pytest.raises(BudgetExceededError, match="3\\^D cells"):
        exact.exact_moments(b12, vt.make_estimator(arm), 1)
    with pytest.raises(BudgetExceededError, match="too large"):
        sum_and_sample_moments(bern_problem(), vt.make_estimator(sum_and_sample(1)), 9)
    with pytest.raises(NoOracleError, match="one-dimensional"):
        exact.exact_moments(two_d, vt.make_estimator(measure_valued), 1)
    assert issubclass(BudgetExceededError, NoOracleError)
    assert issubclass(NoOracleError, LookupError) and issubclass(NoOracleError, ValueError)


def test_errors_that_are_not_missing_oracles_are_not_no_oracle_errors():
    nan_f = vt.Problem(
        "nanf", vt.Bernoulli([0.0, 0.0]), lambda b: np.where(b[..., 0] > 0, np.nan, 1.0)
    )
    with pytest.raises(ValueError) as info:
        exact.exact_gradient(nan_f)
    assert not isinstance(info.value, NoOracleError)
    with pytest.raises(ValueError) as info:  # n below the estimator's minimum: a usage error
        exact.exact_moments(bern_problem(), vt.make_estimator(vt.score_function, loo_baseline()), 1)
    assert not isinstance(info.value, NoOracleError)


# -- capabilities -----------------------------------------------------------------------------

CAPS = {
    "bernoulli": (
        vt.Bernoulli([0.3, -1.1]),
        {
            "enumeration",
            "param_coordinates",
            "local_expectation",
            "relaxation",
            "coupled_pairs",
            "conditional_relaxation",
            "one_hot_factorised",
        },
    ),
    "categorical": (
        vt.Categorical(np.zeros((2, 3))),
        {
            "enumeration",
            "param_coordinates",
            "local_expectation",
            "relaxation",
            "conditional_relaxation",
            "one_hot_factorised",
        },
    ),
    "normal1": (
        vt.Normal([0.0], [1.0]),
        {"quadrature", "pathwise", "param_coordinates", "measure_valued", "gaussian"},
    ),
    "normal2": (
        vt.Normal([0.0, 1.0], [1.0, 2.0]),
        {"pathwise", "param_coordinates", "measure_valued", "gaussian"},
    ),
}


@pytest.mark.parametrize("name", sorted(CAPS))
def test_capability_table(name):
    dist, expected = CAPS[name]
    got = {c for c in CAPABILITIES if dist.supports(c)}
    assert got == expected


def test_unknown_capability_is_refused_with_the_list():
    with pytest.raises(ValueError, match="capability must be one of"):
        vt.Normal(0.0, 1.0).supports("teleportation")


@pytest.mark.parametrize(
    ("dist", "call", "message"),
    [
        (vt.Normal(0.0, 1.0), lambda d: d.support(), "enumeration is not supported by Normal"),
        (
            vt.Normal(0.0, 1.0),
            lambda d: d.local_expectation(np.zeros((1, 1)), np.zeros((1, 1)), None, 1),
            "local_expectation is not supported by Normal for local_expectation",
        ),
        (vt.Categorical(np.zeros(3)), lambda d: d.coupled_pair(np.zeros((1, 1))), "coupled_pairs"),
        (vt.Bernoulli([0.0]), lambda d: d.gaussian_params(), "gaussian is not supported by Bern"),
        (
            vt.Bernoulli([0.0]),
            lambda d: d.measure_valued_coupling((1, 1), rng=np.random.default_rng(0)),
            "measure_valued is not supported by Bernoulli",
        ),
        (vt.Normal(0.0, 1.0), lambda d: d.relaxed_sample(np.zeros(1), 0.5), "relaxation"),
        (vt.Bernoulli([0.0]), lambda d: d.transform_vjp(np.zeros(1), np.zeros(1)), "pathwise"),
    ],
)
def test_default_capability_methods_raise_not_supported(dist, call, message):
    with pytest.raises(NotSupportedError, match=message):
        call(dist)
    assert issubclass(NotSupportedError, TypeError)


class _NoLocalBernoulli(vt.Bernoulli):
    """A Bernoulli that withdraws its local-expectation capability."""

    local_expectation = Distribution.local_expectation


def test_estimators_dispatch_on_the_capability_not_the_class():
    dist = _NoLocalBernoulli([0.3, -1.1, 0.8])
    assert isinstance(dist, vt.Bernoulli) and not dist.supports("local_expectation")
    prob = vt.Problem("noloc", dist, bern_f)
    with pytest.raises(NotSupportedError, match="local_expectation is not supported by _NoLocal"):
        vt.make_estimator(local_expectation)(prob, 2, rng=np.random.default_rng(0))
    # the other capabilities it still has keep working: ARM pairs and enumeration
    mean, _ = exact.exact_moments(prob, vt.make_estimator(arm), 1)
    np.testing.assert_allclose(mean, exact.exact_gradient(prob), atol=1e-12)


def test_local_expectation_capability_by_enumeration_of_each_coordinate():
    """Bernoulli: theta (1 - theta) [f(1, x_-d) - f(0, x_-d)]; Categorical: sum_k p_k f_k (e_k - p).

    Checked at every joint outcome, by a loop over coordinates and categories.
    """
    prob = bern_problem()
    dist = prob.dist
    x, _ = dist.support()
    x = x[:, None]
    terms, evals = dist.local_expectation(x, prob.evaluate(x), prob.evaluate, 1000)
    theta = dist.probs
    for d in range(dist.n_params):
        hi, lo = x.copy(), x.copy()
        hi[..., d], lo[..., d] = 1.0, 0.0
        want = theta[d] * (1 - theta[d]) * (prob.evaluate(hi) - prob.evaluate(lo))
        np.testing.assert_allclose(terms[..., d], want, rtol=0, atol=1e-15)
    assert evals == 1 + dist.n_params
    cprob = cat_problem()
    cd = cprob.dist
    z, _ = cd.support()
    z = z[:, None]
    terms, evals = cd.local_expectation(z, cprob.evaluate(z), cprob.evaluate, 1000)
    k, probs = cd.n_categories, cd.probs
    for j in range(probs.shape[0]):
        fk = []
        for c in range(k):
            zc = z.copy()
            zc[..., j] = c
            fk.append(cprob.evaluate(zc))
        fk = np.stack(fk, -1)
        want = sum(probs[j, c] * fk[..., c, None] * (np.eye(k)[c] - probs[j]) for c in range(k))
        np.testing.assert_allclose(terms[..., j * k : (j + 1) * k], want, rtol=0, atol=1e-14)
    assert evals == 1 + probs.shape[0] * (k - 1)


def test_antithetic_noise_reflects_normals_exactly_and_flips_uniforms():
    u = np.random.default_rng(3).random((2, 3, 1))
    e = vt.Normal([0.0], [1.0]).antithetic_noise(u, 1)
    np.testing.assert_array_equal(e[:, :3], -e[:, 3:])
    v = vt.Bernoulli([0.0]).antithetic_noise(u, 1)
    np.testing.assert_array_equal(v[:, 3:], 1.0 - u)


def test_coupled_pair_is_the_arm_pair():
    d = vt.Bernoulli([0.4, -2.0])
    u = np.random.default_rng(1).random((5, 2))
    x1, x2 = d.coupled_pair(u)
    sig = d.probs
    np.testing.assert_array_equal(x1, (u > 1 - sig).astype(float))
    np.testing.assert_array_equal(x2, (u < sig).astype(float))


# -- flags on samplers, control variates and base estimators ----------------------------------


def test_sampler_and_control_variate_flags():
    assert iid().iid and not any(s.iid for s in (antithetic(), stratified(), sobol()))
    assert chain().is_identity and not loo_baseline().is_identity
    assert not chain(loo_baseline(), ema_baseline()).is_identity
    assert loo_baseline().factory is loo_baseline and chain(loo_baseline()).factory is loo_baseline
    assert vt.score_function.sf_terms and not vt.pathwise.sf_terms


def test_cv_oracle_registry_is_keyed_by_the_factory_object():
    assert cv_oracle(loo_baseline()) is not None
    assert cv_oracle(dataclasses.replace(loo_baseline(), name="anything")) is not None
    assert cv_oracle(ControlVariate(lambda p: None, _double, name="loo")) is None
    assert cv_oracle(chain(loo_baseline(), loo_baseline())) is None
    with pytest.raises(TypeError, match="callables"):
        register_cv_oracle("loo", lambda *a: None)


def test_running_coefficient_state_is_a_named_record():
    est = vt.make_estimator(vt.score_function, optimal_baseline("running"))
    _, state = est.batch(bern_problem(), 4, rng=np.random.default_rng(0), reps=(3,))
    assert isinstance(state, Moments) and state._fields == ("m", "sh", "sg", "shh", "shg")
    assert state.m == 12.0  # 3 replicates x 4 samples


def test_ema_state_is_a_named_record():
    prob = bern_problem()
    cv = ema_baseline(0.5)
    s0 = cv.init(prob)
    assert s0 == EmaState(mean=0.0, n_batches=0)
    est = vt.make_estimator(vt.score_function, cv)
    batch, s1 = est.batch(prob, 4, rng=np.random.default_rng(0), reps=(3,), state=s0)
    assert isinstance(s1, EmaState) and s1.n_batches == 1
    assert s1.mean == 0.5 * float(np.mean(batch.fx))
