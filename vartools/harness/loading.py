"""Where experiment files live, and how they are found, imported and checked.

An experiment is a Python file ``experiments/<name>.py``, or a package
``experiments/<name>/__init__.py`` (an experiment that has models, oracles or figures of
its own in sibling modules), that declares one module-level
``EXPERIMENT = Experiment(...)`` whose ``name`` is the file's stem (the package's folder
name); see ``vartools.harness.experiment``. This module finds the experiments directory,
lists the experiments, imports them (``load_experiment``, ``discover``) and reads their
optional module-level hooks (``experiment_hooks``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from vartools.core.validation import nearest_name, short_repr
from vartools.harness.experiment import Experiment

__all__ = [
    "EXPERIMENTS_ENV",
    "Hooks",
    "default_experiments_dir",
    "discover",
    "experiment_hooks",
    "experiment_names",
    "load_experiment",
]


#: Environment variable naming the experiments directory (overrides the default).
EXPERIMENTS_ENV = "VARTOOLS_EXPERIMENTS"


def default_experiments_dir() -> Path:
    """Where experiments are looked for.

    ``$VARTOOLS_EXPERIMENTS`` if set; else ``./experiments`` if it exists; else the
    ``experiments/`` directory next to the installed package (a source checkout).
    """
    env = os.environ.get(EXPERIMENTS_ENV)
    if env:
        return Path(env).resolve()
    cwd = Path.cwd() / "experiments"
    if cwd.is_dir():
        return cwd.resolve()
    return (Path(__file__).resolve().parent.parent / "experiments").resolve()


def _experiment_name(path: Path) -> str:
    """The experiment a file declares: a package's folder name, else the file's stem."""
    return path.parent.name if path.name == "__init__.py" else path.stem


def _experiment_path(directory: Path, name: str) -> Path:
    """The file declaring ``name``: ``<name>/__init__.py`` (a package) or ``<name>.py``."""
    package = directory / name / "__init__.py"
    return package if package.is_file() else directory / f"{name}.py"


def _module_for(path: Path) -> Any:
    """Import an experiment file or package (as ``<package>.<name>`` when its directory is one)."""
    is_package = path.name == "__init__.py"
    name = _experiment_name(path)
    directory = path.parent.parent if is_package else path.parent
    if (directory / "__init__.py").is_file():
        parent = str(directory.parent)
        if parent not in sys.path:
            sys.path.insert(0, parent)
        modname = f"{directory.name}.{name}"
        cached = sys.modules.get(modname)
        if cached is not None and Path(getattr(cached, "__file__", "")).resolve() == path:
            return cached
        if cached is not None:  # a different directory of the same name: load afresh
            del sys.modules[modname]
        return importlib.import_module(modname)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    modname = f"_vartools_experiment_{digest}_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    search = [str(path.parent)] if is_package else None  # a package's relative imports
    spec = importlib.util.spec_from_file_location(modname, path, submodule_search_locations=search)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import experiment file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


def _candidates(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise FileNotFoundError(
            f"experiments directory {directory} does not exist; run from the repository root "
            f"or set ${EXPERIMENTS_ENV} (or pass --experiments DIR)"
        )
    files = [p for p in directory.glob("*.py") if not p.name.startswith("_")]
    packages = [p for p in directory.glob("*/__init__.py") if not p.parent.name.startswith("_")]
    found = sorted(files + packages, key=_experiment_name)
    names = [_experiment_name(p) for p in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            f"experiments {twice} in {directory} are declared twice, as a file <name>.py and a "
            "package <name>/__init__.py; keep one of the two"
        )
    return found


def experiment_names(directory: str | Path | None = None) -> list[str]:
    """Names of the experiments (files and packages) in ``directory``, without importing them."""
    d = Path(directory) if directory is not None else default_experiments_dir()
    return [_experiment_name(p) for p in _candidates(d.resolve())]


def load_experiment(name: str, directory: str | Path | None = None) -> Experiment:
    """Import ``<directory>/<name>.py`` (or the package ``<name>/``); return its ``EXPERIMENT``.

    Raises:
        ValueError: unknown name (with the nearest valid one) or a malformed file.
    """
    d = (Path(directory) if directory is not None else default_experiments_dir()).resolve()
    names = experiment_names(d)
    if name not in names:
        raise ValueError(f"unknown experiment {name!r} in {d}; {nearest_name(name, names)}")
    path = _experiment_path(d, name)
    module = _module_for(path)
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise ValueError(
            f"experiment file {path} must define EXPERIMENT = Experiment(...), "
            f"found {short_repr(exp)}"
        )
    if exp.name != name:
        raise ValueError(
            f"experiment file {path.relative_to(d)} declares name={exp.name!r}; the name must "
            f"equal the file's stem (a package's folder name) {name!r}"
        )
    return exp


class Hooks(NamedTuple):
    """The optional module-level hooks of an experiment file (None where absent).

    - ``exact_table(scale) -> DataFrame``: exact curves (oracles), saved as
      ``results/<name>/exact.csv`` after a complete run;
    - ``tables(exp, summary) -> {key: DataFrame}``: further tables computed from the
      experiment at its scale (and the summary), each saved as ``<key>.csv``; it takes
      precedence over ``exact_table`` (return an "exact" key for the exact curves);
    - ``figures(summary, extra, out_dir) -> list[Path]``: the experiment's own figures, a
      pure function of its tables: ``extra`` maps "training" and every extra table's key
      to the table read back from disk (or None). Without it,
      ``vartools.plots.figures.plot_experiment`` draws the default figures.

    A package experiment declares ``exact_table`` and ``tables`` in its ``__init__.py``
    (imported there from its oracles module, so that they are part of what it defines)
    and ``figures`` in its ``figures.py``, which is imported only when asked for here:
    figure code is never loaded to run an experiment.
    """

    exact_table: Callable[[str], Any] | None
    tables: Callable[..., Any] | None
    figures: Callable[..., Any] | None


def experiment_hooks(name: str, directory: str | Path | None = None) -> Hooks:
    """The ``Hooks`` of experiment ``name`` (all None when it has no file in ``directory``)."""
    d = (Path(directory) if directory is not None else default_experiments_dir()).resolve()
    path = _experiment_path(d, name)
    if not path.is_file():
        return Hooks(None, None, None)
    module = _module_for(path)
    found = {h: getattr(module, h, None) for h in Hooks._fields}
    if path.name == "__init__.py" and (path.parent / "figures.py").is_file():
        fig_module = importlib.import_module(".figures", module.__name__)
        if not callable(getattr(fig_module, "figures", None)):
            raise ValueError(
                f"{path.parent / 'figures.py'} must define figures(summary, extra, out_dir) "
                "-> list of paths; rename its entry point to figures"
            )
        found["figures"] = fig_module.figures
    return Hooks(*(h if callable(h) else None for h in found.values()))


def discover(
    directory: str | Path | None = None,
) -> tuple[dict[str, Experiment], dict[str, str]]:
    """Every experiment in ``directory``: ``({name: Experiment}, {name: error message})``.

    A file that fails to import is reported in the second dict instead of hiding the
    others.
    """
    found: dict[str, Experiment] = {}
    errors: dict[str, str] = {}
    for name in experiment_names(directory):
        try:
            found[name] = load_experiment(name, directory)
        except Exception as exc:  # noqa: BLE001 - reported to the user, never swallowed
            errors[name] = f"{type(exc).__name__}: {exc}"
    return found, errors
