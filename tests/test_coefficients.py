"""Optimal-coefficient control variates: exact unbiasedness, bias of same-batch fits, variance."""

import numpy as np
import pytest
from scipy import special

import vartools as vt
from vartools.control_variates.coefficients import delta_method, optimal_baseline, optimal_cv
from vartools.control_variates.features import (
    Features,
    FeatureValues,
    delta_features,
    function_features,
    score_features,
)
from vartools.core.objectives import Objective, cosine
from vartools.core.rng import generator
from vartools.measure.statistics import paired_ratio
from vartools.oracles.exact import (
    baseline_variance,
    exact_gradient,
    exact_moments,
    optimal_baseline_variance,
    quadrature,
    sf_moments,
)
from vartools.samplers.sampling import antithetic, sobol, stratified

Z1 = 4.9  # one comparison at family-wise error 1e-6
Z100 = 5.7  # about a hundred comparisons


def bern_problem():
    """Three Bernoullis, non-separable f."""
    logits = np.array([0.4, -1.1, 0.7])

    def f(b):
        return np.cos(2.0 * b[..., 0] + 1.5 * b[..., 1] - b[..., 2]) + b[..., 0] * b[..., 1] * 3.0

    return vt.Problem("bern3", vt.Bernoulli(logits), f)


def cat_problem():
    return vt.make_problem("cat_table", n_vars=2, n_classes=3, seed=1)


def normal_problem(k=1.0, log_scale=False):
    if not log_scale:
        return vt.make_problem("gaussian_cost", cost="cos", k=k)
    dist = vt.Normal.from_log_scale([1.0], [0.0])
    return vt.Problem("cos_logscale", dist, cosine(k))


def x0x1_features(problem):
    p = problem.dist.probs
    return function_features(lambda x: x[..., 0] * x[..., 1], p[0] * p[1], name="x0x1")


def sf(*cvs, **kw):
    return vt.make_estimator(vt.score_function, *cvs, **kw)


# -- unbiasedness by exact enumeration ---------------------------------------------------

UNBIASED = {
    "optbase(loo)": lambda pr: [optimal_baseline("loo")],
    "optbase(xfit)": lambda pr: [optimal_baseline("crossfit")],
    "optbase(loo,all)": lambda pr: [optimal_baseline("loo", pooling="all")],
    "optbase(xfit,block)": lambda pr: [optimal_baseline("crossfit", pooling="block")],
    "optbase(fixed)": lambda pr: [optimal_baseline("fixed", coef=0.3)],
    "optbase(loo)+loo": lambda pr: [optimal_baseline("loo"), vt.loo_baseline()],
    "const+optbase(xfit)": lambda pr: [vt.constant_baseline(0.7), optimal_baseline("crossfit")],
    "cv[score,x0x1](loo,ridge)": lambda pr: [
        optimal_cv(score_features(), x0x1_features(pr), source="loo", ridge=0.1)
    ],
    "cv[score,x0x1](xfit)": lambda pr: [
        optimal_cv(score_features(), x0x1_features(pr), source="crossfit")
    ],
}


@pytest.mark.parametrize("n", [4, 5])
@pytest.mark.parametrize("label", sorted(UNBIASED))
def test_unbiased_by_exact_enumeration_bernoulli(label, n):
    prob = bern_problem()
    est = sf(*UNBIASED[label](prob))
    mean, var = exact_moments(prob, est, n)
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=0, atol=1e-12)
    assert np.all(var > 0)


@pytest.mark.parametrize("source", ["loo", "crossfit"])
def test_unbiased_by_exact_enumeration_categorical(source):
    prob = cat_problem()
    est = sf(optimal_baseline(source))
    mean, _ = exact_moments(prob, est, 3)
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=0, atol=1e-12)


def test_running_coefficient_unbiased_at_any_warm_state():
    prob = bern_problem()
    est = sf(optimal_cv(score_features(), x0x1_features(prob), source="running", decay=0.8))
    state = est.init(prob)
    rng = np.random.default_rng(3)
    for _ in range(5):
        _, state = est(prob, 4, rng=rng, state=state)
    batch, _ = est.batch(prob, 4, rng=rng, state=state)
    coef = batch.info["coef:cv[score,x0x1](run0.8)"]
    assert coef.shape == (3, 2) and np.all(coef != 0)
    mean, _ = exact_moments(prob, est, 3, state=state)
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=0, atol=1e-12)


