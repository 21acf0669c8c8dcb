"""``Beta(a, b)``: independent Beta variables, sampled by the inverse CDF of uniforms.

A worked example of a continuous family without a pathwise capability
(docs/readme/extending.md). theta = [a..., b...] and the score is
[log x - psi(a) + psi(a + b), log(1 - x) - psi(b) + psi(a + b)]. Capabilities:
``param_coordinates`` (a[d] and b[d] belong to coordinate d). Not ``pathwise``: the
implicit reparameterisation dx/da = -(dF/da) / p(x) needs the derivative of the
regularised incomplete beta function with respect to its parameters, which SciPy does
not provide in closed form; a finite-difference version would not be exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.validation import as_finite_array, float_dtype
from vartools.distributions.uniform_noise import UniformNoise

__all__ = ["Beta"]


@dataclass(frozen=True, eq=False)
class Beta(UniformNoise):
    """Independent Beta(a, b) variables on (0, 1); ``a`` and ``b`` > 0, equal shapes.

    theta is ``[a..., b...]``; log p(x) = (a - 1) log x + (b - 1) log(1 - x) - log B(a, b),
    so d/da log p = log x - psi(a) + psi(a + b) and d/db log p = log(1 - x) - psi(b) +
    psi(a + b) (psi the digamma function; both have mean zero). Samples are
    x = I^-1(u; a, b), the inverse regularised incomplete beta function of a uniform.

    Example:
        >>> import numpy as np
        >>> d = Beta(a=2.0, b=3.0)
        >>> d.param_names
        ('a', 'b')
        >>> np.round(d.score(np.array([0.5])), 4)  # one sample x = 0.5 -> (1, p)
        array([[ 0.3902, -0.1098]])
    """

    a: Any
    b: Any

    def __post_init__(self) -> None:
        a = as_finite_array(self.a, "a", positive=True)
        b = as_finite_array(self.b, "b", positive=True)
        if a.shape != b.shape and a.ndim > 0 and b.ndim > 0:
            raise ValueError(
                f"a and b must have the same shape, or one of them must be a scalar; got a of "
                f"shape {a.shape} and b of shape {b.shape}. Pass arrays of equal shape, e.g. "
                "Beta(a=np.ones(d), b=np.ones(d))"
            )
        a, b = np.broadcast_arrays(a, b)
        object.__setattr__(self, "a", np.array(a))
        object.__setattr__(self, "b", np.array(b))

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of ``a`` (and ``b``)."""
        return tuple(self.a.shape)

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """Two blocks of shape event: a, then b."""
        return [("a", self.event_shape), ("b", self.event_shape)]

    def with_params(self, theta: Any) -> Beta:
        """Beta at the flat parameters ``theta`` = [a..., b...] (each > 0)."""
        theta = self.check_theta(theta)
        d = self.n_params // 2
        return Beta(theta[:d].reshape(self.event_shape), theta[d:].reshape(self.event_shape))

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """x = I^-1(u; a, b) (``scipy.special.betaincinv``), float32 for float32 noise."""
        x = special.betaincinv(self.a, self.b, np.asarray(noise, dtype=np.float64))
        return x.astype(float_dtype(np.asarray(noise)))

    def _check_outcomes(self, x: Any) -> np.ndarray:
        x = self.check_x(x)
        ok = (x >= 0) & (x <= 1)
        if not ok.all():
            bad = x[~ok].ravel()[0]
            raise ValueError(
                f"x must hold Beta outcomes in [0, 1], got a value of {bad!r}; pass samples "
                "of this distribution"
            )
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over coordinates of (a - 1) log x + (b - 1) log(1 - x) - log B(a, b)."""
        x = self._check_outcomes(x)
        with np.errstate(divide="ignore"):
            lp = (
                special.xlogy(self.a - 1.0, x)
                + special.xlog1py(self.b - 1.0, -x)
                - special.betaln(self.a, self.b)
            )
        return lp.reshape(*lp.shape[: lp.ndim - len(self.event_shape)], -1).sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """[log x - psi(a) + psi(a + b), log(1 - x) - psi(b) + psi(a + b)], (*R, n, p)."""
        x = self._check_outcomes(x)
        dt = float_dtype(x)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        d = self.n_params // 2
        psi_ab = special.digamma(self.a + self.b)
        with np.errstate(divide="ignore"):
            first = np.log(x) - (special.digamma(self.a) - psi_ab)
            second = np.log1p(-x) - (special.digamma(self.b) - psi_ab)
        out = np.empty((*lead, 2 * d), dtype=dt)
        out[..., :d] = first.reshape(*lead, d)
        out[..., d:] = second.reshape(*lead, d)
        return out

    def param_coordinates(self) -> np.ndarray:
        """a[d] and b[d] belong to coordinate d."""
        return np.tile(np.arange(int(np.prod(self.event_shape, dtype=np.int64))), 2)
