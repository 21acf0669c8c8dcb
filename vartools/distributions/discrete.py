"""Discrete distributions sampled by the inverse CDF of uniforms: Bernoulli and Categorical.

``UniformNoise`` is their common base (the noise is a uniform on [0, 1) per
coordinate of the event); both are enumerable (``support(budget)``) with analytic
scores.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.distribution import (
    DEFAULT_SUPPORT_BUDGET,
    Distribution,
    _float_of,
    _noise_dtype,
)
from vartools.core.validation import as_finite_array
from vartools.distributions._inverse_cdf import Guide
from vartools.distributions._noise_f32 import uniform_f32

__all__ = ["Bernoulli", "Categorical", "UniformNoise"]


def _check_budget(count: float, budget: int, what: str) -> None:
    if count > budget:
        raise ValueError(
            f"enumerating {what} needs {count:.3g} joint outcomes, more than budget={budget}; "
            "use fewer coordinates or pass a larger budget"
        )


class UniformNoise(Distribution):
    """Base for discrete distributions sampled by the inverse CDF of uniforms on [0, 1).

    The noise is the uniform itself (``noise_from_uniform`` is the identity), one per
    coordinate of the event, drawn directly in float32 or float64.
    """

    def sample_noise(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Uniforms on [0, 1), shape (*reps, n, *event).

        float64: ``rng.random``. float32: 24-bit uniforms from raw 64-bit words, two per
        word, one row of words per leading index (``_noise_f32``); for NumPy's default
        PCG64 these equal ``rng.random(shape, dtype=np.float32)`` when a row holds an
        even number of uniforms.
        """
        shape = self._noise_shape(n, reps, rng)  # checks rng first
        if _noise_dtype(dtype) == np.float32:
            return uniform_f32(rng, shape)
        return rng.random(shape)

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Base noise drawn directly in ``dtype`` (float32 or float64)."""
        return self.sample_noise(n, rng=rng, reps=reps, dtype=dtype)

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is the uniform."""
        return u


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

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("logits", self.event_shape)]

    def with_params(self, theta: Any) -> Bernoulli:
        """Bernoulli at the flat logits ``theta``."""
        return Bernoulli(self._check_theta(theta).reshape(self.event_shape))

    @property
    def probs(self) -> np.ndarray:
        """P(x = 1) = sigmoid(logits)."""
        return special.expit(self.logits)

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: x = 1[u > 1 - sigmoid(logits)] as float64 (float32 for float32 noise)."""
        return (noise > special.expit(-self.logits)).astype(_float_of(noise))

    def _check_outcomes(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
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
        s = x - self.probs.astype(_float_of(x))
        return s.reshape(*s.shape[: s.ndim - len(self.event_shape)], self.n_params)

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i (x_i - sigmoid(logits)) = w @ x - (sum_i w_i) sigmoid(logits), (*R, p)."""
        x = self._check_x(x)
        dt = _float_of(x)
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
        _check_budget(2.0**p, budget, f"{p} Bernoullis")
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=p))).reshape(
            -1, *self.event_shape
        )
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]


