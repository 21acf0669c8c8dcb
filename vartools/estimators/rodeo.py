"""RODEO (Shi, Zhou, Hwang, Titsias & Mackey, NeurIPS 2022): discrete Stein control variates.

For factorised Bernoullis b ~ q = Bernoulli(theta), theta = sigmoid(logits), the Gibbs
Markov chain that resamples coordinate d from q_d leaves q invariant; its generator
gives the discrete Stein operator

    (A_d h)(b) = E_{b'_d ~ q_d}[h(b_{-d}, b'_d)] - h(b) = w_d(b) [h(y_d) - h(b)],

with y_d = b with coordinate d flipped and w_d(b) = q_d(1 - b_d) the probability of the
flipped value. E_q[(A_d h)(b)] = 0 for every h, so A_d h is a control variate that
costs one evaluation of h per neighbour (RODEO, sec. 3-4). For independent categoricals
(``relaxed=`` or the problem's ``relaxed``: f on one-hot vectors with its gradient) the
move of variable j goes to category c with probability p_jc,
(A_j h)(x) = sum_c p_jc [h(x_{j -> c}) - h(x)], and the formulas below hold with b
the one-hot samples and s = b - softmax(logits).

RODEO applies such operators to a cheap surrogate of f built from the *other* samples
of the batch. Here the surrogate of sample k is the average of the first-order Taylor
expansions of f at the other samples,

    h_k(y) = mean_{j != k} [f(b_j) + grad f(b_j) . (y - b_j)],

(linear in y, so h_k(y_d) - h_k(b_k) = gbar_{-k,d} (1 - 2 b_{k,d}); no f evaluations
beyond the K samples and their gradients, as in the paper's "avg" variant with its
network replaced by the identity), and

    cv1_k = sum_d (A_d h_k)(b_k)                           (a scalar),
    cv2_{k,d} = (A_d [h_k s_d])(b_k)                       (one per logit d),
    terms_k = (f(b_k) - mean_{j != k}[f(b_j) + alpha cv1_j]) s_k + beta cv2_k,

with s_k = b_k - theta. cv2 applies the coordinate-d operator to the d-th score
coordinate (the diagonal of the paper's vector-valued operator): with beta = 1 it
replaces h_k(b_k) s_{k,d} by its conditional expectation over b_{k,d}. Unbiased for
every alpha and beta: h_k does not depend on b_k, so E[cv2_k | others] = 0, and the
baseline's cv1_j has mean zero over b_j given everything else, so E[cv1_j s_k] = 0
(tested by exact enumeration). The paper learns alpha, beta and a network in the
surrogate by descending the variance; here alpha and beta are fixed arguments
(defaults alpha = 1, beta = 1), or fitted on earlier batches by minimising the variance
(``make_estimator(rodeo(0, 0), fitted_coefficients())``, the registered ``rodeo``; see
``vartools.estimators.tuned``), and the surrogate is the Taylor average: say so when
comparing with their figures. Cost: K evaluations of f and its gradient
(``Batch.n_evals`` = K; ``info["grad_evals"]`` = K).

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.settings import make_problem
    >>> from vartools.estimators.composed import make_estimator
    >>> from vartools.oracles.exact import exact_gradient, exact_moments
    >>> prob = make_problem("liu_toy", eta=0.3)
    >>> mean, var = exact_moments(prob, make_estimator(rodeo()), 2)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-12))
    True
"""

from __future__ import annotations

import numpy as np

from vartools.core.batch import Batch
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array
from vartools.estimators.base import BaseEstimator, from_noise_via_samples
from vartools.estimators.double_cv import Parts, discrete_parts, loo_mean

__all__ = ["rodeo", "rodeo_terms"]


