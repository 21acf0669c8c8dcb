"""The guide-table inverse CDF of ``Categorical`` is exact: it equals counting.

Counting #{k : cdf_k <= u} in float64 is the definition; the guide table must give the
same category for every uniform, in float64 and float32, at and around every CDF value,
for any layout of the noise array, whichever table size it picks.
"""

import numpy as np
import pytest
from scipy import special

import vartools as vt
from vartools.distributions._inverse_cdf import MAX_BUCKETS, Guide


def _by_counting(cdf, u):
    return np.minimum((u[..., None].astype(np.float64) >= cdf).sum(-1), cdf.shape[-1] - 1)


def _cdf(logits):
    cdf = np.cumsum(special.softmax(logits, axis=-1), axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def _edges(cdf, dtype):
    """Uniforms on, just below and just above every CDF value (in ``dtype``), plus 0, 1-."""
    c = cdf.astype(dtype)  # rounded to nearest: some land below, some above the cdf
    pts = [c, np.nextafter(c, dtype(0)), np.nextafter(c, dtype(1)), np.zeros_like(c)]
    pts.append(np.full_like(c, np.nextafter(dtype(1), dtype(0))))
    # (K points per categorical, 5 kinds) -> (5 K, *batch): one event per row
    return np.clip(np.concatenate(pts, axis=-1), 0, np.nextafter(dtype(1), dtype(0))).T


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [0.0, 1.0, 4.0])
def test_guide_equals_counting_at_every_cdf_value(dtype, scale):
    logits = scale * np.random.default_rng(3).normal(size=(7, 25))
    dist = vt.Categorical(logits)
    cdf = _cdf(logits)
    u = _edges(cdf, dtype)[:, None, :]  # (5 K, 1, 7): as (R, n, *batch)
    np.testing.assert_array_equal(dist.transform(u), _by_counting(cdf, u))
    r = np.random.default_rng(4).random((300, 3, 7)).astype(dtype)
    np.testing.assert_array_equal(dist.transform(r), _by_counting(cdf, r))


@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (7, 1), (2, 3, 5), (512, 2), (3, 0)])
def test_guide_any_layout_and_batch_shape(shape):
    # the 2-d view inside ``lookup`` groups whole events into rows: any count works,
    # and a (3, 4) batch of categoricals keeps its shape
    logits = np.random.default_rng(5).normal(size=(3, 4, 6))
    dist = vt.Categorical(logits)
    u = np.random.default_rng(6).random((*shape, 3, 4))
    x = dist.transform(u)
    assert x.shape == u.shape and x.dtype == np.int64
    np.testing.assert_array_equal(x, _by_counting(_cdf(logits), u))


def test_guide_picks_a_one_pass_table_when_it_can():
    cdf = _cdf(np.random.default_rng(7).normal(size=(20, 50)))
    g = Guide.build(cdf, (4, 16, 64), 2**20)
    assert g.passes <= 1 and g.m in (200, 800, 3200)
    # with a budget too small for larger tables the first size is kept, with more passes
    small = Guide.build(cdf, (4, 16, 64), 1)
    assert small.m == 200 and small.passes >= g.passes
    # the bucket count is capped so float32 rounding of u M stays inside the margin
    assert Guide.build(_cdf(np.zeros((1, 5000))), (64,), 2**30).m == MAX_BUCKETS


def test_guide_passes_bound_the_search():
    # a lower bound of the count plus ``passes`` steps reaches the count for every bucket
    cdf = _cdf(3.0 * np.random.default_rng(8).normal(size=(4, 30)))
    for per in (4, 16):
        g = Guide.build(cdf, (per,), 2**20)
        u = np.linspace(0, 1, 20001, endpoint=False)[:, None].repeat(4, 1)
        want = _by_counting(cdf, u)
        got = g.lookup(u)
        np.testing.assert_array_equal(got, want)
        # one pass fewer would miss some: ``passes`` is tight, not merely large
        short = Guide(g.nb, g.k, g.m, g.passes - 1, g.start, g.cdf64, g.cdf32)
        assert g.passes == 0 or not np.array_equal(short.lookup(u), want)
