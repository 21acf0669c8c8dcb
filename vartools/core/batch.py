"""The ``Batch`` of per-sample gradient terms that every estimator produces.

A ``Batch`` holds the samples x (*R, n, *event), f(x) (*R, n), the score (*R, n, p)
when the estimator has one (possibly a ``DeferredScore``, computed on first use), and
the per-sample gradient terms (*R, n, p) in the factored form
``terms = weight[..., None] * score + extra``. The gradient estimate is always
``batch.terms.mean(axis=-2)``, shape (*R, p).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

__all__ = ["Batch", "DeferredScore"]


class DeferredScore:
    """The score grad_theta log p(x) of samples x, computed on first use.

    A ``Batch`` may hold one in place of the (*R, n, p) score array: reading
    ``batch.score`` computes (once, shared by every copy of the batch) and returns
    the array, while ``Batch.estimate`` contracts the weights with it through
    ``dist.score_dot(x, weight)`` without ever building it, which is O(R n event)
    instead of O(R n p) for Bernoulli and categorical one-hot scores.

    Args:
        dist: the distribution the samples came from.
        x: samples (*R, n, *event).
        dtype: ``np.float32`` in the single-precision mode when the samples themselves
            do not carry the precision (integer category indices): the score and the
            contractions are then float32. None (default): the distribution's own
            choice (float64, or the dtype of float samples).
    """

    __slots__ = ("_value", "dist", "dtype", "x")

    def __init__(self, dist: Any, x: np.ndarray, dtype: Any = None) -> None:
        self.dist = dist
        self.x = x
        self.dtype = None if dtype is None else np.dtype(dtype)
        self._value: np.ndarray | None = None

    @property
    def single(self) -> bool:
        """Whether the score is in single precision (the float32 mode)."""
        return self.dtype == np.float32 or self.x.dtype == np.float32

    def value(self) -> np.ndarray:
        """The score array (*R, n, p), computed on the first call."""
        if self._value is None:
            s = self.dist.score(self.x)
            self._value = s if self.dtype is None else s.astype(self.dtype, copy=False)
        return self._value

    def dot(self, w: np.ndarray) -> np.ndarray:
        """sum_i w_i score_i over the sample axis, (*R, p), without the (*R, n, p) array.

        Always by ``dist.score_dot``, so the result does not depend on whether the
        score array has been computed.
        """
        if self.dtype is not None:
            w = np.asarray(w).astype(self.dtype, copy=False)
        out: np.ndarray = self.dist.score_dot(self.x, w)
        return out


class _ScoreField:
    """Data descriptor behind ``Batch.score``: stores an array, None or a DeferredScore."""

    def __get__(self, obj: Any, objtype: Any = None) -> np.ndarray | None:
        if obj is None:
            raise AttributeError("score")  # no class-level default: score is required
        raw = obj.__dict__["_score"]
        return raw.value() if isinstance(raw, DeferredScore) else raw

    def __set__(self, obj: Any, value: np.ndarray | DeferredScore | None) -> None:
        obj.__dict__["_score"] = value


@dataclass(frozen=True, eq=False)
class Batch:
    """One batch of per-sample gradient terms, vectorised over replicates.

    The per-sample terms are kept in a factored form so that baselines cost
    O(R n) rather than O(R n p): ``terms = weight[..., None] * score + extra``,
    where either part may be None. ``terms`` materialises them (cached);
    ``estimate`` contracts them without an (R, n, p) temporary.

    Attributes:
        x: samples, (*R, n, *event).
        fx: f(x), (*R, n).
        score: grad_theta log p(x), (*R, n, p), or None for estimators without one; may
            be given as a ``DeferredScore``, computed when first read.
        n_evals: evaluations of f (or of f and its gradient) per estimate.
        weight: per-sample multiplier of the score, (*R, n), or None.
        extra: further per-sample terms, (*R, n, p), or None.
        noise: the base noise x was made from, (*R, n, *event), when known.
        independent: whether the n samples of a replicate are independent (False for
            antithetic or quasi-Monte Carlo draws; leave-one-out baselines need True).
        info: diagnostics added by control variates (fitted coefficients, ...).
    """

    x: np.ndarray
    fx: np.ndarray
    score: _ScoreField = _ScoreField()
    n_evals: int  # type: ignore[misc]
    weight: np.ndarray | None = None
    extra: np.ndarray | None = None
    noise: np.ndarray | None = None
    independent: bool = True
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.weight is None and self.extra is None:
            raise ValueError("a Batch needs per-sample terms: pass weight (with score) or extra")
        if self.weight is not None and not self.has_score:
            raise ValueError("a Batch with a score weight needs the score")

    @property
    def has_score(self) -> bool:
        """Whether the batch has a score (checked without computing a deferred one)."""
        return self.__dict__["_score"] is not None

    @property
    def n(self) -> int:
        """Number of samples per replicate."""
        return int(self.fx.shape[-1])

    @cached_property
    def terms(self) -> np.ndarray:
        """Per-sample gradient terms, (*R, n, p)."""
        out: np.ndarray | None = None
        if self.weight is not None:
            assert self.score is not None
            out = self.weight[..., None] * self.score
        if self.extra is not None:
            out = self.extra if out is None else out + self.extra
        assert out is not None
        return out

    @property
    def estimate(self) -> np.ndarray:
        """The gradient estimate terms.mean(axis=-2), shape (*R, p).

        Always computed from the factored form (never from the cached ``terms``), so the
        value is bit-for-bit the same whether or not ``terms`` was read before.
        """
        est: np.ndarray | None = None
        if self.weight is not None:
            raw = self.__dict__["_score"]
            if isinstance(raw, DeferredScore) and raw.single:
                # float32: divide the (R, n) weights, not the (R, p) contraction
                est = raw.dot(self.weight / self.n)
            elif isinstance(raw, DeferredScore):
                est = raw.dot(self.weight)
                est /= self.n  # a new array: divided in place (same bits)
            else:
                est = np.matmul(self.weight[..., None, :], raw)[..., 0, :] / self.n
        if self.extra is not None:
            e = self.extra.mean(axis=-2)
            est = e if est is None else est + e
        assert est is not None
        return est

    def with_terms(self, terms: np.ndarray) -> Batch:
        """A copy whose per-sample terms are ``terms`` (*R, n, p)."""
        return self.replace(weight=None, extra=terms)

    def replace(self, **changes: Any) -> Batch:
        """A copy with some fields changed (inputs are never mutated).

        A deferred score stays deferred (``dataclasses.replace`` would compute it).
        """
        changes.setdefault("score", self.__dict__["_score"])
        return replace(self, **changes)

    def with_info(self, **items: Any) -> Batch:
        """A copy with diagnostics added to ``info``."""
        return self.replace(info={**self.info, **items})
