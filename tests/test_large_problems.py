"""Issue 13 item 6: large problems work with defaults.

- Enumeration budgets are compared in logs: 1024+ Bernoullis and (400, 10) Categoricals
  raise ``BudgetExceededError`` (a NoOracleError: the oracle is skipped), never
  ``OverflowError``.
- The closed forms of separable objectives (``vartools.oracles.separable``) equal the
  enumeration oracle to ~1e-12 on small problems, for SF and SF + RLOO, several n, both
  families; beyond the budget the SF and RLOO oracles use them at any size.
- A 10,000-coordinate Bernoulli at R = 2000 and a (400, 10) Categorical run with defaults,
  with exact SF and RLOO variances, and the measured variances within z = 5 standard
  errors of them; a non-separable large problem runs with NaN exact values and a note.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import vartools as vt
from vartools.core.errors import BudgetExceededError, NoOracleError, OracleWarning
from vartools.distributions.budget import check_power_budget, power_exceeds
from vartools.measure.schema import bias_threshold
from vartools.oracles import exact
from vartools.oracles.separable import is_separable, separable_sf_moments

Z = 5.0
SF = vt.make_estimator(vt.score_function)
LOO = vt.make_estimator(vt.score_function, vt.loo_baseline())


# -- budgets ------------------------------------------------------------------------------------


def test_power_budget_is_exact_at_the_limit_and_never_overflows():
    assert not power_exceeds(2, 20, 2**20) and power_exceeds(2, 20, 2**20 - 1)
    assert not power_exceeds(10, 6, 1_000_000) and power_exceeds(10, 6, 999_999)
    assert not power_exceeds(3, 5, 243, factor=1.0) and power_exceeds(3, 5, 242)
    assert power_exceeds(2, 1024, 1e6) and power_exceeds(10, 400, 1e6)  # 2.0**1024 overflows
    assert power_exceeds(1e6, 1_000, 5e7, factor=8 * 30)
    assert not power_exceeds(1, 10**9, 1) and not power_exceeds(0, 5, 1)
    assert power_exceeds(2, 3, 10, factor=2) and not power_exceeds(2, 3, 16, factor=2)
    with pytest.raises(ValueError, match="limit"):
        power_exceeds(2, 3, 0)
    with pytest.raises(BudgetExceededError, match=r"2\^10000 \(about 10\^3010.3\)"):
        check_power_budget(2, 10_000, 1_000_000, "10000 Bernoullis")


@pytest.mark.parametrize(
    "dist",
    [
        vt.Bernoulli(np.zeros(1024)),
        vt.Bernoulli(np.zeros(10_000)),
        vt.Categorical(np.zeros((400, 10))),
    ],
    ids=["bern1024", "bern10000", "cat400x10"],
)
def test_large_supports_exceed_the_budget_instead_of_overflowing(dist):
    with pytest.raises(BudgetExceededError, match="joint outcomes, more than budget"):
        dist.support()
    prob = vt.Problem("big", dist, lambda x: np.cos(x.sum(-1)))  # not declared separable
    with pytest.raises(BudgetExceededError, match="not declared as a sum of terms"):
        exact.exact_gradient(prob)
    with pytest.raises(NoOracleError):
        exact.exact_moments(prob, SF, 3)


def test_many_samples_exceed_the_joint_budget_without_overflow():
    # 2 outcomes, n = 2000 samples: 2^2000 joint outcomes; non-per-sample chain, no closed
    # form registered: the budget error, not an OverflowError.
    prob = vt.Problem("one", vt.Bernoulli([0.3]), lambda b: b[..., 0] ** 2)
    with pytest.raises(BudgetExceededError):
        exact._joint(prob, 2000, 1_000_000)
    # a per-sample chain at that n has the closed form Var_1 / n
    mean, var = exact.exact_moments(prob, SF, 2000)
    m1, v1 = exact.exact_moments(prob, SF, 1)
    np.testing.assert_allclose(var, v1 / 2000, rtol=1e-14)
    np.testing.assert_allclose(mean, m1, rtol=1e-14)


# -- closed forms proved by enumeration ---------------------------------------------------------


def _bern_problem(d: int, seed: int) -> vt.Problem:
    rng = np.random.default_rng(seed)
    t, w = rng.normal(size=d), rng.normal(size=d)

    def terms(b: np.ndarray) -> np.ndarray:  # two terms per coordinate and a constant
        return np.concatenate([(b - t) ** 2, w * b, np.full((*b.shape[:-1], 1), 0.7)], axis=-1)

    reads = [(i,) for i in range(d)] * 2 + [()]
    return vt.Problem(
        f"bern_sep{d}", vt.Bernoulli(rng.normal(size=d)), vt.sum_of_terms(terms, reads)
    )


def _cat_problem(shape: tuple[int, ...], seed: int) -> vt.Problem:
    rng = np.random.default_rng(seed)
    k = shape[-1]
    table = rng.normal(size=(int(np.prod(shape[:-1])), k))
    idx = np.arange(table.shape[0])

    def per_coordinate(z: np.ndarray) -> np.ndarray:
        flat = z.reshape(*z.shape[: z.ndim - (len(shape) - 1)], -1)
        return table[idx, flat] ** 2 - 0.5 * table[idx, flat]

    dim = table.shape[0]
    return vt.Problem(
        f"cat_sep{shape}",
        vt.Categorical(rng.normal(size=shape)),
        vt.separable(per_coordinate, dim),
    )


PROBLEMS = [
    _bern_problem(3, 0),
    _bern_problem(4, 1),
    _cat_problem((2, 3), 2),
    _cat_problem((3, 3), 3),
    _cat_problem((2, 2, 2), 4),
]


@pytest.mark.parametrize("prob", PROBLEMS, ids=lambda p: p.name)
def test_separable_moments_equal_enumeration(prob):
    assert is_separable(prob)
    enum, closed = exact.sf_moments(prob), separable_sf_moments(prob)
    for name in ("g", "m2", "m1", "m0", "ef", "ef2"):
        a, b = np.asarray(getattr(enum, name)), np.asarray(getattr(closed, name))
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12 * np.abs(a).max(), err_msg=name)


@pytest.mark.parametrize("prob", PROBLEMS, ids=lambda p: p.name)
@pytest.mark.parametrize("n", [2, 3, 4])
def test_sf_and_rloo_closed_forms_equal_the_enumerated_n_sample_variance(prob, n):
    m = separable_sf_moments(prob)
    for est, closed in ((SF, exact.sf_variance(m, n)), (LOO, exact.rloo_variance(m, n))):
        mean, var = exact._enumerate(prob, est, n, None, 1_000_000)  # the n-sample joint
        np.testing.assert_allclose(closed, var, rtol=1e-12, atol=1e-14, err_msg=est.name)
        np.testing.assert_allclose(m.g, mean, rtol=1e-12, atol=1e-14)


def test_beyond_the_joint_budget_the_oracles_switch_to_the_closed_forms():
    prob = PROBLEMS[3]  # 3 categoricals of 3 categories: 27 outcomes
    tiny = 27**2  # the joint of 3 samples exceeds it, the single-sample support does not
    for est, fn in ((SF, exact.sf_variance), (LOO, exact.rloo_variance)):
        _, var = exact.exact_moments(prob, est, 3, budget=tiny)
        _, enum = exact._enumerate(prob, est, 3, None, 1_000_000)
        np.testing.assert_allclose(var, enum, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(var, fn(exact.sf_moments(prob), 3), rtol=1e-12)
    # any per-sample chain: the one-sample variance / n (here the oracle optimal baseline)
    opt = vt.make_estimator(vt.score_function, vt.optimal_baseline())
    _, var = exact.exact_moments(prob, opt, 3, budget=tiny)
    _, enum = exact._enumerate(prob, opt, 3, None, 1_000_000)
    np.testing.assert_allclose(var, enum, rtol=1e-12, atol=1e-14)
    # a chain that couples its samples, without a closed form, stays skipped
    loo_opt = vt.make_estimator(vt.score_function, vt.optimal_baseline("loo"))
    with pytest.raises(BudgetExceededError):
        exact.exact_moments(prob, loo_opt, 3, budget=tiny)
    exact.exact_moments(prob, loo_opt, 3)  # (within the default budget it is enumerated)


# -- large problems with defaults ---------------------------------------------------------------


def _check_within_z(table, est_name, exact_var):
    for kind, reduce in (("mean", np.mean), ("trace", np.sum)):
        row = table[(table["estimator"] == est_name) & (table["kind"] == kind)].iloc[0]
        want = float(reduce(exact_var))
        np.testing.assert_allclose(row["exact_variance"], want, rtol=1e-12)
        z = abs(row["variance"] - want) / row["variance_se"]
        assert z < Z, (est_name, kind, row["variance"], want, row["variance_se"], z)
        assert not row["bias_flag"]


def test_ten_thousand_bernoullis_at_R_2000_with_defaults():
    d = 10_000
    t = np.linspace(0.1, 0.9, d)
    prob = vt.Problem(
        "bern10000",
        vt.Bernoulli(np.linspace(-2.0, 2.0, d)),
        vt.separable(lambda b: (b - t) ** 2, d),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", OracleWarning)  # nothing may be skipped
        table = vt.measure_variance(prob, [SF, LOO], n_samples=[4], n_reps=2000, seed=0)
    m = separable_sf_moments(prob)
    assert table["truth"].isna().all()  # blocks rows only above 2048 coordinates...
    _check_within_z(table, "sf", exact.sf_variance(m, 4))
    _check_within_z(table, "sf+loo", exact.rloo_variance(m, 4))
    assert not table["bias_flag"].any()  # ...but the flag is computed per coordinate


def test_categorical_400_by_10_with_defaults():
    prob = _cat_problem((400, 10), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OracleWarning)
        table = vt.measure_variance(prob, [SF, LOO], n_samples=[3], n_reps=2000, seed=1, rows="all")
    m = separable_sf_moments(prob)
    _check_within_z(table, "sf", exact.sf_variance(m, 3))
    _check_within_z(table, "sf+loo", exact.rloo_variance(m, 3))
    coords = table[(table["kind"] == "coordinate") & (table["estimator"] == "sf")]
    np.testing.assert_allclose(coords["truth"], m.g, rtol=1e-12, atol=1e-15)
    # per-coordinate bias z-scores: unbiased, so about N(0, 1) (skewed SF terms give the
    # largest of 4000 near 5; the flag's threshold for p = 4000 is 6.4)
    zb = coords["bias"] / coords["bias_se"]
    assert abs(zb.mean()) < Z / np.sqrt(len(zb)) and 0.9 < zb.std() < 1.1
    assert np.abs(zb).max() < bias_threshold(len(zb))


def test_large_non_separable_problem_runs_with_nan_exact_values_and_a_note():
    prob = vt.Problem("b1024", vt.Bernoulli(np.zeros(1024)), lambda b: b.sum(-1) ** 2)
    with pytest.warns(OracleWarning, match="oracle skipped.*2\\^1024"):
        table = vt.measure_variance(prob, [SF, LOO], n_samples=[2], n_reps=100, seed=0)
    assert table["exact_variance"].isna().all() and table["truth"].isna().all()
    assert table["variance"].notna().all() and not table["bias_flag"].any()
