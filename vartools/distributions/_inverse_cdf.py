"""Exact inverse-CDF sampling of many categoricals at once by a guide table.

For B categoricals with K categories each, ``Guide.lookup(u)`` returns, for every
uniform u of categorical j, #{k : cdf[j, k] <= u} (capped at K - 1): the category whose
CDF interval holds u. A guide table (Devroye 1986, sec. III.2.4) of M buckets per
categorical gives, for the bucket floor(u M), a lower bound on that count; a few
vectorised compare-and-step passes finish it. M is chosen when the table is built so
that one pass suffices where the memory budget allows.

Speed notes (the lookup is the inner loop of categorical sampling):

- indices are global (categorical j's entries start at j (K + 1) in one padded CDF
  array), so a pass is one gather, one compare and one add, with no per-categorical
  offset added in the loop;
- the arrays are viewed as rows of several whole events, so the few broadcast
  operations run over long inner loops rather than loops of length B;
- float32 uniforms are compared with the CDF rounded *up* to float32, which gives
  exactly the float64 comparison (for a float32 u, c <= u iff the smallest float32 not
  below c is <= u) at float32 speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Guide"]

#: Margin, in buckets, for rounding in floor(u M): float32 u M is off by at most
#: M 2^-24 buckets, which stays below this while M <= MAX_BUCKETS.
_DELTA = 0.01
MAX_BUCKETS = 2**16
#: Events per row of the 2-d view in ``lookup`` (a power of two; see ``_rows``).
_ROW_EVENTS = 512


def _round_up_f32(c: np.ndarray) -> np.ndarray:
    """The smallest float32 >= c, elementwise (c float64; +inf stays +inf)."""
    c32 = c.astype(np.float32)
    low = c32.astype(np.float64) < c
    c32[low] = np.nextafter(c32[low], np.float32(np.inf))
    return c32


def _bounds(key: np.ndarray, m: int) -> tuple[np.ndarray, int]:
    """(start, passes) of a guide table of m buckets, from key = cdf * m, shape (B, K).

    start[j, b] is a lower bound on #{k : cdf[j, k] <= u} for every u that may fall in
    bucket b, and ``passes`` bounds how far the true count can lie above it.
    """
    nb = key.shape[0]
    rows = np.arange(nb)[:, None]
    # point k counts in start[j, b] for b >= floor(key + delta) + 1 (then key < b - delta)
    first = np.clip(np.floor(key + _DELTA).astype(np.int64) + 1, 0, m)
    hist = np.bincount((rows * (m + 1) + first).ravel(), minlength=nb * (m + 1))
    start = np.cumsum(hist.reshape(nb, m + 1), axis=1)[:, :m]
    # and may be <= u for b >= ceil(key - 1 - delta) (then key <= b + 1 + delta)
    last = np.clip(np.ceil(key - 1.0 - _DELTA).astype(np.int64), 0, m)
    hist = np.bincount((rows * (m + 1) + last).ravel(), minlength=nb * (m + 1))
    end = np.cumsum(hist.reshape(nb, m + 1), axis=1)[:, :m]
    return start, int((end - start).max())


@dataclass(frozen=True, eq=False)
class Guide:
    """Guide table of B categoricals with K categories (build with ``Guide.build``).

    Attributes:
        nb: number B of categoricals.
        k: number K of categories.
        m: buckets per categorical.
        passes: compare-and-step passes ``lookup`` makes.
        start: (B m,) global index j (K + 1) + (lower bound of the count) per bucket.
        cdf64: (B (K + 1),) the CDFs with the last value (1) as +inf, each followed by
            +inf.
        cdf32: ``cdf64`` rounded up to float32.
    """

    nb: int
    k: int
    m: int
    passes: int
    start: np.ndarray
    cdf64: np.ndarray
    cdf32: np.ndarray

    @classmethod
    def build(cls, cdf: np.ndarray, per_category: tuple[int, ...], max_entries: int) -> Guide:
        """The table for CDFs ``cdf`` (*batch, K) (last entry 1).

        Tries ``per_category[i] * K`` buckets per categorical in turn (at most
        ``MAX_BUCKETS``, and ``max_entries`` over all categoricals; the first size is
        always tried) and keeps the first that needs at most one pass, else the one
        needing the fewest.
        """
        k = int(cdf.shape[-1])
        flat = cdf.reshape(-1, k)
        nb = int(flat.shape[0])
        best: tuple[int, np.ndarray, int] | None = None
        for per in per_category:
            m = min(per * k, MAX_BUCKETS)
            if best is not None and (m <= best[0] or nb * m > max_entries):
                break
            start, passes = _bounds(flat * m, m)
            if best is None or passes < best[2]:
                best = (m, start, passes)
            if passes <= 1:
                break
        assert best is not None
        m, start, passes = best
        glob = (start + (np.arange(nb) * (k + 1))[:, None]).astype(np.intp).ravel()
        # the last category's CDF value (1) is stored as +inf: the count never exceeds
        # K - 1, even for u >= 1, so no final cap is needed (the bounds still hold:
        # start never counts it, and the count only gets smaller)
        padded = np.concatenate([flat[:, :-1], np.full((nb, 2), np.inf)], axis=1).ravel()
        return cls(nb, k, m, passes, glob, padded, _round_up_f32(padded))

    def _rows(self, size: int) -> tuple[int, int]:
        """(rows, events per row) of the 2-d view of ``size`` uniforms."""
        events = size // self.nb
        per_row = math.gcd(events, _ROW_EVENTS)
        return events // per_row, per_row

    def lookup(self, noise: np.ndarray) -> np.ndarray:
        """#{k : cdf[j, k] <= u} capped at K - 1, as int64, for uniforms (*lead, *batch)."""
        if noise.size == 0:
            return np.zeros(noise.shape, dtype=np.int64)
        rows, per_row = self._rows(noise.size)
        u = noise.reshape(rows, per_row * self.nb)
        bucket_offset, cdf_offset = self._offsets(per_row)
        idx = np.multiply(u, self.m).astype(np.intp)  # the bucket, floor(u M) for u >= 0
        np.minimum(idx, self.m - 1, out=idx)
        np.maximum(idx, 0, out=idx)
        idx += bucket_offset
        idx = self.start.take(idx)
        table = self.cdf32 if u.dtype == np.float32 else self.cdf64
        for _ in range(self.passes):
            idx += table.take(idx) <= u
        idx -= cdf_offset
        return idx.astype(np.int64, copy=False).reshape(noise.shape)

    def _offsets(self, per_row: int) -> tuple[np.ndarray, np.ndarray]:
        """Per column of a row of ``per_row`` events: j M and j (K + 1) (cached)."""
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = self.__dict__.setdefault("_tiles", {})
        if per_row not in cache:
            j = np.tile(np.arange(self.nb, dtype=np.intp), per_row)
            cache[per_row] = (j * self.m, j * (self.k + 1))
        return cache[per_row]
