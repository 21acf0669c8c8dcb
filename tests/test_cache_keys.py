"""Cache keys that cannot lie: every input that defines a cell's numbers, and nothing else.

The scenarios of the architecture issue, each reproduced on the old code:

1. a Dask cluster that outlives a run computes the next run with the edited experiment
   (its workers had the old module cached);
2. an experiment file edited while a processes run starts is computed in its edited
   form but stored under the key of the original;
3. an edited helper module (a local module the experiment imports) leaves every cell
   reused;
4. the same experiments and results copied to another path are all recomputed
   (the key held absolute paths).

Plus the rules: which vartools sources are keyed, and a worker whose definition differs
from the task's refuses (``StaleDefinitionError``) and nothing is written.
"""

from __future__ import annotations

import shutil
import signal
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from vartools.harness import runner

TIMING = ["time_per_estimate"]

EXP = """
import numpy as np

import vartools as vt
from vartools.harness.experiment import Experiment
from vartools.harness.layout import Layout

TARGET = 0.45


def f(b):
    return ((b - TARGET) ** 2).sum(-1) + b[..., 0] * b[..., 1]


def problem(eta):
    return vt.Problem(f"quad(eta={eta:g})", vt.Bernoulli(np.array([eta, 0.3, -0.7])), f)


EXPERIMENT = Experiment(
    name="quad",
    description="a sweep whose f is defined in this file",
    problem=problem,
    points=[{"eta": 0.0}, {"eta": -1.0}],
    estimators=["sf", "sf+loo"],
    n_samples=[2, 4],
    n_reps=384,
    layout=Layout(block_size=64, blocks_per_cell=1),
)
"""


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.drop(columns=TIMING).reset_index(drop=True),
        b.drop(columns=TIMING).reset_index(drop=True),
        check_exact=True,
    )


def _differ(a: pd.DataFrame, b: pd.DataFrame) -> None:
    with pytest.raises(AssertionError):
        _same(a, b)


def _exp_dir(root: Path, files: dict[str, str], package: bool = True, name: str = "exps") -> Path:
    """A fresh experiments directory ``root/name`` (a package unless ``package=False``)."""
    d = root / name
    d.mkdir(parents=True)
    if package:
        (d / "__init__.py").write_text("")
    for name, text in files.items():
        (d / name).write_text(textwrap.dedent(text))
    return d


def _run(name, d, out, **kw):
    kw.setdefault("scale", "full")
    return runner.run_experiment(name, directory=d, out=out, progress=False, **kw)


def _reference(tmp_path: Path, tag: str, files: dict[str, str], package: str = ""):
    """The summary of a serial run in a directory of its own.

    The directory is a package named ``ref_<tag>`` (or ``package``), so that no module
    of the directory under test can be mistaken for it.
    """
    d = _exp_dir(tmp_path / f"ref_{tag}", files, name=package or f"ref_{tag}")
    return _run("quad", d, tmp_path / f"ref_{tag}" / "out").summary


# ------------------------------------------------------------------- scenario 2


def test_a_file_edited_after_launch_is_not_computed_under_the_original_key(tmp_path, monkeypatch):
    """Scenario 2: the source read at launch is the one computed and keyed."""
    edited = EXP.replace("TARGET = 0.45", "TARGET = 0.9")
    want = _reference(tmp_path, "orig", {"quad.py": EXP})
    _differ(want, _reference(tmp_path, "edited", {"quad.py": edited}))
    d = _exp_dir(tmp_path / "live", {"quad.py": EXP})
    real = runner._EXECUTE["processes"]

    def edit_then_run(tasks, workers, scheduler):
        # the driver has read and keyed the file; the workers start after this edit
        (d / "quad.py").write_text(textwrap.dedent(edited))
        yield from real(tasks, workers, scheduler)

    monkeypatch.setitem(runner._EXECUTE, "processes", edit_then_run)
    out = tmp_path / "out"
    first = _run("quad", d, out, executor="processes", workers=2)
    _same(first.summary, want)  # computed with the definition its key names
    monkeypatch.undo()
    (d / "quad.py").write_text(textwrap.dedent(EXP))  # restored
    again = _run("quad", d, out)
    assert again.cells_reused == again.cells_total == 24
    _same(again.summary, want)


# ------------------------------------------------------------------- scenario 3

HELPER_CONSTS = """
TARGET = 0.45
"""

