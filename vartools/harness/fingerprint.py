"""Fingerprints of experiments: run-independent descriptions and source digests.

A fingerprint is a digest of an experiment's resolved definition (its
``stable_description``, free of memory addresses), its source file and vartools'
sources; the runner reuses cached cells only while it is unchanged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vartools.core.optim import Optimizer
from vartools.core.problem import Problem
from vartools.estimators.composed import Estimator

__all__ = ["fingerprint", "source_digest", "stable_description"]


def stable_description(obj: Any) -> Any:
    """A JSON-able, run-independent description of a definition (callables by qualified name).

    Used to fingerprint experiments: unlike ``repr`` it contains no memory addresses.
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
            **{f.name: stable_description(getattr(obj, f.name)) for f in dataclasses.fields(obj)},
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


def source_digest(paths: Sequence[Path]) -> str:
    """sha256 over the contents of ``paths`` (for fingerprints)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def fingerprint(exp: Any, directory: Path | None) -> str:
    """A digest of the resolved definition, the experiment's source file and vartools' sources."""
    pkg = Path(__file__).resolve().parent
    files = sorted(pkg.rglob("*.py"))  # every module, sub-packages (vartools/settings/) too
    if directory is not None and (directory / f"{exp.name}.py").is_file():
        files.append(directory / f"{exp.name}.py")
    elif directory is not None and (directory / exp.name / "__init__.py").is_file():
        # a package experiment: its declaration, models and oracles (figures define no number)
        files += sorted(p for p in (directory / exp.name).glob("*.py") if p.name != "figures.py")
    payload = json.dumps(stable_description(exp), sort_keys=True)
    h = hashlib.sha256(payload.encode())
    h.update(source_digest(files).encode())
    return h.hexdigest()
