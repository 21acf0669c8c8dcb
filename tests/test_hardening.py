"""Hardening: clear errors instead of silent wrong numbers (hardening issue, items 1-15).

Each test names the issue item it keeps fixed. The numerical ones are exact
(enumeration, closed forms or quadrature), so none depends on luck.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vartools as vt
from vartools.cli.main import main
from vartools.core.objectives import Objective
from vartools.harness.storage import (
    atomic_write_text,
    default_file_mode,
    write_cell,
    write_json,
    write_table,
)
from vartools.measure.schema import TRAINING

ROOT = Path(__file__).resolve().parent.parent


def _normal_problem(f, grad=None):
    dist = vt.Normal(np.array([0.3, -0.2]), np.array([1.0, 0.5]))
    return vt.Problem("n2", dist, Objective(f, grad) if grad else f)


# ------------------------------------------------------------ item 1: read-only samples


def _inplace(x):
    x -= 0.45
    return (x**2).sum(-1)


@pytest.mark.parametrize("est", ["sf", "pathwise", "mvd", "sf+loo"])
def test_item1_in_place_f_is_a_named_error(est):
    prob = _normal_problem(_inplace, lambda x: 2.0 * (x - 0.45))
    with pytest.raises(ValueError, match=r"must not modify its input x.*x = x - 0\.45"):
        vt.get_estimator(est)(prob, 4, rng=np.random.default_rng(0), reps=(3,))


def test_item1_in_place_item_assignment_and_grad_f():
    def f(x):
        x[..., 0] = 0.0
        return x.sum(-1)

    with pytest.raises(ValueError, match="must not modify its input x"):
        _normal_problem(f).evaluate(np.ones((2, 3, 2)))

    def grad(x):
        x *= 2.0
        return x

    prob = _normal_problem(lambda x: x.sum(-1), grad)
    with pytest.raises(ValueError, match="grad_f of problem 'n2' must not modify"):
        prob.evaluate_grad(np.ones((2, 3, 2)))


def test_item1_f_returning_a_view_of_x_gets_its_own_array():
    prob = vt.Problem("id", vt.Normal(0.0, 1.0), lambda x: x)
    x = np.arange(3.0)[None]
    fx = prob.evaluate(x)
    assert fx.flags.writeable and not np.shares_memory(fx, x)
    fx[...] = -1.0
    assert x.tolist() == [[0.0, 1.0, 2.0]]


def test_item1_unrelated_value_errors_of_f_pass_through():
    def f(x):
        raise ValueError("my own message")

    with pytest.raises(ValueError, match="^my own message$"):
        _normal_problem(f).evaluate(np.ones((2, 3, 2)))


def test_item1_user_control_variate_gets_read_only_samples():
    def h(x):
        x += 1.0
        return x.sum(-1)

    prob = _normal_problem(lambda x: (x**2).sum(-1))
    cv = vt.optimal_cv(vt.function_features(h, 0.1), source="running")
    est = vt.make_estimator(vt.score_function, cv)
    with pytest.raises(ValueError, match="must not modify its input x"):
        est(prob, 4, rng=np.random.default_rng(0), reps=(2,))


# -------------------------------------------- item 5: complex f, Normal shape mismatch


def test_item5_complex_f_is_a_named_error():
    prob = _normal_problem(lambda x: (x + 1j).sum(-1))
    with pytest.raises(TypeError, match="f of problem 'n2' returned complex values"):
        prob.evaluate(np.ones((2, 3, 2)))


@pytest.mark.parametrize(
    ("loc", "scale"),
    [((3,), (3, 1)), (np.zeros(3), np.ones((3, 1))), ([[0.0, 1.0]], [1.0, 2.0])],
)
def test_item5_normal_loc_scale_shapes_must_match(loc, scale):
    with pytest.raises(ValueError, match="loc and scale must have the same shape"):
        vt.Normal(loc=loc, scale=scale)


def test_item5_normal_scalar_broadcasts_and_equal_shapes_pass():
    assert vt.Normal(np.zeros(3), 2.0).n_params == 6
    assert vt.Normal(0.0, np.ones(2)).param_names == ("loc[0]", "loc[1]", "scale[0]", "scale[1]")
    assert vt.Normal(np.zeros((2, 2)), np.ones((2, 2))).n_params == 8


# ------------------------------------------------------- item 10: non-vectorised f


def test_item10_non_vectorised_f_says_what_vectorised_means():
    import math

    prob = _normal_problem(lambda x: math.cos(x[0]))
    with pytest.raises(TypeError, match=r"not vectorised.*\(\*R, n, \*event\).*\(\*R, n\)"):
        vt.score_function(prob, 4, rng=np.random.default_rng(0), reps=(3,))

    def branchy(x):
        return 1.0 if x[..., 0] > 0 else 0.0

    with pytest.raises(ValueError, match=r"not vectorised.*np\.cos\(x\[\.\.\., 0\]\)"):
        _normal_problem(branchy).evaluate(np.ones((2, 3, 2)))


def test_item10_wrong_shape_error_shows_an_example():
    prob = _normal_problem(lambda x: x.sum())
    with pytest.raises(ValueError, match=r"returned shape \(\).*f must be vectorised"):
        prob.evaluate(np.ones((2, 3, 2)))


# -------------------------------------------------------------- item 8: the CLI


def _compare(*extra):
    return ["compare", "--estimators", "sf", "--n", "2", "--reps", "100", *extra]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--problem", "liu_toy", "--param", "eta=abc"], "eta must be a finite number"),
        (["--problem", "liu_toy", "--param", "eta=nan"], "eta must be a finite number"),
        (["--problem", "liu_toy", "--param", "eta=inf"], "eta must be a finite number"),
        (
            ["--problem", "liu_toy", "--param", "etta=1"],
            r"no parameter 'etta'; its parameters are \['eta'\]; did you mean 'eta'\?",
        ),
        (
            ["--problem", "gaussian_cost", "--param", "kk=2"],
            r"its parameters are \['cost', 'k', 'loc', 'scale'\]; did you mean 'k'\?",
        ),
        (["--problem", "cat_table", "--param", "n_vars=0"], "n_vars must be an integer >= 1"),
        (["--problem", "cat_table", "--param", "n_vars=-1"], "n_vars must be an integer >= 1"),
        (["--problem", "cat_table", "--param", "n_vars=2.5"], "n_vars must be an integer"),
        (["--problem", "cat_table", "--param", "seed=abc"], "seed must be an integer"),
        (["--problem", "cat_table", "--param", "seed=-1"], "seed must be an integer >= 0"),
        (
            ["--problem", "liu_toy", "--param", "eta=1", "--param", "eta=2"],
            r"--param eta is given twice \(eta=1 and eta=2\)",
        ),
    ],
)
def test_item8_bad_params_are_named(capsys, argv, message):
    assert main(_compare(*argv)) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --param") or err.startswith("error: setting")
    assert "Traceback" not in err
    import re

    assert re.search(message, err), err


def test_item8_good_params_still_work(capsys):
    assert main(_compare("--problem", "cat_table", "--param", "n_vars=2", "--coords", "0")) == 0
    assert main(_compare("--problem", "gaussian_cost", "--param", "cost=square")) == 0
    assert "gauss_square" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "demo_liu", "--max-cells", "-1"],
        ["run", "demo_liu", "--workers", "0"],
        ["run", "demo_liu", "--seed", "-3"],
        _compare("--problem", "liu_toy", "--n", "0"),
        _compare("--problem", "liu_toy", "--seed", "x"),
        ["compare", "--problem", "liu_toy", "--estimators", "sf", "--reps", "1"],
    ],
)
def test_item8_bad_numeric_options_are_usage_errors(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "must be an integer >=" in capsys.readouterr().err


def test_item8_compare_csv_into_an_unwritable_place(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    target = blocker / "table.csv"  # a directory that is a file: never writable
    assert main(_compare("--problem", "liu_toy", "--csv", str(target))) == 1
    err = capsys.readouterr().err
    assert f"error: --csv {target}: cannot write the table" in err
    assert "writable directory" in err


def test_item8_plot_into_an_unwritable_place(monkeypatch, capsys, tmp_path):
    from vartools.cli import commands

    def refuse(name, args):
        raise PermissionError(13, "Permission denied", str(tmp_path / name / "figures"))

    monkeypatch.setattr(commands, "_plot_one", refuse)
    assert main(["plot", "demo_liu"]) == 1
    err = capsys.readouterr().err
    assert "cannot write the figures of 'demo_liu'" in err
    assert "Permission denied" in err and "--out DIR" in err


def test_item8_broken_pipe_exits_quietly():
    # about 160 kB of table: more than a pipe's buffer, so head closes it mid-write
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = (
        f"'{sys.executable}' -m vartools.cli.main compare --problem bern200 --estimators sf "
        "sf+loo --n 2 4 8 16 --reps 100 --coords -1 | head -n 2 > /dev/null; "
        "echo ${PIPESTATUS[0]}"
    )
    proc = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=300)
    assert proc.stderr == ""
    assert proc.stdout.strip() == "141"


def test_item8_list_wraps_at_words_and_names_samplers_and_sas(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "samplers (after @): antithetic, iid, sobol, stratified" in out
    assert "sas<k>" in out
    assert "mvd_uncoupled" in out
    from vartools.harness.loading import default_experiments_dir, discover

    found, _ = discover(default_experiments_dir())
    words = set(out.split())
    for exp in found.values():  # every word of every summary is printed whole
        assert set(exp.summary_line.split()) <= words, exp.name


# ------------------------------------------------------------- item 9: file modes


def test_item9_result_files_respect_the_umask(tmp_path, monkeypatch):
    import pandas as pd

    from vartools.harness import storage

    monkeypatch.setattr(storage, "validate", lambda df, schema: None)  # any table will do
    old = os.umask(0o027)
    try:
        assert default_file_mode() == 0o640
        atomic_write_text(tmp_path / "a.txt", "x")
        write_json(tmp_path / "meta.json", {"a": 1})
        write_cell(tmp_path / "cell.bin", {"x": np.zeros(2)}, {"k": 1}, fsync=False)
        write_table(tmp_path / "summary.csv", pd.DataFrame({"a": [1.0]}), TRAINING)
        for name in ["a.txt", "meta.json", "cell.bin", "summary.csv"]:
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
        os.umask(0o022)
        write_json(tmp_path / "meta.json", {"a": 2})  # a rewrite gets the new umask's mode
        assert stat.S_IMODE((tmp_path / "meta.json").stat().st_mode) == 0o644
    finally:
        os.umask(old)


# -------------------------------------------------------- item 15: smaller gaps


def test_item15_delta_expansion_value_and_expectation_are_public():
    from vartools.control_variates.delta import delta_expansion

    w = np.array([0.5, 2.0])
    f = Objective(lambda x: np.exp(x @ w), lambda x: np.exp(x @ w)[..., None] * w)
    prob = vt.Problem("exp", vt.Normal(np.array([0.1, -0.3]), np.array([0.4, 0.2])), f)
    for kw, full in (({}, False), ({"hessian": "fd"}, True)):
        t = delta_expansion(prob, **kw)
        assert t.full is full
        x = prob.dist.loc[None, None]
        assert t.value(x)[0, 0] == pytest.approx(float(f(x)[0, 0]), rel=1e-14)  # f~(mu) = f(mu)
        f0 = float(f(x)[0, 0])
        h_diag = w**2 * float(f(x)[0, 0])  # the exact Hessian's diagonal
        sd2 = prob.dist.scale**2
        assert t.expectation() == pytest.approx(f0 + 0.5 * float((h_diag * sd2).sum()), rel=1e-6)
        g = t.grad_expectation()
        np.testing.assert_allclose(g[:2], w * f0, rtol=1e-12)
        np.testing.assert_allclose(g[2:], h_diag * prob.dist.scale, rtol=1e-6)


def test_item15_delta_method_coef_and_fixed_source():
    prob = _normal_problem(
        lambda x: np.sin(x.sum(-1)), lambda x: np.cos(x.sum(-1))[..., None] + 0 * x
    )
    for cv in (vt.delta_method(2, "fixed"), vt.delta_method(2, "fixed", coef=1.0)):
        assert cv.name == "cv[delta2](fixed)"
        est = vt.make_estimator(vt.score_function, cv)
        b, _ = est.batch(prob, 4, rng=np.random.default_rng(0), reps=(3,))
        np.testing.assert_array_equal(b.info["coef:cv[delta2](fixed)"], np.ones(4))
    half = vt.make_estimator(vt.score_function, vt.delta_method(2, "fixed", coef=0.5))
    b, _ = half.batch(prob, 4, rng=np.random.default_rng(0), reps=(3,))
    np.testing.assert_array_equal(b.info["coef:cv[delta2](fixed)"], np.full(4, 0.5))
    with pytest.raises(ValueError, match="coef is only used with source='fixed'"):
        vt.delta_method(2, "running", coef=1.0)
    with pytest.raises(ValueError, match="hessian= and hvp= need order=2"):
        vt.delta_method(1, hessian="fd")
    with pytest.raises(ValueError, match="not both"):
        vt.delta_method(2, hessian="fd", hvp=lambda x, v: v)


def test_item15_ema_baseline_schedules():
    prob = vt.Problem("b", vt.Bernoulli(np.array([0.0])), lambda b: 3.0 + b[..., 0])
    batch = vt.score_function.from_samples(prob, np.ones((1, 4, 1)))

    def run(cv, steps=3):
        state, seen = cv.init(prob), []
        for _ in range(steps):
            out, state = cv.apply(batch, state, prob)
            seen.append(out.info["baseline"])
        return seen, state

    # f = 4 on every sample: debiased EMAs are exactly 4 from the second batch on
    seen, _ = run(vt.ema_baseline(0.9))
    assert seen == [0.0, pytest.approx(4.0), pytest.approx(4.0)]
    seen, state = run(vt.ema_baseline(0.9, ramp=True))
    assert seen == [0.0, pytest.approx(4.0), pytest.approx(4.0)]
    assert state[2] == pytest.approx(0.1 * (2 / 11) * (3 / 12))  # prod of min(0.9, (1+t)/(10+t))
    raw, _ = run(vt.ema_baseline(0.9, debias=False))
    assert raw == [0.0, pytest.approx(0.4), pytest.approx(0.76)]
    raw_ramp, _ = run(vt.ema_baseline(0.9, ramp=True, debias=False))
    assert raw_ramp == [0.0, pytest.approx(3.6), pytest.approx(4.0 - 0.4 * 2 / 11)]
    with pytest.raises(TypeError, match="ramp must be True or False"):
        vt.ema_baseline(0.9, ramp=1)


# ------------------------------------------------ item 12: the paper's Makefile


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_item12_paper_makefile_uses_the_active_virtual_environment(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    env = {k: v for k, v in os.environ.items() if k != "PYTHON"}
    env["VIRTUAL_ENV"] = str(venv)
    out = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT / "paper"), "assets"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert f"{venv}/bin/python fig_" in out
    env["PYTHON"] = "/opt/py/bin/python"  # an explicit choice wins
    out = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT / "paper"), "assets"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "/opt/py/bin/python fig_" in out


@pytest.mark.slow  # the quadrature takes minutes to give up
def test_item7_a_failing_oracle_gives_nan_and_a_warning_never_an_abort():
    """Normal(loc=1e6) with a cos objective: the quadrature cannot converge (before: the
    whole measure_variance call died with "quadrature did not converge")."""
    from vartools.core.errors import NoOracleError, OracleFailedError, OracleWarning
    from vartools.core.objectives import cosine
    from vartools.oracles.exact import exact_gradient

    prob = vt.Problem("far", vt.Normal(np.array([1e6]), np.array([1.0])), cosine(3.0))
    with pytest.raises(OracleFailedError, match="did not converge"):
        exact_gradient(prob)
    assert issubclass(OracleFailedError, NoOracleError)
    sf = vt.make_estimator(vt.score_function)
    with pytest.warns(OracleWarning, match="did not converge") as rec:
        table = vt.measure_variance(prob, [sf], n_samples=[4], n_reps=200, seed=0)
    assert any("exact gradient of problem 'far'" in str(w.message) for w in rec)
    assert any("exact variance of 'sf'" in str(w.message) for w in rec)
    assert table["truth"].isna().all() and table["exact_variance"].isna().all()
    assert np.isfinite(table["variance"]).all()  # the measurement itself is complete


def test_item7_an_oracle_failure_is_nan_with_a_warning(monkeypatch):
    """The same handling, fast: an oracle raising OracleFailedError gives NaN and a warning."""
    from vartools.core.errors import OracleFailedError, OracleWarning
    from vartools.oracles import exact as exact_mod

    def fail(*args, **kwargs):
        raise OracleFailedError("quadrature did not converge (simulated)")

    monkeypatch.setattr(exact_mod, "exact_gradient", fail)
    monkeypatch.setattr(exact_mod, "exact_moments", fail)
    prob = vt.Problem("bern", vt.Bernoulli(np.array([0.3, -0.2])), lambda b: b.prod(-1))
    sf = vt.make_estimator(vt.score_function)
    with pytest.warns(OracleWarning, match="simulated"):
        table = vt.measure_variance(prob, [sf], n_samples=[4], n_reps=200, seed=0)
    assert table["truth"].isna().all() and table["exact_variance"].isna().all()
    assert np.isfinite(table["variance"]).all()