HELPER = """
import numpy as np

import vartools as vt
from {consts} import TARGET


def f(b):
    return ((b - TARGET) ** 2).sum(-1) + b[..., 0] * b[..., 1]


def problem(eta):
    return vt.Problem(f"quad(eta={{eta:g}})", vt.Bernoulli(np.array([eta, 0.3, -0.7])), f)
"""

USES_HELPER = """
from vartools.harness.experiment import Experiment
from vartools.harness.layout import Layout
from {helper} import problem

EXPERIMENT = Experiment(
    name="quad",
    description="a sweep whose problem comes from a helper module beside it",
    problem=problem,
    points=[{{"eta": 0.0}}, {{"eta": -1.0}}],
    estimators=["sf", "sf+loo"],
    n_samples=[2, 4],
    n_reps=384,
    layout=Layout(block_size=64, blocks_per_cell=1),
)
"""

#: (helper import in the experiment, constants import in the helper)
IMPORT_STYLES = {
    "relative": (".helper", "._consts"),
    "absolute": ("exps.helper", "exps._consts"),
}


@pytest.mark.parametrize("style", sorted(IMPORT_STYLES))
def test_an_edited_helper_module_invalidates_the_cells(tmp_path, style):
    """Scenario 3: local modules the experiment imports (transitively) are keyed."""
    helper_imp, consts_imp = IMPORT_STYLES[style]
    files = {
        "quad.py": USES_HELPER.format(helper=helper_imp),
        "helper.py": HELPER.format(consts=consts_imp),
        "_consts.py": HELPER_CONSTS,
    }
    edited = {**files, "_consts.py": "TARGET = 0.9\n"}
    package = "exps" if style == "absolute" else ""  # absolute imports name the package
    want_old = _reference(tmp_path, "old", files, package)
    want_new = _reference(tmp_path, "new", edited, package)
    _differ(want_old, want_new)
    d = _exp_dir(tmp_path / "live", files)
    out = tmp_path / "out"
    first = _run("quad", d, out)
    _same(first.summary, want_old)
    (d / "_consts.py").write_text("TARGET = 0.9\n")  # a helper of the helper
    again = _run("quad", d, out)
    assert again.cells_reused == 0 and again.cells_computed == 24
    _same(again.summary, want_new)


def test_a_helper_beside_a_plain_directory_is_keyed(tmp_path):
    """Without __init__.py, ``import helper`` finds the module beside the experiment."""
    files = {
        "quad.py": USES_HELPER.format(helper="helper"),
        "helper.py": HELPER.format(consts="consts"),
        "consts.py": HELPER_CONSTS,
    }
    d = _exp_dir(tmp_path / "live", files, package=False)
    out = tmp_path / "out"
    first = _run("quad", d, out)
    (d / "consts.py").write_text("TARGET = 0.9\n")
    again = _run("quad", d, out)
    assert again.cells_reused == 0 and again.cells_computed == 24
    _differ(first.summary, again.summary)
    (d / "consts.py").write_text(textwrap.dedent(HELPER_CONSTS))
    back = _run("quad", d, out)
    assert back.cells_computed == 24  # the cells of the edited helper replaced them
    _same(back.summary, first.summary)


# ------------------------------------------------------------------- scenario 4


@pytest.mark.parametrize("package", [True, False], ids=["package", "plain"])
def test_a_moved_clone_reuses_every_cell(tmp_path, package):
    """The key holds no absolute path: a copy elsewhere reuses its cells."""
    files = {
        "quad.py": USES_HELPER.format(helper=".helper" if package else "helper"),
        "helper.py": HELPER.format(consts="._consts" if package else "_consts"),
        "_consts.py": HELPER_CONSTS,
    }
    d = _exp_dir(tmp_path / "here", files, package=package)
    first = _run("quad", d, tmp_path / "here" / "results")
    assert first.cells_computed == 24
    shutil.copytree(tmp_path / "here", tmp_path / "elsewhere" / "clone")
    moved = tmp_path / "elsewhere" / "clone"
    again = _run("quad", moved / "exps", moved / "results")
    assert again.cells_reused == 24 and again.cells_computed == 0
    _same(again.summary, first.summary)


# ------------------------------------------------------------------- scenario 1


