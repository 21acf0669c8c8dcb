"""Replicate statistics: the formulas recomputed by hand, exact identities, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from vartools.measure.statistics import aggregate_stats, paired_ratio, replicate_stats, z_value


def _sample(r=50, p=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.exponential(size=(r, p)) * np.array([1.0, 3.0, 0.2]) + rng.normal(size=(r, p))


def test_replicate_stats_by_hand():
    e = _sample()
    r = e.shape[0]
    truth = np.array([0.5, 1.0, -0.1])
    st = replicate_stats(e, truth)
    z = 1.959963984540054
    for j in range(e.shape[1]):
        col = e[:, j]
        m = sum(col) / r
        v = sum((c - m) ** 2 for c in col) / (r - 1)
        psi = [(c - m) ** 2 - v for c in col]
        pm = sum(psi) / r
        se = (sum((q - pm) ** 2 for q in psi) / (r - 1)) ** 0.5 / r**0.5
        assert st["mean"][j] == pytest.approx(m, rel=1e-13)
        assert st["mean_se"][j] == pytest.approx((v / r) ** 0.5, rel=1e-13)
        assert st["variance"][j] == pytest.approx(v, rel=1e-13)
        assert st["variance_se"][j] == pytest.approx(se, rel=1e-12)
        assert st["variance_lo"][j] == pytest.approx(v * np.exp(-z * se / v), rel=1e-12)
        assert st["variance_hi"][j] == pytest.approx(v * np.exp(z * se / v), rel=1e-12)
        assert st["bias"][j] == pytest.approx(m - truth[j], rel=1e-13)
        assert st["bias_se"][j] == pytest.approx((v / r) ** 0.5, rel=1e-13)
        assert st["mse"][j] == pytest.approx(sum((c - truth[j]) ** 2 for c in col) / r, rel=1e-13)
        assert st["snr"][j] == pytest.approx(abs(m) / v**0.5, rel=1e-13)
    assert np.all(st["variance_lo"] < st["variance"]) and np.all(st["variance"] < st["variance_hi"])


def test_replicate_stats_without_truth_and_other_confidence():
    e = _sample()
    st = replicate_stats(e, confidence=0.5)
    assert np.all(np.isnan(st["bias"])) and np.all(np.isnan(st["mse"]))
    z = z_value(0.5)
    assert z == pytest.approx(0.6744897501960817, rel=1e-12)
    np.testing.assert_allclose(
        st["variance_hi"], st["variance"] * np.exp(z * st["variance_se"] / st["variance"])
    )


def test_zero_variance_coordinate_has_a_degenerate_interval_without_warnings():
    e = np.column_stack([np.full(10, 2.0), np.arange(10.0)])
    st = replicate_stats(e, [2.0, 4.5])
    assert st["variance"][0] == 0 and st["variance_lo"][0] == 0 and st["variance_hi"][0] == 0
    assert st["mse"][0] == 0 and np.isinf(st["snr"][0])
    agg = aggregate_stats(e)
    assert agg["max"]["variance"] == pytest.approx(np.var(np.arange(10.0), ddof=1))


def test_paired_ratio_exact_cases():
    e = _sample()
    ratio, lo, hi = paired_ratio(2.0 * e + 1.0, e)
    np.testing.assert_allclose(ratio, 4.0, rtol=1e-13)
    # an exact multiple: the log-ratio influence is zero, so the interval has zero width
    np.testing.assert_allclose(lo, 4.0, rtol=1e-10)
    np.testing.assert_allclose(hi, 4.0, rtol=1e-10)
    ratio, lo, hi = paired_ratio(e, e, reduce="mean")
    assert (
        float(ratio) == 1.0 and float(lo) == pytest.approx(1.0) and float(hi) == pytest.approx(1.0)
    )


def test_paired_ratio_by_hand():
    a, b = _sample(seed=1), _sample(seed=2)
    r = a.shape[0]
    ratio, lo, hi = paired_ratio(a, b, confidence=0.9)
    z = z_value(0.9)
    for j in range(a.shape[1]):
        va, vb = np.var(a[:, j], ddof=1), np.var(b[:, j], ddof=1)
        pa = (a[:, j] - a[:, j].mean()) ** 2 - va
        pb = (b[:, j] - b[:, j].mean()) ** 2 - vb
        se = np.std(pa / va - pb / vb, ddof=1) / np.sqrt(r)
        assert ratio[j] == pytest.approx(va / vb, rel=1e-13)
        assert lo[j] == pytest.approx(va / vb * np.exp(-z * se), rel=1e-12)
        assert hi[j] == pytest.approx(va / vb * np.exp(z * se), rel=1e-12)
    rm, lom, him = paired_ratio(a, b, reduce="mean")
    va, vb = np.var(a, axis=0, ddof=1).mean(), np.var(b, axis=0, ddof=1).mean()
    assert float(rm) == pytest.approx(va / vb, rel=1e-13)
    assert float(lom) < float(rm) < float(him)


def test_aggregate_stats_by_hand():
    e = _sample(r=40)
    r, p = e.shape
    agg = aggregate_stats(e)
    var = np.var(e, axis=0, ddof=1)
    psi = (e - e.mean(0)) ** 2 - var
    for name, scale in (("mean", 1 / p), ("trace", 1.0)):
        assert agg[name]["variance"] == pytest.approx(var.sum() * scale, rel=1e-13)
        se = np.std(psi.sum(1) * scale, ddof=1) / np.sqrt(r)
        assert agg[name]["variance_se"] == pytest.approx(se, rel=1e-12)
        assert agg[name]["variance_lo"] < agg[name]["variance"] < agg[name]["variance_hi"]
    j = int(np.argmax(var))
    assert agg["max"]["variance"] == pytest.approx(var[j], rel=1e-13)
    st = replicate_stats(e)
    assert agg["max"]["variance_se"] == pytest.approx(st["variance_se"][j], rel=1e-12)


def test_statistics_validate_inputs():
    with pytest.raises(ValueError, match="e must have shape"):
        replicate_stats(np.zeros(5))
    with pytest.raises(ValueError, match="R >= 2"):
        replicate_stats(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="confidence"):
        replicate_stats(np.zeros((4, 3)), confidence=1.5)
    with pytest.raises(ValueError, match="same shape"):
        paired_ratio(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="reduce"):
        paired_ratio(np.ones((4, 3)), np.ones((4, 3)), reduce="max")
