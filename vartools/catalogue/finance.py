"""Sensitivity analysis in computational finance: Black-Scholes Greeks by Monte Carlo.

Under Black-Scholes the discounted payoff of a European option depends on the
terminal price

    S_T = S0 exp((r - sigma^2 / 2) T + sigma sqrt(T) Z),   Z ~ N(0, 1),

and its Greeks are gradients of E[payoff(S_T)] with respect to theta = (S0, sigma):
delta = d/dS0 and vega = d/dsigma (Glasserman 2003, ch. 7). ``BlackScholes`` is the
distribution of S_T with theta = (s0, sigma) (it lives in
``vartools.catalogue.black_scholes`` and is re-exported here), so
``score_function`` (the likelihood-ratio method) and ``pathwise`` estimate (delta,
vega) directly:

- likelihood ratio: terms = payoff(S_T) * score, score = (Z / (S0 sigma sqrt(T)),
  (Z^2 - 1) / sigma - Z sqrt(T)) (Glasserman 2003, eqs. 7.27 and 7.29);
- pathwise: terms = payoff'(S_T) * dS_T/dtheta, dS_T/dS0 = S_T / S0,
  dS_T/dsigma = S_T (sqrt(T) Z - sigma T) (Glasserman 2003, sec. 7.2). Biased for the
  digital call, whose payoff is discontinuous (its derivative is 0 almost everywhere).

Exact values are the Black-Scholes closed forms (``call_greeks``, ``digital_greeks``);
``exact_terms_moments`` gives the exact mean and single-sample variance of any
per-sample estimator by quadrature over Z split at the strike, and
``price_control`` is the control variate built from the discounted terminal price,
whose mean S0 is known.

Example:
    >>> import numpy as np
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.estimators.base import score_function
    >>> prob = option_problem("call", s0=100.0, strike=100.0, rate=0.05, sigma=0.2)
    >>> round(float(exact_greeks(prob)[0]), 4)  # delta = N(d1)
    0.6368
    >>> mean, var = exact_terms_moments(prob, make_estimator(score_function))
    >>> bool(np.allclose(mean, exact_greeks(prob)))
    True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
from scipy import integrate, special

from vartools.catalogue.black_scholes import BlackScholes, _positive_float
from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.errors import OracleFailedError
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array, short_repr
from vartools.estimators.composed import Estimator

__all__ = [
    "BlackScholes",
    "Greeks",
    "Payoff",
    "call_greeks",
    "digital_greeks",
    "exact_greeks",
    "exact_terms_moments",
    "option_problem",
    "price_control",
]

PayoffKind = Literal["call", "digital"]


@dataclass(frozen=True, eq=False)
class Payoff:
    """Discounted payoff of a European call or a digital (cash-or-nothing) call.

    call: e^{-rT} max(S_T - K, 0), derivative e^{-rT} 1[S_T > K];
    digital: e^{-rT} 1[S_T > K], derivative 0 almost everywhere (which makes the
    pathwise estimator of its Greeks biased: it returns 0).

    Args:
        kind: ``"call"`` or ``"digital"``.
        strike: K > 0.
        rate: risk-free rate r.
        maturity: T > 0.
    """

    kind: PayoffKind
    strike: float
    rate: float = 0.0
    maturity: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("call", "digital"):
            raise ValueError(f"kind must be 'call' or 'digital', got {short_repr(self.kind)}")
        object.__setattr__(self, "strike", _positive_float(self.strike, "strike"))
        object.__setattr__(self, "maturity", _positive_float(self.maturity, "maturity"))
        object.__setattr__(self, "rate", float(as_finite_array(self.rate, "rate")))

    @property
    def discount(self) -> float:
        """e^{-rT}."""
        return math.exp(-self.rate * self.maturity)

    @property
    def name(self) -> str:
        """Short label."""
        return f"{self.kind}(K={self.strike:g})"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Discounted payoff of terminal prices x (*R, n) -> (*R, n)."""
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "call":
            return self.discount * np.maximum(x - self.strike, 0.0)
        return self.discount * (x > self.strike).astype(np.float64)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """Derivative with respect to S_T (0 almost everywhere for the digital)."""
        x = np.asarray(x, dtype=np.float64)
        if self.kind == "call":
            return self.discount * (x > self.strike).astype(np.float64)
        return np.zeros_like(x)


