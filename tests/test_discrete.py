import numpy as np
import pytest
from scipy import integrate, special

import vartools as vt
from vartools.core.objectives import Objective
from vartools.estimators.arm import antithetic_moments, arm, disarm
from vartools.estimators.relaxations import concrete_sample, gumbel_softmax, straight_through
from vartools.oracles.exact import exact_gradient, exact_moments

ATOL = 1e-12
ZMANY = 5.7


def nonsep_problem(logits=(0.4, -1.3, 2.0)):
    def f(b):
        return (b[..., 0] - 0.45) ** 2 + 1.5 * b[..., 0] * b[..., 1] - b[..., 2] * (b[..., 1] + 0.3)

    return vt.Problem("nonsep3", vt.Bernoulli(list(logits)), f)


def smooth_problem():
    def val(b):
        return np.exp(2 * b[..., 0]) * (1 + b[..., 1]) - 3 * b[..., 1]

    def grad(b):
        return np.stack(
            [2 * np.exp(2 * b[..., 0]) * (1 + b[..., 1]), np.exp(2 * b[..., 0]) - 3], -1
        )

    return vt.Problem("smooth2", vt.Bernoulli([1.0, -0.5]), Objective(val, grad))


# -- ARM / DisARM -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["arm", "disarm"])
@pytest.mark.parametrize(
    "prob",
    [nonsep_problem(), nonsep_problem((0.0, 0.0, -3.0)), vt.make_problem("liu_toy", eta=-4.0)],
    ids=["nonsep", "ties", "liu-4"],
)
def test_antithetic_unbiased_exact_over_u(kind, prob):
    mean, var = antithetic_moments(prob, kind)
    np.testing.assert_allclose(mean, exact_gradient(prob), atol=ATOL)
    assert np.all(var >= 0)


def test_antithetic_oracle_against_1d_quadrature():
    # independent check of the cell logic: integrate the single-pair estimator over u
    prob = vt.make_problem("rebar_toy", t=0.45, logit=0.8)
    dist = prob.dist
    sig = float(dist.probs[0])
    for kind in ("arm", "disarm"):

        def term(u, kind=kind):
            b1 = float(u > 1 - sig)
            b2 = float(u < sig)
            df = (b1 - 0.45) ** 2 - (b2 - 0.45) ** 2
            if kind == "arm":
                return df * (u - 0.5)
            return 0.5 * df * (-1) ** b2 * (b1 != b2) * special.expit(abs(0.8))

        pts = sorted([sig, 1 - sig])
        m1 = integrate.quad(term, 0, 1, points=pts, epsabs=1e-14)[0]
        m2 = integrate.quad(lambda u, term=term: term(u) ** 2, 0, 1, points=pts, epsabs=1e-14)[0]
        mean, var = antithetic_moments(prob, kind, n=3)
        np.testing.assert_allclose(mean, [m1], atol=1e-12)
        np.testing.assert_allclose(var, [(m2 - m1**2) / 3], atol=1e-12)
        np.testing.assert_allclose(m1, sig * (1 - sig) * (1 - 2 * 0.45), atol=1e-12)


def test_disarm_variance_at_most_arm():
    for prob in (nonsep_problem(), vt.make_problem("liu_toy", eta=0.7)):
        _, v_arm = antithetic_moments(prob, "arm")
        _, v_dis = antithetic_moments(prob, "disarm")
        assert np.all(v_dis <= v_arm + ATOL)


@pytest.mark.parametrize("base", [arm, disarm], ids=["arm", "disarm"])
def test_antithetic_monte_carlo_matches_oracle(base):
    prob = nonsep_problem()
    est = vt.make_estimator(base)
    n = 3
    t = vt.measure_variance(prob, est, n_samples=n, n_reps=4000, seed=4)
    rows = t[t["kind"] == "coordinate"]
    assert np.all(np.abs(rows["bias"]) <= ZMANY * rows["bias_se"])
    _, v = antithetic_moments(prob, est, n)
    assert np.all(np.abs(rows["variance"].to_numpy() - v) <= ZMANY * rows["variance_se"].to_numpy())
    assert set(t["n_evals"]) == {2 * n}
    assert not t["biased"].any()


def test_antithetic_pairs_are_the_documented_pairs():
    prob = nonsep_problem()
    b, _ = vt.make_estimator(disarm).batch(prob, 5, rng=np.random.default_rng(0), reps=(7,))
    u, sig = b.noise, prob.dist.probs
    np.testing.assert_array_equal(b.x, (u > 1 - sig).astype(float))
    np.testing.assert_array_equal(b.info["x2"], (u < sig).astype(float))
    assert b.terms.shape == (7, 5, 3)


def test_antithetic_errors():
    cat = vt.make_problem("cat_table")
    with pytest.raises(TypeError, match="Bernoullis"):
        vt.make_estimator(arm)(cat, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="'arm' or 'disarm'"):
        antithetic_moments(nonsep_problem(), "sf")
    with pytest.raises(TypeError, match="no score"):
        vt.make_estimator(disarm, vt.loo_baseline())(
            nonsep_problem(), 2, rng=np.random.default_rng(0)
        )


# -- straight-through -----------------------------------------------------------------------


