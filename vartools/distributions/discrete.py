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

from vartools._validation import as_finite_array
from vartools.distributions.base import (
    DEFAULT_SUPPORT_BUDGET,
    Distribution,
    _float_of,
    _noise_dtype,
)

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
        """Uniforms on [0, 1), shape (*reps, n, *event)."""
        shape = self._noise_shape(n, reps, rng)  # checks rng first
        return rng.random(shape, dtype=_noise_dtype(dtype))

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
    uniform per categorical (not Gumbel-max): a guide table of 4K buckets per
    categorical gives a starting category and a few vectorised compare-and-step
    passes finish the search (Devroye 1986, sec. III.2.4), falling back to a binary
    search when the probabilities are so uneven that more passes would be needed.

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

    #: Buckets per category in the inverse-CDF guide table, and the most
    #: compare-and-step passes it may need before falling back to a binary search.
    _GUIDE_BUCKETS = 4
    _GUIDE_MAX_STEPS = 12

    def _guide_table(self) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(start, padded flat cdf, buckets M, passes) for the guide-table inverse CDF.

        start[j * M + m] is a lower bound on #{k : cdf[j, k] <= u} for every u with
        floor(u M) = m (a margin of 0.01 bucket covers rounding of u M, also in
        float32); ``passes`` bounds how far the true count can lie above it.
        """
        cached = self._guide  # type: ignore[attr-defined]
        if cached is not None:
            return cached
        cdf: np.ndarray = self._cdf  # type: ignore[attr-defined]
        k = self.n_categories
        nb = math.prod(self.event_shape)
        m = self._GUIDE_BUCKETS * k
        key = cdf.reshape(nb, k) * m
        rows = np.arange(nb)[:, None]
        delta = 0.01
        # point k counts in start[j, b] for b >= floor(key + delta) + 1 (then key < b - delta)
        first = np.clip(np.floor(key + delta).astype(np.int64) + 1, 0, m)
        hist = np.bincount((rows * (m + 1) + first).ravel(), minlength=nb * (m + 1))
        start = np.cumsum(hist.reshape(nb, m + 1), axis=1)[:, :m]
        # and may be <= u for b >= ceil(key - 1 - delta) (then key <= b + 1 + delta)
        last = np.clip(np.ceil(key - 1.0 - delta).astype(np.int64), 0, m)
        hist = np.bincount((rows * (m + 1) + last).ravel(), minlength=nb * (m + 1))
        end = np.cumsum(hist.reshape(nb, m + 1), axis=1)[:, :m]
        passes = int((end - start).max())
        padded = np.concatenate([cdf.reshape(nb, k), np.full((nb, 1), np.inf)], axis=1)
        out = (start.ravel(), padded.ravel(), m, passes)
        object.__setattr__(self, "_guide", out)
        return out

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
        cdf: np.ndarray = self._cdf  # type: ignore[attr-defined]
        k = self.n_categories
        nb = math.prod(self.event_shape)
        start, padded, m, passes = self._guide_table()
        if passes <= self._GUIDE_MAX_STEPS:
            u = noise.reshape(*noise.shape[: noise.ndim - len(self.event_shape)], nb)
            j = np.arange(nb)
            bucket = np.minimum((u * m).astype(np.int64), m - 1)
            np.maximum(bucket, 0, out=bucket)
            bucket += j * m
            idx = start[bucket]
            base = j * (k + 1)
            for _ in range(passes):
                idx += padded[base + idx] <= u
            return np.minimum(idx, k - 1).reshape(noise.shape)
        # Very uneven probabilities: one exact binary search per categorical (a loop over
        # the B categoricals, vectorised over replicates and samples).
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
        """sum_i w_i (onehot(x_i) - softmax) by a scatter-add: O(R n B), no (R, n, p) array."""
        x = self._check_x(x)
        k = self.n_categories
        nb = math.prod(self.event_shape)
        lead = x.shape[: x.ndim - len(self.event_shape) - 1]
        n = x.shape[len(lead)]
        r = math.prod(lead)
        w = np.broadcast_to(np.asarray(w, dtype=np.float64), (*lead, n))
        xi = x.reshape(r, n, nb).astype(np.int64, copy=False)
        if xi.size and (xi.min() < 0 or xi.max() >= k):
            raise ValueError(
                f"x must hold category indices in [0, {k}), got {xi.min()}..{xi.max()}"
            )
        cell = (np.arange(r)[:, None, None] * nb + np.arange(nb)) * k + xi
        wb = np.broadcast_to(w.reshape(r, n, 1), cell.shape)
        out = np.bincount(cell.ravel(), weights=wb.ravel(), minlength=r * nb * k).reshape(r, -1)
        out -= w.reshape(r, n).sum(-1)[:, None] * self._probs.ravel()  # type: ignore[attr-defined]
        return out.reshape(*lead, self.n_params)

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All K^B joint outcomes (first categorical varies slowest) and their probabilities."""
        nb = math.prod(self.event_shape)
        k = self.n_categories
        _check_budget(float(k) ** nb, budget, f"{nb} categoricals with {k} categories")
        grid = np.array(list(itertools.product(range(k), repeat=nb)), dtype=np.int64)
        grid = grid.reshape(-1, *self.event_shape)
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]
