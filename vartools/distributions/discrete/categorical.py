"""Independent categoricals sampled by the inverse CDF of uniforms: ``Categorical``."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from vartools.core.capabilities import ConditionalRelaxation, OneHotLayout
from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET
from vartools.core.validation import as_finite_array
from vartools.distributions._inverse_cdf import Guide
from vartools.distributions._local import Evaluate, evaluate_stacked
from vartools.distributions.budget import check_power_budget
from vartools.distributions.discrete._relax import REBAR_TINY, clipped, softmax_vjp
from vartools.distributions.uniform_noise import UniformNoise

__all__ = ["Categorical"]


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

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """One block: the logits, shape (*batch, K)."""
        return [("logits", tuple(self.logits.shape))]

    def with_params(self, theta: Any) -> Categorical:
        """Categorical at the flat logits ``theta`` (names ``logits[...]`` over (*batch, K))."""
        return Categorical(self.check_theta(theta).reshape(self.logits.shape))

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
        x = self.check_x(x)
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
        x = self.check_x(x)
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
        check_power_budget(k, nb, budget, f"{nb} categoricals with {k} categories")
        grid = np.array(list(itertools.product(range(k), repeat=nb)), dtype=np.int64)
        grid = grid.reshape(-1, *self.event_shape)
        return grid, np.exp(self.log_prob(grid[:, None]))[:, 0]

    def coordinate_outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """The outcomes of each categorical, all at once, and their probabilities.

        Returns ``rows`` (K, *batch) int64, row k setting every categorical to category k,
        and ``probs`` (K, B) with probs[k, j] = softmax(logits[j])[k], B = prod(batch)
        (see ``Bernoulli.coordinate_outcomes``).
        """
        k = self.n_categories
        rows = np.broadcast_to(
            np.arange(k, dtype=np.int64).reshape(k, *([1] * len(self.event_shape))),
            (k, *self.event_shape),
        ).copy()
        return rows, self.probs.reshape(-1, k).T.copy()

    # -- capabilities (vartools.core.distribution) ---------------------------------
    def param_coordinates(self) -> np.ndarray:
        """logits[j, k] belongs to categorical j."""
        return np.repeat(np.arange(math.prod(self.event_shape)), self.n_categories)

    def local_expectation(
        self, x: np.ndarray, fx: np.ndarray, evaluate: Evaluate, chunk_elements: int
    ) -> tuple[np.ndarray, int]:
        """p_j (f_j - sum_k p_jk f_jk) per categorical j, f_jk = f(z_j = k, z_-j).

        1 + B (K - 1) evaluations of f per sample are counted (the implementation also
        re-evaluates z_j at its sampled value, which a smarter one would reuse).
        """
        ev = self.event_shape
        lead = x.shape[: x.ndim - len(ev)]
        nb, k = math.prod(ev), self.n_categories
        xf = x.reshape(*lead, nb)
        fvals = np.empty((*lead, nb, k))
        chunk = max(1, chunk_elements // max(1, math.prod(lead) * nb * k))
        cats = np.arange(k)
        for start in range(0, nb, chunk):
            js = np.arange(start, min(nb, start + chunk))
            xc = np.repeat(np.repeat(xf[..., None, None, :], js.size, axis=-3), k, axis=-2)
            xc[..., np.arange(js.size), :, js] = cats  # (*lead, c, K, nb): z_j set to each k
            fvals[..., js, :] = evaluate_stacked(
                evaluate, ev, xc.reshape(*lead, js.size, k, *ev), lead
            )
        p = self.probs.reshape(nb, k)
        fbar = (fvals * p).sum(-1, keepdims=True)
        # sum_k p_k f_k (onehot_k - p) = p * (f - sum_k p_k f_k), per categorical
        return (p * (fvals - fbar)).reshape(*lead, nb * k), 1 + nb * (k - 1)

    def relaxed_noise_shape(self, lead: tuple[int, ...]) -> tuple[int, ...]:
        """One uniform per category: (*lead, *batch, K)."""
        return (*lead, *self.logits.shape)

    def relaxed_sample(self, u: np.ndarray, temperature: float) -> np.ndarray:
        """Gumbel-softmax: softmax((logits + g) / temperature), g = -log(-log u), over K."""
        return special.softmax((self.logits - np.log(-np.log(clipped(u)))) / temperature, axis=-1)

    def relaxed_vjp(self, z: np.ndarray, cotangent: np.ndarray, temperature: float) -> np.ndarray:
        """(diag(z_j) - z_j z_j^T) cotangent_j / temperature, flattened to (*lead, p)."""
        terms = softmax_vjp(z, cotangent) / temperature
        return terms.reshape(*z.shape[: z.ndim - self.logits.ndim], self.n_params)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """One-hot vectors (*R, n, *batch, K) of the category indices."""
        return (x[..., None] == np.arange(self.n_categories)).astype(np.float64)

    def hard_vjp(self, cotangent: np.ndarray) -> np.ndarray:
        """(diag(p_j) - p_j p_j^T) cotangent_j (the softmax Jacobian), (*lead, p)."""
        terms = softmax_vjp(self.probs, cotangent)
        return terms.reshape(*cotangent.shape[: cotangent.ndim - self.logits.ndim], self.n_params)

    def conditional_relaxation(self, u: np.ndarray, v: np.ndarray) -> ConditionalRelaxation:
        """Gumbel-max: z = l + Gumbel(u), b = argmax z, z~ the Gumbels conditioned on b.

        With l = log softmax(logits): z~_b = -log(-log v_b) and z~_k = -log(-log(v_k)
        exp(-l_k) - log v_b) for k != b, so dz~_k/dl_k = -log(v_k) exp(-l_k) / exp(-z~_k)
        for k != b and 0 for b (Tucker et al. 2017, appendix; Maddison et al. 2014).
        """
        lp = special.log_softmax(self.logits, axis=-1)
        uc = np.clip(u, REBAR_TINY, 1.0 - REBAR_TINY)
        vc = np.clip(v, REBAR_TINY, 1.0 - REBAR_TINY)
        z = lp - np.log(-np.log(uc))
        b = np.argmax(z, axis=-1)
        onehot = np.arange(lp.shape[-1]) == b[..., None]
        log_vb = np.take_along_axis(np.log(vc), b[..., None], axis=-1)  # (..., 1), < 0
        scaled = -np.log(vc) * np.exp(-lp)  # -log(v_k) exp(-l_k) > 0
        a = np.where(onehot, -log_vb, scaled - log_vb)
        zt = -np.log(a)
        dzt = np.where(onehot, 0.0, scaled / a)
        return ConditionalRelaxation(b, z, zt, dzt)

    def one_hot_layout(self) -> OneHotLayout:
        """One-hot over K categories: mean softmax(logits), flat."""
        return OneHotLayout(self.probs.ravel(), self.n_categories)

    def relax_noise(self, z: np.ndarray, temperature: float) -> np.ndarray:
        """softmax(z / temperature) over the categories."""
        out: np.ndarray = special.softmax(z / temperature, axis=-1)
        return out

    def location_vjp(self, cotangent: np.ndarray, transpose: bool = False) -> np.ndarray:
        """Through l = log softmax(theta): c - p sum(c) per variable (transposed: c - p . c)."""
        k = self.n_categories
        c = cotangent.reshape(*cotangent.shape[:-1], -1, k)
        p = self.probs.reshape(-1, k)
        if transpose:
            out = c - (p * c).sum(-1, keepdims=True)
        else:
            out = c - p * c.sum(-1, keepdims=True)
        return out.reshape(cotangent.shape)
