"""Exact variances of the Liu / Kool toy by enumeration of the 8 joint states.

Tests check these closed forms against the library's enumeration oracles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.core.problem import Problem
from vartools.estimators.sum_and_sample import sum_and_sample_top_sets
from vartools.harness.experiment import Experiment
from vartools.oracles.exact import SFMoments, rloo_variance

from .models import ETAS, MAX_EVALS, N_FLIP, problem

__all__ = [
    "exact_curves",
    "exact_gradient_shared",
    "exact_table",
    "joint_table",
    "local_expectation_terms",
    "local_expectation_variance",
    "shared_moments",
    "sum_and_sample_order",
    "sum_and_sample_support_order_variance",
    "sum_and_sample_tie_variances",
    "sum_and_sample_variance",
    "tables",
    "tie_spread_table",
]


def joint_table(prob: Problem) -> dict[str, np.ndarray]:
    """The 8 joint states: probabilities q, f, the shared-logit score S and f S."""
    x, q = prob.dist.support()
    f = prob.evaluate(x[:, None])[:, 0]
    s = prob.dist.score(x[:, None])[:, 0, :].sum(-1)
    return {"x": x, "q": q, "f": f, "s": s, "fs": f * s}


def shared_moments(prob: Problem) -> SFMoments:
    """Score-function moments for the shared logit (scalars), by enumeration."""
    t = joint_table(prob)
    q, f, s = t["q"], t["f"], t["s"]
    one = np.ones(1)
    return SFMoments(
        g=one * (q @ (f * s)),
        m2=one * (q @ (f * f * s * s)),
        m1=one * (q @ (f * s * s)),
        m0=one * (q @ (s * s)),
        ef=float(q @ f),
        ef2=float(q @ (f * f)),
    )


def exact_gradient_shared(eta: float) -> float:
    """d/deta E[f] for the shared logit (-0.045 at eta = 0)."""
    return float(shared_moments(problem(eta)).g[0])


def sum_and_sample_order(q: np.ndarray) -> np.ndarray:
    """States by decreasing probability; ties keep the support order (a stable sort).

    This is one fixed tie-break (the rule vartools used before ties were randomised); it
    is kept to report what that rule showed, beside the randomised rule.
    """
    return np.argsort(-q, kind="stable")


def _fixed_top_variance(q: np.ndarray, fs: np.ndarray, top: np.ndarray, n: int) -> float:
    """(1 - Q)^2 Var_rest(f S) / n for a fixed summed set ``top``."""
    rest = np.setdiff1d(np.arange(len(q)), top)
    if len(rest) <= 1:
        return 0.0
    mass = q[rest].sum()
    r = q[rest] / mass
    mean = r @ fs[rest]
    return float(mass**2 * (r @ (fs[rest] - mean) ** 2) / n)


def sum_and_sample_tie_variances(prob: Problem, k: int, n: int = 1) -> np.ndarray:
    """Variance conditional on each top set the tie-break can pick, shape (C,).

    The top sets come from ``sum_and_sample_top_sets`` (each picked with probability 1 / C).
    """
    t = joint_table(prob)
    tops = sum_and_sample_top_sets(prob, k)
    return np.array([_fixed_top_variance(t["q"], t["fs"], top, n) for top in tops])


def sum_and_sample_variance(prob: Problem, k: int, n: int = 1) -> float:
    """Exact variance of sum-and-sample (top-k summed, ties at random, n samples of the rest).

    For a fixed summed set T the estimate sum_{m in T} q_m f_m S_m + (1 - Q_T) mean_i
    f(z_i) S(z_i), z_i drawn from q restricted to the other states (Liu et al. 2019,
    sec. 3), has mean the gradient and variance (1 - Q_T)^2 Var_rest(f S) / n (0 when at
    most one state remains). Ties at the k-th probability are broken uniformly at random,
    so by the law of total variance the variance is the average of these over the top sets
    (the conditional means are all the gradient, so their spread adds nothing).
    """
    return float(sum_and_sample_tie_variances(prob, k, n).mean())


def sum_and_sample_support_order_variance(prob: Problem, k: int, n: int = 1) -> float:
    """The variance with ties broken by support order (one fixed top set)."""
    t = joint_table(prob)
    top = sum_and_sample_order(t["q"])[:k]
    return _fixed_top_variance(t["q"], t["fs"], top, n)


def tie_spread_table() -> pd.DataFrame:
    """Sum-and-sample (n = 1) variance over the tie choices, for every eta and k.

    Columns: the number of top sets the tie-break can pick, the randomised rule's variance
    (their mean: what vartools measures), the smallest and largest conditional variance,
    and the variance under the earlier support-order rule.
    """
    rows: list[dict[str, Any]] = []
    for eta in ETAS:
        prob = problem(eta)
        for k in range(0, MAX_EVALS + 1):
            v = sum_and_sample_tie_variances(prob, k)
            rows.append(
                {
                    "eta": float(eta),
                    "k": k,
                    "n_evals": min(k + 1, MAX_EVALS),
                    "top_sets": len(v),
                    "variance_random_ties": float(v.mean()),
                    "variance_min": float(v.min()),
                    "variance_max": float(v.max()),
                    "variance_support_order": sum_and_sample_support_order_variance(prob, k),
                }
            )
    return pd.DataFrame(rows)


def local_expectation_terms(prob: Problem) -> np.ndarray:
    """Per-state local-expectation estimate of the shared gradient, shape (8,).

    sum_d w [f(z_d = 1, z_-d) - f(z_d = 0, z_-d)] with w = sigmoid(eta)(1 - sigmoid(eta)).
    """
    t = joint_table(prob)
    x = t["x"]
    theta = float(special.expit(prob.dist.params[0]))
    out = np.zeros(len(x))
    for d in range(x.shape[-1]):
        hi, lo = x.copy(), x.copy()
        hi[:, d], lo[:, d] = 1.0, 0.0
        diff = prob.evaluate(hi[:, None])[:, 0] - prob.evaluate(lo[:, None])[:, 0]
        out += theta * (1 - theta) * diff
    return out


def local_expectation_variance(prob: Problem, n: int = 1) -> float:
    """Exact variance of the n-sample local-expectation estimate of the shared gradient."""
    t = joint_table(prob)
    e = local_expectation_terms(prob)
    mean = t["q"] @ e
    return float(t["q"] @ (e - mean) ** 2 / n)


def exact_curves(eta: float) -> pd.DataFrame:
    """Exact variance of every (family, size) point against f evaluations."""
    prob = problem(eta)
    m = shared_moments(prob)
    v_sf = float(m.m2[0] - m.g[0] ** 2)
    rows: list[dict[str, Any]] = []
    for k in range(1, MAX_EVALS + 1):
        rows.append({"family": "reinforce", "size": k, "n_evals": k, "exact_variance": v_sf / k})
    for k in range(2, MAX_EVALS + 1):
        v = float(rloo_variance(m, k)[0])
        rows.append({"family": "rloo", "size": k, "n_evals": k, "exact_variance": v})
    for k in range(0, MAX_EVALS + 1):
        rows.append(
            {
                "family": "sum_and_sample",
                "size": k,
                "n_evals": min(k + 1, MAX_EVALS),
                "exact_variance": sum_and_sample_variance(prob, k),
            }
        )
    for n in (1, 2):
        rows.append(
            {
                "family": "local_expectation",
                "size": n,
                "n_evals": (1 + N_FLIP) * n,
                "exact_variance": local_expectation_variance(prob, n),
            }
        )
    out = pd.DataFrame(rows)
    out.insert(0, "eta", float(eta))
    out["truth"] = float(m.g[0])
    return out


def exact_table(scale: str = "full") -> pd.DataFrame:
    """The exact curves of the figure (both etas; the same at every scale)."""
    del scale
    return pd.concat([exact_curves(eta) for eta in ETAS], ignore_index=True)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``exact.csv`` (the exact curves) and ``tie_spread.csv`` (sum-and-sample tie choices)."""
    del exp, summary
    return {"exact": exact_table(), "tie_spread": tie_spread_table()}