@pytest.mark.parametrize("pooling", ["coordinate", "all"])
def test_same_batch_coefficient_is_biased_and_says_so(pooling):
    prob = bern_problem()
    g = exact_gradient(prob)
    biased = sf(optimal_baseline("batch", pooling=pooling))
    assert biased.name.endswith("[biased]") and biased.biased and biased.cv.biased
    mean, _ = exact_moments(prob, biased, 4)
    bias = np.abs(mean - g)
    assert bias.max() > 1e-3  # far more than the 1e-12 of the unbiased sources
    # the same coefficient fitted elsewhere removes the bias
    for source in ("loo", "crossfit"):
        m2, _ = exact_moments(prob, sf(optimal_baseline(source, pooling=pooling)), 4)
        np.testing.assert_allclose(m2, g, rtol=0, atol=1e-12)


def test_same_batch_bias_is_order_one_over_n():
    prob = bern_problem()
    g = exact_gradient(prob)
    est = sf(optimal_baseline("batch"))
    b2 = exact_moments(prob, est, 2)[0] - g
    b6 = exact_moments(prob, est, 6)[0] - g
    assert np.abs(b6).max() < np.abs(b2).max()
    assert np.abs(b6).max() > 1e-4


def test_biased_column_in_measure_variance():
    prob = bern_problem()
    ests = [sf(optimal_baseline("batch")), sf(optimal_baseline("crossfit"))]
    t = vt.measure_variance(
        prob, ests, n_samples=[4], n_reps=64, seed=0, exact=False, allow_small_reps=True
    )
    flags = t.groupby("estimator")["biased"].all().to_dict()
    assert flags == {"sf+optbase(batch)[biased]": True, "sf+optbase(xfit)": False}


@pytest.mark.parametrize(("center", "least"), [(False, 0.05), (True, 0.025)])
def test_cosine_bias_of_same_batch_fit_at_n32(center, least):
    """Of order 5% of the gradient at n=32 on cos(x), x ~ N(1, 1) (issue 3), beyond z * SE."""
    prob = normal_problem()
    g = exact_gradient(prob)
    rng = generator(0, "bias")
    e, _ = sf(optimal_baseline("batch", center=center))(prob, 32, rng=rng, reps=(20000,))
    se = e.std(axis=0, ddof=1) / np.sqrt(e.shape[0])
    rel = (e.mean(axis=0) - g)[0] / abs(g[0])
    assert abs(rel) - Z1 * se[0] / abs(g[0]) > least
    for source in ("loo", "crossfit", "running"):
        e2, _ = sf(optimal_baseline(source, center=center))(prob, 32, rng=rng, reps=(20000,))
        se2 = e2.std(axis=0, ddof=1) / np.sqrt(e2.shape[0])
        assert np.all(np.abs(e2.mean(axis=0) - g) <= Z1 * se2)


# -- the coefficients themselves ---------------------------------------------------------


def _slope(g, s, axis):
    """Least-squares slope with an intercept of g on s over the given axes."""
    gc = g - g.mean(axis=axis, keepdims=True)
    sc = s - s.mean(axis=axis, keepdims=True)
    den = (sc * sc).sum(axis=axis)
    ok = den > 1e-9
    return np.where(ok, (gc * sc).sum(axis=axis) / np.where(ok, den, 1.0), 0.0)


