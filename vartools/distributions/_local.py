"""f at modified samples: one coordinate replaced, evaluated in vectorised chunks.

Shared by the ``local_expectation`` capability of the discrete families and by the
measure-valued estimator (which replaces one coordinate of a Normal sample).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["evaluate_stacked", "replace_eval"]

Evaluate = Callable[[np.ndarray], np.ndarray]


def evaluate_stacked(
    evaluate: Evaluate, event: tuple[int, ...], xs: np.ndarray, lead: tuple[int, ...]
) -> np.ndarray:
    """f on modified samples xs (*lead, *extra, *event) -> (*lead, *extra), one call."""
    extra = xs.shape[len(lead) : xs.ndim - len(event)]
    flat = xs.reshape(*lead[:-1], lead[-1] * math.prod(extra), *event)
    return evaluate(flat).reshape(*lead, *extra)


def replace_eval(
    evaluate: Evaluate,
    event: tuple[int, ...],
    base: np.ndarray,
    vals: np.ndarray,
    chunk_elements: int,
) -> np.ndarray:
    """f at ``base`` (*lead, D) with coordinate d replaced by vals[..., d], each d: (*lead, D).

    The D modified copies of each sample are evaluated in chunks of coordinates holding
    at most about ``chunk_elements`` entries (one call of f per chunk); D evaluations of
    f per sample in all. ``event`` is the event shape f expects (D = prod(event)).
    """
    lead = base.shape[:-1]
    d = base.shape[-1]
    out = np.empty((*lead, d))
    chunk = max(1, chunk_elements // max(1, math.prod(lead) * d))
    for start in range(0, d, chunk):
        ds = np.arange(start, min(d, start + chunk))
        ar = np.arange(ds.size)
        xc = np.repeat(base[..., None, :], ds.size, axis=-2)  # (*lead, c, D)
        xc[..., ar, ds] = vals[..., ds]  # coordinate ds[a] replaced in copy a
        out[..., ds] = evaluate_stacked(evaluate, event, xc.reshape(*lead, ds.size, *event), lead)
    return out
