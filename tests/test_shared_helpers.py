"""Helpers several modules share: Distribution defaults, UniformNoise, chain rule, plots."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from conftest import ATOL
from matplotlib.figure import Figure

from vartools.catalogue.bandit import make_bandit
from vartools.catalogue.sbn import EncoderBernoulli
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.distributions.discrete.categorical import Categorical
from vartools.distributions.normal import Normal
from vartools.distributions.uniform_noise import UniformNoise
from vartools.estimators.base import chain_rule_estimator, score_function
from vartools.estimators.composed import make_estimator
from vartools.harness.loading import load_experiment
from vartools.oracles import exact
from vartools.plots.helpers import errorbar_ci
from vartools.plots.style import estimator_color

load_experiment("liu_kool_toy")  # puts the experiments package on the path
L = importlib.import_module("experiments.liu_kool_toy.models")


def _dists():
    rng = np.random.default_rng(0)
    return [
        Bernoulli(rng.normal(size=(2, 3))),
        Categorical(rng.normal(size=(2, 3))),
        Normal.from_log_scale(rng.normal(size=2), rng.normal(size=2)),
        make_bandit(2, 3, noise=0.5, seed=0).dist,
        EncoderBernoulli(rng.normal(size=(2, 4)), rng.normal(size=(3, 3))),
        L.SharedBernoulli(0.3),
    ]


@pytest.mark.parametrize("dist", _dists(), ids=lambda d: type(d).__name__)
def test_default_names_params_and_theta_check(dist):
    names, theta = dist.param_names, dist.params
    assert len(names) == len(set(names)) == dist.n_params == theta.shape[0]
    blocks = dist.unflatten(theta)
    assert list(blocks) == [b for b, _ in dist.param_blocks()]
    assert all(n.split("[")[0] in blocks for n in names)
    moved = theta + 0.25 * np.arange(1, theta.size + 1)
    # exact up to the exp / log round trip of a log_scale
    np.testing.assert_allclose(dist.with_params(moved).params, moved, rtol=1e-15, atol=0)
    theta[0] += 1.0  # params is a copy
    assert dist.params[0] != theta[0]
    with pytest.raises(ValueError, match=rf"theta must have shape \({dist.n_params},\)"):
        dist.with_params(np.zeros(dist.n_params + 1))
    with pytest.raises(ValueError, match="theta must be finite"):
        dist.with_params(np.full(dist.n_params, np.nan))


def test_bernoulli_param_names_are_indexed_by_the_logits_shape():
    assert Bernoulli(np.zeros((2, 1))).param_names == ("logits[0,0]", "logits[1,0]")
    assert Normal(1.0, 2.0).param_names == ("loc", "scale")


# rows of 5 x 4 and 5 x 2 uniforms: even, so float32 noise equals NumPy's float32 uniforms
@pytest.mark.parametrize("dist", [Bernoulli(np.zeros(4)), Categorical(np.zeros((2, 4)))])
def test_uniform_noise_draws_in_the_requested_dtype_from_the_same_stream(dist):
    assert isinstance(dist, UniformNoise)
    u = dist.sample_noise(5, rng=np.random.default_rng(1), reps=(2,))
    ref = np.random.default_rng(1).random((2, 5, *dist.event_shape))
    np.testing.assert_array_equal(u, ref)
    np.testing.assert_array_equal(dist.noise_from_uniform(u), u)
    u32 = dist.sample_noise_as(5, rng=np.random.default_rng(1), reps=(2,), dtype=np.float32)
    ref32 = np.random.default_rng(1).random((2, 5, *dist.event_shape), dtype=np.float32)
    np.testing.assert_array_equal(u32, ref32)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        dist.sample_noise(1, rng=np.random.default_rng(0), dtype=np.int64)


def test_chain_rule_estimator_sums_shared_logit_terms_exactly():
    """Shared logit: the chain-rule SF is the SF of the shared score (exact, by enumeration)."""
    prob = L.problem(-0.7)
    lifted = chain_rule_estimator(score_function, L.per_coordinate, lambda b, _: L._summed(b))
    assert lifted.name == "sf" and lifted.unbiased and lifted.from_samples is not None
    direct = exact.exact_moments(prob, make_estimator(score_function), 2)
    via = exact.exact_moments(prob, make_estimator(lifted), 2)
    np.testing.assert_allclose(via[0], direct[0], rtol=0, atol=ATOL)
    np.testing.assert_allclose(via[1], direct[1], rtol=0, atol=ATOL)
    # and a wrong lift (sign flipped) is caught
    flipped = chain_rule_estimator(
        score_function, L.per_coordinate, lambda b, _: L._summed(b).with_terms(-L._summed(b).terms)
    )
    bad = exact.exact_moments(prob, make_estimator(flipped), 2)
    assert abs(bad[0][0] - direct[0][0]) > 1e-3


def test_errorbar_ci_spans_the_interval_columns():
    rows = pd.DataFrame(
        {"n": [1, 2], "variance": [2.0, 1.0], "variance_lo": [1.5, 0.5], "variance_hi": [3.0, 1.25]}
    )
    ax = Figure().subplots()
    cont = errorbar_ci(ax, rows, "n", fmt="o", color=estimator_color("sf"))
    segs = cont.lines[2][0].get_segments()
    spans = sorted((float(s[0][1]), float(s[1][1])) for s in segs)
    assert spans == [(0.5, 1.25), (1.5, 3.0)]
    np.testing.assert_array_equal(cont.lines[0].get_ydata(), [2.0, 1.0])
