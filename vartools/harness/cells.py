"""The cells of an experiment run: their keys, the worker tasks, the plan and the cache check.

Cells. A frozen-parameter sweep is split into cells of (point, n, a range of seed
blocks); a training trajectory into one training cell per point, then
measurement cells of (point, n, a range of checkpoints). Block b of (problem, n)
is seeded by the seed-tree node (seed, problem name, n, b) exactly as in
``measure_variance`` (checkpoints of a trajectory add the checkpoint's step to
the node), so a cell's numbers do not depend on which process computes it, in
which order, or how many workers there are; the summary of a (point, n) is
``summarize`` over its concatenated blocks, the same numbers ``measure_variance``
gives.

Caching and resuming. Every finished cell is written (atomically, with a sha256
checksum and the experiment's fingerprint, see ``vartools.harness.fingerprint``) to
``results/<experiment>/cells/<scale>-seed<seed>/`` as soon as it arrives. A rerun
skips cells whose file verifies and whose fingerprint matches; a corrupted or
partial file, or one from a changed definition (the experiment's fields, its file or
a local module it imports, vartools' computational layers), is recomputed, never
trusted.

Example:
    >>> from vartools.harness.experiment import Experiment
    >>> exp = Experiment(name="doc_cells", description="SF vs RLOO", problem="liu_toy",
    ...                  estimators=["sf", "sf+loo"], n_samples=[4], n_reps=600)
    >>> plan_cells(exp.at_scale("full"))
    [CellKey(kind='block', point=0, n=4, lo=0, hi=3)]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from vartools.estimators.composed import Estimator
from vartools.harness.experiment import Experiment, n_blocks
from vartools.harness.fingerprint import Sources
from vartools.harness.storage import CorruptFileError, read_cell

__all__ = ["CellKey", "CellTask", "inputs_digest", "plan_cells"]


class CellKey(NamedTuple):
    """Identifies one cell.

    Attributes:
        kind: "block" (sweep), "train" or "measure" (trajectory).
        point: index of the parameter point.
        n: samples per estimate (for "train": per training step).
        lo: first seed block ("block") or checkpoint index ("measure"); 0 for "train".
        hi: one past the last.
    """

    kind: str
    point: int
    n: int
    lo: int
    hi: int

    @property
    def filename(self) -> str:
        """The cell's file name."""
        return f"{self.kind}-p{self.point}-n{self.n}-{self.lo}-{self.hi}.cell"


class CellTask(NamedTuple):
    """Everything a worker needs: plain, picklable values only.

    Attributes:
        directory: the experiments directory (None: an Experiment built in the driver,
            computed by the serial executor only).
        experiment, scale: which experiment, at which scale.
        key: the cell.
        seed: the root seed.
        fingerprint: the key cell files are stamped with (``parts.key:seed``).
        parts: the three digests of ``vartools.harness.fingerprint.Fingerprint``,
            which the worker recomputes from what it loaded and compares.
        sources: the experiment's source texts as the driver read them (the worker
            executes these, never the files on its disk); None with ``directory``.
        thetas, steps: the parameters and steps of a measure cell's checkpoints.
    """

    directory: str | None
    experiment: str
    scale: str
    key: CellKey
    seed: int
    fingerprint: str
    parts: tuple[str, str, str]
    sources: Sources | None
    thetas: tuple[tuple[float, ...], ...] | None = None
    steps: tuple[int, ...] | None = None


def _applicable(estimators: Sequence[Estimator], n: int) -> list[Estimator]:
    return [e for e in estimators if e.min_n <= n]


def plan_cells(exp: Experiment, phase: str = "measure") -> list[CellKey]:
    """The cells of ``exp`` (resolved at a scale) for phase "train" or "measure"."""
    ests = exp.build_estimators()

    def cells(kind: str, count: int, per_cell: int) -> list[CellKey]:
        """Per point and applicable n, ``count`` seed blocks or checkpoints in runs of per_cell."""
        return [
            CellKey(kind, p, n, lo, min(count, lo + per_cell))
            for p in range(len(exp.points))
            for n in exp.n_samples
            if _applicable(ests, n)
            for lo in range(0, count, per_cell)
        ]

    if exp.trajectory is None:
        return cells("block", n_blocks(exp), exp.layout.blocks_per_cell)
    if phase == "train":
        return [CellKey("train", p, exp.trajectory.n, 0, 1) for p in range(len(exp.points))]
    return cells("measure", len(exp.trajectory.checkpoints()), exp.layout.checkpoints_per_cell)


def inputs_digest(
    thetas: Sequence[Sequence[float]] | None = None, steps: Sequence[int] | None = None
) -> str:
    """sha256 of a measure cell's inputs (its checkpoints' parameters and steps), else "".

    The parameters come from the training cells, which the fingerprint keys; the digest
    makes the cell file name the very parameters it was measured at too, whatever the
    driver does to hand them over.
    """
    if thetas is None and steps is None:
        return ""
    payload = json.dumps(
        {"thetas": [[float(v) for v in row] for row in thetas or ()], "steps": list(steps or ())}
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _load_cached(path: Path, key: CellKey, fp: str, inputs: str = "") -> tuple[Any, str]:
    """(result or None, reason) for a cell file."""
    if not path.exists():
        return None, "missing"
    try:
        arrays, meta = read_cell(path)
    except CorruptFileError as exc:
        return None, f"corrupt: {exc}"
    if (
        meta.get("fingerprint") != fp
        or tuple(meta.get("key", ())) != tuple(key)
        or meta.get("inputs", "") != inputs
    ):
        return None, "stale (the experiment definition or vartools changed)"
    return (arrays, meta), "ok"
