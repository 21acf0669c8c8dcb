"""Experiment declarations, the experiment and estimator registries, the optimisers."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

import vartools as vt
from vartools.catalogue.registry import ESTIMATORS, get_estimator, register_estimator
from vartools.core import optim
from vartools.harness.experiment import Experiment, Scale, Trajectory
from vartools.harness.fingerprint import stable_description
from vartools.harness.layout import Layout
from vartools.harness.loading import (
    discover,
    experiment_hooks,
    experiment_names,
    load_experiment,
)
from vartools.harness.plot_spec import Plot
from vartools.plots.figures import sweep_key


def _exp(**kw):
    base = dict(
        name="e", description="d", problem="liu_toy", estimators=["sf"], n_samples=[2], n_reps=100
    )
    return Experiment(**{**base, **kw})


def test_at_scale_applies_the_quick_overrides():
    e = _exp(
        points=[{"eta": 0.0}, {"eta": 1.0}],
        n_samples=[2, 4],
        quick=Scale(n_reps=10, n_samples=[2], points=[{"eta": 0.5}]),
    )
    q = e.at_scale("quick")
    assert (q.n_reps, q.n_samples, q.points, q.scale) == (10, (2,), ({"eta": 0.5},), "quick")
    assert e.at_scale("full") is e and q.at_scale("quick") is q
    assert q.at_scale("full").n_reps == 10  # the scale label only; overrides stay applied
    with pytest.raises(ValueError, match="'quick' or 'full'"):
        e.at_scale("medium")


def test_trajectory_checkpoints_and_quick_steps():
    t = Trajectory(estimator="sf", n=1, optimizer=optim.adam(0.1), steps=25, every=10)
    assert t.checkpoints() == (0, 10, 20, 25)
    e = _exp(trajectory=t, quick=Scale(steps=4, every=2))
    assert e.kind == "trajectory" and e.at_scale("quick").trajectory.checkpoints() == (0, 2, 4)
    with pytest.raises(TypeError, match="Optimizer"):
        Trajectory(estimator="sf", n=1, optimizer="adam", steps=2, every=1)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"name": "bad name"}, "identifier"),
        ({"problem": "liu_tyo"}, "did you mean 'liu_toy'"),
        ({"estimators": []}, "estimators must not be empty"),
        ({"n_reps": 1}, "n_reps"),
        ({"n_samples": [0]}, "n_samples"),
        ({"points": []}, "at least one point"),
    ],
)
def test_invalid_declarations_are_refused(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _exp(**kw)


def test_build_problems_estimators_and_point_columns():
    e = _exp(points=[{"eta": -4.0}], estimators=["sf", "sf+loo"], reference="sf+loo")
    assert e.build_problem(0).name == "liu_toy(eta=-4)"
    assert [x.name for x in e.build_estimators()] == ["sf", "sf+loo"]
    assert e.point_columns(0) == {"at_eta": -4.0}
    with pytest.raises(ValueError, match="unique"):
        _exp(estimators=["sf", "sf"]).build_estimators()
    with pytest.raises(ValueError, match="reference"):
        _exp(reference="pathwise").build_estimators()


def test_sweep_key_defaults():
    assert sweep_key(_exp()) == "n"
    assert sweep_key(_exp(points=[{"eta": 0.0}, {"eta": 1.0}])) == "eta"
    assert sweep_key(_exp(plot=Plot(x="n_evals"))) == "n_evals"
    traj = Trajectory(estimator="sf", n=1, optimizer=optim.adam(0.1), steps=2, every=1)
    assert sweep_key(_exp(trajectory=traj)) == "step"


def test_layout_and_plot_are_separate_from_what_is_measured():
    """Cell layout and plot spec are their own frozen values, validated where declared."""
    e = _exp(layout=Layout(block_size=64, blocks_per_cell=3), plot=Plot(log_x=True))
    assert (e.layout.block_size, e.layout.blocks_per_cell, e.layout.checkpoints_per_cell) == (
        64,
        3,
        10,
    )
    assert e.plot == Plot(x=None, log_x=True, log_y=True)
    assert e.at_scale("quick").layout == e.layout
    with pytest.raises(ValueError, match="Layout blocks_per_cell"):
        Layout(blocks_per_cell=0)
    with pytest.raises(TypeError, match="layout must be a Layout"):
        _exp(layout={"block_size": 64})
    with pytest.raises(TypeError, match="plot must be a Plot"):
        _exp(plot="k")
    with pytest.raises(TypeError, match="block_size"):
        _exp(block_size=64)  # the layout is not a field of what is measured


def test_stable_description_has_no_addresses_and_tracks_changes():
    e = _exp(
        problem=lambda eta: vt.make_problem("liu_toy", eta=eta),
        points=[{"eta": 0.0}],
        estimators=[vt.make_estimator(vt.score_function)],
    )
    text = json.dumps(stable_description(e))
    assert "0x" not in text and "test_experiment" in text
    assert stable_description(e) == stable_description(
        _exp(
            problem=lambda eta: vt.make_problem("liu_toy", eta=eta),
            points=[{"eta": 0.0}],
            estimators=[vt.make_estimator(vt.score_function)],
        )
    )
    assert stable_description(e) != stable_description(
        _exp(problem=e.problem, points=[{"eta": 0.5}], estimators=e.estimators)
    )


def test_registry_finds_names_and_reports_broken_files(tmp_path):
    (tmp_path / "good_one.py").write_text(
        textwrap.dedent("""
        from vartools.harness.experiment import Experiment
        EXPERIMENT = Experiment(name="good_one", description="ok", problem="liu_toy",
                                estimators=["sf"], n_samples=[2], n_reps=10)
    """)
    )
    (tmp_path / "wrong_name.py").write_text(
        textwrap.dedent("""
        from vartools.harness.experiment import Experiment
        EXPERIMENT = Experiment(name="other", description="x", problem="liu_toy",
                                estimators=["sf"], n_samples=[2], n_reps=10)
    """)
    )
    (tmp_path / "broken.py").write_text("raise RuntimeError('half written')\n")
    (tmp_path / "_helper.py").write_text("X = 1\n")
    assert experiment_names(tmp_path) == ["broken", "good_one", "wrong_name"]
    found, errors = discover(tmp_path)
    assert list(found) == ["good_one"]
    assert "half written" in errors["broken"] and "stem" in errors["wrong_name"]
    with pytest.raises(ValueError, match="did you mean 'good_one'"):
        load_experiment("good_on", tmp_path)


PACKAGE_INIT = """
from vartools.harness.experiment import Experiment
from .oracles import exact_table
EXPERIMENT = Experiment(name="{name}", description="a package", problem="liu_toy",
                        estimators=["sf"], n_samples=[2], n_reps=10)