def rodeo_terms(parts: Parts) -> tuple[np.ndarray, np.ndarray]:
    """RODEO's terms at alpha = beta = 0 (RLOO) and its two directions.

    Args:
        parts: the samples in flat one-hot form (``vartools.estimators.double_cv.Parts``).

    Returns:
        The RLOO terms (*R, K, p) and the directions (*R, K, p, 2) that alpha and beta
        multiply (see the module docstring); the estimator's terms are
        rloo + directions @ (alpha, beta).
    """
    fx, grad, b, theta = parts.fx, parts.grad, parts.b, parts.theta
    gbar = loo_mean(grad, -2)  # slope of h_k, (*R, K, p)
    # h_k(b_k) = mean_{j != k} [f_j - g_j . b_j] + gbar_{-k} . b_k
    offset = loo_mean(fx - (grad * b).sum(-1), -1)  # (*R, K)
    h_at_b = offset + (gbar * b).sum(-1)
    if parts.categories is None:  # Bernoulli: the move flips coordinate d
        flip = 1.0 - b
        w = np.where(b > 0.5, 1.0 - theta, theta)  # q_d(1 - b_d), (*R, K, D)
        h_at_y = h_at_b[..., None] + gbar * (flip - b)  # h_k(y_{k,d}), (*R, K, D)
        cv1 = (w * (h_at_y - h_at_b[..., None])).sum(-1)  # (*R, K)
        cv2 = w * (h_at_y * (flip - theta) - h_at_b[..., None] * (b - theta))
    else:  # categorical: variable j moves to category c with probability p_jc
        c = parts.categories
        shape = (*b.shape[:-1], -1, c)
        g4, b4, p4 = gbar.reshape(shape), b.reshape(shape), theta.reshape(-1, c)
        h4 = h_at_b[..., None, None] + g4 - (g4 * b4).sum(-1, keepdims=True)  # h_k(y_jc)
        cv1 = (p4 * (h4 - h_at_b[..., None, None])).sum((-2, -1))
        ph = p4 * h4
        cv2 = (ph - p4 * ph.sum(-1, keepdims=True) - h_at_b[..., None, None] * (b4 - p4)).reshape(
            b.shape
        )
    centred = b - theta
    out: np.ndarray = (fx - loo_mean(fx, -1))[..., None] * centred
    c_alpha = -loo_mean(cv1, -1)[..., None] * centred
    return out, np.stack([c_alpha, cv2], -1)


def rodeo(
    alpha: float = 1.0, beta: float = 1.0, *, relaxed: Objective | None = None
) -> BaseEstimator:
    """RODEO with Gibbs Stein operators and a leave-one-out Taylor surrogate.

    See the module docstring for the formula, what differs from the paper and the cost.
    n = K >= 2 samples per estimate. Factorised Bernoullis, or categoricals with
    ``relaxed`` (f on one-hot vectors with its gradient): the Gibbs move of variable j
    goes to category c with probability p_jc, and the surrogate is linear in the
    one-hot vector.

    Args:
        relaxed: for categoricals, f on one-hot vectors with its gradient.
        alpha: coefficient of the Stein control variate inside the leave-one-out baseline.
        beta: coefficient of the Stein control variate of the score term.

    Returns:
        A base estimator named ``rodeo`` (with its coefficients when not the defaults).
    """
    a = float(as_finite_array(alpha, "alpha"))
    bt = float(as_finite_array(beta, "beta"))

    def from_samples(
        problem: Problem, x: np.ndarray, noise: np.ndarray | None = None, ind: bool = True
    ) -> Batch:
        parts = discrete_parts(problem, x, "rodeo", relaxed)
        k = int(parts.fx.shape[-1])
        rloo, dirs = rodeo_terms(parts)
        return Batch(
            x=x,
            fx=parts.fx,
            score=parts.b - parts.theta,
            extra=rloo + dirs @ np.array([a, bt]),
            n_evals=k,
            noise=noise,
            independent=ind,
            info={"grad_evals": k, "cv_directions": dirs, "cv_names": ("alpha", "beta")},
        )

    default = a == 1.0 and bt == 1.0
    return BaseEstimator(
        name="rodeo" if default else f"rodeo(alpha={a:g},beta={bt:g})",
        from_noise=from_noise_via_samples(from_samples),
        from_samples=from_samples,
        needs_grad=False,  # discrete_parts finds the gradient (grad_f or a relaxed objective)
        per_sample=False,
        doc=rodeo.__doc__ or "",
    )
