"""Issue 13 items 3 and 4: too few replicates are refused; a truncated summary.csv is an error.

- ``measure_variance`` (and ``compare --reps``) refuses n_reps below ``MIN_REPS`` with an
  error naming the argument, the value and the fix, unless ``allow_small_reps=True``
  (``--allow-small-reps``), which still warns.
- ``vartools plot`` and the paper's ``read`` compare a table with the row counts that
  meta.json records per (problem, n, estimator, step), and fail naming the missing rows;
  a meta.json written before that field existed is not checked (no false alarm).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import vartools as vt
from vartools.cli.main import main
from vartools.harness.storage import IncompleteTableError, check_complete, table_manifest
from vartools.measure.variance import MIN_REPS, SmallRepsWarning

TINY = """
from vartools.harness.experiment import Experiment

EXPERIMENT = Experiment(
    name="tiny",
    description="two points, two n, two estimators",
    problem="liu_toy",
    points=[{"eta": 0.0}, {"eta": -1.0}],
    estimators=["sf", "sf+loo"],
    n_samples=[2, 4],
    n_reps=200,
)
"""


# ------------------------------------------------------------------ item 3: small R


@pytest.mark.parametrize("reps", [2, 10, MIN_REPS - 1])
def test_too_few_replicates_are_a_named_error(reps):
    prob = vt.make_problem("liu_toy")
    est = vt.make_estimator(vt.score_function)
    with pytest.raises(ValueError, match=rf"n_reps={reps} is below {MIN_REPS}.*allow_small_reps"):
        vt.measure_variance(prob, est, n_samples=4, n_reps=reps, seed=0)


def test_small_replicates_allowed_explicitly_warn():
    prob = vt.make_problem("liu_toy")
    est = vt.make_estimator(vt.score_function)
    with pytest.warns(SmallRepsWarning, match="n_reps=10 is below"):
        t = vt.measure_variance(prob, est, n_samples=4, n_reps=10, seed=0, allow_small_reps=True)
    assert set(t["n_reps"]) == {10}
    t = vt.measure_variance(prob, est, n_samples=4, n_reps=MIN_REPS, seed=0)  # no warning
    assert set(t["n_reps"]) == {MIN_REPS}
    with pytest.raises(TypeError, match="allow_small_reps must be True or False"):
        vt.measure_variance(prob, est, n_samples=4, n_reps=10, seed=0, allow_small_reps="yes")


def test_compare_refuses_small_reps_unless_allowed(capsys):
    argv = ["compare", "--problem", "liu_toy", "--estimators", "sf", "--reps", "10"]
    assert main(argv) == 1
    assert "n_reps=10 is below" in capsys.readouterr().err
    with pytest.warns(SmallRepsWarning):
        assert main([*argv, "--allow-small-reps"]) == 0


def test_compare_runs_on_processes_with_the_serial_numbers(tmp_path):
    """In a fresh interpreter: once JAX is loaded (other tests), processes spawn instead
    of forking, and liu_toy's f (a closure) does not pickle."""
    base = ["compare", "--problem", "liu_toy", "--estimators", "sf", "sf+loo", "--n", "2", "4"]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for extra, path in (([], a), (["--executor", "processes", "--workers", "2"], b)):
        cmd = [sys.executable, "-m", "vartools.cli.main", *base, *extra, "--csv", str(path)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
    ta, tb = pd.read_csv(a), pd.read_csv(b)
    assert ta.drop(columns="time_per_estimate").equals(tb.drop(columns="time_per_estimate"))
    assert main([*base, "--workers", "2"]) == 1  # serial with 2 workers: a named error


# ----------------------------------------------------------- item 4: truncated tables


@pytest.fixture
def results(tmp_path: Path) -> tuple[Path, Path]:
    exps = tmp_path / "exps"
    exps.mkdir()
    (exps / "tiny.py").write_text(textwrap.dedent(TINY))
    out = tmp_path / "res"
    argv = ["--experiments", str(exps), "run", "tiny", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    return exps, out


def test_meta_json_records_the_rows_of_summary(results):
    _, out = results
    meta = json.loads((out / "tiny" / "meta.json").read_text())
    rec = meta["tables"]["summary.csv"]
    lines = (out / "tiny" / "summary.csv").read_text().splitlines()
    assert rec["rows"] == len(lines) - 1
    assert rec["columns"] == ["problem", "n", "estimator", "step"]
    assert len(rec["groups"]) == 2 * 2 * 2 and sum(g[-1] for g in rec["groups"]) == rec["rows"]


def test_plot_of_a_truncated_summary_fails_naming_the_missing_rows(results, capsys):
    exps, out = results
    path = out / "tiny" / "summary.csv"
    lines = path.read_text().splitlines(keepends=True)
    plot = ["--experiments", str(exps), "plot", "tiny", "--out", str(out)]
    assert main(plot) == 0
    capsys.readouterr()
    path.write_text("".join(lines[:-9]))  # cut at a line boundary: the last 9 rows
    assert main(plot) == 1
    err = capsys.readouterr().err
    assert f"has {len(lines) - 10} rows but its meta.json records {len(lines) - 1}" in err
    # 6 rows per group: the last group lost all of its rows, the one before it 3
    assert "problem='liu_toy(eta=-1)', n=4, estimator='sf+loo', step=0: 6 of 6 rows" in err
    assert "problem='liu_toy(eta=-1)', n=4, estimator='sf', step=0: 3 of 6 rows" in err
    assert "n=2" not in err


def test_an_older_meta_json_without_the_record_is_not_checked(results, capsys):
    exps, out = results
    meta_path = out / "tiny" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["tables"]
    meta_path.write_text(json.dumps(meta))
    plot = ["--experiments", str(exps), "plot", "tiny", "--out", str(out)]
    assert main(plot) == 0  # complete table, old meta.json: no false alarm
    path = out / "tiny" / "summary.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-9]))
    assert main(plot) == 0  # nothing to compare against: skipped, as before


def test_check_complete_names_a_group_missing_entirely_and_accepts_full_tables():
    t = vt.measure_variance(
        vt.make_problem("liu_toy"),
        [vt.make_estimator(vt.score_function)],
        n_samples=[2, 4],
        n_reps=MIN_REPS,
        seed=0,
    )
    t["step"] = 0
    rec = json.loads(json.dumps(table_manifest(t)))  # through JSON, as meta.json stores it
    check_complete(t, rec, "t.csv")
    with pytest.raises(IncompleteTableError, match=r"n=4, estimator='sf', step=0: 6 of 6 rows"):
        check_complete(t[t["n"] == 2], rec, "t.csv")
    check_complete(t.iloc[:3], None, "t.csv")  # no record: no check
