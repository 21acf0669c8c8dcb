"""Extension is a documented contract (hardening issue 13, item 11).

The shipped example families ``Poisson`` and ``Beta``: sampling equals the exact inverse
CDF, the score has mean zero and the score-function gradient equals d/dtheta E[f]
computed independently (closed-form moments; enumeration or quadrature; fixed-seed
replicates within 5 standard errors), and bad input gets named errors. The worked
examples of docs/readme/extending.md (a distribution with a pathwise capability, a
control variate built with ``ControlVariate(init, apply, ...)``, experiments with helper
modules) are executed from the page and checked here: exact unbiasedness of the control
variate by enumeration, gradients against closed forms, cache keys over a helper
imported by its bare name.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

import vartools as vt
from vartools.core.distribution import Distribution
from vartools.core.errors import NotSupportedError
from vartools.distributions.poisson import TAIL_MASS
from vartools.oracles.exact import exact_moments

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "readme" / "extending.md"
Z = 5.0  # tolerance of the replicate tests, in standard errors


def _replicate_mean(problem, est, n, reps, seed):
    """Mean and standard error of ``reps`` fixed-seed replicate estimates (vectorised)."""
    g, _ = est(problem, n, rng=np.random.default_rng(seed), reps=(reps,))
    return g.mean(0), g.std(0, ddof=1) / math.sqrt(reps)


# ----------------------------------------------------------------- the base contract


def test_required_methods_are_public_and_documented():
    abstract = Distribution.__abstractmethods__
    assert abstract == {
        "event_shape",
        "param_blocks",
        "with_params",
        "sample_noise",
        "noise_from_uniform",
        "transform",
        "log_prob",
        "score",
    }
    for name in [*abstract, "check_theta", "check_x", "noise_shape", "transform_vjp", "support"]:
        assert not name.startswith("_")
        assert getattr(Distribution, name).__doc__, name
    assert not hasattr(Distribution, "_blocks")


def test_transform_vjp_default_names_the_family_and_the_fix():
    d = vt.Beta(2.0, 3.0)
    assert not d.supports("pathwise")
    with pytest.raises(
        NotSupportedError, match=r"pathwise is not supported by Beta.*score_function"
    ):
        d.transform_vjp(np.zeros((4, 1)), np.ones((4, 1)))
    prob = vt.make_problem("beta_square")
    with pytest.raises(NotSupportedError, match="Beta"):
        vt.make_estimator(vt.pathwise)(prob, 4, rng=np.random.default_rng(0))


# ------------------------------------------------------------------------- Poisson


@pytest.mark.parametrize("rate", [1e-3, 0.3, 3.0, 40.0, 1500.0])
def test_poisson_transform_is_the_exact_inverse_cdf(rate):
    u = np.concatenate([np.random.default_rng(1).random(20_000), [0.0, 1e-300, 0.5]])
    cdf = stats.poisson.cdf  # the smallest k with P(X <= k) >= u
    x = vt.Poisson(rate).transform(u)
    assert np.all(x >= 0) and np.all(x == np.floor(x))
    assert np.all(cdf(x, rate) >= u)
    assert np.all((x == 0) | (cdf(x - 1, rate) < u))


def test_poisson_truncation_tail_bound_and_enumeration():
    d = vt.Poisson([1e-3, 0.5, 7.0])
    k = d.truncation()
    assert np.all(special.pdtrc(k, d.rate) <= TAIL_MASS)
    assert np.all(special.pdtrc(k - 1, d.rate) > TAIL_MASS)  # the smallest such K
    x, w = d.support()
    assert x.shape == (np.prod(k + 1), 3) and abs(w.sum() - 1.0) < 1e-14
    s = d.score(x[:, None])[:, 0]
    np.testing.assert_allclose(w @ s, 0.0, atol=1e-13)  # E[score] = 0


def test_poisson_exact_gradient_equals_closed_forms():
    lam = np.array([0.7, 2.5])
    # E[x0 x1^2] = lam0 (lam1 + lam1^2)
    prob = vt.Problem("p", vt.Poisson(lam), lambda x: x[..., 0] * x[..., 1] ** 2)
    want = [lam[1] + lam[1] ** 2, lam[0] * (1 + 2 * lam[1])]
    np.testing.assert_allclose(vt.exact_gradient(prob), want, rtol=1e-10)
    np.testing.assert_allclose(vt.exact_expectation(prob), lam[0] * (lam[1] + lam[1] ** 2))
    # the catalogue setting: d/drate E[(x - t)^2] = 1 + 2 rate - 2 t
    prob = vt.make_problem("poisson_square", rate=3.0, t=2.0)
    np.testing.assert_allclose(vt.exact_gradient(prob), [3.0], rtol=1e-10)


def test_poisson_score_matches_log_prob_derivative():
    d = vt.Poisson([0.8, 4.0])
    x = np.array([[0.0, 3.0], [2.0, 9.0]])
    h = 1e-6
    fd = np.stack(
        [
            (
                d.with_params(d.params + h * e).log_prob(x)
                - d.with_params(d.params - h * e).log_prob(x)
            )
            / (2 * h)
            for e in np.eye(2)
        ],
        -1,
    )
    np.testing.assert_allclose(d.score(x), fd, rtol=1e-7)


@pytest.mark.parametrize("base", ["sf", "mvd"])
def test_poisson_replicates_are_unbiased(base):
    lam = np.array([0.7, 2.5])
    prob = vt.Problem("p", vt.Poisson(lam), lambda x: x[..., 0] * x[..., 1] ** 2)
    truth = np.array([lam[1] + lam[1] ** 2, lam[0] * (1 + 2 * lam[1])])
    est = vt.make_estimator({"sf": vt.score_function, "mvd": vt.measure_valued}[base])
    mean, se = _replicate_mean(prob, est, 8, 40_000, seed=3)
    assert np.all(np.abs(mean - truth) < Z * se), (mean, truth, se)


def test_poisson_replicate_variance_matches_the_enumerated_one():
    prob = vt.make_problem("poisson_square", rate=3.0, t=2.0)
    est = vt.make_estimator(vt.score_function)
    mean, var = exact_moments(prob, est, 2)
    np.testing.assert_allclose(mean, [3.0], rtol=1e-10)
    g, _ = est(prob, 2, rng=np.random.default_rng(5), reps=(200_000,))
    r = len(g)
    centred = (g[:, 0] - g[:, 0].mean()) ** 2
    v_se = centred.std(ddof=1) / math.sqrt(r)  # SE of the sample variance
    assert abs(centred.mean() - var[0]) < Z * v_se, (centred.mean(), var[0], v_se)


def test_poisson_works_with_measure_variance_and_the_samplers():
    prob = vt.make_problem("poisson_square")
    ests = [
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
        vt.make_estimator(vt.score_function, sampler=vt.antithetic()),
    ]
    t = vt.measure_variance(prob, ests, n_samples=[4], n_reps=1000, seed=0)
    rows = t.query("kind == 'coordinate'")
    assert len(rows) == 3 and np.all(np.isfinite(rows["variance"]))
    np.testing.assert_allclose(rows["truth"], 3.0, rtol=1e-10)


def test_poisson_input_errors():
    with pytest.raises(ValueError, match="rate must be > 0"):
        vt.Poisson([1.0, 0.0])
    with pytest.raises(ValueError, match="rate must be finite"):
        vt.Poisson(np.nan)
    with pytest.raises(TypeError, match="rate must be an array of real numbers"):
        vt.Poisson("abc")
    d = vt.Poisson([1.0, 2.0])
    with pytest.raises(ValueError, match=r"theta must have shape \(2,\)"):
        d.with_params([1.0])
    with pytest.raises(ValueError, match="Poisson counts"):
        d.score(np.array([[1.0, 0.5]]))
    with pytest.raises(ValueError, match="Poisson counts"):
        d.log_prob(np.array([[-1.0, 0.0]]))
    with pytest.raises(ValueError, match="event shape"):
        d.score(np.zeros((4, 3)))
    with pytest.raises(vt.NoOracleError, match="budget"):
        vt.Poisson(np.full(6, 50.0)).support()


# ---------------------------------------------------------------------------- Beta


def _beta_moments(a, b):
    """E[x], E[x^2] and their gradients in (a, b), closed forms."""
    s = a + b
    m1 = a / s
    g1 = np.array([b / s**2, -a / s**2])
    m2 = a * (a + 1) / (s * (s + 1))
    den = (s * (s + 1)) ** 2
    g2 = np.array(
        [
            ((2 * a + 1) * s * (s + 1) - a * (a + 1) * (2 * s + 1)) / den,
            -a * (a + 1) * (2 * s + 1) / den,
        ]
    )
    return m1, g1, m2, g2


def _quad(fn, a, b):
    """E[fn(x)] under Beta(a, b) by adaptive quadrature (an independent oracle)."""
    val, _ = integrate.quad(
        lambda x: fn(x) * stats.beta.pdf(x, a, b), 0.0, 1.0, epsabs=1e-13, epsrel=1e-11, limit=200
    )
    return val


@pytest.mark.parametrize(("a", "b"), [(2.0, 3.0), (0.7, 1.6), (5.0, 0.9)])
def test_beta_transform_score_and_gradient(a, b):
    d = vt.Beta(a, b)
    u = np.random.default_rng(2).random(5000)
    np.testing.assert_allclose(d.transform(u), stats.beta.ppf(u, a, b), rtol=1e-9, atol=1e-12)
    score = lambda x, j: d.score(np.array([x]))[0, j]  # noqa: E731
    for j in range(2):  # E[score] = 0 and E[f score] = d/dtheta E[f] for f = x, x^2
        assert abs(_quad(lambda x, j=j: score(x, j), a, b)) < 1e-8
    m1, g1, m2, g2 = _beta_moments(a, b)
    for k, g in ((1, g1), (2, g2)):
        sf = [_quad(lambda x, j=j, k=k: x**k * score(x, j), a, b) for j in range(2)]
        np.testing.assert_allclose(sf, g, rtol=1e-7, atol=1e-10)
    h = 1e-5  # the closed forms themselves against finite differences of the moments
    fd = [(_beta_moments(a + h, b)[2] - _beta_moments(a - h, b)[2]) / (2 * h)]
    np.testing.assert_allclose(fd[0], g2[0], rtol=1e-6)


def test_beta_score_matches_log_prob_derivative():
    d = vt.Beta([1.5, 0.6], [2.0, 3.0])
    x = np.array([[0.2, 0.7], [0.9, 0.01]])
    h = 1e-6
    fd = np.stack(
        [
            (
                d.with_params(d.params + h * e).log_prob(x)
                - d.with_params(d.params - h * e).log_prob(x)
            )
            / (2 * h)
            for e in np.eye(4)
        ],
        -1,
    )
    np.testing.assert_allclose(d.score(x), fd, rtol=1e-6)
    np.testing.assert_allclose(
        d.log_prob(x)[0], stats.beta.logpdf([0.2, 0.7], [1.5, 0.6], [2.0, 3.0]).sum()
    )


def test_beta_replicates_are_unbiased():
    prob = vt.make_problem("beta_square", a=2.0, b=3.0, t=0.5)  # f = (x - 0.5)^2
    _, g1, _, g2 = _beta_moments(2.0, 3.0)
    truth = g2 - 2 * 0.5 * g1
    for est in (
        vt.make_estimator(vt.score_function),
        vt.make_estimator(vt.score_function, vt.loo_baseline()),
    ):
        mean, se = _replicate_mean(prob, est, 8, 40_000, seed=4)
        assert np.all(np.abs(mean - truth) < Z * se), (est.name, mean, truth, se)


def test_beta_input_errors():
    with pytest.raises(ValueError, match="b must be > 0"):
        vt.Beta(1.0, -1.0)
    with pytest.raises(ValueError, match="a and b must have the same shape"):
        vt.Beta(np.ones(2), np.ones(3))
    d = vt.Beta(2.0, 2.0)
    with pytest.raises(ValueError, match=r"Beta outcomes in \[0, 1\]"):
        d.score(np.array([1.5]))
    with pytest.raises(ValueError, match=r"theta must have shape \(2,\)"):
        d.with_params([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        d.sample(3, rng=0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        d.sample(0, rng=np.random.default_rng(0))


# ------------------------------------------------ the worked examples of the docs page


@pytest.fixture(scope="module")
def page():
    """The namespace of docs/readme/extending.md after running its python blocks."""
    from test_docs_examples import python_blocks

    ns: dict[str, object] = {"__name__": "docs_extending"}
    blocks = python_blocks(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 4 and all(reason is None for _, _, reason in blocks)
    for line, code, _ in blocks:
        exec(compile(code, f"extending.md:{line}", "exec", dont_inherit=True), ns)  # noqa: S102
    return ns


def test_page_distribution_example_is_exact(page):
    exp_cls = page["Exponential"]
    d = exp_cls(rate=[0.5, 2.0])
    assert d.supports("pathwise") and not d.supports("enumeration")
    u = np.random.default_rng(0).random((3, 5, 2))
    np.testing.assert_allclose(d.transform(u), stats.expon.ppf(u, scale=1 / d.rate))
    # the pathwise terms are the exact derivative of transform: central differences
    h = 1e-6
    cot = np.ones_like(u)
    fd = np.stack(
        [
            (
                d.with_params(d.rate + h * e).transform(u)
                - d.with_params(d.rate - h * e).transform(u)
            ).sum(-1)
            / (2 * h)
            for e in np.eye(2)
        ],
        -1,
    )
    np.testing.assert_allclose(d.transform_vjp(u, cot), fd, rtol=1e-6)
    for rate in d.rate:  # E[score] = 0 by quadrature
        val, _ = integrate.quad(lambda x, r=rate: (1 / r - x) * r * np.exp(-r * x), 0, np.inf)
        assert abs(val) < 1e-10


def test_page_control_variate_is_exactly_unbiased(page):
    prob = vt.make_problem("liu_toy", eta=-1.0)
    cv = page["score_cv"]()
    assert isinstance(cv, vt.ControlVariate) and cv.stateful and not cv.biased
    est = vt.make_estimator(vt.score_function, cv)
    # a fitted state (two earlier batches), then exact moments by enumeration at it
    rng = np.random.default_rng(0)
    _, state = est(prob, 4, rng=rng, reps=(50,))
    _, state = est(prob, 4, rng=rng, reps=(50,), state=state)
    assert np.all(state.sum_ss > 0)
    truth = vt.exact_gradient(prob)
    mean, var = exact_moments(prob, est, 3, state=state)
    np.testing.assert_allclose(mean, truth, atol=1e-14)
    _, var_sf = exact_moments(prob, vt.make_estimator(vt.score_function), 3)
    assert np.all(var < var_sf)  # the fitted coefficient reduces the variance
    _, new = est(prob, 3, rng=np.random.default_rng(1), reps=(2,), state=state)
    assert np.all(new.sum_ss > state.sum_ss)  # the state learns from every batch


def test_page_experiments_with_helpers_ran(page):
    root = page["root"]
    assert page["experiment_names"](root) == ["bar", "foo"]
    for name in ("foo", "bar"):
        assert (root / "results" / name / "summary.csv").is_file()


BARE_HELPER = """
TARGET = {target}
"""

USES_BARE = """
import numpy as np
import vartools as vt
from vartools.harness.experiment import Experiment, Scale
from _quad_helpers import TARGET