def option_problem(
    kind: PayoffKind = "call",
    *,
    s0: float = 100.0,
    strike: float = 100.0,
    rate: float = 0.05,
    sigma: float = 0.2,
    maturity: float = 1.0,
) -> Problem:
    """The problem whose gradient is (delta, vega) of a European or digital call.

    Args:
        kind: ``"call"`` or ``"digital"``.
        s0: spot price.
        strike: strike K.
        rate: risk-free rate.
        sigma: volatility.
        maturity: time to maturity T in years.

    Returns:
        A Problem with ``dist = BlackScholes(s0, sigma, rate, maturity)`` and
        ``f = Payoff(kind, strike, rate, maturity)``.
    """
    payoff = Payoff(kind, strike, rate, maturity)
    dist = BlackScholes(s0, sigma, rate=rate, maturity=maturity)
    return Problem(
        f"{kind}(S0={dist.s0:g},K={payoff.strike:g})",
        dist,
        payoff,
        grad_f=payoff.grad,
        description=(
            f"Black-Scholes {kind} call, S0={dist.s0:g}, K={payoff.strike:g}, r={dist.rate:g}, "
            f"sigma={dist.sigma:g}, T={dist.maturity:g}; gradient = (delta, vega)"
        ),
    )


class Greeks(NamedTuple):
    """Black-Scholes price, delta (d/dS0) and vega (d/dsigma)."""

    price: float
    delta: float
    vega: float


def _d1_d2(s0: float, strike: float, rate: float, sigma: float, maturity: float):
    sd = sigma * math.sqrt(maturity)
    d1 = (math.log(s0 / strike) + (rate + 0.5 * sigma**2) * maturity) / sd
    return d1, d1 - sd


def call_greeks(s0: float, strike: float, rate: float, sigma: float, maturity: float) -> Greeks:
    """European call: price S0 N(d1) - K e^{-rT} N(d2), delta N(d1), vega S0 phi(d1) sqrt(T).

    Example:
        >>> round(call_greeks(100.0, 100.0, 0.05, 0.2, 1.0).price, 4)
        10.4506
    """
    d1, d2 = _d1_d2(s0, strike, rate, sigma, maturity)
    price = s0 * special.ndtr(d1) - strike * math.exp(-rate * maturity) * special.ndtr(d2)
    vega = s0 * math.exp(-0.5 * d1 * d1) / math.sqrt(2 * math.pi) * math.sqrt(maturity)
    return Greeks(float(price), float(special.ndtr(d1)), float(vega))


def digital_greeks(s0: float, strike: float, rate: float, sigma: float, maturity: float) -> Greeks:
    """Digital (cash-or-nothing) call paying 1: its price, delta and vega in closed form.

    price e^{-rT} N(d2), delta e^{-rT} phi(d2) / (S0 sigma sqrt(T)), vega -e^{-rT} phi(d2)
    d1 / sigma (differentiate N(d2): dd2/dS0 = 1 / (S0 sigma sqrt(T)), dd2/dsigma = -d1 / sigma).
    """
    d1, d2 = _d1_d2(s0, strike, rate, sigma, maturity)
    disc = math.exp(-rate * maturity)
    phi2 = math.exp(-0.5 * d2 * d2) / math.sqrt(2 * math.pi)
    delta = disc * phi2 / (s0 * sigma * math.sqrt(maturity))
    return Greeks(float(disc * special.ndtr(d2)), float(delta), float(-disc * phi2 * d1 / sigma))


def _parts(problem: Problem) -> tuple[BlackScholes, Payoff]:
    if not isinstance(problem.dist, BlackScholes) or not isinstance(problem.f, Payoff):
        raise TypeError(
            f"problem {problem.name!r} is not an option problem; build it with "
            "vartools.catalogue.finance.option_problem"
        )
    return problem.dist, problem.f


def exact_greeks(problem: Problem) -> np.ndarray:
    """The exact gradient (delta, vega) of an ``option_problem``, shape (2,)."""
    dist, payoff = _parts(problem)
    fn = call_greeks if payoff.kind == "call" else digital_greeks
    g = fn(dist.s0, payoff.strike, dist.rate, dist.sigma, dist.maturity)
    return np.array([g.delta, g.vega])


def _noise_integral(problem: Problem, fn: Any, *, rtol: float = 1e-10) -> np.ndarray:
    """Integral of fn(e) (m,) -> (m, k) against N(0, 1) noise e, split at the strike."""
    dist, payoff = _parts(problem)
    zstar = dist.strike_noise(payoff.strike)

    def integrand(e: np.ndarray) -> np.ndarray:
        z = e[:, 0]
        return fn(z) * (np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))[:, None]

    # N(0, 1) mass beyond |z| = 40 is below 1e-340; finite limits keep S_T finite.
    lim = 40.0
    zstar = min(max(zstar, -lim), lim)
    total = None
    for lo, hi in ((-lim, zstar), (zstar, lim)):
        res = integrate.cubature(integrand, [lo], [hi], rtol=rtol, atol=1e-14)
        if res.status != "converged":
            raise OracleFailedError(f"quadrature did not converge for problem {problem.name!r}")
        total = res.estimate if total is None else total + res.estimate
    return np.asarray(total, dtype=np.float64)


