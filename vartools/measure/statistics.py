"""Statistics of replicated estimates: variance with a standard error and CI, paired ratios.

Everything here is a pure function of replicate arrays ``e`` of shape (R, p)
(independent replicates of a whole estimator).

- Variance: the unbiased sample variance s^2 per coordinate. Its standard error
  uses the fourth moment (not the normal-theory 2 s^4 / (R - 1), which is wrong for
  the skewed, heavy-tailed estimates score-function estimators give): with the
  influence psi_r = (e_r - mean)^2 - s^2, SE = sd(psi) / sqrt(R).
- CI: asymptotic normal on the log scale (delta method),
  s^2 exp(+-z SE / s^2), which keeps the interval positive and is better
  calibrated for skewed estimates; coverage is checked by a slow test.
- Ratio of variances of two estimators run on common random numbers: paired delta
  method on log(s_a^2 / s_b^2) with influence psi_a / s_a^2 - psi_b / s_b^2.
- Aggregates over coordinates (mean, trace) use the averaged influence, so their
  CIs account for correlation between coordinates.

Example:
    >>> import numpy as np
    >>> e = np.random.default_rng(0).normal(size=(4000, 2))
    >>> s = replicate_stats(e)
    >>> bool(np.all((s["variance_lo"] < 1) & (1 < s["variance_hi"])))
    True
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

__all__ = [
    "Influence",
    "aggregate_stats",
    "GroupPart",
    "chunk_partials",
    "finish_groups",
    "group_aggregates",
    "influence",
    "paired_ratio",
    "replicate_stats",
    "z_value",
]

#: Largest number of (replicate x coordinate) float64 entries held at once by the
#: column-chunked statistics (``group_aggregates``): 2**23, 64 MiB.
STATS_ELEMENTS = 2**23


def z_value(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level in (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


class Influence(NamedTuple):
    """The per-coordinate moments of replicates ``e`` (R, p) that every statistic uses.

    Attributes:
        mean: (p,) replicate mean.
        var: (p,) unbiased replicate variance s^2.
        psi: (R, p) influence of the variance, (e_r - mean)^2 - s^2. Read-only by
            contract: the statistics below never modify it, so one ``Influence`` can
            serve them all (``summarize`` computes it once per estimator).
    """

    mean: np.ndarray
    var: np.ndarray
    psi: np.ndarray


def influence(e: np.ndarray) -> Influence:
    """The ``Influence`` of replicates ``e`` (R, p), in the dtype of ``e``."""
    mean = e.mean(axis=0)
    d2 = e - mean
    d2 *= d2  # in place: one (R, p) temporary, which becomes psi
    r = e.shape[0]
    var = d2.sum(axis=0) / (r - 1)
    d2 -= var
    return Influence(mean, var, d2)


def _influence(e: np.ndarray, given: Influence | None) -> Influence:
    if given is None:
        return influence(e)
    if given.psi.shape != e.shape or given.psi.dtype != e.dtype:
        raise ValueError(
            f"the influence given has shape {given.psi.shape} and dtype {given.psi.dtype}, "
            f"but the replicates have {e.shape} and {e.dtype}; pass influence(e) of these "
            "replicates (or None)"
        )
    return given


def _log_ci(v: np.ndarray, se: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        half = np.where(v > 0, z * se / np.where(v > 0, v, 1.0), 0.0)
    return v * np.exp(-half), v * np.exp(half)


def replicate_stats(
    e: np.ndarray,
    truth: Any = None,
    *,
    confidence: float = 0.95,
    moments: Influence | None = None,
) -> dict[str, np.ndarray]:
    """Per-coordinate statistics of replicate estimates ``e`` (R, p).

    ``moments`` is ``influence(e)`` of the float64 replicates when the caller has it
    already (the same numbers, computed once).

    Returns:
        Arrays of shape (p,): mean, mean_se, bias, bias_se (NaN without truth),
        variance, variance_se, variance_lo, variance_hi, mse (about the truth, or
        NaN), snr (|mean| / sd).
    """
    e = np.asarray(e, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 2:
        raise ValueError(f"e must have shape (R, p) with R >= 2 replicates, got {e.shape}")
    r = e.shape[0]
    z = z_value(confidence)
    mean, var, psi = _influence(e, moments)
    var_se = psi.std(axis=0, ddof=1) / np.sqrt(r)
    lo, hi = _log_ci(var, var_se, z)
    mean_se = np.sqrt(var / r)
    if truth is None:
        nan = np.full_like(mean, np.nan)
        bias, bias_se, mse = nan, nan, nan
    else:
        t = np.broadcast_to(np.asarray(truth, dtype=np.float64), mean.shape)
        bias = mean - t
        bias_se = mean_se
        sq = e - t
        sq *= sq  # in place: one (R, p) temporary instead of two (x * x is x ** 2, bit for bit)
        mse = sq.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.abs(mean) / np.sqrt(var)
    return {
        "mean": mean,
        "mean_se": mean_se,
        "bias": bias,
        "bias_se": bias_se,
        "variance": var,
        "variance_se": var_se,
        "variance_lo": lo,
        "variance_hi": hi,
        "mse": mse,
        "snr": snr,
    }


def paired_ratio(
    e_a: np.ndarray,
    e_b: np.ndarray,
    *,
    confidence: float = 0.95,
    reduce: str | None = None,
    moments: tuple[Influence | None, Influence | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variance ratio Var(a) / Var(b) with a paired delta-method CI on the log scale.

    Args:
        e_a: replicates (R, p) of estimator a.
        e_b: replicates (R, p) of estimator b, paired with a (same random numbers).
        confidence: CI level.
        reduce: None for per-coordinate ratios, "mean" for the ratio of the mean
            variances over coordinates.
        moments: ``(influence(e_a), influence(e_b))`` when the caller has them already
            (either may be None: computed here).

    Returns:
        (ratio, lo, hi), each (p,) or scalar arrays with ``reduce``.
    """
    if e_a.shape != e_b.shape:
        raise ValueError(
            f"paired replicates must have the same shape, got {e_a.shape} and {e_b.shape}"
        )
    z = z_value(confidence)
    r = e_a.shape[0]
    _, va, pa = _influence(e_a, moments[0] if moments is not None else None)
    _, vb, pb = _influence(e_b, moments[1] if moments is not None else None)
    if reduce == "mean":
        va, vb, pa, pb = va.mean(), vb.mean(), pa.mean(axis=1), pb.mean(axis=1)
    elif reduce is not None:
        raise ValueError(f"reduce must be None or 'mean', got {reduce!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(va / vb)
        pa = pa / va  # then in place: no further (R, p) temporaries
        pa -= pb / vb
        se = np.asarray(pa.std(axis=0, ddof=1) / np.sqrt(r))
    se = np.where(np.isfinite(se), se, np.nan)
    return ratio, ratio * np.exp(-z * se), ratio * np.exp(z * se)


def aggregate_stats(
    e: np.ndarray, *, confidence: float = 0.95, moments: Influence | None = None
) -> dict[str, dict[str, float]]:
    """Variance aggregated over coordinates: "mean", "trace" (with CIs) and "max".

    ``moments`` is ``influence(e)`` of the float64 replicates when the caller has it.

    Returns:
        {name: {"variance", "variance_se", "variance_lo", "variance_hi"}}; "max" reports
        the largest coordinate's variance with that coordinate's interval.
    """
    z = z_value(confidence)
    r = e.shape[0]
    _, var, psi = _influence(np.asarray(e, dtype=np.float64), moments)
    out: dict[str, dict[str, float]] = {}
    p = var.shape[0]
    row_sums = psi.sum(axis=1)  # (R,), once for both aggregates
    for name, scale in (("mean", 1.0 / p), ("trace", 1.0)):
        v = var.sum() * scale
        se = (row_sums * scale).std(ddof=1) / np.sqrt(r)
        lo, hi = _log_ci(np.asarray(v), np.asarray(se), z)
        out[name] = {
            "variance": float(v),
            "variance_se": float(se),
            "variance_lo": float(lo),
            "variance_hi": float(hi),
        }
    j = int(np.argmax(var))
    se_j = psi[:, j].std(ddof=1) / np.sqrt(r)
    lo, hi = _log_ci(np.asarray(var[j]), np.asarray(se_j), z)
    out["max"] = {
        "variance": float(var[j]),
        "variance_se": float(se_j),
        "variance_lo": float(lo),
        "variance_hi": float(hi),
    }
    return out


def group_aggregates(
    e: np.ndarray,
    groups: list[tuple[int, int]],
    ref: np.ndarray | None = None,
    *,
    confidence: float = 0.95,
    chunk_elements: int = STATS_ELEMENTS,
) -> list[dict[str, dict[str, float]]]:
    """``aggregate_stats`` (and the ratio of mean variances) over column ranges, in bounded memory.

    The same formulas as ``aggregate_stats`` and ``paired_ratio(..., reduce="mean")``, for
    each group of coordinates [start, stop) (a parameter block, or all of them), computed
    over chunks of columns of at most ``chunk_elements`` float64 entries, so that the
    replicates (R, p) of a model with many parameters (kept in float32, say) are never
    converted or centred whole. The sums are accumulated chunk by chunk, so results
    agree with ``aggregate_stats`` to rounding, not bit for bit.

    Args:
        e: replicates (R, p).
        groups: contiguous column ranges (start, stop).
        ref: paired replicates (R, p) of the reference estimator, or None.
        confidence: CI level.
        chunk_elements: float64 entries per chunk.

    Returns:
        One dict per group: {"mean", "trace", "max"} -> {"variance", "variance_se",
        "variance_lo", "variance_hi"}, and with ``ref`` the "mean" entry also holds
        "ratio", "ratio_lo", "ratio_hi".
    """
    r, p = e.shape
    width = max(1, chunk_elements // max(r, 1))
    parts = []
    for c0 in range(0, p, width):
        c1 = min(p, c0 + width)
        infl = influence(np.asarray(e[:, c0:c1], dtype=np.float64))
        iref = None if ref is None else influence(np.asarray(ref[:, c0:c1], dtype=np.float64))
        parts.append(chunk_partials(infl, iref, c0, groups))
    return finish_groups(parts, groups, r, with_ref=ref is not None, confidence=confidence)


class GroupPart(NamedTuple):
    """One column chunk's share of a group's aggregate (``chunk_partials``).

    Attributes:
        v: the sum of the chunk's variances in the group. psi: (R,) the row sums of their
            influence. vmax, semax: the largest variance there and its standard error.
        vref, pref: the same sums for the reference estimator (0.0 and None without one).
    """

    v: Any
    psi: np.ndarray
    vmax: Any
    semax: Any
    vref: Any
    pref: np.ndarray | None


def chunk_partials(
    infl: Influence, iref: Influence | None, c0: int, groups: list[tuple[int, int]]
) -> list[GroupPart | None]:
    """The shares of the column chunk starting at ``c0`` in each group (None: not in it).

    ``infl`` (and ``iref`` for the reference) is the float64 influence of the chunk's
    columns. ``finish_groups`` adds the shares of all chunks in chunk order, which are
    the sums ``group_aggregates`` accumulates, in the same order: the chunks can be
    computed anywhere (worker processes) and give the same numbers, bit for bit.
    """
    _, var, psi = infl
    r, width = psi.shape
    c1 = c0 + width
    out: list[GroupPart | None] = []
    for g0, g1 in groups:
        lo, hi = max(g0, c0) - c0, min(g1, c1) - c0
        if lo >= hi:
            out.append(None)
            continue
        j = lo + int(np.argmax(var[lo:hi]))
        out.append(
            GroupPart(
                var[lo:hi].sum(),
                psi[:, lo:hi].sum(axis=1),
                var[j],
                psi[:, j].std(ddof=1) / np.sqrt(r),
                0.0 if iref is None else iref.var[lo:hi].sum(),
                None if iref is None else iref.psi[:, lo:hi].sum(axis=1),
            )
        )
    return out


def finish_groups(
    parts: list[list[GroupPart | None]],
    groups: list[tuple[int, int]],
    r: int,
    *,
    with_ref: bool,
    confidence: float = 0.95,
) -> list[dict[str, dict[str, float]]]:
    """``group_aggregates``'s result from the ``chunk_partials`` of every chunk, in order."""
    z = z_value(confidence)
    ng = len(groups)
    v_sum, vref_sum = np.zeros(ng), np.zeros(ng)
    psi_sum, pref_sum = np.zeros((ng, r)), np.zeros((ng, r))
    vmax, semax = np.full(ng, -np.inf), np.zeros(ng)
    for chunk in parts:
        for g, part in enumerate(chunk):
            if part is None:
                continue
            v_sum[g] += part.v
            psi_sum[g] += part.psi
            if part.vmax > vmax[g]:
                vmax[g], semax[g] = part.vmax, part.semax
            if with_ref:
                vref_sum[g] += part.vref
                pref_sum[g] += part.pref
    out = []
    for g, (g0, g1) in enumerate(groups):
        res: dict[str, dict[str, float]] = {}
        size = g1 - g0
        for name, v, se in (
            ("mean", v_sum[g] / size, (psi_sum[g] / size).std(ddof=1) / np.sqrt(r)),
            ("trace", v_sum[g], psi_sum[g].std(ddof=1) / np.sqrt(r)),
            ("max", vmax[g], semax[g]),
        ):
            lo_, hi_ = _log_ci(np.asarray(v), np.asarray(se), z)
            res[name] = {
                "variance": float(v),
                "variance_se": float(se),
                "variance_lo": float(lo_),
                "variance_hi": float(hi_),
            }
        if with_ref:
            va, vb = v_sum[g] / size, vref_sum[g] / size
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = float(va / vb)
                infl = psi_sum[g] / size / va - pref_sum[g] / size / vb
                se_r = float(infl.std(ddof=1) / np.sqrt(r))
            se_r = se_r if np.isfinite(se_r) else np.nan
            res["mean"].update(
                {
                    "ratio": ratio,
                    "ratio_lo": ratio * float(np.exp(-z * se_r)),
                    "ratio_hi": ratio * float(np.exp(z * se_r)),
                }
            )
        out.append(res)
    return out
