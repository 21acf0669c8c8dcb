"""The ``vartools`` command line (run in-process through ``main(argv)``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vartools as vt
from vartools.catalogue.registry import get_estimator
from vartools.cli.main import main

TINY = """
from vartools.harness.experiment import Experiment, Scale

EXPERIMENT = Experiment(
    name="tiny",
    description="tiny sweep over eta for the CLI tests",
    problem="liu_toy",
    points=[{"eta": 0.0}, {"eta": -1.0}],
    estimators=["sf", "sf+loo"],
    n_samples=[2],
    n_reps=400,
    quick=Scale(n_reps=200),
)
"""

TINY_TRAJ = """
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.core.optim import adam

EXPERIMENT = Experiment(
    name="tiny_traj",
    description="tiny trajectory for the CLI tests",
    problem="rebar_toy",
    estimators=["sf", "sf+loo"],
    n_samples=[2],
    n_reps=100,
    trajectory=Trajectory(estimator="sf", n=1, optimizer=adam(0.05), steps=40, every=10,
                          ema_decay=0.9),
)
"""


@pytest.fixture
def exps(tmp_path: Path) -> Path:
    d = tmp_path / "exps"
    d.mkdir()
    (d / "tiny.py").write_text(textwrap.dedent(TINY))
    (d / "tiny_traj.py").write_text(textwrap.dedent(TINY_TRAJ))
    return d


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"vartools {vt.__version__}"


@pytest.mark.parametrize("cmd", ["demo", "list", "run", "compare", "plot", "reproduce"])
def test_every_command_has_help_with_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and f"vartools {cmd}" in out


def test_demo_prints_the_issue_two_comparison(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    lines = [ln.split() for ln in out.splitlines()]
    rows = [ln for ln in lines if ln and ln[0] in ("sf", "sf+loo") and len(ln) > 3]
    # per estimator and n in {2, 16}: three aggregates and three coordinates
    assert len(rows) == 2 * 2 * 6
    assert {r[1] for r in rows} == {"2", "16"}
    # the printed variance is measure_variance's, rounded to 4 significant digits
    t = vt.measure_variance(
        vt.make_problem("bern200"),
        [get_estimator("sf"), get_estimator("sf+loo")],
        n_samples=[2, 16],
        n_reps=2000,
        seed=0,
    )
    want = t.query("estimator == 'sf+loo' and n == 16 and coordinate == '(mean)'")["variance"]
    got = [r for r in rows if r[:3] == ["sf+loo", "16", "(mean)"]][0][3]
    assert float(got) == float(f"{want.item():.4g}")


def test_list_shows_experiments_settings_estimators(exps, capsys):
    assert main(["--experiments", str(exps), "list"]) == 0
    out = capsys.readouterr().out
    for word in ("tiny", "tiny_traj", "liu_toy", "bern200", "sf+loo", "pathwise", "loo"):
        assert word in out


def test_run_then_plot_writes_tables_meta_and_figures(exps, tmp_path, capsys):
    out = tmp_path / "res"
    argv = [
        "--experiments",
        str(exps),
        "run",
        "tiny",
        "tiny_traj",
        "--out",
        str(out),
        "--no-progress",
        "--seed",
        "3",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "done" in text and "tiny_traj" in text
    s = pd.read_csv(out / "tiny" / "summary.csv")
    assert set(s["at_eta"]) == {0.0, -1.0} and set(s["n_reps"]) == {200}
    meta = json.loads((out / "tiny" / "meta.json").read_text())
    assert meta["seed"] == 3 and meta["command"]
    assert (out / "tiny_traj" / "training.csv").exists()
    assert main(["--experiments", str(exps), "plot", "tiny", "--out", str(out)]) == 0
    files = capsys.readouterr().out.split()
    assert [Path(f).name for f in files] == ["variance_mean.png", "variance_mean.pdf"]
    for f in files:
        assert Path(f).stat().st_size > 1000
    # a second run reuses every cell
    assert main(argv) == 0
    assert " 0 " in capsys.readouterr().out  # computed column


def test_unknown_names_fail_with_the_nearest_valid_name(exps, tmp_path, capsys):
    assert main(["--experiments", str(exps), "run", "tinny", "--out", str(tmp_path)]) == 1
    assert "did you mean 'tiny'" in capsys.readouterr().err
    assert main(["compare", "--problem", "liu_tyo", "--estimators", "sf"]) == 1
    assert "did you mean 'liu_toy'" in capsys.readouterr().err
    assert main(["compare", "--problem", "liu_toy", "--estimators", "sf+lo"]) == 1
    assert "'loo'" in capsys.readouterr().err
    assert main(["--experiments", str(exps), "plot", "tiny", "--out", str(tmp_path)]) == 1
    assert "vartools run tiny" in capsys.readouterr().err


def test_compare_prints_a_paired_table(capsys, tmp_path):
    csv = tmp_path / "t.csv"
    argv = [
        "compare",
        "--problem",
        "liu_toy",
        "--param",
        "eta=-4",
        "--estimators",
        "sf",
        "sf+loo",
        "--n",
        "4",
        "--reps",
        "500",
        "--csv",
        str(csv),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "liu_toy(eta=-4)" in out and "(mean)" in out
    t = pd.read_csv(csv)
    want = vt.measure_variance(
        vt.make_problem("liu_toy", eta=-4),
        [get_estimator("sf"), get_estimator("sf+loo")],
        n_samples=[4],
        n_reps=500,
        seed=0,
    )
    np.testing.assert_array_equal(t["variance"], want["variance"])


def test_compare_at_equal_evaluations(capsys, tmp_path):
    csv = tmp_path / "t.csv"
    assert (
        main(
            [
                "compare",
                "--problem",
                "liu_toy",
                "--estimators",
                "sf",
                "sf+loo",
                "--n",
                "1",
                "4",
                "--reps",
                "300",
                "--equal-evals",
                "--csv",
                str(csv),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "sf+loo needs more than 1 evaluations" in captured.err
    t = pd.read_csv(csv)
    assert (t["n_evals"] <= t["budget"]).all()
    assert set(t.query("budget == 4")["estimator"]) == {"sf", "sf+loo"}


def test_bad_param_syntax_is_a_clear_error(capsys):
    assert main(["compare", "--problem", "liu_toy", "--param", "eta", "--estimators", "sf"]) == 1
    assert "NAME=VALUE" in capsys.readouterr().err


def test_reproduce_runs_everything_then_plots(exps, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["--experiments", str(exps), "reproduce", "--out", str(out), "--no-progress"]) == 0
    assert (out / "tiny" / "figures" / "variance_mean.pdf").exists()
    assert (out / "tiny_traj" / "figures" / "training_mean.png").exists()
    broken = tmp_path / "broken_exps"
    broken.mkdir()
    (broken / "broken.py").write_text("raise ImportError('half written')\n")
    assert (
        main(["--experiments", str(broken), "reproduce", "--out", str(out), "--no-progress"]) == 1
    )
    assert "half written" in capsys.readouterr().err
    assert main(["--experiments", str(broken), "list", "--strict"]) == 1


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "vartools"
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("vartools ")
