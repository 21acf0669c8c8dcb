"""The control-variate protocol: optax-like (init, apply) pairs that rewrite a Batch's terms.

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

The concrete baselines live in ``vartools.control_variates.baselines``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vartools.core.batch import Batch
    from vartools.core.problem import Problem

__all__ = [
    "ControlVariate",
    "chain",
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
        is_identity: True when ``apply`` returns the batch unchanged (the empty chain):
            oracles of a plain base estimator apply to it.
        factory: the function that built it (e.g. ``loo_baseline``), or None for a
            hand-built one. Oracles registered per control variate are keyed by this
            object's identity (``vartools.oracles.registry``), never by ``name``: a
            renamed control variate keeps its oracle, another one that borrows the name
            does not get it.

    Dispatch reads these flags, never ``name`` (a display label).
    """

    init: Callable[[Problem], Any]
    apply: ApplyFn
    name: str
    biased: bool = False
    min_n: int = 1
    stateful: bool = False
    requires_independent: bool = False
    per_sample: bool = True
    is_identity: bool = False
    factory: Callable[..., ControlVariate] | None = None


def _no_state(problem: Problem) -> None:
    return None


def _identity(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
    return batch, state


def chain(*cvs: ControlVariate) -> ControlVariate:
    """Apply several control variates in order; the state is the tuple of their states.

    Example:
        >>> from vartools.control_variates.baselines import constant_baseline, loo_baseline
        >>> chain(constant_baseline(1.0), loo_baseline()).name
        'const(1)+loo'
    """
    if not cvs:
        return ControlVariate(_no_state, _identity, name="none", is_identity=True)
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
        is_identity=all(cv.is_identity for cv in cvs),
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
