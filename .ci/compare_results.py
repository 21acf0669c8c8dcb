"""Compare regenerated result tables with a committed revision, column by column.

After code moves, the full-scale results are regenerated and every non-timing column
must be identical to the committed one. Usage::

    python .ci/compare_results.py [--rev HEAD] [--results results] [EXPERIMENT ...]

For every ``results/<experiment>/*.csv`` it reads the table in the working tree and the
one at ``--rev`` (``git show``), and reports per file: identical, or the columns that
differ with their largest absolute difference. Timing columns (names containing
``time``, ``second`` or ``wall``) are listed as "timing" and never counted as a
difference. Exit status 1 when any non-timing column differs or a table is missing.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TIMING = ("time", "second", "wall")


def committed(rev: str, path: Path) -> pd.DataFrame | None:
    """The table at ``path`` as of git revision ``rev``, or None when it did not exist."""
    out = subprocess.run(
        ["git", "show", f"{rev}:{path.as_posix()}"], capture_output=True, check=False
    )
    if out.returncode != 0:
        return None
    return pd.read_csv(io.BytesIO(out.stdout))


def compare(new: pd.DataFrame, old: pd.DataFrame) -> list[str]:
    """Lines describing the non-timing differences between two tables (empty: identical)."""
    problems = []
    if list(new.columns) != list(old.columns):
        problems.append(
            f"columns differ: only new {sorted(set(new.columns) - set(old.columns))}, "
            f"only old {sorted(set(old.columns) - set(new.columns))}"
        )
    if len(new) != len(old):
        return problems + [f"row counts differ: {len(new)} now, {len(old)} committed"]
    for col in [c for c in new.columns if c in old.columns]:
        if any(t in col.lower() for t in TIMING):
            continue
        a, b = new[col], old[col]
        if a.dtype.kind in "fi" and b.dtype.kind in "fi":
            x, y = a.to_numpy(float), b.to_numpy(float)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            if not same.all():
                diff = np.nanmax(np.abs(x - y)[~same]) if (~same).any() else np.nan
                problems.append(f"{col}: {int((~same).sum())} rows differ, max |diff| {diff:.3g}")
        elif not a.astype(str).equals(b.astype(str)):
            problems.append(f"{col}: {int((a.astype(str) != b.astype(str)).sum())} rows differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Compare every table and print one line per file; 1 when anything differs."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--results", default="results", type=Path)
    ap.add_argument("experiments", nargs="*")
    args = ap.parse_args(argv)
    names = args.experiments or sorted(
        p.name for p in args.results.iterdir() if p.is_dir() and p.name != "quick"
    )
    bad = 0
    for name in names:
        for path in sorted((args.results / name).glob("*.csv")):
            old = committed(args.rev, path)
            if old is None:
                print(f"{path}: new (not at {args.rev})")
                continue
            lines = compare(pd.read_csv(path), old)
            timing = [c for c in old.columns if any(t in c.lower() for t in TIMING)]
            status = "identical" if not lines else "DIFFERS"
            print(f"{path}: {status} ({len(old)} rows; timing columns {timing})")
            for line in lines:
                print(f"    {line}")
            bad += bool(lines)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
