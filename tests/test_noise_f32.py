"""The float32 mode's noise: uniforms and Box-Muller normals from raw 64-bit words.

Moments are checked on 2^21 draws from a fixed seed with tolerances of z = 4.9 standard
errors computed from the distribution's own moments (DESIGN.md), so the checks do not
depend on luck; the layout checks are exact.
"""

import numpy as np
import pytest

import vartools as vt
from vartools.distributions import _noise_f32 as noise_f32
from vartools.distributions._noise_f32 import _BLOCK, standard_normal_f32, uniform_f32

Z = 4.9
N = 2**21
GENERATORS = {
    "pcg64": np.random.PCG64,
    "mt19937": np.random.MT19937,  # 32-bit raw output: drawn through Generator.integers
    "philox": np.random.Philox,
}


@pytest.fixture(scope="module", params=list(GENERATORS))
def normals(request):
    rng = np.random.Generator(GENERATORS[request.param](2026))
    z = standard_normal_f32(rng, (N // 64, 64))
    assert z.dtype == np.float32
    return z.astype(np.float64)


def test_normal_moments_are_those_of_a_standard_normal(normals):
    z = normals.ravel()
    # E z = 0 (var 1), E z^2 = 1 (var 2), E z^3 = 0 (var 15), E z^4 = 3 (var 105 - 9)
    for power, want, var in ((1, 0.0, 1.0), (2, 1.0, 2.0), (3, 0.0, 15.0), (4, 3.0, 96.0)):
        got = np.mean(z**power)
        assert abs(got - want) <= Z * np.sqrt(var / N), (power, got)
    # tail probabilities, binomial standard errors
    for c, p in ((1.0, 0.31731050786), (2.0, 0.04550026390), (3.0, 0.00269979606)):
        got = np.mean(np.abs(z) > c)
        assert abs(got - p) <= Z * np.sqrt(p * (1 - p) / N), (c, got)
    assert np.abs(z).max() <= np.sqrt(64 * np.log(2.0)) + 1e-5  # the documented cut
    assert np.isfinite(z).all()


def test_the_two_normals_of_a_pair_are_uncorrelated(normals):
    # z[:, i] (cosine) and z[:, i + 32] (sine) share their radius: their correlation and
    # the correlation of their squares are 0 for Box-Muller (independent normals)
    a, b = normals[:, :32].ravel(), normals[:, 32:].ravel()
    m = a.size
    assert abs(np.corrcoef(a, b)[0, 1]) <= Z / np.sqrt(m)
    assert abs(np.corrcoef(a * a, b * b)[0, 1]) <= Z / np.sqrt(m)


def test_normal_extreme_words_stay_finite(monkeypatch):
    # the radius of the largest word (b = 2^32 - 1) is 0, never NaN; the smallest (b = 1)
    # gives the largest radius sqrt(64 log 2)
    for word, radius in ((2**64 - 1, 0.0), (0, np.sqrt(64 * np.log(2.0)))):
        words = np.full((1, 4), word, dtype=np.uint64)  # both halves of each word
        monkeypatch.setattr(noise_f32, "_words", lambda rng, rows, per, w=words: w.copy())
        z = standard_normal_f32(np.random.default_rng(0), (1, 8)).astype(np.float64)
        assert np.isfinite(z).all()
        np.testing.assert_allclose(np.hypot(z[:, :4], z[:, 4:]), radius, atol=1e-3)


@pytest.mark.parametrize("gen", list(GENERATORS))
def test_uniform_moments_and_range(gen):
    u = uniform_f32(np.random.Generator(GENERATORS[gen](7)), (N // 64, 64)).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert np.all(u * 2**24 == np.floor(u * 2**24))  # 24-bit values
    # E u = 1/2 (var 1/12), E u^2 = 1/3 (var 4/45)
    assert abs(u.mean() - 0.5) <= Z * np.sqrt(1 / 12 / N)
    assert abs(np.mean(u * u) - 1 / 3) <= Z * np.sqrt(4 / 45 / N)
    # neighbours (the two halves of one word) are uncorrelated
    assert abs(np.corrcoef(u[:, ::2].ravel(), u[:, 1::2].ravel())[0, 1]) <= Z / np.sqrt(N / 2)


def test_uniforms_equal_numpys_float32_uniforms_for_pcg64_even_rows():
    got = uniform_f32(np.random.default_rng(3), (50, 3, 8))
    want = np.random.default_rng(3).random((50, 3, 8), dtype=np.float32)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("draw", [uniform_f32, standard_normal_f32])
@pytest.mark.parametrize("shape", [(7, 3, 5), (9, 4), (3, 70001), (1,), (4, 0, 2)])
def test_rows_drawn_in_parts_equal_one_draw(draw, shape):
    # each leading index has its own row of words: splitting the leading axis (as
    # chunked estimators do) gives the same numbers, also for odd rows and rows longer
    # than a block
    whole = draw(np.random.default_rng(1), shape)
    rng = np.random.default_rng(1)
    cut = shape[0] // 2
    parts = [draw(rng, (cut, *shape[1:])), draw(rng, (shape[0] - cut, *shape[1:]))]
    assert whole.shape == shape and whole.dtype == np.float32
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    assert 70001 > _BLOCK  # the long row case spans blocks


def test_distributions_use_these_in_float32_and_numpy_in_float64():
    dist = vt.Normal(np.zeros(3), np.ones(3))
    e32 = dist.sample_noise(4, rng=np.random.default_rng(5), reps=(2,), dtype=np.float32)
    np.testing.assert_array_equal(e32, standard_normal_f32(np.random.default_rng(5), (2, 4, 3)))
    e64 = dist.sample_noise(4, rng=np.random.default_rng(5), reps=(2,))
    np.testing.assert_array_equal(e64, np.random.default_rng(5).standard_normal((2, 4, 3)))
    bern = vt.Bernoulli(np.zeros(3))
    u32 = bern.sample_noise(5, rng=np.random.default_rng(5), reps=(2,), dtype=np.float32)
    np.testing.assert_array_equal(u32, uniform_f32(np.random.default_rng(5), (2, 5, 3)))
    u64 = bern.sample_noise(5, rng=np.random.default_rng(5), reps=(2,))
    np.testing.assert_array_equal(u64, np.random.default_rng(5).random((2, 5, 3)))
