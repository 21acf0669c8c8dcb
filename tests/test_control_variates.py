"""Control variates (constant, moving-average and leave-one-out baselines; chains).

Unbiasedness is proved by enumerating the n-sample joint support: the exact mean of
the estimate equals the exact gradient to 1e-12 on Bernoulli and Categorical problems
with non-separable objectives. A deliberately biased baseline shows the check can fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ATOL, bern_problem, cat1_problem, cat_problem

import vartools as vt
from vartools.core.control_variate import ControlVariate, subtract_baseline
from vartools.measure.blocks import warm_state
from vartools.oracles import exact

PROBLEMS = {"bern3": bern_problem, "cat2x3": cat_problem, "cat4": cat1_problem}
VEC_B = {"bern3": [0.4, -1.0, 2.5], "cat2x3": [0.5, -1, 2, 0.1, 3, -2], "cat4": [1, -1, 0.5, 2]}


def _estimators(prob_name: str, prob: vt.Problem) -> dict[str, tuple[vt.Estimator, object]]:
    """name -> (estimator, state at which it is evaluated)."""
    sf = vt.score_function
    vec = vt.constant_baseline(np.array(VEC_B[prob_name], dtype=float))
    ema = vt.make_estimator(sf, vt.ema_baseline(0.8))
    ema_loo = vt.make_estimator(sf, vt.ema_baseline(0.8), vt.loo_baseline())
    out = {
        "sf": (vt.make_estimator(sf), None),
        "sf+const": (vt.make_estimator(sf, vt.constant_baseline(1.7)), None),
        "sf+const(vec)": (vt.make_estimator(sf, vec), None),
        "sf+loo": (vt.make_estimator(sf, vt.loo_baseline()), None),
        "sf+const+loo": (
            vt.make_estimator(sf, vt.constant_baseline(-0.6), vt.loo_baseline()),
            None,
        ),
        "sf+loo+const": (vt.make_estimator(sf, vt.loo_baseline(), vt.constant_baseline(0.9)), None),
        "sf+const(vec)+loo": (vt.make_estimator(sf, vec, vt.loo_baseline()), None),
        "sf+loo+const(vec)": (vt.make_estimator(sf, vt.loo_baseline(), vec), None),
        # stateful: evaluated at a warmed-up (frozen) state, and at a hand-made one
        "sf+ema(warm)": (ema, warm_state(prob, ema, 2, seed=5, warmup=7)),
        "sf+ema(hand)": (ema, (1.3, 4)),
        "sf+ema+loo(warm)": (ema_loo, warm_state(prob, ema_loo, 2, seed=5, warmup=3)),
    }
    return out


CASES = [
    (p, e, n)
    for p in PROBLEMS
    for e in _estimators(p, PROBLEMS[p]())
    for n in (1, 2, 3)
    if not ("loo" in e and n == 1)
]


@pytest.mark.parametrize(("prob_name", "est_name", "n"), CASES)
def test_unbiased_by_exact_enumeration(prob_name, est_name, n):
    prob = PROBLEMS[prob_name]()
    est, state = _estimators(prob_name, prob)[est_name]
    g = exact.exact_gradient(prob)
    assert np.max(np.abs(g)) > 0.05  # a gradient worth estimating
    mean, var = exact.exact_moments(prob, est, n, state=state)
    np.testing.assert_allclose(mean, g, rtol=0, atol=ATOL)
    assert np.all(var > 0)
    assert not est.biased


def test_warm_state_is_not_the_initial_state():
    prob = bern_problem()
    ema = vt.make_estimator(vt.score_function, vt.ema_baseline(0.8))
    avg, t = warm_state(prob, ema, 2, seed=5, warmup=7)
    assert t == 7 and avg != 0.0


def _self_including_baseline() -> ControlVariate:
    """A wrong baseline: the batch mean including the sample it multiplies (biased)."""

    def apply(batch, state, problem):
        b = np.broadcast_to(batch.fx.mean(-1, keepdims=True), batch.fx.shape)
        return subtract_baseline(batch, b, "mean", per_sample=True), state

    return ControlVariate(lambda p: None, apply, name="mean", per_sample=False)


@pytest.mark.parametrize("prob_name", sorted(PROBLEMS))
def test_enumeration_detects_a_biased_baseline(prob_name):
    """The check above can fail: a baseline that looks at its own sample is biased."""
    prob = PROBLEMS[prob_name]()
    est = vt.make_estimator(vt.score_function, _self_including_baseline())
    mean, _ = exact.exact_moments(prob, est, 2)
    g = exact.exact_gradient(prob)
    # at n = 2 the estimate is exactly (1 - 1/n) times the SF estimate with the loo baseline
    np.testing.assert_allclose(mean, 0.5 * g, atol=ATOL)
    assert np.max(np.abs(mean - g)) > 1e-2


def _random_batch(prob: vt.Problem, n: int = 5, reps=(4,)) -> vt.Batch:
    est = vt.make_estimator(vt.score_function)
    b, _ = est.batch(prob, n, rng=np.random.default_rng(11), reps=reps)
    return b


def test_loo_terms_equal_the_rloo_formula():
    prob = cat_problem()
    b = _random_batch(prob)
    out, _ = vt.loo_baseline().apply(b, None, prob)
    n = b.n
    fbar = b.fx.mean(-1, keepdims=True)
    ref = (n / (n - 1)) * (b.fx - fbar)[..., None] * b.score
    np.testing.assert_allclose(out.terms, ref, rtol=1e-13, atol=1e-14)
    # explicit leave-one-out means
    for i in range(n):
        others = np.delete(b.fx, i, axis=-1).mean(-1)
        np.testing.assert_allclose(
            out.terms[:, i], (b.fx[:, i] - others)[:, None] * b.score[:, i], atol=1e-14
        )
    np.testing.assert_allclose(out.estimate, out.terms.mean(-2), atol=1e-14)


def test_constant_baselines_scalar_and_per_parameter():
    prob = bern_problem()
    b = _random_batch(prob)
    out, _ = vt.constant_baseline(0.8).apply(b, None, prob)
    np.testing.assert_allclose(out.terms, (b.fx - 0.8)[..., None] * b.score, atol=1e-15)
    vec = np.array([0.4, -1.0, 2.5])
    out, _ = vt.constant_baseline(vec).apply(b, None, prob)
    np.testing.assert_allclose(out.terms, (b.fx[..., None] - vec) * b.score, atol=1e-15)
    np.testing.assert_allclose(out.estimate, out.terms.mean(-2), atol=1e-15)
    # chained after a per-parameter baseline, the leave-one-out baseline still applies
    both, _ = vt.chain(vt.constant_baseline(vec), vt.loo_baseline()).apply(b, (None, None), prob)
    loo = (b.fx.sum(-1, keepdims=True) - b.fx) / (b.n - 1)
    ref = (b.fx[..., None] - vec - loo[..., None]) * b.score
    np.testing.assert_allclose(both.terms, ref, atol=1e-14)


def test_ema_baseline_value_state_update_and_debiasing():
    prob = bern_problem()
    cv = vt.ema_baseline(0.75)
    assert cv.init(prob) == (0.0, 0)
    b1 = _random_batch(prob)
    out, s1 = cv.apply(b1, cv.init(prob), prob)
    np.testing.assert_allclose(out.terms, b1.terms, atol=0)  # b = 0 before the first batch
    assert s1 == pytest.approx((0.25 * b1.fx.mean(), 1), abs=1e-15)
    b2 = _random_batch(prob, reps=(2,))
    out2, s2 = cv.apply(b2, s1, prob)
    base = s1[0] / (1 - 0.75)  # debiased: exactly the mean f of batch 1
    np.testing.assert_allclose(base, b1.fx.mean(), rtol=1e-14)
    np.testing.assert_allclose(out2.terms, (b2.fx - base)[..., None] * b2.score, atol=1e-14)
    assert s2[1] == 2
    assert s2[0] == pytest.approx(0.75 * s1[0] + 0.25 * b2.fx.mean(), abs=1e-15)


def test_chain_metadata_and_state():
    c = vt.chain(vt.constant_baseline(1.0), vt.ema_baseline(0.5), vt.loo_baseline())
    assert c.name == "const(1)+ema(0.5)+loo"
    assert c.min_n == 2 and c.stateful and c.requires_independent and not c.biased
    assert not c.per_sample
    prob = bern_problem()
    assert c.init(prob) == (None, (0.0, 0), None)
    assert vt.chain().name == "none"
    one = vt.loo_baseline()
    assert vt.chain(one) is one


ALL_CVS = {
    "const": lambda: vt.constant_baseline(0.3),
    "const(vec)": lambda: vt.constant_baseline(np.array([0.1, 0.2, 0.3])),
    "ema": lambda: vt.ema_baseline(0.9),
    "loo": vt.loo_baseline,
    "chain": lambda: vt.chain(vt.constant_baseline(0.3), vt.loo_baseline()),
}


def _frozen(batch: vt.Batch) -> vt.Batch:
    for name in ("x", "fx", "score", "weight", "extra"):
        arr = getattr(batch, name)
        if arr is not None:
            arr.setflags(write=False)
    return batch


@pytest.mark.parametrize("cv_name", sorted(ALL_CVS))
def test_apply_is_pure_and_deterministic(cv_name):
    prob = bern_problem()
    cv = ALL_CVS[cv_name]()
    state = cv.init(prob)
    if cv_name == "ema":
        state = (0.6, 3)
    b = _frozen(_random_batch(prob))
    copies = {k: np.array(getattr(b, k)) for k in ("x", "fx", "score", "weight")}
    out1, s1 = cv.apply(b, state, prob)  # read-only inputs: any in-place write raises
    out2, s2 = cv.apply(b, state, prob)
    np.testing.assert_array_equal(out1.terms, out2.terms)
    assert s1 == s2
    for k, v in copies.items():
        np.testing.assert_array_equal(getattr(b, k), v)
    np.testing.assert_array_equal(b.terms, copies["weight"][..., None] * copies["score"])