def test_fitted_coefficients_match_hand_formulas():
    prob = bern_problem()
    rng = np.random.default_rng(0)
    x = prob.dist.sample(6, rng=rng, reps=(4,))
    base = vt.score_function.from_samples(prob, x)
    f, s = base.fx, base.score
    g = f[..., None] * s
    # plug-in b*_d = sum f s^2 / sum s^2
    want_raw = (g * s).sum(1) / (s * s).sum(1)
    b = sf(optimal_baseline("batch", center=False)).from_samples(prob, x)
    np.testing.assert_allclose(b.info["coef:optbase(batch,raw)[biased]"], want_raw, rtol=1e-12)
    np.testing.assert_allclose(b.terms, g - want_raw[:, None, :] * s, rtol=1e-12, atol=1e-14)
    # least squares with an intercept (the default)
    want = _slope(g, s, 1)
    b = sf(optimal_baseline("batch")).from_samples(prob, x)
    np.testing.assert_allclose(b.info["coef:optbase(batch)[biased]"], want, rtol=1e-10)
    # leave-one-out: sample i's coefficient from the other five samples
    for center, key in ((True, "coef:optbase(loo)"), (False, "coef:optbase(loo,raw)")):
        lo = sf(optimal_baseline("loo", center=center)).from_samples(prob, x)
        coef = lo.info[key]
        for i in range(6):
            keep = np.arange(6) != i
            gk, sk = g[:, keep], s[:, keep]
            w = _slope(gk, sk, 1) if center else (gk * sk).sum(1) / (sk**2).sum(1)
            np.testing.assert_allclose(coef[:, i], w, rtol=1e-10)
        np.testing.assert_allclose(lo.terms, g - coef * s, rtol=1e-12, atol=1e-14)
    # cross-fitting: the first half is corrected with the second half's coefficient
    xf = sf(optimal_baseline("crossfit")).from_samples(prob, x)
    coef = xf.info["coef:optbase(xfit)"]
    fit_b = _slope(g[:, 3:], s[:, 3:], 1)
    np.testing.assert_allclose(coef[:, 1], fit_b, rtol=1e-10)
    np.testing.assert_allclose(coef[:, 0], _slope(g[:, :3], s[:, :3], 1), rtol=1e-10)
    np.testing.assert_allclose(xf.terms[:, :3], g[:, :3] - fit_b[:, None] * s[:, :3], rtol=1e-10)
    # pooled over every coordinate: one scalar (sums over samples and coordinates of the
    # per-coordinate centred moments)
    pa = sf(optimal_baseline("batch", pooling="all")).from_samples(prob, x)
    gc = g - g.mean(1, keepdims=True)
    sc = s - s.mean(1, keepdims=True)
    want_all = (gc * sc).sum((1, 2)) / (sc * sc).sum((1, 2))
    got = pa.info["coef:optbase(batch,all)[biased]"]
    np.testing.assert_allclose(got, np.repeat(want_all[:, None], 3, axis=1), rtol=1e-10)


def test_joint_least_squares_and_ridge():
    prob = bern_problem()
    x = prob.dist.sample(50, rng=np.random.default_rng(1), reps=())
    base = vt.score_function.from_samples(prob, x[None])
    feats = [score_features(), x0x1_features(prob)]
    h = np.concatenate([ft(base, prob).h for ft in feats], axis=-1)[0]  # (n, p, k)
    g = base.terms[0]
    hc, gc = h - h.mean(0), g - g.mean(0)
    for ridge in (0.0, 0.5):
        b = sf(optimal_cv(*feats, source="batch", ridge=ridge)).from_samples(prob, x[None])
        coef = next(v for k, v in b.info.items() if k.startswith("coef:"))[0]
        for d in range(3):
            a = hc[:, d, :].T @ hc[:, d, :]
            a = a + ridge * np.trace(a) / 2 * np.eye(2)
            want = np.linalg.solve(a, hc[:, d, :].T @ gc[:, d])
            np.testing.assert_allclose(coef[d], want, rtol=1e-10)
        if ridge == 0.0:  # least squares: the residual is orthogonal to the centred h
            resid = b.terms[0] - b.terms[0].mean(0)
            np.testing.assert_allclose(np.einsum("np,npk->pk", resid, hc), 0.0, atol=1e-10)


def test_centred_fit_is_exact_for_an_affine_relation():
    """With g = 3 h + 2 the centred least-squares coefficient is 3 from any two samples."""
    prob = bern_problem()
    feats = Features(
        "g", lambda b, p: FeatureValues((b.terms[..., None] - 2.0) / 3.0, np.zeros((3, 1)))
    )
    x = prob.dist.sample(4, rng=np.random.default_rng(2), reps=(5,))
    b = sf(optimal_cv(feats, source="batch")).from_samples(prob, x)
    coef = b.info["coef:cv[g](batch)[biased]"]
    ok = np.ptp(b.x[..., 0], axis=1) > 0  # replicates where coordinate 0 varies
    np.testing.assert_allclose(coef[ok, 0], 3.0, rtol=1e-10)


def test_block_pooling_on_normal():
    prob = vt.Problem("n2", vt.Normal([0.5, -0.2], [1.0, 2.0]), lambda x: np.sin(x.sum(-1)))
    b, _ = sf(optimal_baseline("batch", pooling="block")).batch(
        prob, 8, rng=np.random.default_rng(0), reps=(3,)
    )
    coef = b.info["coef:optbase(batch,block)[biased]"]
    assert coef.shape == (3, 4)
    np.testing.assert_array_equal(coef[:, 0], coef[:, 1])  # loc block
    np.testing.assert_array_equal(coef[:, 2], coef[:, 3])  # scale block
    assert np.all(coef[:, 0] != coef[:, 2])


