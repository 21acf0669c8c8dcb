"""Control variates: optax-like (init, apply) pairs that rewrite a Batch's per-sample terms.

Rules every control variate here follows (and the tests enforce):

- ``apply(batch, state, problem) -> (batch, state)`` is deterministic and never
  mutates its inputs;
- it preserves the expectation of the estimate ``terms.mean(-2)``: what is learned
  from earlier batches lives in ``state``; a coefficient fitted on the batch it
  corrects is biased, so it is fitted elsewhere (earlier batches, leave-one-out,
  cross-fitting) or the control variate says ``biased=True`` in its name, its
  docstring and the results;
- extra evaluations of f are added to ``batch.n_evals``.

Baselines subtract b * score from the terms, which keeps the estimate unbiased
because E[score] = 0 and b does not depend on the sample it multiplies
(Mohamed et al. 2020, sec. 7.4.1).

Example:
    >>> import numpy as np
    >>> from vartools.distributions import Bernoulli
    >>> from vartools.problems import Problem
    >>> from vartools.estimators import make_estimator, score_function
    >>> prob = Problem("toy", Bernoulli([0.0, 2.0]), lambda b: b.prod(-1) + b.sum(-1))
    >>> est = make_estimator(score_function, loo_baseline())
    >>> est(prob, 4, rng=np.random.default_rng(0), reps=(3,))[0].shape
    (3, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vartools._validation import as_finite_array, short_repr

if TYPE_CHECKING:
    from vartools.estimators import Batch
    from vartools.problems import Problem

__all__ = [
    "ControlVariate",
    "chain",
    "constant_baseline",
    "ema_baseline",
    "loo_baseline",
    "require_score",
    "subtract_baseline",
]

ApplyFn = Callable[["Batch", Any, "Problem"], "tuple[Batch, Any]"]


@dataclass(frozen=True, eq=False)
class ControlVariate:
    """A pure (init, apply) pair with metadata.

    Args:
        init: problem -> initial state.
        apply: (batch, state, problem) -> (batch, new_state).
        name: label used in estimator names.
        biased: True when the reducer knowingly biases the estimate.
        min_n: smallest number of samples per estimate it accepts.
        stateful: True when the state changes between batches.
        requires_independent: True when it needs the n samples to be independent.
        per_sample: True when each sample's new terms depend on that sample only
            (and the state), which quadrature oracles rely on.
    """

    init: Callable[[Problem], Any]
    apply: ApplyFn
    name: str
    biased: bool = False
    min_n: int = 1
    stateful: bool = False
    requires_independent: bool = False
    per_sample: bool = True


def _no_state(problem: Problem) -> None:
    return None


def _identity(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
    return batch, state


def chain(*cvs: ControlVariate) -> ControlVariate:
    """Apply several control variates in order; the state is the tuple of their states.

    Example:
        >>> chain(constant_baseline(1.0), loo_baseline()).name
        'const(1)+loo'
    """
    if not cvs:
        return ControlVariate(_no_state, _identity, name="none")
    if len(cvs) == 1:
        return cvs[0]

    def init(problem: Problem) -> tuple[Any, ...]:
        return tuple(cv.init(problem) for cv in cvs)

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        new_states = []
        for cv, s in zip(cvs, state, strict=True):
            batch, s = cv.apply(batch, s, problem)
            new_states.append(s)
        return batch, tuple(new_states)

    return ControlVariate(
        init,
        apply,
        name="+".join(cv.name for cv in cvs),
        biased=any(cv.biased for cv in cvs),
        min_n=max(cv.min_n for cv in cvs),
        stateful=any(cv.stateful for cv in cvs),
        requires_independent=any(cv.requires_independent for cv in cvs),
        per_sample=all(cv.per_sample for cv in cvs),
    )


def require_score(batch: Batch, who: str) -> np.ndarray:
    """The batch's score, or a clear error when the base estimator has none."""
    if batch.score is None:
        raise TypeError(
            f"{who} subtracts a multiple of the score, but this batch has no score (its base "
            "estimator is not a score-function estimator); use it with vartools.score_function"
        )
    return batch.score


