"""Every public entry point validates its input and names the bad argument in the error."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import bern_problem, cat_problem, normal_problem

import vartools as vt
from vartools.core import rng as rng_mod
from vartools.core.objectives import Objective
from vartools.measure.statistics import replicate_stats
from vartools.oracles import exact

RNG = np.random.default_rng


# -- distributions --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "exc", "arg"),
    [
        (lambda: vt.Bernoulli([0.0, np.nan]), ValueError, "logits"),
        (lambda: vt.Bernoulli([np.inf]), ValueError, "logits"),
        (lambda: vt.Bernoulli("abc"), TypeError, "logits"),
        (lambda: vt.Categorical([[0.0, np.nan]]), ValueError, "logits"),
        (lambda: vt.Categorical([1.0]), ValueError, "logits"),
        (lambda: vt.Categorical(2.0), ValueError, "logits"),
        (lambda: vt.Normal(np.nan, 1.0), ValueError, "loc"),
        (lambda: vt.Normal(0.0, -np.inf), ValueError, "scale"),
        (lambda: vt.Normal(0.0, 0.0), ValueError, "scale"),
        (lambda: vt.Normal([0.0], [1.0, -2.0]), ValueError, "scale"),
        (lambda: vt.Normal(0.0, np.inf), ValueError, "scale"),
        (lambda: vt.Normal([0.0, 1.0], [1.0, 1.0, 1.0]), ValueError, "loc and scale"),
        (lambda: vt.Normal(0.0, 1.0, parameterization="var"), ValueError, "parameterization"),
        (lambda: vt.Normal.from_log_scale(0.0, np.nan), ValueError, "log_scale"),
        (lambda: vt.Normal.from_log_scale(0.0, 1000.0), ValueError, "log_scale"),
        (lambda: vt.Bernoulli([0.0]).with_params([0.0, 1.0]), ValueError, "theta"),
        (lambda: vt.Bernoulli([0.0]).with_params([np.nan]), ValueError, "theta"),
        (lambda: vt.Normal(0.0, 1.0).with_params([0.0, -1.0]), ValueError, "scale"),
        (lambda: vt.Categorical([0.0, 1.0]).with_params([0.0]), ValueError, "theta"),
        (lambda: vt.Bernoulli([0.0]).unflatten(np.zeros(3)), ValueError, "g"),
    ],
)
def test_distribution_parameters_are_validated(make, exc, arg):
    with pytest.raises(exc, match=arg):
        make()


DISTS = [
    vt.Bernoulli([0.0, 1.0]),
    vt.Categorical(np.zeros((2, 3))),
    vt.Normal([0.0, 1.0], [1.0, 2.0]),
]


@pytest.mark.parametrize("dist", DISTS, ids=["bern", "cat", "normal"])
def test_sampling_arguments_are_validated(dist):
    for n, exc in [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]:
        with pytest.raises(exc, match="n must"):
            dist.sample(n, rng=RNG(0))
    for reps, exc in [
        ((-1,), ValueError),
        ("ab", TypeError),
        ((2.0,), TypeError),
        (1.5, TypeError),
    ]:
        with pytest.raises(exc, match="reps"):
            dist.sample(3, rng=RNG(0), reps=reps)
    for rng in (None, 42, np.random.RandomState(0)):  # noqa: NPY002 (checking it is refused)
        with pytest.raises(TypeError, match="rng"):
            dist.sample(3, rng=rng)
        with pytest.raises(TypeError, match="rng"):
            dist.sample_noise(3, rng=rng)
        with pytest.raises(TypeError, match="rng"):
            vt.iid().draw(dist, 3, rng=rng)


@pytest.mark.parametrize("dist", DISTS, ids=["bern", "cat", "normal"])
def test_outcome_shapes_are_validated(dist):
    bad = np.zeros((4, 3, 5))
    for fn in (dist.log_prob, dist.score):
        with pytest.raises(ValueError, match="x must"):
            fn(bad)


def test_categorical_outcomes_must_be_valid_indices():
    d = vt.Categorical(np.zeros((2, 3)))
    for bad in (np.array([[[0, 3]]]), np.array([[[-1, 0]]]), np.array([[[0.5, 1.0]]])):
        for fn in (d.log_prob, d.score):
            with pytest.raises(ValueError, match="x must"):
                fn(bad)


def test_bernoulli_outcomes_must_be_zero_or_one():
    d = vt.Bernoulli([0.0, 1.0])
    for fn in (d.log_prob, d.score):
        with pytest.raises(ValueError, match="x must"):
            fn(np.array([[0.0, 2.0]]))


def test_support_budget_and_continuous_support():
    with pytest.raises(ValueError, match="budget"):
        vt.Bernoulli(np.zeros(30)).support()
    with pytest.raises(ValueError, match="budget"):
        vt.Categorical(np.zeros((3, 4))).support(budget=10)
    with pytest.raises(TypeError, match="continuous"):
        vt.Normal(0.0, 1.0).support()


# -- problems ---------------------------------------------------------------------
def test_problem_arguments_are_validated():
    d = vt.Bernoulli([0.0])
    with pytest.raises(TypeError, match="name"):
        vt.Problem("", d, lambda b: b[..., 0])
    with pytest.raises(TypeError, match="dist"):
        vt.Problem("p", "bernoulli", lambda b: b[..., 0])
    with pytest.raises(TypeError, match="f must"):
        vt.Problem("p", d, 3.0)
    with pytest.raises(ValueError, match="setting"):
        vt.make_problem("liu-toy")


@pytest.mark.parametrize(
    ("f", "what"),
    [
        (lambda b: b, "shape"),  # forgot to reduce over the event axis
        (lambda b: b.sum(), "shape"),
        (lambda b: b[..., 0] * np.nan, "NaN"),
        (lambda b: np.where(b[..., 0] > 0, np.inf, 0.0), "NaN or infinite"),
    ],
)
def test_objective_output_is_checked(f, what):
    prob = vt.Problem("bad_f", vt.Bernoulli([0.0, 0.0]), f)
    est = vt.make_estimator(vt.score_function)
    with pytest.raises(ValueError, match="f of problem") as info:
        est(prob, 8, rng=RNG(0), reps=(3,))
    assert what in str(info.value)
    with pytest.raises(ValueError, match="f of problem"):
        exact.exact_gradient(prob)


def test_grad_f_is_required_and_checked_for_pathwise():
    pw = vt.make_estimator(vt.pathwise)
    no_grad = vt.Problem("ng", vt.Normal(0.0, 1.0), lambda x: x * x)
    with pytest.raises(ValueError, match="grad_f"):
        pw(no_grad, 3, rng=RNG(0))
    bad_grad = vt.Problem(
        "bg", vt.Normal([0.0], [1.0]), Objective(lambda x: x.sum(-1), lambda x: x.sum(-1))
    )
    with pytest.raises(ValueError, match="grad_f"):
        pw(bad_grad, 3, rng=RNG(0))
    nan_grad = vt.Problem(
        "nang", vt.Normal([0.0], [1.0]), Objective(lambda x: x.sum(-1), lambda x: x * np.nan)
    )
    with pytest.raises(ValueError, match="grad_f"):
        pw(nan_grad, 3, rng=RNG(0))
    bern = vt.Problem("b", vt.Bernoulli([0.0]), Objective(lambda b: b.sum(-1), np.ones_like))
    with pytest.raises(TypeError, match="reparameteri"):
        pw(bern, 3, rng=RNG(0))


# -- estimators and control variates ------------------------------------------------
def test_estimator_call_arguments_are_validated():
    prob = bern_problem()
    loo = vt.make_estimator(vt.score_function, vt.loo_baseline())
    with pytest.raises(ValueError, match="n=1"):
        loo(prob, 1, rng=RNG(0))
    with pytest.raises(ValueError, match="n must"):
        loo(prob, 0, rng=RNG(0))
    with pytest.raises(TypeError, match="n must"):
        loo(prob, 2.0, rng=RNG(0))
    for rng in (None, 0, np.random.RandomState(0)):  # noqa: NPY002
        with pytest.raises(TypeError, match="rng"):
            loo(prob, 2, rng=rng)
    with pytest.raises(ValueError, match="reps"):
        loo(prob, 2, rng=RNG(0), reps=(-2,))
    with pytest.raises(ValueError, match="n=1"):
        loo.from_samples(prob, np.zeros((4, 1, 3)))
    with pytest.raises(ValueError, match="n >= 2"):
        vt.loo_baseline().apply(
            vt.make_estimator(vt.score_function).batch(prob, 1, rng=RNG(0))[0], None, prob
        )


def test_make_estimator_arguments_are_validated():
    with pytest.raises(TypeError, match="base"):
        vt.make_estimator("sf")
    with pytest.raises(TypeError, match="control variate 0"):
        vt.make_estimator(vt.score_function, lambda b, s, p: (b, s))
    with pytest.raises(TypeError, match="sampler"):
        vt.make_estimator(vt.score_function, sampler="iid")


def test_baseline_arguments_are_validated():
    for b in (np.nan, np.inf, [1.0, np.nan]):
        with pytest.raises(ValueError, match="b must"):
            vt.constant_baseline(b)
    with pytest.raises(ValueError, match="b must"):
        vt.constant_baseline(np.zeros((2, 2)))
    est = vt.make_estimator(vt.score_function, vt.constant_baseline([1.0, 2.0]))
    with pytest.raises(ValueError, match="b has 2 entries"):
        est(bern_problem(), 3, rng=RNG(0))
    for decay in (1.0, -0.1, True, "0.9", np.nan):
        with pytest.raises(ValueError, match="decay"):
            vt.ema_baseline(decay)
    pw_const = vt.make_estimator(vt.pathwise, vt.constant_baseline(1.0))
    with pytest.raises(TypeError, match="score"):
        pw_const(normal_problem("cos", 1.0), 3, rng=RNG(0))


# -- exact oracles --------------------------------------------------------------------
def test_exact_oracle_arguments_are_validated():
    two_d = vt.Problem("n2", vt.Normal([0.0, 1.0], [1.0, 1.0]), lambda x: x.sum(-1))
    sf = vt.make_estimator(vt.score_function)
    with pytest.raises(ValueError, match="oracle"):
        exact.exact_gradient(two_d)
    with pytest.raises(ValueError, match="oracle"):
        exact.exact_moments(two_d, sf, 2)
    # (plain SF at n = 9 has a closed form beyond the budget; a coupled chain has none)
    coupled = vt.make_estimator(vt.score_function, vt.optimal_baseline("loo"))
    with pytest.raises(ValueError, match="budget|smaller n"):
        exact.exact_moments(cat_problem(), coupled, 9)
    with pytest.raises(ValueError, match="budget"):
        exact.exact_gradient(vt.Problem("b30", vt.Bernoulli(np.zeros(30)), lambda b: b.sum(-1)))
    for n, exc in [(0, ValueError), (2.5, TypeError), (-1, ValueError)]:
        with pytest.raises(exc, match="n must"):
            exact.exact_moments(bern_problem(), sf, n)
        with pytest.raises(exc, match="n must"):
            exact.exact_moments(normal_problem("cos", 1.0), sf, n)
    with pytest.raises(ValueError, match="K"):
        exact.rloo_variance(exact.sf_moments(bern_problem()), 1)
    with pytest.raises(ValueError, match="n=1"):
        exact.exact_moments(
            bern_problem(), vt.make_estimator(vt.score_function, vt.loo_baseline()), 1
        )
    with pytest.raises(ValueError, match="oracle"):
        exact.quadrature(bern_problem(), lambda x, e: x)


# -- measurement --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "arg"),
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": [2.5]}, TypeError, "n_samples"),
        ({"n_samples": []}, ValueError, "n_samples"),
        ({"n_reps": 1}, ValueError, "n_reps"),
        ({"n_reps": 10.0}, TypeError, "n_reps"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": "abc"}, ValueError, "seed"),
        ({"seed": 1.5}, ValueError, "seed"),
        ({"reference": "nope"}, ValueError, "reference"),
        ({"truth": [0.0, 1.0]}, ValueError, "truth"),
        ({"truth": [0.0, np.nan, 1.0]}, ValueError, "truth"),
        ({"truth": "exact"}, ValueError, "truth"),
        ({"block_size": 0}, ValueError, "block_size"),
        ({"warmup": -1}, ValueError, "warmup"),
        ({"confidence": 1.0}, ValueError, "confidence"),
        ({"n_samples": [1]}, ValueError, "n=1"),
    ],
)
def test_measure_variance_arguments_are_validated(kwargs, exc, arg):
    ests = [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
    ]
    kw = {"n_samples": [2], "n_reps": 10, "seed": 0, **kwargs}
    with pytest.raises(exc, match=arg):
        vt.measure_variance(bern_problem(), ests, **kw)


def test_measure_variance_problem_and_estimator_lists_are_validated():
    sf = vt.make_estimator(vt.score_function)
    with pytest.raises(TypeError, match="problems"):
        vt.measure_variance("bern", sf, n_samples=2, seed=0)
    with pytest.raises(TypeError, match="estimators"):
        vt.measure_variance(bern_problem(), vt.score_function, n_samples=2, seed=0)
    with pytest.raises(ValueError, match="estimators"):
        vt.measure_variance(bern_problem(), [], n_samples=2, seed=0)
    with pytest.raises(ValueError, match="unique"):
        vt.measure_variance(bern_problem(), [sf, sf], n_samples=2, seed=0)


def test_seed_tree_keys_are_validated():
    with pytest.raises(ValueError, match="key"):
        rng_mod.generator(0, -1)
    with pytest.raises(TypeError, match="key"):
        rng_mod.generator(0, 1.5)
    with pytest.raises(ValueError, match="seed"):
        rng_mod.resolve_seed(-5)


def test_statistics_refuse_too_few_replicates():
    with pytest.raises(ValueError, match="R >= 2"):
        replicate_stats(np.zeros((1, 2)))