@dataclass(frozen=True, eq=False)
class Categorical(UniformNoise):
    """Independent categoricals; ``logits`` has shape (*batch, K), categories on the last axis.

    theta is the flattened logits (p = prod(batch) * K) and the score is
    ``onehot(x) - softmax(logits)``. Outcomes are integer category indices of
    shape (*R, n, *batch) stored as int64. Sampling is by inverse CDF of one
    uniform per categorical (not Gumbel-max): a guide table of 4K to 64K buckets per
    categorical gives a starting category and usually one vectorised compare-and-step
    pass finishes the search (Devroye 1986, sec. III.2.4; ``_inverse_cdf``), falling
    back to a binary search when the probabilities are so uneven that many passes
    would be needed.

    Example:
        >>> import numpy as np
        >>> d = Categorical(logits=np.zeros(3))
        >>> d.probs
        array([0.33333333, 0.33333333, 0.33333333])
    """

    logits: Any
    enumerable = True

    def __post_init__(self) -> None:
        logits = as_finite_array(self.logits, "logits")
        if logits.ndim < 1 or logits.shape[-1] < 2:
            raise ValueError(
                f"logits must have shape (*batch, K) with K >= 2 categories, got shape "
                f"{logits.shape}"
            )
        object.__setattr__(self, "logits", logits)
        probs = special.softmax(logits, axis=-1)
        cdf = np.cumsum(probs, axis=-1)
        cdf[..., -1] = 1.0
        object.__setattr__(self, "_probs", probs)
        object.__setattr__(self, "_cdf", cdf)
        object.__setattr__(self, "_guide", None)

    #: Buckets per category of the inverse-CDF guide table: the smallest of these
    #: giving at most one compare-and-step pass, else the one with the fewest.
    _GUIDE_BUCKETS = (4, 16, 64)
    #: Largest guide table (entries over all categoricals) and the most passes before
    #: falling back to a binary search.
    _GUIDE_MAX_ENTRIES = 2**20
    _GUIDE_MAX_STEPS = 12

    def _guide_table(self) -> Guide:
        """The guide table of the inverse CDF, built on first use and cached."""
        cached: Guide | None = self._guide  # type: ignore[attr-defined]
        if cached is None:
            cached = Guide.build(self._cdf, self._GUIDE_BUCKETS, self._GUIDE_MAX_ENTRIES)  # type: ignore[attr-defined]
            object.__setattr__(self, "_guide", cached)
        return cached

    @property
    def n_categories(self) -> int:
        """Number K of categories."""
        return int(self.logits.shape[-1])

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The batch shape of the logits (one integer outcome per categorical)."""
        return tuple(self.logits.shape[:-1])

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("logits", tuple(self.logits.shape))]

    def with_params(self, theta: Any) -> Categorical:
        """Categorical at the flat logits ``theta`` (names ``logits[...]`` over (*batch, K))."""
        return Categorical(self._check_theta(theta).reshape(self.logits.shape))

    @property
    def probs(self) -> np.ndarray:
        """softmax(logits), shape (*batch, K)."""
        return self._probs.copy()  # type: ignore[attr-defined]

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Inverse CDF: the smallest k with cdf_k > u (= #{k : cdf_k <= u}), as int64."""
        guide = self._guide_table()
        if guide.passes <= self._GUIDE_MAX_STEPS:
            return guide.lookup(noise)
        # Very uneven probabilities: one exact binary search per categorical (a loop over
        # the B categoricals, vectorised over replicates and samples).
        cdf: np.ndarray = self._cdf  # type: ignore[attr-defined]
        k = self.n_categories
        nb = math.prod(self.event_shape)
        u = noise.reshape(*noise.shape[: noise.ndim - len(self.event_shape)], nb)
        flat = cdf.reshape(nb, k)
        x = np.empty(u.shape, dtype=np.int64)
        for c in range(nb):
            x[..., c] = np.searchsorted(flat[c], u[..., c], side="right")
        return np.minimum(x, k - 1).reshape(noise.shape)

    def _check_outcomes(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
        k = self.n_categories
        if x.size and (
            not (np.issubdtype(x.dtype, np.integer) or np.all(x == np.floor(x)))
            or x.min() < 0
            or x.max() >= k
        ):
            raise ValueError(
                f"x must hold integer category indices in [0, {k}), got values in "
                f"[{x.min()!r}, {x.max()!r}] of dtype {x.dtype}"
            )
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Sum over categoricals of log softmax(logits)[x]."""
        x = self._check_outcomes(x)
        logp = special.log_softmax(self.logits, axis=-1)
        lead = x.shape[: x.ndim - len(self.event_shape)]
        nb = math.prod(self.event_shape)
        flat = x.reshape(*lead, nb).astype(np.int64)
        vals = logp.reshape(nb, -1)[np.arange(nb), flat]
        return vals.sum(-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """onehot(x) - softmax(logits), flattened to (*R, n, p)."""
        x = self._check_outcomes(x)
        k = self.n_categories
        s = (x[..., None] == np.arange(k)).astype(np.float64) - self._probs  # type: ignore[attr-defined]
        return s.reshape(*x.shape[: x.ndim - len(self.event_shape)], self.n_params)

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i (onehot(x_i) - softmax) by a scatter-add: O(R n B), no (R, n, p) array.

        float64, or float32 when ``w`` is float32 (the single-precision mode).
        """
        x = self._check_x(x)
        k = self.n_categories
        nb = math.prod(self.event_shape)
        lead = x.shape[: x.ndim - len(self.event_shape) - 1]
        n = x.shape[len(lead)]
        r = math.prod(lead)
        single = np.asarray(w).dtype == np.float32
        dt = np.float32 if single else np.float64
        w = np.asarray(w, dtype=dt)
        if w.shape != (*lead, n):
            w = np.broadcast_to(w, (*lead, n))
        xi = x.reshape(r, n * nb).astype(np.intp, copy=False)
        if xi.size and (xi.min() < 0 or xi.max() >= k):
            raise ValueError(
                f"x must hold category indices in [0, {k}), got {xi.min()}..{xi.max()}"
            )
        # cell of (replicate, categorical, category) in the (r, B K) output; long rows
        cell = xi + self._cell_offsets(n)
        cell += (np.arange(r, dtype=np.intp) * (nb * k))[:, None]
        wb = np.repeat(w.reshape(-1), nb)  # w of each (replicate, sample, categorical)
        wsum = w.reshape(r, n).sum(-1)
        if single:  # start from -sum(w) softmax and add in place: one pass over the output
            out = np.multiply.outer(-wsum, self._probs.ravel().astype(dt))  # type: ignore[attr-defined]
            np.add.at(out.reshape(-1), cell.ravel(), wb)
        else:  # the float64 sums in sample order, then the softmax term (as before)
            out = np.bincount(cell.ravel(), weights=wb, minlength=r * nb * k)
            out = out.reshape(r, -1)
            out -= wsum[:, None] * self._probs.ravel()  # type: ignore[attr-defined]
        return out.reshape(*lead, self.n_params)

    def _cell_offsets(self, n: int) -> np.ndarray:
        """j K for each of the n B (sample, categorical) columns of a replicate (cached)."""
        cache: dict[int, np.ndarray] = self.__dict__.setdefault("_offsets", {})
        if n not in cache:
            nb = math.prod(self.event_shape)
            cache[n] = np.tile(np.arange(nb, dtype=np.intp) * self.n_categories, n)
        return cache[n]

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All K^B joint outcomes (first categorical varies slowest) and their probabilities."""
        nb = math.prod(self.event_shape)
        k = self.n_categories
        _check_budget(float(k) ** nb, budget, f"{nb} categoricals with {k} categories")
        grid = np.array(list(itertools.product(range(k), repeat=nb)), dtype=np.int64)
        grid = grid.reshape(-1, *self.event_shape)
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]