@pytest.fixture(scope="module")
def dask_cluster():
    """A local Dask cluster of two worker processes that outlives the runs of a test."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster


class _Alarm:
    """A hang fails the test instead of blocking the suite."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        def hung(signum, frame):
            raise TimeoutError(f"the Dask test took more than {self.seconds} s")

        self.previous = signal.signal(signal.SIGALRM, hung)
        signal.alarm(self.seconds)

    def __exit__(self, *exc) -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.previous)


@pytest.mark.slow  # about 15 s on the shared 2-core machine
def test_a_persistent_dask_cluster_computes_the_edited_experiment(tmp_path, dask_cluster):
    """Scenario 1: workers that live across runs load the definition the task names."""
    edited = EXP.replace('"eta": 0.0', '"eta": 1.0')
    want_old = _reference(tmp_path, "old", {"quad.py": EXP})
    want_new = _reference(tmp_path, "new", {"quad.py": edited})
    _differ(want_old, want_new)
    d = _exp_dir(tmp_path / "live", {"quad.py": EXP})
    with _Alarm(240):
        addr = dask_cluster.scheduler_address
        first = _run("quad", d, tmp_path / "a", executor="dask", scheduler=addr)
        _same(first.summary, want_old)
        (d / "quad.py").write_text(textwrap.dedent(edited))
        second = _run("quad", d, tmp_path / "b", executor="dask", scheduler=addr)
        _same(second.summary, want_new)


@pytest.mark.slow
def test_a_dask_worker_with_other_vartools_sources_refuses(tmp_path, dask_cluster):
    """A worker whose vartools differs from the driver's raises; no cell is written."""
    from vartools.harness.fingerprint import StaleDefinitionError

    d = _exp_dir(tmp_path / "live", {"quad.py": EXP})
    with _Alarm(240), dask_cluster.get_client() as client:
        addr = dask_cluster.scheduler_address
        _run("quad", d, tmp_path / "a", executor="dask", scheduler=addr)

        def other_vartools() -> None:  # as workers started from another checkout
            from vartools.harness import compute, fingerprint

            fingerprint._VARTOOLS[None] = "0" * 64
            compute._BUILT.clear()  # ... that have not built this definition yet

        client.run(other_vartools)
        out = tmp_path / "b"
        with pytest.raises(StaleDefinitionError, match="the vartools sources \\("):
            _run("quad", d, out, executor="dask", scheduler=addr)
        assert not list(out.rglob("*.cell"))


# ------------------------------------------------------------------ worker check


def test_a_worker_refuses_a_task_of_another_definition(tmp_path, monkeypatch):
    from vartools.harness import fingerprint

    d = _exp_dir(tmp_path / "live", {"quad.py": EXP})
    real = runner._EXECUTE["serial"]

    def other_vartools(tasks, workers, scheduler):
        # the driver keyed the tasks; this worker has other vartools sources loaded
        monkeypatch.setattr(fingerprint, "_VARTOOLS", {None: "f" * 64})
        yield from real(tasks, workers, scheduler)

    monkeypatch.setitem(runner._EXECUTE, "serial", other_vartools)
    out = tmp_path / "out"
    with pytest.raises(fingerprint.StaleDefinitionError) as err:
        _run("quad", d, out)
    msg = str(err.value)
    assert "the vartools sources (" in msg and "restart the workers" in msg
    assert "experiment's sources (" not in msg
    assert not list(out.rglob("*.cell"))


class _Captured(Exception):
    pass


def test_compute_cell_checks_every_part_of_the_key(tmp_path, monkeypatch):
    from vartools.harness.compute import compute_cell
    from vartools.harness.fingerprint import StaleDefinitionError

    d = _exp_dir(tmp_path / "live", {"quad.py": EXP})
    seen: list = []

    def capture(tasks, workers, scheduler):
        seen.extend(tasks)
        raise _Captured
        yield

    monkeypatch.setitem(runner._EXECUTE, "serial", capture)
    with pytest.raises(_Captured):
        _run("quad", d, tmp_path / "out")
    monkeypatch.undo()
    task = seen[0]
    compute_cell(task)  # the task as the driver made it computes
    parts = task.parts
    whats = [
        "the experiment's definition (",
        "the experiment's sources (",
        "the vartools sources (",
    ]
    for i, what in enumerate(whats):
        wrong = parts[:i] + ("0" * 64,) + parts[i + 1 :]
        with pytest.raises(StaleDefinitionError) as err:
            compute_cell(task._replace(parts=wrong))
        assert [w in str(err.value) for w in whats] == [w == what for w in whats]
    sources = dict(task.sources.files)
    sources["quad.py"] = sources["quad.py"].replace("TARGET = 0.45", "TARGET = 0.5")
    forged = task.sources._replace(files=tuple(sorted(sources.items())))
    with pytest.raises(StaleDefinitionError, match="the experiment's sources \\(") as err:
        compute_cell(task._replace(sources=forged))
    assert "vartools sources (" not in str(err.value)


