"""Results on disk: the table schemas, validation, atomic writes and checksummed cell files.

Layout of ``results/<experiment>/`` (documented in results/README.md):

- ``summary.csv``: the tidy variance table (schema ``SUMMARY``), validated before
  every write;
- ``training.csv``: for trajectories, the loss (and EMA variance) at each
  checkpoint (schema ``TRAINING``);
- ``raw.npz``: the replicate estimates, when asked for (``--raw``);
- ``meta.json``: description, command line, seed, versions, git revision, host,
  timings, and under ``tables`` each table's row count and its rows per (problem, n,
  estimator, step) (``table_manifest``), which ``check_complete`` compares a table read
  back against (a truncated summary.csv is an error naming the missing rows);
- ``figures/``: PNG and PDF figures;
- ``cells/``: the cache of finished cells (not committed), one checksummed file
  each, which an interrupted run resumes from.

The schemas and ``validate`` live in ``vartools.measure.schema`` and are
re-exported here.

Every write goes to a temporary file in the same directory, is flushed and
fsync'ed, then ``os.replace``'d over the target: a reader sees the old file or the
new one, never a partial one. The file gets the mode an ordinary ``open(path, "w")``
would give, 0666 minus the umask (0644 with the usual umask 022), like the figures:
``tempfile.mkstemp`` alone would leave it 0600, readable by its owner only.

Example:
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"experiment": ["x"], "variance": ["high"]})
    >>> try:
    ...     validate(bad, TRAINING)
    ... except SchemaError as e:
    ...     print(str(e).splitlines()[0])
    training table: column 'variance' is not part of the schema; ...
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.measure.schema import (
    SUMMARY,
    TRAINING,
    Column,
    Schema,
    SchemaError,
    upgrade,
    validate,
)

__all__ = [
    "default_results_root",
    "SUMMARY",
    "TRAINING",
    "Column",
    "FSYNC_MIN_SECONDS",
    "CorruptFileError",
    "IncompleteTableError",
    "Schema",
    "SchemaError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_complete",
    "default_file_mode",
    "read_cell",
    "read_table",
    "table_manifest",
    "validate",
    "write_cell",
    "write_json",
    "write_table",
]


class CorruptFileError(ValueError):
    """A cell file is truncated, altered or of another format: it must not be trusted."""


# ----------------------------------------------------------------- atomic writes


class IncompleteTableError(ValueError):
    """A results table lacks rows that its meta.json says were written (truncated, edited)."""


#: The columns whose values name a group of rows in ``table_manifest`` (those present).
GROUP_COLUMNS = ("problem", "n", "estimator", "step")


def table_manifest(df: pd.DataFrame) -> dict[str, Any]:
    """What meta.json records of a table: its row count and rows per group.

    The groups are the distinct values of the ``GROUP_COLUMNS`` the table has (a point's
    problem, n, estimator and checkpoint step), each with its number of rows.
    """
    cols = [c for c in GROUP_COLUMNS if c in df.columns]
    groups: list[list[Any]] = []
    if cols and len(df):
        counts = df.groupby(cols, sort=False, dropna=False).size()
        for key, count in counts.items():
            key = key if isinstance(key, tuple) else (key,)
            groups.append([_plain(k) for k in key] + [int(count)])
    return {"rows": int(len(df)), "columns": cols, "groups": groups}


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def check_complete(df: pd.DataFrame, manifest: Mapping[str, Any] | None, path: Any) -> None:
    """Raise ``IncompleteTableError`` when ``df`` (read from ``path``) lacks recorded rows.

    ``manifest`` is the table's entry under ``tables`` in meta.json (``table_manifest``);
    None (a meta.json written before the field existed) skips the check: no false alarm.
    The error names each group (problem, n, estimator, step) with rows missing.
    """
    if not manifest:
        return
    cols = list(manifest.get("columns", []))
    have: dict[tuple[Any, ...], int] = {}
    if cols and all(c in df.columns for c in cols) and len(df):
        for key, count in df.groupby(cols, sort=False, dropna=False).size().items():
            key = key if isinstance(key, tuple) else (key,)
            have[tuple(str(k) for k in key)] = int(count)
    missing = []
    for *key, count in manifest.get("groups", []):
        got = have.get(tuple(str(k) for k in key), 0)
        if got < count:
            what = ", ".join(f"{c}={k!r}" for c, k in zip(cols, key, strict=True))
            missing.append(f"{what}: {count - got} of {count} rows")
    expected = int(manifest.get("rows", len(df)))
    if missing or len(df) < expected:
        shown = "; ".join(missing[:10]) + (
            f"; and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise IncompleteTableError(
            f"{path} has {len(df)} rows but its meta.json records {expected}: missing "
            f"{shown or 'rows'}. The file was truncated or edited; rerun the experiment "
            "(`vartools run NAME` with the same --scale and --out reuses its cells) to "
            "rewrite it"
        )


def default_results_root(scale: str) -> str:
    """Where results go by default: ``results`` (full scale) or ``results/quick`` (quick).

    Quick runs never overwrite the committed full-scale results (git ignores
    ``results/quick/``).
    """
    return "results" if scale == "full" else str(Path("results") / "quick")


_UMASK_LOCK = threading.Lock()


def default_file_mode() -> int:
    """0o666 minus the process umask: the mode ``open(path, "w")`` gives a new file.

    The umask can only be read by setting it, so it is set and restored at once (under a
    lock, for the threads of this process).

    Example:
        >>> oct(default_file_mode() & 0o600)
        '0o600'
    """
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same dir, fsync, os.replace).

    ``os.replace`` makes the write atomic against a killed process; the fsync before it
    also makes it durable against a power cut or an OS crash. ``fsync=False`` skips the
    fsync; only checksummed files whose loss is detected and cheap to redo use it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows the mode bits do not apply
            os.fchmod(fd, default_file_mode())  # mkstemp creates 0600; respect the umask
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_table(path: str | Path, df: pd.DataFrame, schema: Schema) -> None:
    """Validate ``df`` against ``schema``, then write it as CSV atomically.

    A ``.csv.gz`` suffix writes gzip-compressed CSV.
    """
    validate(df, schema)
    path = Path(path)
    text = df.to_csv(index=False, float_format="%.17g")
    data = text.encode("utf-8")
    if path.suffix == ".gz":
        import gzip

        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)


def read_table(path: str | Path, schema: Schema | None = None) -> pd.DataFrame:
    """Read a table written by ``write_table`` (validated when ``schema`` is given).

    With a schema, columns added since the table was written are derived first
    (``vartools.measure.schema.upgrade``: ``bias_flag`` of an older summary.csv).
    """
    df = pd.read_csv(path)
    if schema is not None:
        df = upgrade(df, schema)
        validate(df, schema)
    return df


# ------------------------------------------------------------------ cell files

_MAGIC = b"VARTOOLS-CELL-1\n"

#: Cells that took at least this long to compute are fsync'ed before their rename.
FSYNC_MIN_SECONDS = 0.05


def write_cell(
    path: str | Path,
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any],
    *,
    fsync: bool = True,
) -> None:
    """Write a cell atomically: a magic line, the sha256 of the payload, an .npz payload.

    ``meta`` (JSON-able: key, fingerprint, timings) is stored inside the payload, so
    the checksum covers it too. The runner passes ``fsync=False`` for cells that took
    less than ``FSYNC_MIN_SECONDS`` to compute: after a power cut such a cell may be
    truncated on disk, which its checksum detects, and recomputing it costs less than
    an fsync per cell would (an fsync costs 0.3-4 ms on a busy disk).
    """
    buf = io.BytesIO()
    payload = {f"a_{k}": np.asarray(v) for k, v in arrays.items()}
    payload["__meta__"] = np.array(json.dumps(dict(meta), sort_keys=True))
    np.savez(buf, allow_pickle=False, **payload)
    body = buf.getvalue()
    digest = hashlib.sha256(body).hexdigest().encode()
    atomic_write_bytes(path, _MAGIC + digest + b"\n" + body, fsync=fsync)


_HEX = re.compile(rb"^[0-9a-f]{64}$")


def read_cell(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a cell file: ``(arrays, meta)``.

    Raises:
        CorruptFileError: wrong magic, a checksum mismatch (truncated or altered), or
            an unreadable payload.
    """
    raw = Path(path).read_bytes()
    if not raw.startswith(_MAGIC):
        raise CorruptFileError(f"cell file {path} does not start with the cell header")
    rest = raw[len(_MAGIC) :]
    digest, sep, body = rest.partition(b"\n")
    if not sep or not _HEX.match(digest):
        raise CorruptFileError(f"cell file {path} has no valid checksum line")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise CorruptFileError(
            f"cell file {path} fails its checksum (truncated or altered); it will be recomputed"
        )
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            arrays = {k[2:]: z[k] for k in z.files if k.startswith("a_")}
    except Exception as exc:  # noqa: BLE001 - any decoding failure means corrupt
        raise CorruptFileError(f"cell file {path} has an unreadable payload: {exc}") from exc
    return arrays, meta
