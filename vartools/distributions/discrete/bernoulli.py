"""Independent Bernoullis sampled by the inverse CDF of uniforms: ``Bernoulli``."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.capabilities import ConditionalRelaxation, OneHotLayout
from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET
from vartools.core.validation import as_finite_array, float_dtype
from vartools.distributions._local import Evaluate, replace_eval
from vartools.distributions.budget import check_power_budget
from vartools.distributions.discrete._relax import REBAR_TINY, clipped
from vartools.distributions.uniform_noise import UniformNoise

__all__ = ["Bernoulli"]


@dataclass(frozen=True, eq=False)
class Bernoulli(UniformNoise):
    """Independent Bernoullis with theta = logits (any shape), p(x=1) = sigmoid(logits).

    The score is ``x - sigmoid(logits)``; sampling uses the inverse CDF
    x = 1[u > 1 - sigmoid(logits)] of a uniform u, which is what antithetic and
    quasi-Monte Carlo samplers (and ARM/DisARM) need. Stable at logits of +-50.

    Example:
        >>> import numpy as np
        >>> d = Bernoulli(logits=[0.0])
        >>> d.score(np.array([[1.0], [0.0]]))
        array([[ 0.5],
               [-0.5]])
    """

    logits: Any
    enumerable = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "logits", as_finite_array(self.logits, "logits"))

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of the logits."""
        return tuple(self.logits.shape)

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """One block: the logits, shape event."""
        return [("logits", self.event_shape)]

    def with_params(self, theta: Any) -> Bernoulli:
        """Bernoulli at the flat logits ``theta``."""
        return Bernoulli(self.check_theta(theta).reshape(self.event_shape))

    @property
    def probs(self) -> np.ndarray:
        """P(x = 1) = sigmoid(logits)."""
        return special.expit(self.logits)

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: x = 1[u > 1 - sigmoid(logits)] as float64 (float32 for float32 noise)."""
        return (noise > special.expit(-self.logits)).astype(float_dtype(noise))

    def _check_outcomes(self, x: Any) -> np.ndarray:
        x = self.check_x(x)
        ok = (x == 0) | (x == 1)
        if not ok.all():
            bad = x[~ok].ravel()[0]
            raise ValueError(
                f"x must hold Bernoulli outcomes 0 or 1, got a value of {bad!r}; pass samples "
                "of this distribution"
            )
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over coordinates of x logits - softplus(logits)."""
        x = self._check_outcomes(x)
        lp = x * self.logits - np.logaddexp(0.0, self.logits)
        return lp.reshape(*lp.shape[: lp.ndim - len(self.event_shape)], -1).sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """x - sigmoid(logits), flattened to (*R, n, p)."""
        x = self._check_outcomes(x)
        s = x - self.probs.astype(float_dtype(x))
        return s.reshape(*s.shape[: s.ndim - len(self.event_shape)], self.n_params)

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i (x_i - sigmoid(logits)) = w @ x - (sum_i w_i) sigmoid(logits), (*R, p)."""
        x = self.check_x(x)
        dt = float_dtype(x)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        xf = x.reshape(*lead, self.n_params)
        if xf.dtype != dt:
            xf = xf.astype(dt)
        w = np.asarray(w).astype(dt, copy=False)
        out = np.matmul(w[..., None, :], xf)[..., 0, :]
        out -= w.sum(-1)[..., None] * self.probs.ravel().astype(dt)
        return out

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All 2^p joint outcomes (first coordinate varies slowest) and their probabilities."""
        p = self.n_params
        check_power_budget(2, p, budget, f"{p} Bernoullis")
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=p))).reshape(
            -1, *self.event_shape
        )
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]

    def coordinate_outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """The outcomes of each coordinate, all coordinates at once, and their probabilities.

        Returns ``rows`` (2, *event), row m setting every coordinate to outcome m (0, 1),
        and ``probs`` (2, D) with probs[m, d] = P(x_d = m), D = prod(event). The
        coordinates are independent, so these marginals are the whole distribution: the
        closed-form oracles of separable objectives (``vartools.oracles.separable``) use
        them with O(D) work instead of the 2^D joint outcomes of ``support``.
        """
        rows = np.stack([np.zeros(self.event_shape), np.ones(self.event_shape)])
        p1 = self.probs.ravel()
        return rows, np.stack([special.expit(-self.logits).ravel(), p1])

    # -- capabilities (vartools.core.distribution) ---------------------------------
    def param_coordinates(self) -> np.ndarray:
        """logits[d] belongs to coordinate d."""
        return np.arange(math.prod(self.event_shape))

    def local_expectation(
        self, x: np.ndarray, fx: np.ndarray, evaluate: Evaluate, chunk_elements: int
    ) -> tuple[np.ndarray, int]:
        """theta_d (1 - theta_d) [f(b_d = 1, b_-d) - f(b_d = 0, b_-d)], theta = sigmoid(logits).

        One flipped copy per coordinate: 1 + D evaluations of f per sample.
        """
        lead = x.shape[: x.ndim - len(self.event_shape)]
        d = self.n_params
        xf = x.reshape(*lead, d)
        f_flip = replace_eval(evaluate, self.event_shape, xf, 1.0 - xf, chunk_elements)
        # f(b_d = 1) - f(b_d = 0) = (f(x) - f(flip_d x)) * (2 b_d - 1)
        delta = (fx[..., None] - f_flip) * (2.0 * xf - 1.0)
        theta = self.probs.ravel()
        return theta * (1.0 - theta) * delta, 1 + d

    relaxation_in_outcome_space = True

    def relaxed_noise_shape(self, lead: tuple[int, ...]) -> tuple[int, ...]:
        """One uniform per coordinate: (*lead, *event)."""
        return (*lead, *self.event_shape)

    def relaxed_sample(self, u: np.ndarray, temperature: float) -> np.ndarray:
        """Binary Concrete: sigmoid((logits + log u - log(1 - u)) / temperature)."""
        u = clipped(u)
        return special.expit((self.logits + np.log(u) - np.log1p(-u)) / temperature)

    def relaxed_vjp(self, z: np.ndarray, cotangent: np.ndarray, temperature: float) -> np.ndarray:
        """cotangent z (1 - z) / temperature, flattened to (*lead, p)."""
        terms = cotangent * z * (1 - z) / temperature
        return terms.reshape(*z.shape[: z.ndim - len(self.event_shape)], self.n_params)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """The outcomes themselves (relaxed values live in the outcome space)."""
        return x

    def hard_vjp(self, cotangent: np.ndarray) -> np.ndarray:
        """cotangent sigma(logits) (1 - sigma(logits)), flattened to (*lead, p)."""
        sig = self.probs
        terms = cotangent * sig * (1 - sig)
        return terms.reshape(*cotangent.shape[: cotangent.ndim - sig.ndim], self.n_params)

    def coupled_pair(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x1 = 1[u > 1 - sigma(logits)], x2 = 1[u < sigma(logits)] (the ARM pair)."""
        return self.transform(u), self.transform(1.0 - u)

    def conditional_relaxation(self, u: np.ndarray, v: np.ndarray) -> ConditionalRelaxation:
        """Logistic noise: z = logits + logit(u), b = 1[u > 1 - theta], z~ = logits + logit(v').

        v' = b (v theta + 1 - theta) + (1 - b) v (1 - theta) makes z~ ~ p(z | b), and
        dz~/dlogits = 1 + theta (1 - theta) (dv'/dtheta) / (v' (1 - v')) with dv'/dtheta
        = v - 1 if b = 1, -v if b = 0 (Tucker et al. 2017, sec. 3).
        """
        phi, theta = self.logits, self.probs
        uc = np.clip(u, REBAR_TINY, 1.0 - REBAR_TINY)
        b = (uc > 1.0 - theta).astype(np.float64)
        z = phi + np.log(uc) - np.log1p(-uc)
        vp = np.where(b > 0.5, v * theta + 1.0 - theta, v * (1.0 - theta))
        vp = np.clip(vp, REBAR_TINY, 1.0 - REBAR_TINY)
        zt = phi + np.log(vp) - np.log1p(-vp)
        dvp = np.where(b > 0.5, v - 1.0, -v)
        dzt = 1.0 + theta * (1.0 - theta) * dvp / (vp * (1.0 - vp))
        return ConditionalRelaxation(b, z, zt, dzt)

    def one_hot_layout(self) -> OneHotLayout:
        """Binary coordinates: mean sigmoid(logits), flat."""
        return OneHotLayout(self.probs.ravel(), None)

    def relax_noise(self, z: np.ndarray, temperature: float) -> np.ndarray:
        """sigmoid(z / temperature)."""
        out: np.ndarray = special.expit(z / temperature)
        return out

    def location_vjp(self, cotangent: np.ndarray, transpose: bool = False) -> np.ndarray:
        """The identity: the location of z is theta (the logits) itself."""
        return cotangent