# ------------------------------------------------------------------ what is keyed


def test_vartools_sources_are_keyed_by_relative_path_and_only_computational_layers(tmp_path):
    from vartools.harness import fingerprint

    pkg = Path(fingerprint.__file__).resolve().parent.parent
    files = fingerprint.vartools_files(pkg)
    assert files and all(not Path(f).is_absolute() for f in files)
    layers = {f.split("/")[0] for f in files}
    assert {"core", "distributions", "estimators", "oracles", "measure"} <= layers
    assert not layers & {"cli", "plots"}
    assert {"harness/compute.py", "harness/cells.py", "harness/experiment.py"} <= set(files)
    assert "harness/runner.py" not in files and "__init__.py" not in files
    copy = tmp_path / "clone" / "vartools"
    shutil.copytree(pkg, copy, ignore=shutil.ignore_patterns("__pycache__"))
    digest = fingerprint.vartools_digest
    assert digest(copy) == digest(pkg)  # another path, the same key
    for rel in ["cli/main.py", "plots/figures.py", "harness/runner.py"]:
        (copy / rel).write_text((copy / rel).read_text() + "\n# an edit\n")
    assert digest(copy) == digest(pkg)  # CLI, plotting and the driver are not keyed
    (copy / "core/batch.py").write_text((copy / "core/batch.py").read_text() + "\n# x\n")
    assert digest(copy) != digest(pkg)


def test_local_imports_are_found_anywhere_in_the_file(tmp_path):
    from vartools.harness.fingerprint import read_sources

    d = _exp_dir(
        tmp_path,
        {
            "quad.py": EXP + "\n\ndef figures(summary, extra, out_dir):\n"
            "    from exps._plotting import draw\n\n    return draw(summary)\n",
            "_plotting.py": "from . import _colors\n\n\ndef draw(summary):\n    return []\n",
            "_colors.py": "RED = 'r'\n",
            "unrelated.py": "X = 1\n",
        },
    )
    src = read_sources(d, "quad")
    assert [p for p, _ in src.files] == ["__init__.py", "_colors.py", "_plotting.py", "quad.py"]
    assert src.package == "exps" and src.entry == "quad.py"


TRAJ = """
from vartools.core.optim import rmsprop
from vartools.harness.experiment import Experiment, Trajectory
from vartools.harness.layout import Layout

EXPERIMENT = Experiment(
    name="traj",
    description="a tiny trajectory",
    problem="rebar_toy",
    estimators=["sf", "sf+loo"],
    n_samples=[2],
    n_reps=128,
    layout=Layout(block_size=64, checkpoints_per_cell=2),
    trajectory=Trajectory(estimator="sf", n=2, optimizer=rmsprop(0.05), steps=40, every=10),
)
"""


def test_a_measure_cell_is_keyed_by_the_parameters_it_was_measured_at(tmp_path):
    from vartools.harness.cells import inputs_digest
    from vartools.harness.storage import read_cell, write_cell

    assert inputs_digest() == ""
    assert inputs_digest(((0.1,),), (0,)) != inputs_digest(((0.1 + 1e-15,),), (0,))
    assert inputs_digest(((0.1,),), (0,)) != inputs_digest(((0.1,),), (10,))
    d = _exp_dir(tmp_path / "live", {"traj.py": TRAJ})
    out = tmp_path / "out"
    first = _run("traj", d, out)
    cell = next((out / "traj" / "cells").rglob("measure-*.cell"))
    arrays, meta = read_cell(cell)
    assert len(meta["inputs"]) == 64  # a measure cell records the digest of its inputs
    # as if the driver had handed this cell other checkpoint parameters
    write_cell(cell, arrays, {**meta, "inputs": inputs_digest(((9.0,),), (0,))})
    again = _run("traj", d, out)
    assert again.cells_discarded == again.cells_computed == 1
    _same(again.summary, first.summary)
    pd.testing.assert_frame_equal(again.training, first.training, check_exact=True)