def test_straight_through_exact_bias_and_measurement():
    prob = smooth_problem()
    st = vt.make_estimator(straight_through())
    mean, var = exact_moments(prob, st, 1)
    # closed form: E[grad f(b)] sigma (1 - sigma), summed over the support
    x, p = prob.dist.support()
    sig = prob.dist.probs
    np.testing.assert_allclose(mean, p @ (prob.grad_f(x) * sig * (1 - sig)), atol=ATOL)
    bias = mean - exact_gradient(prob)
    t = vt.measure_variance(prob, st, n_samples=1, n_reps=4000, seed=5)
    rows = t[t["kind"] == "coordinate"]
    assert t["biased"].all()
    assert np.all(np.abs(rows["bias"].to_numpy() - bias) <= ZMANY * rows["bias_se"].to_numpy())
    assert np.abs(bias[0]) > 20 * rows["bias_se"].to_numpy()[0]  # reported as nonzero
    np.testing.assert_allclose(rows["exact_variance"].to_numpy(), var)


def test_straight_through_categorical_closed_form():
    rng = np.random.default_rng(6)
    table = rng.normal(size=(2, 3))

    # (t0 . y0)^2 is not linear in the one-hot y0: ST is exact for multilinear f only
    def rel_val(y):
        v = (table * y).sum(-1)
        return v.sum(-1) + v[..., 0] * v[..., 1] + v[..., 0] ** 2

    def rel_grad(y):
        v = (table * y).sum(-1)
        g = table * (1 + v[..., ::-1])[..., None]
        g[..., 0, :] += 2 * v[..., 0, None] * table[0]
        return g

    prob = vt.Problem(
        "cat2x3", vt.Categorical(rng.normal(size=(2, 3))), lambda z: rel_val(np.eye(3)[z])
    )
    st = vt.make_estimator(straight_through(Objective(rel_val, rel_grad)))
    mean, _ = exact_moments(prob, st, 1)
    z, pz = prob.dist.support()
    probs = prob.dist.probs
    ref = np.zeros(6)
    for zi, w in zip(z, pz, strict=True):
        h = rel_grad(np.eye(3)[zi])
        ref += w * np.concatenate(
            [(np.diag(pj) - np.outer(pj, pj)) @ hj for pj, hj in zip(probs, h, strict=True)]
        )
    np.testing.assert_allclose(mean, ref, atol=ATOL)
    assert np.abs(mean - exact_gradient(prob)).max() > 1e-3


# -- Gumbel-softmax -----------------------------------------------------------------------


def test_gumbel_softmax_unbiased_for_the_relaxed_objective_biased_for_the_discrete():
    prob = smooth_problem()
    tau = 1.0

    def relaxed_objective(logits):
        d = vt.Bernoulli(logits)

        def fn(u):
            z = concrete_sample(d, u.reshape(-1, 1, 2), tau)
            return prob.f(z).reshape(-1, 1)

        res = integrate.cubature(fn, [0.0, 0.0], [1.0, 1.0], rtol=1e-12, atol=1e-14)
        return float(res.estimate[0])

    h = 1e-4
    base = prob.dist.logits
    relaxed_grad = np.array(
        [
            (relaxed_objective(base + h * e) - relaxed_objective(base - h * e)) / (2 * h)
            for e in np.eye(2)
        ]
    )
    est = vt.make_estimator(gumbel_softmax(tau))
    t = vt.measure_variance(prob, est, n_samples=2, n_reps=4000, seed=7, truth=relaxed_grad)
    rows = t[t["kind"] == "coordinate"]
    assert np.all(np.abs(rows["bias"]) <= ZMANY * rows["bias_se"])
    t2 = vt.measure_variance(prob, est, n_samples=2, n_reps=4000, seed=7)  # discrete truth
    rows2 = t2[t2["kind"] == "coordinate"]
    assert t2["biased"].all()
    assert np.any(np.abs(rows2["bias"]) > 20 * rows2["bias_se"])


def test_gumbel_softmax_categorical_terms_are_the_pathwise_derivative():
    rng = np.random.default_rng(8)
    table = rng.normal(size=(2, 3))

    def rel_val(y):
        v = (table * y).sum(-1)
        return v.sum(-1) + np.sin(v[..., 0] * v[..., 1])

    def rel_grad(y):
        v = (table * y).sum(-1)
        c = np.cos(v[..., 0] * v[..., 1])
        return table * (1 + c[..., None] * v[..., ::-1])[..., None]

    dist = vt.Categorical(rng.normal(size=(2, 3)))
    prob = vt.Problem("cat2x3", dist, lambda z: rel_val(np.eye(3)[z]))
    tau = 0.7
    b, _ = vt.make_estimator(gumbel_softmax(tau, Objective(rel_val, rel_grad))).batch(
        prob, 3, rng=np.random.default_rng(0), reps=(2,)
    )
    theta, h = dist.params, 1e-6
    fd = np.stack(
        [
            (
                rel_val(concrete_sample(dist.with_params(theta + h * e), b.noise, tau))
                - rel_val(concrete_sample(dist.with_params(theta - h * e), b.noise, tau))
            )
            / (2 * h)
            for e in np.eye(6)
        ],
        -1,
    )
    np.testing.assert_allclose(b.terms, fd, atol=1e-7)
    np.testing.assert_allclose(b.x.sum(-1), 1.0)


def test_relaxation_errors():
    cat = vt.make_problem("cat_table")
    with pytest.raises(TypeError, match="one-hot"):
        vt.make_estimator(gumbel_softmax(0.5))(cat, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="temperature"):
        gumbel_softmax(0.0)
    nograd = vt.Problem("ng", vt.Bernoulli([0.0]), lambda b: b.sum(-1))
    with pytest.raises(ValueError, match="no gradient"):
        vt.make_estimator(straight_through())(nograd, 2, rng=np.random.default_rng(0))
