"""Correctness of the benchmarked computations (benchmarks/) and of the fast paths they use.

No timing is asserted here. The benchmark's vartools estimators must give the same
estimates as the hand-written NumPy references for the same random numbers, and the
opt-in float32 mode must estimate the same variance as float64 (independent random
numbers, so within standard-error tolerances: z = 4.9 for one comparison, z = 6.1
for up to a thousand, a family-wise error of about 1e-6).
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special

import vartools as vt
from vartools.control_variates.coefficients import optimal_baseline
from vartools.core.batch import Batch, DeferredScore
from vartools.measure.statistics import aggregate_stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from workloads import WORKLOADS  # noqa: E402

Z_ONE, Z_THOUSAND = 4.9, 6.1

CASES = [(k, v) for k, w in WORKLOADS.items() for v in w.reference]


@pytest.mark.parametrize(("key", "variant"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("chunk", [None, 0, 7])
def test_vartools_equals_reference_on_the_same_random_numbers(key, variant, dtype, chunk):
    w = WORKLOADS[key]
    est = w.estimator[variant](dtype)
    r = 40
    g, _ = est(w.problem, w.n, rng=np.random.default_rng(11), reps=(r,), chunk=chunk)
    ref = w.reference[variant](np.random.default_rng(11), r, np.dtype(dtype).type)
    assert g.shape == ref.shape == (r, w.problem.dist.n_params)
    tol = 1e-10 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(g, ref, rtol=0, atol=tol * np.abs(ref).max())
    assert np.abs(g).max() > 0


def _z_mean_variance(a, b):
    sa, sb = aggregate_stats(a)["mean"], aggregate_stats(b)["mean"]
    return (sa["variance"] - sb["variance"]) / np.hypot(sa["variance_se"], sb["variance_se"])


@pytest.mark.parametrize(("key", "variant"), [("W1", "rloo"), ("W2", "loo"), ("W3", "rloo")])
def test_float32_mode_matches_float64_variance_and_mean(key, variant):
    w = WORKLOADS[key]
    r = 400 if key == "W2" else 1000
    g64, _ = w.estimator[variant]("float64")(w.problem, w.n, rng=np.random.default_rng(1), reps=r)
    g32, _ = w.estimator[variant]("float32")(w.problem, w.n, rng=np.random.default_rng(2), reps=r)
    g32 = g32.astype(np.float64)
    assert abs(_z_mean_variance(g32, g64)) <= Z_ONE
    se = np.sqrt(g32.var(0, ddof=1) / r + g64.var(0, ddof=1) / r)
    z = np.abs(g32.mean(0) - g64.mean(0)) / np.where(se > 0, se, np.inf)
    assert z.max() <= Z_THOUSAND


def test_float32_mode_is_float32_and_fails_with_a_wrong_baseline():
    w = WORKLOADS["W1"]
    est = w.estimator["rloo"]("float32")
    assert est.name == "sf+loo+f32"
    b, _ = est.batch(w.problem, w.n, rng=np.random.default_rng(0), reps=(5,))
    assert b.x.dtype == np.float32 and b.estimate.dtype == np.float32
    # the variance check has power: subtracting the baseline twice is detected
    r = 1000
    twice = vt.make_estimator(vt.score_function, vt.loo_baseline(), vt.loo_baseline())
    g64, _ = w.estimator["rloo"]("float64")(w.problem, w.n, rng=np.random.default_rng(1), reps=r)
    g2, _ = twice(w.problem, w.n, rng=np.random.default_rng(2), reps=r)
    assert abs(_z_mean_variance(g2, g64)) > Z_ONE


def test_make_estimator_rejects_other_dtypes():
    with pytest.raises(ValueError, match="dtype"):
        vt.make_estimator(vt.score_function, dtype="float16")
    with pytest.raises(TypeError, match="dtype"):
        vt.make_estimator(vt.score_function, dtype="not-a-dtype")


DISTS = {
    "bernoulli": lambda: vt.Bernoulli(np.linspace(-3, 3, 6).reshape(2, 3)),
    "categorical": lambda: vt.Categorical(np.random.default_rng(0).normal(size=(2, 3, 5))),
    "normal": lambda: vt.Normal(np.array([0.5, -1.0, 2.0]), np.array([0.5, 1.0, 2.0])),
    "normal_log": lambda: vt.Normal.from_log_scale([0.5, -1.0], [0.3, -0.2]),
}


@pytest.mark.parametrize("name", DISTS)
@pytest.mark.parametrize("reps", [(), (3,), (2, 3)])
def test_score_dot_equals_weighted_sum_of_scores(name, reps):
    dist = DISTS[name]()
    rng = np.random.default_rng(3)
    x = dist.sample(6, rng=rng, reps=reps)
    w = rng.normal(size=(*reps, 6))
    want = (w[..., None] * dist.score(x)).sum(-2)
    got = dist.score_dot(x, w)
    assert got.shape == (*reps, dist.n_params)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", DISTS)
def test_score_dot_in_single_precision(name):
    # float32 samples (or, for category indices, float32 weights) give a float32 result
    # within float32 rounding of the float64 one
    dist = DISTS[name]()
    rng = np.random.default_rng(4)
    noise = dist.sample_noise(6, rng=rng, reps=(40,), dtype=np.float32)
    x = dist.transform(noise)
    w = rng.normal(size=(40, 6))
    want = dist.score_dot(x.astype(np.float64) if x.dtype == np.float32 else x, w)
    got = dist.score_dot(x, w.astype(np.float32))
    assert got.dtype == np.float32 and want.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_float32_mode_keeps_categorical_terms_in_float32():
    w = WORKLOADS["W3"]
    b, _ = w.estimator["rloo"]("float32").batch(
        w.problem, w.n, rng=np.random.default_rng(4), reps=(6,)
    )
    assert b.x.dtype == np.int64  # category indices
    assert b.estimate.dtype == np.float32 and b.score.dtype == np.float32
    np.testing.assert_allclose(b.estimate, b.terms.mean(-2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["bernoulli", "categorical", "normal"])
def test_float32_estimate_divides_the_weights_and_equals_the_mean_of_terms(name):
    # n = 7: dividing the weights by n first (float32 mode) is not exact, so this checks
    # the scaling itself, against the float64 estimate on the same samples
    problem = vt.Problem("p", DISTS[name](), lambda x: np.cos(x.reshape(*x.shape[:2], -1)).sum(-1))
    est32 = vt.make_estimator(vt.score_function, vt.loo_baseline(), dtype="float32")
    b, _ = est32.batch(problem, 7, rng=np.random.default_rng(8), reps=(30,))
    assert b.__dict__["_score"].single and b.estimate.dtype == np.float32
    want = (b.weight[..., None] * problem.dist.score(b.x).astype(np.float64)).mean(-2)
    np.testing.assert_allclose(b.estimate, want, rtol=0, atol=2e-6 * np.abs(want).max())
    b64, _ = vt.make_estimator(vt.score_function, vt.loo_baseline()).batch(
        problem, 7, rng=np.random.default_rng(8), reps=(30,)
    )
    assert not b64.__dict__["_score"].single


def test_deferred_score_is_not_built_by_the_estimate_and_agrees_with_terms():
    w = WORKLOADS["W3"]
    est = w.estimator["rloo"]("float64")
    b, _ = est.batch(w.problem, w.n, rng=np.random.default_rng(4), reps=(6,))
    raw = b.__dict__["_score"]
    assert isinstance(raw, DeferredScore) and b.has_score
    e = b.estimate
    assert raw._value is None  # the (R, n, p) score was never built
    np.testing.assert_allclose(e, b.terms.mean(-2), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(b.score, w.problem.dist.score(b.x))
    assert raw._value is not None  # now built once, shared by copies
    assert b.replace(weight=b.fx).__dict__["_score"] is raw
    np.testing.assert_array_equal(e, b.estimate)  # same bits after the score was built


def test_batch_with_plain_score_array_still_works():
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    dist = vt.Bernoulli([0.0, 0.0])
    fx = np.array([1.0, 2.0])
    b = Batch(x=x, fx=fx, score=dist.score(x), weight=fx, n_evals=2)
    np.testing.assert_allclose(b.estimate, [-0.25, 0.25])  # ([.5, -.5] + 2 [-.5, .5]) / 2
    with pytest.raises(ValueError, match="needs the score"):
        Batch(x=x, fx=fx, score=None, weight=fx, n_evals=2)


def test_chunked_call_equals_one_block_and_skips_stateful_estimators():
    w = WORKLOADS["W1"]
    est = w.estimator["rloo"]("float64")
    a, _ = est(w.problem, w.n, rng=np.random.default_rng(5), reps=(50,), chunk=0)
    b, _ = est(w.problem, w.n, rng=np.random.default_rng(5), reps=(50,), chunk=7)
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)
    ema = vt.make_estimator(vt.score_function, vt.ema_baseline(0.5))
    s0 = ema.init(w.problem)
    c, sc = ema(w.problem, w.n, rng=np.random.default_rng(5), reps=(50,), state=s0, chunk=7)
    d, sd = ema(w.problem, w.n, rng=np.random.default_rng(5), reps=(50,), state=s0, chunk=0)
    np.testing.assert_array_equal(c, d)
    assert sc == sd and sc[1] == 1  # one state update, not one per chunk
    with pytest.raises(TypeError, match="chunk"):
        est(w.problem, w.n, rng=np.random.default_rng(5), reps=(5,), chunk=2.5)


def _inverse_cdf_by_counting(logits, u):
    probs = special.softmax(logits, axis=-1)
    cdf = np.cumsum(probs, axis=-1)
    cdf[..., -1] = 1.0
    return np.minimum((u[..., None] >= cdf).sum(-1), logits.shape[-1] - 1), cdf


@pytest.mark.parametrize("scale", [0.5, 3.0, 40.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_categorical_guide_table_is_an_exact_inverse_cdf(scale, dtype):
    # scale 40 makes the probabilities so uneven that the binary-search fallback runs
    logits = scale * np.random.default_rng(6).normal(size=(4, 30))
    dist = vt.Categorical(logits)
    u = np.random.default_rng(7).random((500, 3, 4)).astype(dtype)
    want, cdf = _inverse_cdf_by_counting(logits, u)
    # the hardest points: u exactly on a CDF value, just below it, 0 and the largest u < 1
    edges = np.stack([cdf[:, 5], np.nextafter(cdf[:, 5], 0), np.zeros(4), np.full(4, 1 - 1e-16)])
    edges = edges.astype(dtype)[:, None, :]
    want_e, _ = _inverse_cdf_by_counting(logits, edges)
    np.testing.assert_array_equal(dist.transform(u), want)
    np.testing.assert_array_equal(dist.transform(edges), want_e)


def test_a_chain_of_reducers_evaluates_f_once_per_sample():
    # reducers in a chain reuse the batch's f values: R n evaluations in all, however
    # many reducers and chunks
    seen = []

    def f(x):
        seen.append(x.shape[:-1])
        return np.cos(x).sum(-1)

    problem = vt.Problem("count", vt.Normal(np.zeros(3), np.ones(3)), f)
    est = vt.make_estimator(
        vt.score_function,
        vt.loo_baseline(),
        optimal_baseline("crossfit", center=False),
        optimal_baseline("loo"),
    )
    g, _ = est(problem, 8, rng=np.random.default_rng(9), reps=(40,), chunk=16)
    assert g.shape == (40, 6)
    assert sum(int(np.prod(s)) for s in seen) == 40 * 8  # chunks of 16, 16, 8 replicates
    assert len(seen) == 3