def subtract_baseline(batch: Batch, b: Any, who: str, *, per_sample: bool = False) -> Batch:
    """Return the batch with terms - b * score.

    ``b`` is a scalar, one value per parameter (p,), or, with ``per_sample=True``,
    one value per sample (*R, n) (broadcastable).
    """
    b = np.asarray(b, dtype=np.float64)
    if not per_sample and b.ndim == 1:  # one baseline per parameter: not a multiple of the score
        return batch.with_terms(batch.terms - b * require_score(batch, who))
    if not batch.has_score:  # checked without computing a deferred score
        require_score(batch, who)
    # scalar or per-sample (*R, n): stays in factored form, O(R n)
    if batch.weight is not None:
        return batch.replace(weight=batch.weight - b)
    return batch.replace(weight=np.broadcast_to(-b, batch.fx.shape))


def constant_baseline(b: Any = 0.0) -> ControlVariate:
    """Subtract a fixed baseline: terms_i = (f(x_i) - b) score_i.

    Unbiased for any b chosen without looking at the batch (Mohamed et al. 2020,
    eq. 64); ``b`` may be a scalar or one value per parameter (shape (p,)). Its
    single-sample variance is M2 - 2 b M1 + b^2 M0 - g^2 per coordinate
    (REFERENCES.md). No extra evaluations of f.
    """
    b_arr = as_finite_array(b, "b")
    if b_arr.ndim > 1:
        raise ValueError(f"b must be a scalar or a vector of length p, got shape {b_arr.shape}")
    label = f"{float(b_arr):g}" if b_arr.ndim == 0 else "vec"

    def init(problem: Problem) -> None:
        if b_arr.ndim == 1 and b_arr.shape[0] != problem.dist.n_params:
            raise ValueError(
                f"b has {b_arr.shape[0]} entries but problem {problem.name!r} has "
                f"p={problem.dist.n_params} parameters; pass a scalar or a vector of length p"
            )
        return None

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        return subtract_baseline(batch, b_arr, "constant_baseline").with_info(baseline=b_arr), state

    return ControlVariate(init, apply, name=f"const({label})")


def ema_baseline(decay: float = 0.9) -> ControlVariate:
    """Exponential moving average of f over earlier batches as the baseline.

    b_t = debiased EMA of mean f over batches 1..t-1 (Adam-style debiasing, b = 0
    before the first batch); terms_i = (f(x_i) - b_t) score_i. Unbiased because b_t
    uses earlier batches only. The new state averages f over every replicate of the
    batch; to measure variance at a fixed state, warm the state up and reuse it
    (``measure_variance(..., warmup=...)`` does). No extra evaluations of f.

    Args:
        decay: weight of the past, in [0, 1).
    """
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be a number in [0, 1), got {short_repr(decay)}")
    decay = float(decay)

    def init(problem: Problem) -> tuple[float, int]:
        return (0.0, 0)

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        avg, t = state
        b = avg / (1.0 - decay**t) if t > 0 else 0.0
        out = subtract_baseline(batch, b, "ema_baseline").with_info(baseline=b)
        new_avg = decay * avg + (1.0 - decay) * float(np.mean(batch.fx))
        return out, (new_avg, t + 1)

    return ControlVariate(init, apply, name=f"ema({decay:g})", stateful=True)


def loo_baseline() -> ControlVariate:
    """Leave-one-out baseline (RLOO; Kool et al. 2019): b_i = mean of f over the other samples.

    terms_i = (f_i - (1/(n-1)) sum_{j != i} f_j) score_i, equivalently
    (n/(n-1)) (f_i - fbar) score_i. Unbiased when the n samples are independent
    (b_i does not depend on x_i). Variance: [(n-2) V_mean + 2 zeta2] / (n (n-1))
    (REFERENCES.md). Needs n >= 2; no extra evaluations of f.
    """

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        n = batch.n
        if n < 2:
            raise ValueError(f"loo_baseline needs n >= 2 samples per estimate, got n={n}")
        fx = batch.fx
        b = (fx.sum(-1, keepdims=True) - fx) / (n - 1)
        return subtract_baseline(batch, b, "loo_baseline", per_sample=True), state

    return ControlVariate(
        _no_state, apply, name="loo", min_n=2, requires_independent=True, per_sample=False
    )