"""


def _package(root, name, *, figures=True):
    d = root / name
    d.mkdir()
    (d / "__init__.py").write_text(PACKAGE_INIT.format(name=name))
    (d / "oracles.py").write_text("def exact_table(scale):\n    return scale\n")
    if figures:
        (d / "figures.py").write_text("def figures(summary, extra, out_dir):\n    return []\n")
    return d


@pytest.mark.parametrize("as_package", [False, True])
def test_package_experiments_are_found_with_their_hooks(tmp_path, as_package):
    """An experiment package is found beside single files, in a plain directory or a package.

    Its relative imports work, ``exact_table`` comes from its namespace and ``figures`` from
    its ``figures.py``, which loading the experiment does not import.
    """
    root = tmp_path / "exps_pkg" if as_package else tmp_path / "exps_dir"
    root.mkdir()
    if as_package:
        (root / "__init__.py").write_text("")
    (root / "single.py").write_text(
        PACKAGE_INIT.format(name="single").replace("from .oracles import exact_table\n", "")
    )
    _package(root, "packed")
    _package(root, "plain", figures=False)
    (root / "_private").mkdir()
    (root / "_private" / "__init__.py").write_text("X = 1\n")
    assert experiment_names(root) == ["packed", "plain", "single"]
    exp = load_experiment("packed", root)
    assert exp.name == "packed"
    figures_file = str(root / "packed" / "figures.py")
    loaded = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == figures_file]
    assert loaded == []  # figure code is not imported to load (or run) the experiment
    hooks = experiment_hooks("packed", root)
    assert hooks.exact_table is not None and hooks.exact_table("quick") == "quick"
    assert hooks.figures is not None and hooks.figures(None, {}, tmp_path) == []
    assert hooks.tables is None
    plain = experiment_hooks("plain", root)
    assert plain.exact_table is not None and plain.figures is None
    assert experiment_hooks("single", root) == (None, None, None)


def test_a_package_fingerprint_covers_its_modules_but_not_its_figures(tmp_path):
    """Editing oracles.py changes the cache key; editing figures.py (no number) does not."""
    from vartools.harness.fingerprint import fingerprint, read_sources

    d = _package(tmp_path, "keyed")
    exp = load_experiment("keyed", tmp_path)
    key = fingerprint(exp, read_sources(tmp_path, "keyed"))
    (d / "figures.py").write_text("def figures(summary, extra, out_dir):\n    return [1]\n")
    assert fingerprint(exp, read_sources(tmp_path, "keyed")) == key
    (d / "oracles.py").write_text("def exact_table(scale):\n    return 2 * scale\n")
    assert fingerprint(exp, read_sources(tmp_path, "keyed")) != key


def test_an_experiment_declared_twice_is_refused(tmp_path):
    _package(tmp_path, "twice")
    (tmp_path / "twice.py").write_text(PACKAGE_INIT.format(name="twice"))
    with pytest.raises(ValueError, match="declared twice.*keep one"):
        experiment_names(tmp_path)


def test_a_package_declaring_another_name_is_refused(tmp_path):
    d = _package(tmp_path, "mine")
    (d / "__init__.py").write_text(PACKAGE_INIT.format(name="theirs"))
    with pytest.raises(ValueError, match="mine/__init__.py declares name='theirs'"):
        load_experiment("mine", tmp_path)


def test_repository_experiments_load():
    found, errors = discover()
    assert {"demo_liu", "demo_rebar"} <= set(found)
    assert found["demo_rebar"].kind == "trajectory"


def test_estimator_registry_names_composition_and_errors():
    for name in ("sf", "sf+loo", "sf+ema", "pathwise", "sf+const+loo"):
        assert get_estimator(name).name == name
    assert get_estimator("sf+ema").stateful
    with pytest.raises(ValueError, match="did you mean 'loo'.*estimator: 'sf\\+loo'"):
        get_estimator("sf+lo")
    with pytest.raises(ValueError, match="did you mean 'sf'"):
        get_estimator("sff")
    register_estimator(
        "test_sf_named", lambda: vt.make_estimator(vt.score_function, name="test_sf_named")
    )
    try:
        assert get_estimator("test_sf_named").name == "test_sf_named"
    finally:
        del ESTIMATORS["test_sf_named"]


def test_optimisers_match_their_update_rules():
    g = np.array([0.5, -2.0])
    theta = np.array([1.0, 1.0])
    d, _ = optim.sgd(0.1).update(g, optim.sgd(0.1).init(theta), 0)
    np.testing.assert_array_equal(d, -0.1 * g)
    # Adam's first step is -lr * g / (|g| + eps) after bias correction
    a = optim.adam(0.1, eps=0.0)
    d, _ = a.update(g, a.init(theta), 0)
    np.testing.assert_allclose(d, -0.1 * np.sign(g), rtol=1e-15)
    r = optim.rmsprop(0.01, decay=0.9, eps=0.0)
    d, v = r.update(g, r.init(theta), 0)
    np.testing.assert_allclose(d, -0.01 * g / np.sqrt(0.1 * g * g), rtol=1e-15)
    sched = optim.cosine_decay(1.0, 10)
    assert sched(0) == 1.0 and abs(sched(10)) < 1e-15 and sched(5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="lr"):
        optim.sgd(-1.0)