def problem(eta):
    dist = vt.Bernoulli(np.array([eta, 0.3]))
    return vt.Problem("q", dist, lambda b: ((b - TARGET) ** 2).sum(-1))


EXPERIMENT = Experiment(
    name="quad", description="bare helper import", problem=problem, points=[{"eta": 0.0}],
    estimators=["sf"], n_samples=[2], n_reps=256, seed=0, quick=Scale(n_reps=256),
)
"""


def test_a_bare_helper_import_in_a_package_directory_works_and_is_keyed(tmp_path):
    from vartools.harness.fingerprint import read_sources
    from vartools.harness.loading import discover

    d = tmp_path / "exps"
    d.mkdir()
    (d / "__init__.py").write_text("")
    (d / "quad.py").write_text(textwrap.dedent(USES_BARE))
    (d / "_quad_helpers.py").write_text(BARE_HELPER.format(target=0.45))
    found, errors = discover(d)
    assert list(found) == ["quad"] and errors == {}  # the helper is no broken experiment
    assert "_quad_helpers.py" in dict(read_sources(d, "quad").files)
    first = vt.run_experiment("quad", directory=d, out=tmp_path / "out", progress=False)
    again = vt.run_experiment("quad", directory=d, out=tmp_path / "out", progress=False)
    assert again.cells_reused == again.cells_total and again.cells_computed == 0
    (d / "_quad_helpers.py").write_text(BARE_HELPER.format(target=0.9))
    edited = vt.run_experiment("quad", directory=d, out=tmp_path / "out", progress=False)
    assert edited.cells_reused == 0 and edited.cells_computed == edited.cells_total
    assert not np.allclose(first.summary["mean"], edited.summary["mean"])


def test_compare_on_the_new_settings(capsys):
    from vartools.cli.main import main

    assert (
        main(
            ["compare", "--problem", "poisson_square", "--estimators", "sf", "mvd"]
            + ["--n", "4", "--reps", "500"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "poisson_square(rate=3,t=2)" in out and "mvd" in out
    assert (
        main(
            ["compare", "--problem", "beta_square", "--param", "a=0.5"]
            + ["--estimators", "sf", "sf+loo", "--n", "4", "--reps", "500"]
        )
        == 0
    )
    assert "beta_square(a=0.5,b=3,t=0.5)" in capsys.readouterr().out


SINGLE_FILE = """
from vartools.harness.experiment import Experiment, Scale
from {imp} import POINTS

