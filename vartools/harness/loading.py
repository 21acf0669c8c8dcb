"""Where experiment files live, and how they are found, imported and checked.

An experiment is a Python file ``experiments/<name>.py``, or a package
``experiments/<name>/__init__.py`` (an experiment that has models, oracles or figures of
its own in sibling modules), that declares one module-level
``EXPERIMENT = Experiment(...)`` whose ``name`` is the file's stem (the package's folder
name); see ``vartools.harness.experiment``. This module finds the experiments directory,
lists the experiments, loads them (``load_experiment``, ``discover``) and reads their
optional module-level hooks (``experiment_hooks``).

Loading executes source texts, not files: ``vartools.harness.fingerprint.read_sources``
reads the experiment file and its local modules once, and ``load_sources`` executes
exactly those texts (cached by their digest). The driver keys a run's cells by those
texts and ships them to the workers, which execute the same texts: a file edited
while a run starts, or a worker process that outlives a run, cannot make a cell
compute another definition than the one its key names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from vartools.core.validation import nearest_name, short_repr
from vartools.harness.experiment import Experiment
from vartools.harness.fingerprint import Sources, is_bare_helper, read_sources

__all__ = [
    "EXPERIMENTS_ENV",
    "Hooks",
    "default_experiments_dir",
    "discover",
    "experiment_from_sources",
    "experiment_hooks",
    "experiment_names",
    "load_experiment",
    "load_sources",
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


# ------------------------------------------------- executing sources, not files


class _SourceLoader(importlib.abc.InspectLoader):
    """Executes one module of a ``Sources`` from its text (never from the disk)."""

    def __init__(self, text: str, origin: str) -> None:
        self.text = text
        self.origin = origin

    def get_source(self, fullname: str) -> str:
        return self.text

    def exec_module(self, module: ModuleType) -> None:
        exec(compile(self.text, self.origin, "exec", dont_inherit=True), module.__dict__)


class _AliasLoader(importlib.abc.Loader):
    """Loads a bare helper name (``_foo_helpers``) as the package's module of that file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to do: the target module was executed when it was imported."""


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Serves the local modules of one ``Sources`` while it loads (first on sys.meta_path).

    In a package directory ``P``, a top-level helper file ``_foo.py`` is served as
    ``P._foo`` and, for ``import _foo`` (a script's habit), under the bare name
    ``_foo`` too: the same module object (``fingerprint.is_bare_helper``).
    """

    def __init__(self, sources: Sources, directory: Path) -> None:
        self.modules = {sources.module_name(rel): (rel, text) for rel, text in sources.files}
        self.package = sources.package
        self.directory = directory
        self.aliases: dict[str, str] = {}
        if sources.package is not None:
            for rel, _ in sources.files:
                stem = rel.removesuffix(".py").removesuffix("/__init__")
                if "/" not in stem and rel != "__init__.py" and is_bare_helper(stem):
                    self.aliases[stem] = sources.module_name(rel)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self.aliases:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(self.aliases[fullname]))
        hit = self.modules.get(fullname)
        if hit is None:
            if self.package is not None and fullname.startswith(self.package + "."):
                raise ImportError(
                    f"module {fullname!r} of the experiments directory {self.directory} is "
                    "imported by a computed name, so it is not part of the experiment's cache "
                    f"key; import it with a plain import statement (import {fullname})",
                    name=fullname,
                )
            return None
        rel, text = hit
        origin = str(self.directory / rel)
        is_package = rel == "__init__.py" or rel.endswith("/__init__.py")
        spec = importlib.machinery.ModuleSpec(
            fullname, _SourceLoader(text, origin), origin=origin, is_package=is_package
        )
        spec.has_location = True  # sets __file__ (experiments use it for files beside them)
        if is_package:
            spec.submodule_search_locations = [str((self.directory / rel).parent)]
        return spec


#: Loaded sources by digest: {digest: {module name: module}} (least recently used first).
_LOADED: OrderedDict[str, dict[str, ModuleType]] = OrderedDict()
_LOADED_MAX = 32
_LOCK = threading.RLock()


def _activate(modules: dict[str, ModuleType]) -> None:
    """Make ``modules`` the ones ``sys.modules`` names (imports inside functions find them)."""
    sys.modules.update(modules)
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent in modules:
            setattr(modules[parent], child, module)


def load_sources(sources: Sources, directory: str | Path) -> ModuleType:
    """Execute ``sources`` (not the files on disk) and return the experiment's module.

    Every local module is executed from its text in ``sources`` under its usual import
    name (``P.x`` in a package directory ``P``, ``x`` in a plain one) and left in
    ``sys.modules``, as an import would; modules of the directory that ``sources`` does
    not hold are refused while it loads. Loads are cached by the sources' digest: the
    same texts are executed once per process, edited texts afresh (a long-lived
    worker never computes with a stale module), and a cached load is made current again
    in ``sys.modules`` when it is reused.

    Args:
        sources: what ``vartools.harness.fingerprint.read_sources`` returned.
        directory: where the files live here (for ``__file__`` and messages only).
    """
    d = Path(directory)
    digest = sources.digest
    with _LOCK:
        modules = _LOADED.get(digest)
        if modules is None:
            modules = _execute(sources, d)
            _LOADED[digest] = modules
            while len(_LOADED) > _LOADED_MAX:
                _LOADED.popitem(last=False)
        else:
            _LOADED.move_to_end(digest)
        _activate(modules)
        return modules[sources.module_name(sources.entry)]


def _execute(sources: Sources, d: Path) -> dict[str, ModuleType]:
    """Import every module of ``sources`` from its text, the experiment first."""
    finder = _SourceFinder(sources, d)
    names = list(finder.modules)
    shadowed = [
        n
        for n in sys.modules
        if n in finder.modules
        or n in finder.aliases
        or (sources.package and n.startswith(sources.package + "."))
    ]
    saved = {n: sys.modules.pop(n) for n in shadowed}
    sys.meta_path.insert(0, finder)
    try:
        importlib.import_module(sources.module_name(sources.entry))
        for name in names:  # local modules imported only inside functions load now
            importlib.import_module(name)
        loaded = {n: sys.modules[n] for n in names}
        for alias, target in finder.aliases.items():  # bare helper names: the same modules
            loaded[alias] = loaded[target]
        return loaded
    except BaseException:
        for n in [*names, *finder.aliases]:  # a failed load leaves sys.modules as it found it
            sys.modules.pop(n, None)
        sys.modules.update(saved)
        raise
    finally:
        sys.meta_path.remove(finder)


def experiment_from_sources(sources: Sources, directory: str | Path) -> Experiment:
    """The ``EXPERIMENT`` that ``sources`` declare (see ``load_sources``).

    Raises:
        ValueError: the file declares no Experiment, or one with another name.
    """
    module = load_sources(sources, directory)
    name = sources.entry.removesuffix(".py").removesuffix("/__init__")
    path = Path(directory) / sources.entry
    exp = getattr(module, "EXPERIMENT", None)
    if not isinstance(exp, Experiment):
        raise ValueError(
            f"experiment file {path} must define EXPERIMENT = Experiment(...), "
            f"found {short_repr(exp)}"
        )
    if exp.name != name:
        raise ValueError(
            f"experiment file {sources.entry} declares name={exp.name!r}; the name must equal "
            f"the file's stem (a package's folder name) {name!r}"
        )
    return exp


def _experiment_name(path: Path) -> str:
    """The experiment a file declares: a package's folder name, else the file's stem."""
    return path.parent.name if path.name == "__init__.py" else path.stem


def _experiment_path(directory: Path, name: str) -> Path:
    """The file declaring ``name``: ``<name>/__init__.py`` (a package) or ``<name>.py``."""
    package = directory / name / "__init__.py"
    return package if package.is_file() else directory / f"{name}.py"


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
    """Read experiment ``name`` (a file or a package) and its local modules as they are now.

    Returns its ``EXPERIMENT``.

    Raises:
        ValueError: unknown name (with the nearest valid one) or a malformed file.
    """
    d = (Path(directory) if directory is not None else default_experiments_dir()).resolve()
    names = experiment_names(d)
    if name not in names:
        raise ValueError(f"unknown experiment {name!r} in {d}; {nearest_name(name, names)}")
    return experiment_from_sources(read_sources(d, name), d)


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
    figure code is never loaded to run an experiment, and is not in the cache key.
    """

    exact_table: Callable[[str], Any] | None
    tables: Callable[..., Any] | None
    figures: Callable[..., Any] | None


def experiment_hooks(
    name: str, directory: str | Path | None = None, *, sources: Sources | None = None
) -> Hooks:
    """The ``Hooks`` of experiment ``name`` (all None when it has no file in ``directory``).

    Args:
        name: the experiment.
        directory: the experiments directory (default ``default_experiments_dir()``).
        sources: the sources a run read (its hooks then come from the same texts as its
            cells); None reads the files as they are now.
    """
    d = (Path(directory) if directory is not None else default_experiments_dir()).resolve()
    path = _experiment_path(d, name)
    if sources is None:
        if not path.is_file():
            return Hooks(None, None, None)
        sources = read_sources(d, name)
    module = load_sources(sources, d)
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