def test_apply_is_pure_and_deterministic():
    prob = bern_problem()
    x = prob.dist.sample(6, rng=np.random.default_rng(0), reps=(4,))
    base = vt.score_function.from_samples(prob, x)
    before = base.terms.copy()
    cv = optimal_baseline("loo")
    out1, _ = cv.apply(base, None, prob)
    out2, _ = cv.apply(base, None, prob)
    np.testing.assert_array_equal(base.terms, before)
    np.testing.assert_array_equal(out1.terms, out2.terms)


# -- optimal baseline on Normal problems: closed form, Monte Carlo, estimated ------------


@pytest.mark.parametrize("log_scale", [False, True])
@pytest.mark.parametrize("k", [0.5, 2.0])
def test_oracle_optimal_baseline_matches_closed_form(k, log_scale):
    prob = normal_problem(k, log_scale)
    m = sf_moments(prob)
    bstar = m.m1 / m.m0
    n = 16
    est = sf(optimal_baseline("fixed", coef=bstar))
    mean, var = exact_moments(prob, est, n)  # quadrature of the per-sample terms
    np.testing.assert_allclose(mean, m.g, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(var, optimal_baseline_variance(m) / n, rtol=1e-8)
    # measured by Monte Carlo: within z * SE of the closed form
    t = vt.measure_variance(prob, est, n_samples=[n], n_reps=8192, seed=2, exact=False)
    rows = t[t["kind"] == "coordinate"]
    exact_v = optimal_baseline_variance(m) / n
    assert np.all(np.abs(rows["variance"].to_numpy() - exact_v) <= Z1 * rows["variance_se"])
    assert np.all(np.abs(rows["bias"]) <= Z1 * rows["bias_se"])
    # and the optimum beats any other constant baseline
    assert np.all(optimal_baseline_variance(m) <= baseline_variance(m, 0.0))


def test_running_baseline_exact_variance_at_its_state():
    """Variance at the state's coefficient b equals M2 - 2 b M1 + b^2 M0 - g^2 (quadrature)."""
    prob = normal_problem(1.0)
    m = sf_moments(prob)
    est = sf(optimal_baseline("running", decay=1.0))
    state = est.init(prob)
    rng = np.random.default_rng(0)
    for _ in range(20):
        batch, state = est.batch(prob, 64, rng=rng, state=state)
    b = est.batch(prob, 4, rng=rng, state=state)[0].info["coef:optbase(run1)"]
    mean, var = exact_moments(prob, est, 8, state=state)
    np.testing.assert_allclose(mean, m.g, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(var * 8, baseline_variance(m, b), rtol=1e-8)
    assert np.all(var * 8 >= optimal_baseline_variance(m) - 1e-12)


@pytest.mark.parametrize("source", ["loo", "crossfit"])
def test_estimated_coefficient_approaches_the_oracle(source):
    prob = normal_problem(1.0)
    m = sf_moments(prob)
    oracle = sf(optimal_baseline("fixed", coef=m.m1 / m.m0))
    est = sf(optimal_baseline(source))
    excess = {}
    for n in (8, 512):
        e1, _ = est(prob, n, rng=generator(0, n), reps=(4096,))
        e0, _ = oracle(prob, n, rng=generator(0, n), reps=(4096,))
        _, lo, hi = paired_ratio(e1, e0, reduce="mean", confidence=2 * special.ndtr(Z1) - 1)
        excess[n] = (float(lo) - 1, float(hi) - 1)
    # the excess over the oracle's variance is O(1/n): 64 times smaller at n=512
    assert excess[8][0] > 0
    assert excess[512][1] < excess[8][0] / 8


# -- delta method ------------------------------------------------------------------------


def _quad_features(prob, ft, pathwise):
    def integrand(x, e):
        b = (
            vt.pathwise.from_noise(prob, e, True)
            if pathwise
            else vt.score_function.from_samples(prob, x)
        )
        return ft(b, prob).h[:, 0, :, 0]

    return quadrature(prob, integrand)


@pytest.mark.parametrize("pathwise", [False, True])
@pytest.mark.parametrize("log_scale", [False, True])
@pytest.mark.parametrize("order", [1, 2])
def test_delta_features_mean_is_exact_by_quadrature(order, log_scale, pathwise):
    prob = normal_problem(1.3, log_scale)
    ft = delta_features(order)
    x0 = prob.dist.sample(2, rng=np.random.default_rng(0), reps=(1,))
    base = vt.score_function.from_samples(prob, x0)
    mean = ft(base, prob).mean[:, 0]
    np.testing.assert_allclose(_quad_features(prob, ft, pathwise), mean, rtol=1e-9, atol=1e-12)
    if order == 2:
        assert np.all(mean != 0)


def test_delta_fd_hessian_matches_analytic():
    prob = normal_problem(1.3)
    x0 = prob.dist.sample(2, rng=np.random.default_rng(0), reps=(1,))
    base = vt.score_function.from_samples(prob, x0)
    fd = delta_features(2)(base, prob)
    exact = delta_features(2, hess_diag=lambda x: -(1.3**2) * np.cos(1.3 * x))(base, prob)
    np.testing.assert_allclose(fd.mean, exact.mean, rtol=1e-6)
    assert fd.n_evals == 3 and exact.n_evals == 1


def test_delta_method_multivariate_mean_by_monte_carlo():
    """The closed-form mean on a non-separable 2-D Normal, within z * SE."""
    dist = vt.Normal([0.3, -0.5], [0.8, 1.2])

    def f(x):
        return np.exp(0.3 * x[..., 0]) * np.sin(x[..., 1] + 0.5 * x[..., 0])

    def grad(x):
        e, s = np.exp(0.3 * x[..., 0]), np.sin(x[..., 1] + 0.5 * x[..., 0])
        c = np.cos(x[..., 1] + 0.5 * x[..., 0])
        return np.stack([0.3 * e * s + 0.5 * e * c, e * c], axis=-1)

    prob = vt.Problem("exp_sin", dist, Objective(f, grad))
    base = vt.score_function(prob, 200_000, rng=np.random.default_rng(5))
    fv = delta_features(2)(base, prob)
    h = fv.h[:, :, 0]
    se = h.std(axis=0, ddof=1) / np.sqrt(h.shape[0])
    assert np.all(np.abs(h.mean(axis=0) - fv.mean[:, 0]) <= Z1 * se)


def test_delta_method_unbiased_and_reduces_variance_on_normal():
    prob = normal_problem(1.0)
    m = sf_moments(prob)
    est = sf(delta_method(2, "running"))
    state = est.init(prob)
    rng = np.random.default_rng(0)
    for _ in range(50):
        _, state = est(prob, 32, rng=rng, state=state)
    mean, var = exact_moments(prob, est, 1, state=state)
    np.testing.assert_allclose(mean, m.g, rtol=1e-9, atol=1e-12)
    plain = m.m2 - m.g**2
    assert np.all(var < plain)
    # the cross-fitted version: unbiased within z * SE, and f evaluations counted
    xf = sf(delta_method(2, "crossfit"))
    b, _ = xf.batch(prob, 32, rng=generator(1, "d"), reps=(20000,))
    assert b.n_evals == 32 + 3
    e = b.estimate
    se = e.std(axis=0, ddof=1) / np.sqrt(e.shape[0])
    assert np.all(np.abs(e.mean(axis=0) - m.g) <= Z1 * se)


# -- refusals and errors -----------------------------------------------------------------


@pytest.mark.parametrize("sampler", [antithetic(), stratified(), sobol()])
@pytest.mark.parametrize("source", ["loo", "crossfit"])
def test_sample_fitted_coefficients_refuse_dependent_samplers(sampler, source):
    with pytest.raises(ValueError, match="independent"):
        sf(optimal_baseline(source), sampler=sampler)
    sf(optimal_baseline("running"), sampler=sampler)  # fitted elsewhere: allowed


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="source"):
        optimal_baseline("same")
    with pytest.raises(ValueError, match="pooling"):
        optimal_baseline("loo", pooling="coords")
    with pytest.raises(ValueError, match="coef"):
        optimal_baseline("fixed")
    with pytest.raises(ValueError, match="ridge"):
        optimal_cv(score_features(), ridge=-1.0)
    with pytest.raises(ValueError, match="order"):
        delta_features(3)
    with pytest.raises(TypeError, match="Features"):
        optimal_cv(lambda b, p: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Normal"):
        sf(delta_method(2, "loo"))(bern_problem(), 4, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="score"):
        vt.make_estimator(vt.pathwise, optimal_baseline("loo"))(
            normal_problem(), 4, rng=np.random.default_rng(0)
        )
    with pytest.raises(ValueError, match="n >= 2"):
        sf(optimal_baseline("loo"))(bern_problem(), 1, rng=np.random.default_rng(0))
    bad = Features("bad", lambda b, p: FeatureValues(b.score, np.zeros(3)))
    with pytest.raises(ValueError, match=r"\(\*R, n, p, k\)"):
        sf(optimal_cv(bad, source="loo"))(bern_problem(), 4, rng=np.random.default_rng(0))
