r"""Closed-form score-function moments for separable objectives of factorised distributions.

When f(x) = c + sum_d h_d(x_d) (declared with ``vartools.core.objectives.separable`` or
``sum_of_terms`` with every term reading at most one coordinate) and the coordinates
x_d of the distribution are independent (Bernoulli, Categorical: they provide
``coordinate_outcomes``), every moment the closed forms of ``vartools.oracles.exact``
need (``SFMoments``: g, M2, M1, M0, E[f], E[f^2]) is a sum over the M outcomes of one
coordinate at a time: O(M p) work for any number of coordinates, where enumeration
needs M^D joint outcomes (2^10000 for 10,000 Bernoullis).

Derivation. Write mu_d = E[h_d(x_d)], v_d = Var h_d(x_d), so E[f] = c + sum_d mu_d and
Var f = sum_d v_d (independence). Take a parameter j; its score s_j depends only on its
coordinate d = c(j) (``param_coordinates``). Split f = h_d(x_d) + r_d with
r_d = c + sum_{e != d} h_e(x_e), independent of x_d, of mean a_d = E[f] - mu_d and
second moment b_d = (Var f - v_d) + a_d^2. Independence factorises every cross term:

    g_j  = E[f s_j]       = E[h_d s_j] + a_d E[s_j]
    M1_j = E[f s_j^2]     = E[h_d s_j^2] + a_d E[s_j^2]
    M0_j = E[s_j^2]
    M2_j = E[f^2 s_j^2]   = E[h_d^2 s_j^2] + 2 a_d E[h_d s_j^2] + b_d E[s_j^2]
    E[f^2] = Var f + E[f]^2

with each expectation on the right a sum over the M outcomes of x_d (E[s_j] = 0 is
summed too, not assumed). Then, for n iid samples:

- SF: the estimate is the mean of n iid terms f(x_i) s(x_i), so
  Var = (M2 - g^2) / n (``sf_variance``);
- SF + RLOO (leave-one-out baseline): the estimate is the U-statistic
  2 / (n (n-1)) sum_{i<k} h(x_i, x_k) with kernel h(x, y) = (f(x) - f(y)) (s(x) - s(y)) / 2,
  whence Var = [(n-2) V_mean + 2 zeta2] / (n (n-1)), V_mean = M2 - 2 E[f] M1 +
  E[f]^2 M0 - g^2 and zeta2 = (M2 + E[f^2] M0) / 2 - E[f] M1 (``rloo_variance``; the
  derivation is in docs/readme/reducers_coefficients.md).

Both are proved against the enumeration oracle in tests/test_large_problems.py.

Example:
    >>> import numpy as np
    >>> from vartools.core.objectives import separable
    >>> from vartools.core.problem import Problem
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
    >>> prob = Problem("big", Bernoulli(np.zeros(10_000)), separable(lambda b: b, 10_000))
    >>> m = separable_sf_moments(prob)
    >>> float(m.g[0]), float(m.ef)  # d/dlogit E[b] = 1/4, E[f] = 10000 / 2
    (0.25, 5000.0)
"""

from __future__ import annotations

import numpy as np

from vartools.core.errors import NoOracleError
from vartools.core.objectives import SumOfTerms
from vartools.core.problem import Problem, call_on_read_only
from vartools.oracles.moments import SFMoments

__all__ = ["is_separable", "separable_reason", "separable_sf_moments"]


def separable_reason(problem: Problem) -> str | None:
    """Why the separable closed form does not apply to ``problem`` (None: it applies)."""
    f, dist = problem.f, problem.dist
    if not isinstance(f, SumOfTerms) or f.terms is None:
        return (
            "f is not declared as a sum of terms (build it with vartools.separable or "
            "sum_of_terms to use the closed form)"
        )
    if any(len(set(r)) > 1 for r in f.reads):
        return "a term of f reads more than one coordinate (f is not separable)"
    if not callable(getattr(dist, "coordinate_outcomes", None)):
        return (
            f"the distribution {type(dist).__name__} has no independent per-coordinate "
            "outcomes (coordinate_outcomes)"
        )
    if not dist.supports("param_coordinates"):
        return f"the distribution {type(dist).__name__} does not map parameters to coordinates"
    return None


def is_separable(problem: Problem) -> bool:
    """Whether ``separable_sf_moments`` applies: f declared separable, coordinates independent."""
    return separable_reason(problem) is None


def separable_sf_moments(problem: Problem) -> SFMoments:
    """Exact ``SFMoments`` of a separable objective, coordinate by coordinate (see the module).

    Raises:
        NoOracleError: when f is not declared separable or the distribution does not give
            independent per-coordinate outcomes (the message says which).
        ValueError: when the declared terms return a wrong shape or a non-finite value.
    """
    why = separable_reason(problem)
    if why is not None:
        raise NoOracleError(f"no separable closed form for problem {problem.name!r}: {why}")
    f, dist = problem.f, problem.dist
    assert isinstance(f, SumOfTerms) and f.terms is not None
    rows, probs = dist.coordinate_outcomes()  # type: ignore[attr-defined]
    m_out, dim = probs.shape
    x = rows[:, None]  # (M, 1, *event): one "sample" per outcome row
    vals = np.asarray(
        call_on_read_only(f.terms, x, f"the terms of problem {problem.name!r}", "x"),
        dtype=np.float64,
    )
    if vals.shape != (m_out, 1, len(f.reads)):
        raise ValueError(
            f"the terms of problem {problem.name!r} returned shape {vals.shape} for x of shape "
            f"{x.shape}; expected {(m_out, 1, len(f.reads))} (one value per declared term)"
        )
    if not np.isfinite(vals).all():
        raise ValueError(f"the terms of problem {problem.name!r} returned a NaN or infinite value")
    vals = vals[:, 0, :]
    coord_of = np.array([r[0] if r else -1 for r in f.reads], dtype=np.intp)  # -1: constant
    if coord_of.max(initial=-1) >= dim:
        t = int(np.argmax(coord_of >= dim))
        raise ValueError(
            f"term {t} of problem {problem.name!r} reads coordinate {coord_of[t]}, but the "
            f"distribution has {dim} coordinates"
        )
    const_terms = coord_of < 0
    c = float(vals[0, const_terms].sum())
    h = np.zeros((m_out, dim))  # h_d at outcome m of coordinate d: its terms summed
    for m in range(m_out):
        h[m] = np.bincount(coord_of[~const_terms], vals[m, ~const_terms], minlength=dim)
    mu = (probs * h).sum(0)
    v = (probs * (h - mu) ** 2).sum(0)
    ef = c + float(mu.sum())
    var_f = float(v.sum())
    s = dist.score(x)[:, 0, :]  # (M, p): s_j at outcome m of its coordinate
    coord = np.asarray(dist.param_coordinates())
    pj, hj = probs[:, coord], h[:, coord]
    a = ef - mu[coord]  # mean of the rest r_d
    b = (var_f - v[coord]) + a * a  # its second moment
    e_s, e_s2 = (pj * s).sum(0), (pj * s * s).sum(0)
    e_hs, e_hs2 = (pj * hj * s).sum(0), (pj * hj * s * s).sum(0)
    e_h2s2 = (pj * hj * hj * s * s).sum(0)
    return SFMoments(
        g=e_hs + a * e_s,
        m2=e_h2s2 + 2 * a * e_hs2 + b * e_s2,
        m1=e_hs2 + a * e_s2,
        m0=e_s2,
        ef=ef,
        ef2=var_f + ef * ef,
    )
