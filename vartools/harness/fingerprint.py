"""Cache keys: everything that defines a cell's numbers, and nothing else.

A cell's key (``Fingerprint``) has three parts, each a sha256:

- ``definition``: the experiment's resolved definition at its scale
  (``stable_description``: fields, points, estimator names, callables by module and
  qualified name, no memory addresses);
- ``sources``: the experiment file and every **local module** it imports
  (``read_sources``), by path relative to the experiments directory, plus the
  directory's package name when it is a package;
- ``vartools``: the sources of vartools' computational layers (``vartools_files``), by
  path relative to the package.

Local modules. An import statement anywhere in a source file (module level, or inside
a function or class) that names a module whose file lives in the experiments
directory is local: in a package directory ``P`` (one with ``__init__.py``) the names
``P``, ``P.x``, ``P.x.y`` and relative imports (``from . import x``, ``from .x import
f``), whose ``__init__.py`` files count too; in a plain directory a top-level name
``x`` with a file ``x.py`` (or ``x/__init__.py``) there. The rule is applied to every
local module found, transitively. Imports built at run time (``importlib.import_module``
with a computed name) are not seen: ``vartools.harness.loading`` refuses them while an
experiment loads.

Keyed vartools sources: every ``.py`` file of core, distributions, samplers,
control_variates, estimators, jax, oracles, measure and catalogue, and of the harness
only the modules that decide a cell's numbers: ``experiment.py`` (scales, problem and
estimator building, seed blocks), ``cells.py`` (the cells' ranges) and ``compute.py``
(the worker). Not keyed: cli/, plots/, the package's ``__init__.py`` (re-exports),
``_version.py``, and the driver side of the harness (runner, executors, loading,
storage, output, this module): editing them cannot change a cell's arrays. Absolute
paths are never hashed, so a clone at another path reuses its cells.

A process computes the digest of its vartools sources once (``vartools_digest()``), when
it imports ``vartools.harness.compute`` or, failing that, the first time it is asked:
that snapshot stands for the code it has imported, so a
long-lived worker whose checkout was edited (or that runs another checkout) disagrees
with the driver and refuses to compute (``StaleDefinitionError``) instead of storing
numbers under a key that does not describe them.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from vartools.core.optim import Optimizer
from vartools.core.problem import Problem
from vartools.estimators.composed import Estimator

__all__ = [
    "KEYED_HARNESS",
    "KEYED_LAYERS",
    "Fingerprint",
    "Sources",
    "StaleDefinitionError",
    "check_fingerprint",
    "fingerprint",
    "read_sources",
    "stable_description",
    "vartools_digest",
    "vartools_files",
]

#: The sub-packages of vartools whose every source file is part of a cell's key.
KEYED_LAYERS = (
    "core",
    "distributions",
    "samplers",
    "control_variates",
    "estimators",
    "jax",
    "oracles",
    "measure",
    "catalogue",
)
#: The harness modules that decide a cell's numbers (the rest of the harness drives runs).
KEYED_HARNESS = ("harness/experiment.py", "harness/cells.py", "harness/compute.py")


class StaleDefinitionError(RuntimeError):
    """A worker's definition of a cell differs from the one its task's key names."""


def stable_description(obj: Any) -> Any:
    """A JSON-able, run-independent description of a definition (callables by qualified name).

    Used to fingerprint experiments: unlike ``repr`` it contains no memory addresses.
    Dataclass fields with ``metadata={"defines_numbers": False}`` are left out.
    """
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, np.generic):
        return stable_description(obj.item())
    if isinstance(obj, np.ndarray):
        return {"array": stable_description(obj.tolist()), "dtype": str(obj.dtype)}
    if isinstance(obj, Estimator):
        return {"estimator": obj.name, "biased": obj.biased}
    if isinstance(obj, Optimizer):
        return {"optimizer": obj.name}
    if isinstance(obj, Problem):
        return {
            "problem": obj.name,
            "params": stable_description(obj.dist.params),
            "f": stable_description(obj.f),
            "description": obj.description,
        }
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            "type": type(obj).__name__,
            **{
                f.name: stable_description(getattr(obj, f.name))
                for f in dataclasses.fields(obj)
                if f.metadata.get("defines_numbers", True)  # e.g. Experiment.plot does not
            },
        }
    if isinstance(obj, Mapping):
        return {str(k): stable_description(v) for k, v in sorted(obj.items(), key=str)}
    if isinstance(obj, list | tuple):
        return [stable_description(v) for v in obj]
    if callable(obj):
        mod = getattr(obj, "__module__", "?")
        qual = getattr(obj, "__qualname__", type(obj).__qualname__)
        return f"{mod}:{qual}"
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _sha(parts: Iterable[str]) -> str:
    """sha256 of length-prefixed strings (no two sequences share an encoding)."""
    h = hashlib.sha256()
    for s in parts:
        b = s.encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


# ---------------------------------------------------------------- vartools sources


def vartools_files(root: Path) -> list[str]:
    """The keyed source files of the vartools package at ``root``, relative, sorted."""
    files = [
        p.relative_to(root).as_posix()
        for layer in KEYED_LAYERS
        if (root / layer).is_dir()
        for p in (root / layer).rglob("*.py")
    ]
    files += [rel for rel in KEYED_HARNESS if (root / rel).is_file()]
    return sorted(files)


#: This process's snapshot of its vartools digest (key None), taken on first use.
_VARTOOLS: dict[Path | None, str] = {}


def vartools_digest(root: Path | None = None) -> str:
    """sha256 over the keyed vartools sources (relative path and bytes of each).

    Args:
        root: a vartools package directory; None (the default) is the package this
            process runs, whose digest is computed once and then reused for the
            process's lifetime, as it stands for the code the process has imported.
    """
    if root is None and None in _VARTOOLS:
        return _VARTOOLS[None]
    pkg = root if root is not None else Path(__file__).resolve().parent.parent
    parts: list[str] = []
    for rel in vartools_files(pkg):
        parts += [rel, (pkg / rel).read_bytes().decode("utf-8")]
    digest = _sha(parts)
    if root is None:
        _VARTOOLS[None] = digest
    return digest


# ------------------------------------------------------------- experiment sources


class Sources(NamedTuple):
    """The local source files that define an experiment, as read once by the driver.

    Workers execute these texts (``vartools.harness.loading.load_sources``), not the
    files on their disk, so the definition computed is the one keyed.

    Attributes:
        package: the import name of the experiments directory when it is a package
            (it has ``__init__.py``), else None (its modules are top-level names).
        entry: the experiment file, relative to the directory (``"demo_liu.py"``).
        files: ``(relative posix path, source text)`` of the experiment file and every
            local module it imports, transitively, sorted by path.
    """

    package: str | None
    entry: str
    files: tuple[tuple[str, str], ...]

    @property
    def digest(self) -> str:
        """sha256 of the package name, the entry and every (path, text)."""
        parts = [self.package or "", self.entry]
        for rel, text in self.files:
            parts += [rel, text]
        return _sha(parts)

    def module_name(self, rel: str) -> str:
        """The import name of the file ``rel`` (``"a/b.py"`` -> ``"P.a.b"``)."""
        dotted = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        if rel == "__init__.py":
            dotted = ""
        if self.package is None:
            return dotted
        return f"{self.package}.{dotted}" if dotted else self.package


def is_bare_helper(name: str) -> bool:
    """Whether ``name`` may be a helper module imported by its bare name (``_foo_helpers``).

    In an experiments directory that is a package (it has ``__init__.py``), a module
    beside the experiments whose name starts with an underscore may be imported as
    ``import _foo_helpers`` (as a script beside it would), besides ``from . import
    _foo_helpers`` and ``import <package>._foo_helpers``; it is one module under both
    names (``vartools.harness.loading``).
    """
    return name.startswith("_") and "." not in name and not name.startswith("__")


def _file_of(directory: Path, package: str | None, name: str) -> str | None:
    """The relative file of module ``name`` if it is local to ``directory``, else None."""
    if package is not None:
        if name == package:
            return "__init__.py"
        if name.startswith(package + "."):
            name = name[len(package) + 1 :]
        elif not is_bare_helper(name):
            return None
    rel = name.replace(".", "/")
    for cand in (f"{rel}.py", f"{rel}/__init__.py"):
        if (directory / cand).is_file():
            return cand
    return None


def _imported_names(tree: ast.AST, modname: str, is_package: bool) -> set[str]:
    """Every module name an import statement in ``tree`` may load (relative ones resolved)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            package = modname if is_package else modname.rpartition(".")[0]
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            except (ImportError, ValueError):
                continue  # a relative import beyond the top: it fails when executed
        else:
            base = node.module or ""
        parts = base.split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        names.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return names


