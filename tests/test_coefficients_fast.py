"""The fast path of the per-coordinate score control variate equals the general path.

``optimal_cv(score_features(), pooling="coordinate")`` (``optimal_baseline``) with the
sources loo, crossfit, running and batch runs on (*R, n, p) arrays in the batch's
precision instead of the general (*R, n, p, k) float64 code. A ``Features`` that wraps
the same score function is not recognised as the score, so it takes the general path:
the two must agree to rounding (1e-12 relative in float64), and the exact-enumeration
tests of tests/test_coefficients.py (which now run through the fast path) must still
show zero bias.
"""

import numpy as np
import pytest

import vartools as vt
import vartools.control_variates.coefficients as coefficients
from vartools.control_variates.coefficients import optimal_baseline, optimal_cv
from vartools.control_variates.features import Features, score_features
from vartools.oracles.exact import exact_gradient, exact_moments

#: Agreement of two float64 computations of the same formulas (rounding only).
RTOL64 = 1e-12
#: float32 against float64: 64 float32 ulps of the largest value compared (sums of up
#: to 32 rounded terms and one cancellation).
RTOL32 = 64 * float(np.finfo(np.float32).eps)

SOURCES = ["loo", "crossfit", "batch", "running"]


def general_score() -> Features:
    """The score features, but not recognised as such: forces the general path."""
    fn = score_features().fn
    return Features("score", lambda batch, problem: fn(batch, problem))


def bern3():
    logits = np.array([0.4, -1.1, 0.7])

    def f(b):
        return np.cos(2.0 * b[..., 0] + 1.5 * b[..., 1] - b[..., 2]) + 3.0 * b[..., 0] * b[..., 1]

    return vt.Problem("bern3", vt.Bernoulli(logits), f)


def normal3():
    dist = vt.Normal([0.3, -0.5, 1.0], [0.8, 1.2, 0.5])

    def f(x):
        return np.sin(x[..., 0] * x[..., 1]) + np.exp(0.3 * x[..., 2]) * x[..., 0]

    return vt.Problem("normal3", dist, f)


def normal_logscale():
    dist = vt.Normal.from_log_scale([0.5, -0.2], [0.1, -0.3])
    return vt.Problem("normal2-log", dist, lambda x: np.cos(x[..., 0] + 2.0 * x[..., 1]) ** 2)


PROBLEMS = {
    "bern3": bern3,
    "cat": lambda: vt.make_problem("cat_table", n_vars=2, n_classes=3, seed=1),
    "normal3": normal3,
    "normal2-log": normal_logscale,
}


def pair(source, center=True, ridge=0.0, dtype="float64", decay=0.8):
    """(fast, general) estimators with the same name."""
    kw = {"source": source, "center": center, "ridge": ridge, "decay": decay}
    fast = vt.make_estimator(vt.score_function, optimal_cv(score_features(), **kw), dtype=dtype)
    slow = vt.make_estimator(vt.score_function, optimal_cv(general_score(), **kw), dtype=dtype)
    assert fast.name == slow.name
    return fast, slow


def coef_of(batch):
    (key,) = [k for k in batch.info if k.startswith("coef:")]
    return batch.info[key]


def assert_close(a, b, rtol):
    """|a - b| <= rtol max|b|, elementwise (relative to the array's scale: an element may
    be the small difference of large terms)."""
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=0, atol=rtol * np.abs(b).max())


@pytest.fixture
def count_fast(monkeypatch):
    """Counts calls of the fast path."""
    calls = []
    real = coefficients._fast_score_cv

    def spy(*args, **kw):
        calls.append(args[2])
        return real(*args, **kw)

    monkeypatch.setattr(coefficients, "_fast_score_cv", spy)
    return calls


@pytest.mark.parametrize("n", [6, 7])
@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_fast_path_equals_general_path(problem, source, center, ridge, n, count_fast):
    prob = PROBLEMS[problem]()
    fast, slow = pair(source, center, ridge)
    sf = ss = None
    for it in range(3 if source == "running" else 1):  # running: the state carries over
        bf, sf = fast.batch(prob, n, rng=np.random.default_rng(it), reps=(300,), state=sf)
        bs, ss = slow.batch(prob, n, rng=np.random.default_rng(it), reps=(300,), state=ss)
        assert_close(coef_of(bf), coef_of(bs), RTOL64)
        assert_close(bf.terms, bs.terms, RTOL64)
        assert_close(bf.estimate, bs.estimate, RTOL64)
        if it > 0:  # a fitted (non-zero) running coefficient
            assert np.abs(coef_of(bf)).min() > 0
    if source == "running":
        for a, b in zip(sf[1:], ss[1:], strict=True):
            assert_close(a, b, RTOL64)
        assert sf.m == ss.m
    assert count_fast == [source] * (3 if source == "running" else 1)
    assert np.abs(coef_of(bf)).max() > 0  # a real correction was compared


@pytest.mark.parametrize("source", SOURCES)
def test_fast_path_on_general_terms_and_replicate_shapes(source, count_fast):
    """Incoming terms not in factored form (after another fitted coefficient), and
    replicate shapes (), (5,) and (4, 3)."""
    prob = normal3()
    first = optimal_baseline("crossfit", name="first")
    for reps in [(), (5,), (4, 3)]:
        kw = {"source": source, "decay": 0.5}
        fast = vt.make_estimator(vt.score_function, first, optimal_cv(score_features(), **kw))
        slow = vt.make_estimator(vt.score_function, first, optimal_cv(general_score(), **kw))
        sf = ss = None
        for it in range(2):
            bf, sf = fast.batch(prob, 8, rng=np.random.default_rng(it), reps=reps, state=sf)
            bs, ss = slow.batch(prob, 8, rng=np.random.default_rng(it), reps=reps, state=ss)
            assert bf.estimate.shape == (*reps, 6)
            assert_close(bf.terms, bs.terms, RTOL64)
            for key in bs.info:
                assert_close(np.asarray(bf.info[key]), np.asarray(bs.info[key]), RTOL64)
    # per batch: "first" in both estimators, the second one in the fast estimator only
    assert len(count_fast) == 3 * 2 * 3