EXPERIMENT = Experiment(
    name="foo", description="points from a helper", problem="liu_toy", points=POINTS,
    estimators=["sf"], n_samples=[2], n_reps=256, seed=0, quick=Scale(n_reps=256),
)
"""


@pytest.mark.parametrize(
    ("package", "imp"),
    [(False, "_foo_helpers"), (True, "_foo_helpers"), (True, "._foo_helpers")],
    ids=["plain-bare", "package-bare", "package-relative"],
)
def test_single_file_experiment_with_an_underscore_helper(tmp_path, package, imp):
    from vartools.harness.fingerprint import read_sources
    from vartools.harness.loading import discover

    d = tmp_path / "exps"
    d.mkdir()
    if package:
        (d / "__init__.py").write_text("")
    (d / "foo.py").write_text(SINGLE_FILE.format(imp=imp))
    (d / "_foo_helpers.py").write_text('POINTS = [{"eta": 0.0}, {"eta": -1.0}]\n')
    found, errors = discover(d)
    assert list(found) == ["foo"] and errors == {}
    assert list(found["foo"].points) == [{"eta": 0.0}, {"eta": -1.0}]
    assert "_foo_helpers.py" in dict(read_sources(d, "foo").files)  # keyed
    report = vt.run_experiment("foo", directory=d, out=tmp_path / "out", progress=False)
    assert report.complete and report.cells_computed == report.cells_total
