"""The Black-Scholes model of the finance setting: the distribution of the terminal price.

Holds ``BlackScholes``, the distribution of S_T under geometric Brownian motion with
theta = (s0, sigma): reparameterised sampling from standard normal noise, the lognormal
log density, the analytic score and the pathwise vector-Jacobian product that the
likelihood-ratio and pathwise estimators of delta and vega use. The payoffs, problems,
closed-form Greeks, oracles and control variate are in ``vartools.catalogue.finance``,
which re-exports ``BlackScholes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.distribution import Distribution
from vartools.core.validation import as_finite_array

__all__ = ["BlackScholes"]


def _positive_float(value: Any, name: str) -> float:
    arr = as_finite_array(value, name, positive=True)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    return float(arr)


@dataclass(frozen=True, eq=False)
class BlackScholes(Distribution):
    """Terminal price S_T of geometric Brownian motion; theta = (s0, sigma).

    S_T = s0 exp((rate - sigma^2 / 2) maturity + sigma sqrt(maturity) Z), Z ~ N(0, 1).
    Outcomes are scalars: samples have shape (*R, n) (event shape ()).

    Args:
        s0: spot price S0 > 0 (a parameter: d/ds0 is the delta).
        sigma: volatility > 0 (a parameter: d/dsigma is the vega).
        rate: risk-free rate r (fixed).
        maturity: time to maturity T > 0 (fixed).

    Example:
        >>> import numpy as np
        >>> d = BlackScholes(100.0, 0.2, rate=0.05)
        >>> d.param_names
        ('s0', 'sigma')
        >>> d.sample(4, rng=np.random.default_rng(0), reps=(2,)).shape
        (2, 4)
    """

    s0: float
    sigma: float
    rate: float = 0.0
    maturity: float = 1.0
    reparameterized = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "s0", _positive_float(self.s0, "s0"))
        object.__setattr__(self, "sigma", _positive_float(self.sigma, "sigma"))
        rate = as_finite_array(self.rate, "rate")
        if rate.ndim != 0:
            raise ValueError(f"rate must be a scalar, got shape {rate.shape}")
        object.__setattr__(self, "rate", float(rate))
        object.__setattr__(self, "maturity", _positive_float(self.maturity, "maturity"))

    # -- parameters ------------------------------------------------------------------
    @property
    def event_shape(self) -> tuple[int, ...]:
        """Scalar outcomes."""
        return ()

    @property
    def param_names(self) -> tuple[str, ...]:
        """``("s0", "sigma")``: the gradient is (delta, vega)."""
        return ("s0", "sigma")

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """Two scalar blocks: the spot price s0 and the volatility sigma."""
        return [("s0", ()), ("sigma", ())]

    @property
    def params(self) -> np.ndarray:
        """[s0, sigma]."""
        return np.array([self.s0, self.sigma])

    def with_params(self, theta: Any) -> BlackScholes:
        """The same model at theta = [s0, sigma]."""
        theta = as_finite_array(theta, "theta")
        if theta.shape != (2,):
            raise ValueError(f"theta must have shape (2,) = [s0, sigma], got {theta.shape}")
        return BlackScholes(theta[0], theta[1], rate=self.rate, maturity=self.maturity)

    @property
    def log_mean(self) -> float:
        """m = log S0 + (r - sigma^2 / 2) T, the mean of log S_T."""
        return math.log(self.s0) + (self.rate - 0.5 * self.sigma**2) * self.maturity

    @property
    def log_sd(self) -> float:
        """s = sigma sqrt(T), the standard deviation of log S_T."""
        return self.sigma * math.sqrt(self.maturity)

    # -- sampling --------------------------------------------------------------------
    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Standard normals Z, shape (*reps, n)."""
        return rng.standard_normal(self.noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Standard normal quantile of u (clipped away from 0 and 1)."""
        tiny = np.finfo(np.float64).tiny
        return special.ndtri(np.clip(u, tiny, 1.0 - np.finfo(np.float64).epsneg))

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """S_T = exp(m + s Z)."""
        return np.exp(self.log_mean + self.log_sd * np.asarray(noise))

    def _z(self, x: np.ndarray) -> np.ndarray:
        x = self.check_x(x)
        if np.any(x <= 0):
            raise ValueError("x must be positive terminal prices S_T > 0")
        return (np.log(x) - self.log_mean) / self.log_sd

    # -- densities -------------------------------------------------------------------
    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Lognormal log density of S_T: -log S_T - log s - log(2 pi) / 2 - z^2 / 2."""
        z = self._z(x)
        return -np.log(x) - math.log(self.log_sd) - 0.5 * math.log(2 * math.pi) - 0.5 * z * z

    def score(self, x: np.ndarray) -> np.ndarray:
        """(z / (S0 s), (z^2 - 1) / sigma - z sqrt(T)) with z = (log S_T - m) / s: (*R, n, 2)."""
        z = self._z(x)
        out = np.empty((*z.shape, 2))
        out[..., 0] = z / (self.s0 * self.log_sd)
        out[..., 1] = (z * z - 1.0) / self.sigma - z * math.sqrt(self.maturity)
        return out

    def transform_vjp(self, noise: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """Pathwise terms: df/dS_T * (S_T / S0, S_T (sqrt(T) Z - sigma T)), shape (*R, n, 2)."""
        noise = np.asarray(noise)
        st = self.transform(noise)
        out = np.empty((*noise.shape, 2))
        out[..., 0] = cotangent * st / self.s0
        out[..., 1] = (
            cotangent * st * (math.sqrt(self.maturity) * noise - self.sigma * self.maturity)
        )
        return out

    def strike_noise(self, strike: float) -> float:
        """The noise value z* = (log K - m) / s where S_T crosses the strike."""
        return (math.log(strike) - self.log_mean) / self.log_sd