def test_other_configurations_take_the_general_path(count_fast):
    prob = bern3()
    rng = np.random.default_rng(0)
    for cv in [
        optimal_baseline("loo", pooling="block"),
        optimal_baseline("crossfit", pooling="all"),
        optimal_baseline("fixed", coef=0.5),
        optimal_cv(score_features(), score_features(), source="loo", ridge=0.1),
        optimal_cv(general_score(), source="loo"),
    ]:
        vt.make_estimator(vt.score_function, cv)(prob, 4, rng=rng, reps=(3,))
    assert count_fast == []


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("source", SOURCES)
def test_float32_batches_stay_float32(source, center):
    """float32 in: float32 terms and estimate, equal to the general (float64) path on the
    same float32 batch to float32 rounding; centred coefficients are fitted in float64."""
    prob = normal3()
    fast, slow = pair(source, center, dtype="float32")
    sf = ss = None
    for it in range(2):
        bf, sf = fast.batch(prob, 16, rng=np.random.default_rng(it), reps=(200,), state=sf)
        bs, ss = slow.batch(prob, 16, rng=np.random.default_rng(it), reps=(200,), state=ss)
        assert bf.score.dtype == np.float32
        assert bf.terms.dtype == np.float32 and bf.estimate.dtype == np.float32
        assert bs.terms.dtype == np.float64  # the general path upcasts
        want = np.float64 if center or source == "running" else np.float32
        assert coef_of(bf).dtype == want
        assert_close(coef_of(bf).astype(np.float64), coef_of(bs), RTOL32)
        assert_close(bf.terms.astype(np.float64), bs.terms, RTOL32)
        assert_close(bf.estimate.astype(np.float64), bs.estimate, RTOL32)
    if source == "running":  # moments accumulated in float64
        assert sf.shh.dtype == np.float64
        assert_close(sf.shg, ss.shg, RTOL32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("source", ["loo", "crossfit", "batch"])
def test_degenerate_coordinates_get_zero_coefficients_like_the_general_path(source, dtype):
    """Bernoullis with extreme logits: many replicates where a coordinate's samples (in
    the fit) are all equal, so Sxx is zero up to rounding; both paths give beta = 0
    there, in float32 too (the centred moments are formed in float64)."""
    prob = vt.Problem(
        "bern-extreme",
        vt.Bernoulli([4.0, -5.0, 0.2]),
        lambda b: np.sin(b[..., 0] + 2.0 * b[..., 1] * b[..., 2]) + b[..., 2],
    )
    fast, slow = pair(source, True, dtype=dtype)
    bf, _ = fast.batch(prob, 4, rng=np.random.default_rng(3), reps=(2000,))
    bs, _ = slow.batch(prob, 4, rng=np.random.default_rng(3), reps=(2000,))
    cf, cs = coef_of(bf), coef_of(bs)
    zero = cs == 0
    assert 0.2 < zero[..., :2].mean() < 1.0  # the case occurs, and not everywhere
    np.testing.assert_array_equal(cf == 0, zero)
    rtol = RTOL64 if dtype == "float64" else RTOL32
    assert_close(bf.estimate.astype(np.float64), bs.estimate, rtol)


@pytest.mark.parametrize("n", [3, 4])
@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("source", ["loo", "crossfit"])
def test_fast_path_unbiased_by_exact_enumeration(source, center, n, count_fast):
    prob = bern3()
    est = vt.make_estimator(vt.score_function, optimal_baseline(source, center=center))
    mean, var = exact_moments(prob, est, n)
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=0, atol=1e-12)
    assert np.all(var > 0) and count_fast


@pytest.mark.parametrize("center", [True, False])
def test_fast_running_unbiased_at_a_warm_state(center, count_fast):
    prob = vt.make_problem("cat_table", n_vars=2, n_classes=3, seed=1)
    est = vt.make_estimator(
        vt.score_function, optimal_baseline("running", center=center, decay=0.7)
    )
    state = est.init(prob)
    rng = np.random.default_rng(5)
    for _ in range(4):
        _, state = est(prob, 5, rng=rng, reps=(7,), state=state)
    mean, _ = exact_moments(prob, est, 3, state=state)
    np.testing.assert_allclose(mean, exact_gradient(prob), rtol=0, atol=1e-12)
    assert count_fast


def test_same_batch_fit_stays_biased_on_the_fast_path():
    prob = bern3()
    mean, _ = exact_moments(
        prob, vt.make_estimator(vt.score_function, optimal_baseline("batch")), 4
    )
    assert np.abs(mean - exact_gradient(prob)).max() > 1e-3


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("source", SOURCES)
def test_fast_path_never_mutates_its_input(source, center):
    prob = normal3()
    first, _ = pair("crossfit")
    for factored in (True, False):
        rng = np.random.default_rng(0)
        batch = vt.score_function(prob, 6, rng=rng, reps=(4,))
        if not factored:
            batch = first.cv.apply(batch, None, prob)[0]
        before = [batch.terms.copy(), batch.score.copy(), batch.fx.copy()]
        cv = optimal_baseline(source, center=center)
        out1, _ = cv.apply(batch, None, prob)
        out2, _ = cv.apply(batch, None, prob)
        for a, b in zip(before, [batch.terms, batch.score, batch.fx], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(out1.terms, out2.terms)
