"""Coefficients of zero-mean control-variate directions, fitted on earlier batches.

Several frontier estimators are linear in their control-variate coefficients: the
estimate is A + sum_i c_i C_i with per-sample terms A (*R, n, p) and directions
C_i (*R, n, p) whose expectation is zero (the Double-CV alpha, RODEO's alpha and beta,
REBAR's eta). Their papers learn the coefficients by descending the variance of the
estimate. Because the estimate is linear in c, the minimiser of E|estimate|^2 (which
is the variance plus the constant |gradient|^2, since E[C_i] = 0) has the closed form

    c* = -M^{-1} b,   M_ij = E[<Cbar_i, Cbar_j>],   b_i = E[<Abar, Cbar_i>],

with Abar, Cbar_i the estimate-level means over the n samples (not per-sample
moments: leave-one-out terms are dependent). ``fitted_coefficients`` keeps M and b as
exponentially decayed averages over the replicates of *earlier* batches (state) and
applies the coefficients fitted before the batch, so the estimate stays unbiased for
any data (c does not depend on the batch it multiplies). Before the first batch
c = 0. Stateful: ``measure_variance`` warms it up at the frozen parameters and
measures every replicate at that state.

The base estimator puts the directions in ``batch.info["cv_directions"]``, shape
(*R, n, p, m), and their names in ``batch.info["cv_names"]``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, short_repr

__all__ = ["FitState", "directions", "fitted_coefficients"]


class FitState(NamedTuple):
    """Decayed moments of earlier batches: M (m, m), b (m,) and the total weight."""

    m: np.ndarray
    b: np.ndarray
    weight: float

    def coefficients(self, ridge: float) -> np.ndarray:
        """c = -(M + ridge tr(M)/m I)^+ b."""
        mm = self.m / self.weight
        k = mm.shape[0]
        reg = mm + ridge * np.trace(mm) / k * np.eye(k)
        out: np.ndarray = -np.linalg.pinv(reg) @ (self.b / self.weight)
        return out


def directions(batch: Batch, who: str) -> np.ndarray:
    """The batch's control-variate directions (*R, n, p, m), or a clear error."""
    c = batch.info.get("cv_directions")
    if c is None:
        raise TypeError(
            f"{who} fits the coefficients of control-variate directions that the base estimator "
            "puts in batch.info['cv_directions']; use it with double_cv, rodeo or rebar"
        )
    return np.asarray(c)


def fitted_coefficients(
    decay: float = 0.95, ridge: float = 1e-8, *, min_n: int = 2
) -> ControlVariate:
    """Fit the coefficients of the base estimator's directions on earlier batches.

    Args:
        decay: weight of the earlier moments at each new batch, in [0, 1).
        ridge: relative ridge added to M before solving (keeps c finite when a
            direction is zero, e.g. at a deterministic point).
        min_n: the smallest n the estimator accepts (2: Double CV and RODEO average
            over the other samples; the harness skips the estimator below it).

    Returns:
        A stateful, unbiased ``ControlVariate`` named ``fit``; the coefficients used on a
        batch are in ``batch.info["coef:fit"]`` (m,).
    """
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
        raise ValueError(f"decay must be a number in [0, 1), got {short_repr(decay)}")
    if isinstance(ridge, bool) or not isinstance(ridge, int | float) or not ridge >= 0:
        raise ValueError(f"ridge must be a number >= 0, got {short_repr(ridge)}")
    dec, rid = float(decay), float(ridge)

    def init(problem: Problem) -> FitState | None:
        return None

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        c_dir = directions(batch, "fitted_coefficients")
        m = c_dir.shape[-1]
        coef = np.zeros(m) if state is None else state.coefficients(rid)
        terms = batch.terms + c_dir @ coef
        p = c_dir.shape[-2]
        a_bar = batch.terms.mean(-2).reshape(-1, p)  # (R, p): estimate level
        c_bar = c_dir.mean(-3).reshape(-1, p, m)  # (R, p, m)
        reps = a_bar.shape[0]
        m_new = np.einsum("rpi,rpj->ij", c_bar, c_bar) / reps
        b_new = np.einsum("rp,rpi->i", a_bar, c_bar) / reps
        if state is None:
            new = FitState(m_new, b_new, 1.0)
        else:
            new = FitState(dec * state.m + m_new, dec * state.b + b_new, dec * state.weight + 1.0)
        out = batch.with_terms(terms).with_info(**{"coef:fit": coef})
        return out, new

    return ControlVariate(
        init,
        apply,
        name="fit",
        stateful=True,
        per_sample=True,
        min_n=check_positive_int(min_n, "min_n"),
    )
