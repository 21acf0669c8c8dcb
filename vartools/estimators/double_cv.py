"""Double control variates (Titsias & Shi, AISTATS 2022): factorised Bernoullis, categoricals.

RLOO (the leave-one-out baseline, the "global" control variate) with a second, local
control variate: a first-order Taylor expansion of f whose slope is the average
gradient of f at the *other* samples. With K samples b_k ~ Bernoulli(theta),
theta = sigmoid(logits), s_k = b_k - theta the score, g_j = grad f(b_j) (f extended
to real vectors, the problem's ``grad_f``) and gbar_{-k} = mean_{j != k} g_j:

    F_k = f(b_k) + alpha (b_k - theta) . gbar_{-k}
    terms_k = (F_k - mean_{j != k} F_j) s_k - alpha gbar_{-k} * theta (1 - theta).

For independent categoricals the same formula holds with b_k the one-hot samples, theta
the softmax probabilities (the score is still b_k - theta), grad f the gradient of f on
one-hot vectors (``relaxed=`` or the problem's ``relaxed`` objective) and
theta (1 - theta) gbar replaced by the one-hot covariance (diag(p) - p p^T) gbar per
variable. Dispatch is by capability (``one_hot_factorised`` and ``relaxation``), never
by class: a user distribution that has them works, others are refused naming both.

Unbiased for every alpha: the baseline mean_{j != k} F_j has E[F_j s_k] = 0 (b_j enters
F_j only through its own score-like factor b_j - theta, of mean zero, and f_j is
independent of b_k), and E[(b_k - theta) . gbar_{-k} s_k | others] =
gbar_{-k} * theta (1 - theta), which the last term subtracts in closed form (Titsias &
Shi 2022, sec. 3; tested by exact enumeration). alpha = 0 is RLOO. The paper learns
alpha by descending the variance; here alpha is a fixed argument (default 1, the
Taylor coefficient); ``make_estimator(double_cv(0.0), fitted_coefficients())`` (the
registered ``double_cv``) fits alpha on earlier batches by minimising the variance
(``vartools.estimators.tuned``), as the paper's learned alpha. Cost per estimate: K
evaluations of f and of its gradient (``Batch.n_evals`` = K, counting f with its
gradient as one evaluation as the pathwise estimator does; ``info["grad_evals"]`` = K).

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.settings import make_problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient, exact_moments
    >>> prob = make_problem("liu_toy", eta=0.3)
    >>> mean, var = exact_moments(prob, make_estimator(double_cv()), 2)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from vartools.core.batch import Batch
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array
from vartools.estimators.base import BaseEstimator, from_noise_via_samples
from vartools.estimators.rebar.noise import require_capabilities

__all__ = ["Parts", "discrete_parts", "double_cv", "loo_mean", "score_covariance_times"]


class Parts(NamedTuple):
    """The samples of a factorised Bernoulli or categorical problem in flat one-hot form.

    Attributes:
        fx: f at the samples (*R, K).
        grad: grad f at the samples (*R, K, p) (Bernoulli: df/db; categorical: the
            gradient of the relaxed f on one-hot vectors).
        b: the samples (*R, K, p): b itself (Bernoulli) or one-hot (categorical), so that
            the score is b - theta in both cases.
        theta: probabilities (p,): sigmoid(logits) or softmax(logits) flattened.
        categories: number of categories (None for Bernoulli).
    """

    fx: np.ndarray
    grad: np.ndarray
    b: np.ndarray
    theta: np.ndarray
    categories: int | None


def discrete_parts(
    problem: Problem, x: np.ndarray, who: str, relaxed: Objective | None = None
) -> Parts:
    """``Parts`` of samples x (*R, K, *event) of a factorised binary or one-hot problem.

    Dispatch by capability: the distribution must have ``one_hot_factorised`` (the
    indicator layout and its mean) and ``relaxation`` (``embed``: outcomes as points of
    the relaxed space). grad f is taken from an objective on the relaxed space, the
    ``relaxed`` argument or else the problem's ``relaxed`` (it must equal f at the
    embedded outcomes, checked on the batch), or else, when the relaxed values are the
    outcomes themselves (``relaxation_in_outcome_space``: Bernoulli), the problem's
    ``grad_f``.

    Raises:
        NotSupportedError (a TypeError): the distribution lacks a capability (the message
            names ``who``, the distribution and the capabilities).
        TypeError: no gradient on one-hot vectors (categoricals without a relaxed objective).
        ValueError: for fewer than 2 samples, or a relaxed f that disagrees.
    """
    dist = require_capabilities(problem, who, "one_hot_factorised", "relaxation")
    layout = dist.one_hot_layout()
    lead = x.shape[: x.ndim - len(dist.event_shape)]
    if lead[-1] < 2:
        raise ValueError(
            f"{who} uses leave-one-out averages over the samples; it needs n >= 2, got n={lead[-1]}"
        )
    fx = problem.evaluate(x)
    p = dist.n_params
    obj = relaxed if relaxed is not None else problem.relaxed
    if obj is None and dist.relaxation_in_outcome_space:
        grad = problem.evaluate_grad(x.astype(np.float64)).reshape(*lead, p)
        b = x.reshape(*lead, p).astype(np.float64)
        return Parts(fx, grad, b, layout.mean, layout.categories)
    if obj is None or obj.grad is None:
        raise TypeError(
            f"{who} on {type(dist).__name__} needs f on one-hot vectors with its gradient: pass "
            f"relaxed=Objective(value, grad) taking (*R, n, *batch, K) arrays to {who}(...) or "
            "to the Problem (Problem(..., relaxed=...))"
        )
    onehot = np.asarray(dist.embed(x), dtype=np.float64)
    fr = np.asarray(obj.value(onehot), dtype=np.float64)
    if fr.shape != fx.shape or not np.allclose(fr, fx, rtol=1e-9, atol=1e-12):
        raise ValueError(
            f"{who}: relaxed.value on one-hot vectors must equal the problem's f at the same "
            f"outcomes; they differ (max |difference| "
            f"{np.max(np.abs(fr - fx)) if fr.shape == fx.shape else 'shape ' + str(fr.shape)})"
        )
    grad = np.asarray(obj.grad(onehot), dtype=np.float64).reshape(*lead, p)
    return Parts(fx, grad, onehot.reshape(*lead, p), layout.mean, layout.categories)


def score_covariance_times(parts: Parts, v: np.ndarray) -> np.ndarray:
    """E[s s^T] v for the per-sample score s = b - theta, v (..., p).

    Bernoulli: theta (1 - theta) v; categorical: per variable, p (v - p . v) (the
    covariance diag(p) - p p^T of a one-hot vector).
    """
    th = parts.theta
    if parts.categories is None:
        out: np.ndarray = th * (1.0 - th) * v
        return out
    c = parts.categories
    pv = (th * v).reshape(*v.shape[:-1], -1, c)
    p = th.reshape(-1, c)
    return (pv - p * pv.sum(-1, keepdims=True)).reshape(v.shape)


def loo_mean(a: np.ndarray, axis: int) -> np.ndarray:
    """The mean over the other entries along ``axis`` (leave one out), same shape as a."""
    k = a.shape[axis]
    return (a.sum(axis, keepdims=True) - a) / (k - 1)


def double_cv(alpha: float = 1.0, *, relaxed: Objective | None = None) -> BaseEstimator:
    """The double control variate estimator (Titsias & Shi 2022): Bernoulli or categorical.

    See the module docstring for the formula. n = K >= 2 samples per estimate.

    Args:
        relaxed: for categoricals, f on one-hot vectors with its gradient (see
            ``discrete_parts``); the Taylor term uses one-hot samples and the correction
            (diag(p) - p p^T) gbar per variable.
        alpha: the coefficient of the local Taylor control variate (0 gives RLOO). The
            batch also carries the alpha direction in ``info["cv_directions"]``, so
            ``fitted_coefficients`` can add the variance-minimising multiple of it.

    Returns:
        A base estimator named ``double_cv`` (``double_cv(alpha=...)`` for alpha != 1).
    """
    a = float(as_finite_array(alpha, "alpha"))

    def from_samples(
        problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, ind: bool = True
    ) -> Batch:
        parts = discrete_parts(problem, x, "double_cv", relaxed)
        fx = parts.fx
        gbar = loo_mean(parts.grad, -2)  # (*R, K, p)
        centred = parts.b - parts.theta
        rloo = (fx - loo_mean(fx, -1))[..., None] * centred
        local = (centred * gbar).sum(-1)  # (*R, K): the Taylor term at alpha = 1
        direction = (local - loo_mean(local, -1))[..., None] * centred - score_covariance_times(
            parts, gbar
        )
        k = int(fx.shape[-1])
        return Batch(
            x=x,
            fx=fx,
            score=centred,
            extra=rloo + a * direction if a else rloo,
            n_evals=k,
            noise=noise,
            independent=ind,
            info={"grad_evals": k, "cv_directions": direction[..., None], "cv_names": ("alpha",)},
        )

    return BaseEstimator(
        name="double_cv" if a == 1.0 else f"double_cv(alpha={a:g})",
        from_noise=from_noise_via_samples(from_samples),
        from_samples=from_samples,
        needs_grad=False,  # discrete_parts finds the gradient (grad_f or a relaxed objective)
        per_sample=False,
        doc=double_cv.__doc__ or "",
    )
