"""The float32 mode's Box-Muller normals: standard normal moments, independence, layout.

Moments are checked on 2^21 draws from a fixed seed with tolerances of z = 4.9 standard
errors computed from the normal's own moments (DESIGN.md), so the checks do not depend
on luck; the layout checks are exact.
"""

import numpy as np
import pytest

import vartools as vt
from vartools.distributions._normal_f32 import _BLOCK, standard_normal_f32

Z = 4.9
N = 2**21


@pytest.fixture(scope="module")
def draws():
    z = standard_normal_f32(np.random.default_rng(2026), (N // 64, 64))
    assert z.dtype == np.float32
    return z.astype(np.float64)


def test_moments_are_those_of_a_standard_normal(draws):
    z = draws.ravel()
    # E z = 0 (var 1), E z^2 = 1 (var 2), E z^3 = 0 (var 15), E z^4 = 3 (var 105 - 9)
    for power, want, var in ((1, 0.0, 1.0), (2, 1.0, 2.0), (3, 0.0, 15.0), (4, 3.0, 96.0)):
        got = np.mean(z**power)
        assert abs(got - want) <= Z * np.sqrt(var / N), (power, got)
    # tail probabilities, binomial standard errors
    for c, p in ((1.0, 0.31731050786), (2.0, 0.04550026390), (3.0, 0.00269979606)):
        got = np.mean(np.abs(z) > c)
        assert abs(got - p) <= Z * np.sqrt(p * (1 - p) / N), (c, got)
    assert np.abs(z).max() <= np.sqrt(-2 * np.log(2.0**-24)) + 1e-5  # the documented cut


def test_the_two_normals_of_a_pair_are_uncorrelated(draws):
    # z[:, i] (cosine) and z[:, i + 32] (sine) share their radius: their correlation and
    # the correlation of their squares are 0 for Box-Muller (independent normals)
    a, b = draws[:, :32].ravel(), draws[:, 32:].ravel()
    m = a.size
    assert abs(np.corrcoef(a, b)[0, 1]) <= Z / np.sqrt(m)
    assert abs(np.corrcoef(a * a, b * b)[0, 1]) <= Z / np.sqrt(m)


@pytest.mark.parametrize("shape", [(7, 3, 5), (9, 4), (3, 70001), (1,), (4, 0, 2)])
def test_rows_drawn_in_parts_equal_one_draw(shape):
    # each leading index has its own row of uniforms: splitting the leading axis (as
    # chunked estimators do) gives the same numbers, also for odd rows and rows longer
    # than a block
    whole = standard_normal_f32(np.random.default_rng(1), shape)
    rng = np.random.default_rng(1)
    cut = shape[0] // 2
    parts = [
        standard_normal_f32(rng, (cut, *shape[1:])),
        standard_normal_f32(rng, (shape[0] - cut, *shape[1:])),
    ]
    assert whole.shape == shape
    np.testing.assert_array_equal(whole, np.concatenate(parts))
    assert 2 * 70001 > _BLOCK  # the long row case spans blocks


def test_normal_float32_noise_uses_box_muller_and_float64_does_not():
    dist = vt.Normal(np.zeros(3), np.ones(3))
    e32 = dist.sample_noise(4, rng=np.random.default_rng(5), reps=(2,), dtype=np.float32)
    np.testing.assert_array_equal(e32, standard_normal_f32(np.random.default_rng(5), (2, 4, 3)))
    e64 = dist.sample_noise(4, rng=np.random.default_rng(5), reps=(2,))
    np.testing.assert_array_equal(e64, np.random.default_rng(5).standard_normal((2, 4, 3)))