def read_sources(directory: str | Path, name: str) -> Sources:
    """Read experiment ``name``'s file in ``directory`` and its local modules, once.

    The experiment is the package ``<name>/__init__.py`` when there is one, else the file
    ``<name>.py``. A package's modules are keyed when its ``__init__.py`` imports them
    (directly or through each other); its ``figures.py``, which defines no number and is
    imported only to plot, is not.

    Raises:
        FileNotFoundError: no file ``<directory>/<name>.py`` nor ``<name>/__init__.py``.
        ValueError: a source file that is not UTF-8 or not valid Python.
    """
    d = Path(directory).resolve()
    entry = f"{name}/__init__.py" if (d / name / "__init__.py").is_file() else f"{name}.py"
    if not (d / entry).is_file():
        raise FileNotFoundError(f"experiment file {d / entry} does not exist")
    package = d.name if (d / "__init__.py").is_file() else None
    skeleton = Sources(package, entry, ())
    texts: dict[str, str] = {}
    todo = [entry] + (["__init__.py"] if package is not None else [])
    while todo:
        rel = todo.pop()
        if rel in texts:
            continue
        try:
            text = (d / rel).read_bytes().decode("utf-8")
            tree = ast.parse(text, str(d / rel))
        except (UnicodeDecodeError, SyntaxError) as exc:
            raise ValueError(
                f"experiment source {d / rel} cannot be read as Python ({exc}); fix the file"
            ) from exc
        texts[rel] = text
        modname = skeleton.module_name(rel)
        is_package = rel == "__init__.py" or rel.endswith("/__init__.py")
        for imported in _imported_names(tree, modname, is_package):
            found = _file_of(d, package, imported)
            if found is not None:
                todo.append(found)
        if package is not None:  # the __init__.py of every enclosing sub-package runs too
            parts = modname.split(".")
            for i in range(2, len(parts)):
                found = _file_of(d, package, ".".join(parts[:i]))
                if found is not None:
                    todo.append(found)
    return Sources(package, entry, tuple(sorted(texts.items())))


