"""Baselines: subtract b * score from the terms (constant, moving-average, leave-one-out).

A baseline keeps the estimate unbiased because E[score] = 0 and b does not depend
on the sample it multiplies (Mohamed et al. 2020, sec. 7.4.1).

Example:
    >>> import numpy as np
    >>> from vartools.distributions.discrete.bernoulli import Bernoulli
    >>> from vartools.core.problem import Problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.estimators.base import score_function
    >>> prob = Problem("toy", Bernoulli([0.0, 2.0]), lambda b: b.prod(-1) + b.sum(-1))
    >>> est = make_estimator(score_function, loo_baseline())
    >>> est(prob, 4, rng=np.random.default_rng(0), reps=(3,))[0].shape
    (3, 2)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate, subtract_baseline
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array, short_repr

__all__ = ["EmaState", "RampEmaState", "constant_baseline", "ema_baseline", "loo_baseline"]


class EmaState(NamedTuple):
    """State of ``ema_baseline``: the (not yet debiased) moving average and the batch count.

    Attributes:
        mean: decay-weighted average of the batch means of f (0 before the first batch).
        n_batches: number of batches averaged so far (not ``count``, which would shadow
            ``tuple.count``).
    """

    mean: float
    n_batches: int


class RampEmaState(NamedTuple):
    """State of ``ema_baseline(ramp=True)``: ``EmaState``'s fields and the decays' product.

    Attributes:
        mean: decay-weighted average of the batch means of f (0 before the first batch).
        n_batches: number of batches averaged so far.
        decay_product: product of the decays used so far (the decay changes per update).
    """

    mean: float
    n_batches: int
    decay_product: float


def _no_state(problem: Problem) -> None:
    return None


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

    return ControlVariate(init, apply, name=f"const({label})", factory=constant_baseline)


def ema_baseline(decay: float = 0.9, *, debias: bool = True, ramp: bool = False) -> ControlVariate:
    """Exponential moving average of f over earlier batches as the baseline.

    b_t = EMA of mean f over batches 1..t-1 (b = 0 before the first batch); terms_i =
    (f(x_i) - b_t) score_i. Unbiased because b_t uses earlier batches only: the state is
    read before the batch and updated after it (optax's moving-average baseline updates
    first and so biases the estimate by -gradient/n; tests/test_peer_parity.py). The
    new state averages f over every replicate of the batch; to measure variance at a
    fixed state, warm the state up and reuse it (``measure_variance(..., warmup=...)``
    does). No extra evaluations of f.

    Early in training the EMA leans on its start value 0; two corrections, combinable:

    - ``debias`` (default): divide by 1 - prod of the decays so far (Adam's bias
      correction, Kingma & Ba 2015, sec. 3), so b_2 is the first batch's mean exactly;
    - ``ramp``: use the decay min(decay, (1 + t) / (10 + t)) at update t (t = 0, 1,
      ...), as TensorFlow's ``ExponentialMovingAverage(num_updates=...)``: a short
      memory at first, ``decay`` from t = (10 decay - 1) / (1 - decay) on.

    Args:
        decay: weight of the past, in [0, 1).
        debias: bias-correct the average (default True).
        ramp: ramp the decay up from 0.1 (default False).

    Example:
        >>> ema_baseline(0.9).name, ema_baseline(0.99, ramp=True).name
        ('ema(0.9)', 'ema(0.99,ramp)')
        >>> ema_baseline(0.9, debias=False).name
        'ema(0.9,raw)'
    """
    if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be a number in [0, 1), got {short_repr(decay)}")
    for flag, val in (("debias", debias), ("ramp", ramp)):
        if not isinstance(val, bool):
            raise TypeError(f"{flag} must be True or False, got {short_repr(val)}")
    decay = float(decay)
    label = f"{decay:g}" + (",ramp" if ramp else "") + ("" if debias else ",raw")

    def init(problem: Problem) -> EmaState | RampEmaState:
        if ramp:
            return RampEmaState(mean=0.0, n_batches=0, decay_product=1.0)
        return EmaState(mean=0.0, n_batches=0)

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        new_state: EmaState | RampEmaState
        if ramp:
            avg, t, prod = state
            b = avg / (1.0 - prod) if debias and t > 0 else avg
            d_t = min(decay, (1.0 + t) / (10.0 + t))
            new_avg = d_t * avg + (1.0 - d_t) * float(np.mean(batch.fx))
            new_state = RampEmaState(mean=new_avg, n_batches=t + 1, decay_product=prod * d_t)
        else:
            avg, t = state
            if debias:
                b = avg / (1.0 - decay**t) if t > 0 else 0.0
            else:
                b = avg
            new_avg = decay * avg + (1.0 - decay) * float(np.mean(batch.fx))
            new_state = EmaState(mean=new_avg, n_batches=t + 1)
        out = subtract_baseline(batch, b, "ema_baseline").with_info(baseline=b)
        return out, new_state

    return ControlVariate(init, apply, name=f"ema({label})", stateful=True, factory=ema_baseline)


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
        _no_state,
        apply,
        name="loo",
        min_n=2,
        requires_independent=True,
        per_sample=False,
        factory=loo_baseline,
    )