def exact_terms_moments(problem: Problem, estimator: Estimator, *, state: Any = None):
    """Exact mean and single-sample variance (each (2,)) of a per-sample estimator.

    Integrates the terms t(Z) and t(Z)^2 of one sample over Z ~ N(0, 1), split at the
    strike (where the payoff has its kink or jump). The n-sample variance is the
    returned variance / n.

    Args:
        problem: an ``option_problem``.
        estimator: a per-sample estimator (score function or pathwise, optionally with
            ``price_control``).
        state: the control-variate state (default: the initial state).

    Returns:
        (mean, variance), each of shape (2,) over (s0, sigma).
    """
    _parts(problem)
    if not estimator.cv.per_sample or estimator.base.draw is not None:
        raise ValueError(
            f"estimator {estimator.name!r} is not per-sample; its exact variance is not "
            "a one-dimensional integral"
        )
    if state is None:
        state = estimator.init(problem)

    def fn(z: np.ndarray) -> np.ndarray:
        t = estimator.from_noise(problem, z.reshape(-1, 1), state).terms[:, 0, :]
        return np.concatenate([t, t * t], axis=-1)

    v = _noise_integral(problem, fn)
    mean = v[:2]
    return mean, v[2:] - mean**2


def _control_terms(problem: Problem, kind: str, noise: np.ndarray) -> np.ndarray:
    """Per-sample control terms c(Z) (*R, n, 2) for h = e^{-rT} S_T: E[c] = (1, 0)."""
    dist, payoff = _parts(problem)
    st = dist.transform(noise)
    h = payoff.discount * st
    if kind == "sf":
        return h[..., None] * dist.score(st)
    return dist.transform_vjp(noise, np.full_like(st, payoff.discount))


def price_control(kind: Literal["sf", "pathwise"], beta: Any = "optimal") -> ControlVariate:
    """Control variate from the discounted terminal price h = e^{-rT} S_T, whose mean is S0.

    The same estimator applied to h gives per-sample control terms c_i with the known
    mean grad_theta E[h] = (1, 0) (d/dS0 S0 = 1, d/dsigma S0 = 0): c_i = h(S_i) score_i for
    the likelihood ratio (``kind="sf"``), c_i = e^{-rT} dS_T/dtheta for the pathwise
    estimator (``kind="pathwise"``). terms_i <- terms_i - beta (c_i - (1, 0)) per
    coordinate (Glasserman 2003, sec. 4.1). Unbiased because beta is fixed before the
    batch is drawn: a given (2,) vector or ``"optimal"``, the exact variance-minimising
    beta* = Cov(t, c) / Var(c) per coordinate, computed once by quadrature in ``init``
    (an oracle coefficient). No extra evaluations of the payoff.

    Args:
        kind: which estimator the control is paired with, ``"sf"`` or ``"pathwise"``.
        beta: ``"optimal"`` or a scalar / (2,) coefficient.
    """
    if kind not in ("sf", "pathwise"):
        raise ValueError(f"kind must be 'sf' or 'pathwise', got {short_repr(kind)}")
    fixed = None if isinstance(beta, str) else as_finite_array(beta, "beta")
    if isinstance(beta, str) and beta != "optimal":
        raise ValueError(f"beta must be 'optimal' or a number / (2,) vector, got {beta!r}")
    known = np.array([1.0, 0.0])

    def base_terms(problem: Problem, noise: np.ndarray) -> np.ndarray:
        dist, payoff = _parts(problem)
        st = dist.transform(noise)
        if kind == "sf":
            return payoff(st)[..., None] * dist.score(st)
        return dist.transform_vjp(noise, payoff.grad(st))

    def init(problem: Problem) -> np.ndarray:
        if fixed is not None:
            return np.broadcast_to(fixed, (2,)).copy()

        def fn(z: np.ndarray) -> np.ndarray:
            t = base_terms(problem, z)
            c = _control_terms(problem, kind, z)
            return np.concatenate([t * c, c * c, t], axis=-1)

        v = _noise_integral(problem, fn)
        cov = v[:2] - v[4:6] * known
        var = v[2:4] - known**2
        return cov / var

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        if batch.noise is None:
            raise ValueError("price_control needs the batch's noise (draw with a vartools sampler)")
        if (kind == "sf") != (batch.score is not None):
            raise TypeError(
                f"price_control(kind={kind!r}) was applied to a batch of a different estimator; "
                "use kind='sf' with score_function and kind='pathwise' with pathwise"
            )
        c = _control_terms(problem, kind, batch.noise)
        out = batch.with_terms(batch.terms - state * (c - known))
        return out.with_info(price_control_beta=state), state

    return ControlVariate(init, apply, name="price_cv")