# ------------------------------------------------------------------ fingerprints


class Fingerprint(NamedTuple):
    """The three parts of a cell's key (sha256 hex digests); ``key`` combines them."""

    definition: str
    sources: str
    vartools: str

    @property
    def key(self) -> str:
        """The combined digest that cell files are stamped with."""
        return _sha(self)


def fingerprint(exp: Any, sources: Sources | None) -> Fingerprint:
    """The key of ``exp`` (resolved at a scale) as defined by ``sources`` and vartools.

    Args:
        exp: the experiment, loaded from ``sources`` (or built in this process when
            ``sources`` is None: then only its definition and vartools are keyed).
        sources: what ``read_sources`` returned for it, or None.
    """
    payload = json.dumps(stable_description(exp), sort_keys=True)
    src = sources.digest if sources is not None else _sha(["(built in the driver)"])
    return Fingerprint(_sha([payload]), src, vartools_digest())


_WHY = {
    "definition": (
        "the experiment's definition ({ours} here, {theirs} in the task): its loaded "
        "fields depend on more than its source files (the environment, a data file, "
        "the clock); make the definition a pure function of its sources"
    ),
    "sources": (
        "the experiment's sources ({ours} here, {theirs} in the task): the task's "
        "source texts were altered in transit"
    ),
    "vartools": (
        "the vartools sources ({ours} here, {theirs} in the task): this worker imported "
        "another version of vartools than the driver (a worker started before vartools "
        "was edited, or from another checkout); restart the workers from the driver's "
        "checkout"
    ),
}


def check_fingerprint(mine: Fingerprint, task: Fingerprint, experiment: str) -> None:
    """Raise ``StaleDefinitionError`` unless a worker's key equals its task's.

    Raises:
        StaleDefinitionError: naming each part that differs and what to do about it.
    """
    bad = [
        _WHY[part].format(ours=a[:12], theirs=b[:12])
        for part, a, b in zip(Fingerprint._fields, mine, task, strict=True)
        if a != b
    ]
    if bad:
        raise StaleDefinitionError(
            f"refusing to compute a cell of experiment {experiment!r}: this worker's "
            f"definition differs from the one the cell's key names, in "
            + "; and in ".join(bad)
            + ". Nothing was written under that key."
        )
