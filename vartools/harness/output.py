"""What a finished run writes: the summary and training tables, raw estimates, provenance.

The tables are assembled from the cells' arrays: the block cells of a (point, n)
are concatenated and ``summarize``-d exactly as ``measure_variance`` does
(``_assemble_summary``); a trajectory adds one training row per checkpoint
(``_assemble_training``, with ``theta.*`` columns up to ``MAX_THETA_COLUMNS``
parameters); ``raw=True`` saves the replicate estimates (``_write_raw``). The
package versions and git revision recorded in ``meta.json`` come from
``_versions`` and ``_git``.
"""

from __future__ import annotations

import io
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools._version import __version__
from vartools.core.problem import Problem
from vartools.estimators.composed import Estimator
from vartools.harness.cells import CellKey
from vartools.harness.experiment import Experiment, n_blocks
from vartools.harness.storage import atomic_write_bytes
from vartools.measure.summary import COLUMNS, summarize

__all__ = ["MAX_THETA_COLUMNS"]

#: Largest number of parameters stored as theta.* columns of the training table.
MAX_THETA_COLUMNS = 32


def _versions(executor: str) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "vartools": __version__}
    names = ["numpy", "scipy", "pandas", "matplotlib", "tqdm"]
    if executor == "dask":
        names += ["dask", "distributed"]
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git() -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return {"revision": rev, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"revision": None, "dirty": None}


def _block_estimates(
    exp: Experiment, results: dict[CellKey, Any], point: int, n: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Concatenate the block cells of (point, n): the arrays of one measurement."""
    nb = n_blocks(exp)
    keys = [
        CellKey("block", point, n, lo, min(nb, lo + exp.layout.blocks_per_cell))
        for lo in range(0, nb, exp.layout.blocks_per_cell)
    ]
    names = results[keys[0]][1]["estimators"]
    arrays: dict[str, np.ndarray] = {}
    for j in range(len(names)):
        arrays[f"e{j}"] = np.concatenate([results[k][0][f"e{j}"] for k in keys])
    first = results[keys[0]][0]
    for k, v in first.items():
        if not k.startswith("e"):
            arrays[k] = v
    secs = [sum(results[k][1]["seconds"][j] for k in keys) for j in range(len(names))]
    return arrays, {
        "estimators": names,
        "seconds": secs,
        "n_evals": results[keys[-1]][1]["n_evals"],
    }


def _measurements(exp: Experiment, results: dict[CellKey, Any], steps: Sequence[int]):
    """Yield (point, step index, step, n, arrays, meta) for every measurement."""
    for p in range(len(exp.points)):
        for n in exp.n_samples:
            if exp.trajectory is None:
                key0 = CellKey("block", p, n, 0, min(n_blocks(exp), exp.layout.blocks_per_cell))
                if key0 not in results:
                    continue
                arrays, meta = _block_estimates(exp, results, p, n)
                yield p, 0, 0, n, arrays, meta
                continue
            nc = len(steps)
            for lo in range(0, nc, exp.layout.checkpoints_per_cell):
                key = CellKey("measure", p, n, lo, min(nc, lo + exp.layout.checkpoints_per_cell))
                if key not in results:
                    continue
                arrays, meta = results[key]
                for i in range(key.hi - key.lo):
                    pre = f"c{i}_"
                    sub = {k[len(pre) :]: v for k, v in arrays.items() if k.startswith(pre)}
                    yield (
                        p,
                        lo + i,
                        steps[lo + i],
                        n,
                        sub,
                        {
                            "estimators": meta["estimators"],
                            "seconds": meta["seconds"][i],
                            "n_evals": meta["n_evals"][i],
                        },
                    )


def _assemble_summary(
    exp: Experiment,
    problems: list[Problem],
    ests: list[Estimator],
    results: dict[CellKey, Any],
    steps: Sequence[int],
) -> pd.DataFrame:
    by_name = {e.name: e for e in ests}
    tables = []
    for p, _ci, step, n, arrays, meta in _measurements(exp, results, steps):
        names = meta["estimators"]
        used = [by_name[nm] for nm in names]
        ref = exp.reference if exp.reference in names else None
        exact_v = (
            {nm: arrays[f"x{j}"] for j, nm in enumerate(names) if f"x{j}" in arrays}
            if exp.exact
            else None
        )
        table = summarize(
            problems[p],
            used,
            n,
            {nm: arrays[f"e{j}"] for j, nm in enumerate(names)},
            seconds=dict(zip(names, meta["seconds"], strict=True)),
            n_evals=dict(zip(names, meta["n_evals"], strict=True)),
            truth=arrays.get("truth"),
            exact_variances=exact_v,
            reference=ref,
        )
        lead = {
            "experiment": exp.name,
            "scale": exp.scale,
            "point": p,
            "step": step,
            **exp.point_columns(p),
        }
        if exp.summary_rows == "aggregates":
            keep = (table["kind"] != "coordinate") | table["coordinate"].isin(exp.coordinates)
            table = table[keep].reset_index(drop=True)
        for i, (k, v) in enumerate(lead.items()):
            table.insert(i, k, v)
        tables.append(table)
    df = pd.concat(tables, ignore_index=True)
    front = [c for c in df.columns if c not in COLUMNS]
    return df[front + COLUMNS]


def _assemble_training(
    exp: Experiment, problems: list[Problem], results: dict[CellKey, Any], steps: Sequence[int]
) -> pd.DataFrame:
    traj = exp.trajectory
    assert traj is not None
    rows = []
    for p, prob in enumerate(problems):
        arrays, meta = results[CellKey("train", p, traj.n, 0, 1)]
        pnames = prob.dist.param_names
        for i, step in enumerate(steps):
            row: dict[str, Any] = {
                "experiment": exp.name,
                "scale": exp.scale,
                "point": p,
                "step": int(step),
                **exp.point_columns(p),
                "problem": prob.name,
                "estimator": meta["estimator"],
                "optimizer": meta["optimizer"],
                "loss": float(arrays["loss"][i]),
                "loss_exact": bool(arrays["loss_exact"][i]),
                "ema_variance": float(arrays["ema"][i]),
            }
            if len(pnames) <= MAX_THETA_COLUMNS:
                row.update(
                    {f"theta.{nm}": float(arrays["theta"][i, j]) for j, nm in enumerate(pnames)}
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _write_raw(
    path: Path,
    exp: Experiment,
    ests: list[Estimator],
    results: dict[CellKey, Any],
    steps: Sequence[int],
) -> None:
    arrays: dict[str, np.ndarray] = {}
    for p, _ci, step, n, arr, meta in _measurements(exp, results, steps):
        for j, nm in enumerate(meta["estimators"]):
            e = arr[f"e{j}"]
            if e.ndim != 2 or not np.isfinite(e).all():
                raise ValueError(f"raw estimates of {nm!r} at point {p}, n={n} are malformed")
            arrays[f"point{p}/step{step}/n{n}/{nm}"] = e
    buf = io.BytesIO()
    np.savez_compressed(buf, allow_pickle=False, **arrays)
    atomic_write_bytes(path, buf.getvalue())
