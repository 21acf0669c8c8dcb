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

from typing import Any, NamedTuple

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array, check_positive_int
from vartools.estimators.base import BaseEstimator, from_noise_via_samples
from vartools.estimators.double_cv import Parts, discrete_parts, loo_mean
from vartools.estimators.rebar.noise import require_capabilities
from vartools.estimators.relax import Mlp, mlp_backward, mlp_forward

__all__ = [
    "SurrogateState",
    "neighbours",
    "rodeo",
    "rodeo_surrogate",
    "rodeo_terms",
    "stein_terms",
    "stein_terms_adjoint",
    "surrogate_terms",
    "surrogate_variance_grad",
]


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


# -- RODEO with a learned surrogate (Shi et al. 2022, sec. 4: a network in h) ---------------


def neighbours(b: np.ndarray, categories: int | None) -> np.ndarray:
    """The points the Gibbs Stein operators visit from b (*R, K, p), flat: (*R, K, m, p).

    Binary coordinates: b with coordinate d flipped (m = D). One-hot variables: b with
    variable j set to category c (m = B C, in the order of the parameters).
    """
    p = b.shape[-1]
    if categories is None:
        eye = np.eye(p, dtype=bool)
        out: np.ndarray = np.where(eye, 1.0 - b[..., None, :], b[..., None, :])
        return out
    c = categories
    nb = p // c
    y = np.broadcast_to(b[..., None, :], (*b.shape[:-1], p, p)).copy()
    y = y.reshape(*b.shape[:-1], nb, c, nb, c)
    for j in range(nb):
        y[..., j, :, j, :] = np.eye(c)
    return y.reshape(*b.shape[:-1], p, p)


def stein_terms(
    b: np.ndarray, theta: np.ndarray, categories: int | None, h_b: np.ndarray, h_y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """cv1 (*R, K) and cv2 (*R, K, p) of the Gibbs Stein operators applied to a function h.

    h is given by its values at the samples, h_b (*R, K), and at their ``neighbours``,
    h_y (*R, K, m): cv1 = sum_d (A_d h)(b), cv2_d = (A_d [h s_d])(b) as in ``rodeo_terms``.
    """
    if categories is None:
        w = np.where(b > 0.5, 1.0 - theta, theta)  # probability of the flipped value
        cv1 = (w * (h_y - h_b[..., None])).sum(-1)
        cv2 = w * (h_y * (1.0 - b - theta) - h_b[..., None] * (b - theta))
        return cv1, cv2
    c = categories
    shape = (*b.shape[:-1], -1, c)
    h4, b4, p4 = h_y.reshape(shape), b.reshape(shape), theta.reshape(-1, c)
    cv1 = (p4 * (h4 - h_b[..., None, None])).sum((-2, -1))
    ph = p4 * h4
    cv2 = ph - p4 * ph.sum(-1, keepdims=True) - h_b[..., None, None] * (b4 - p4)
    return cv1, cv2.reshape(b.shape)


def stein_terms_adjoint(
    b: np.ndarray,
    theta: np.ndarray,
    categories: int | None,
    g1: np.ndarray,
    g2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The transpose of the linear map (h_b, h_y) -> (cv1, cv2) of ``stein_terms``.

    Args:
        b: the samples in flat one-hot form (*R, K, p).
        theta: their mean (p,).
        categories: None (binary coordinates) or K (one-hot variables).
        g1: upstream gradient on cv1 (*R, K).
        g2: upstream gradient on cv2 (*R, K, p).

    Returns:
        Gradients on h_b (*R, K) and on h_y (*R, K, m).
    """
    if categories is None:
        w = np.where(b > 0.5, 1.0 - theta, theta)
        gy = w * (g1[..., None] + g2 * (1.0 - b - theta))
        gb = -g1 * w.sum(-1) - (g2 * w * (b - theta)).sum(-1)
        return gb, gy
    c = categories
    shape = (*b.shape[:-1], -1, c)
    g24, b4, p4 = g2.reshape(shape), b.reshape(shape), theta.reshape(-1, c)
    gy4 = p4 * (g1[..., None, None] + g24 - (g24 * p4).sum(-1, keepdims=True))
    gb = -g1 * p4.sum() - (g24 * (b4 - p4)).sum((-2, -1))
    return gb, gy4.reshape(b.shape)


class SurrogateState(NamedTuple):
    """The learned surrogate r_psi's parameters, Adam's moments (flat) and the step count."""

    mlp: Mlp
    adam_m: np.ndarray
    adam_v: np.ndarray
    step: int = 0


def surrogate_terms(
    problem: Problem, x: np.ndarray, terms: np.ndarray, mlp: Mlp, who: str = "rodeo_mlp"
) -> tuple[np.ndarray, dict[str, Any]]:
    """The terms plus the Stein directions on r = ``mlp`` (see ``rodeo_surrogate``).

    Returns:
        The new terms (*R, K, p) and the pieces ``surrogate_variance_grad`` needs.
    """
    dist = require_capabilities(problem, who, "one_hot_factorised", "relaxation")
    layout = dist.one_hot_layout()
    lead = x.shape[: x.ndim - len(dist.event_shape)]
    p = dist.n_params
    b = np.asarray(dist.embed(x), dtype=np.float64).reshape(*lead, p)
    theta, cats = layout.mean, layout.categories
    y = neighbours(b, cats)
    r_b, _, hid_b = mlp_forward(mlp, b)
    r_y, _, hid_y = mlp_forward(mlp, y)
    cv1, cv2 = stein_terms(b, theta, cats, r_b, r_y)
    s = b - theta
    new = terms - loo_mean(cv1, -1)[..., None] * s + cv2
    parts = {"b": b, "y": y, "theta": theta, "cats": cats, "hid_b": hid_b, "hid_y": hid_y}
    return new, parts


def surrogate_variance_grad(mlp: Mlp, terms: np.ndarray, parts: dict[str, Any]) -> np.ndarray:
    """Gradient in psi of mean_R |gbar|^2 (gbar the estimate of ``terms``), flat."""
    b, y, theta, cats = parts["b"], parts["y"], parts["theta"], parts["cats"]
    p = b.shape[-1]
    k = terms.shape[-2]
    gbar = terms.mean(-2, keepdims=True)
    reps = gbar.size // p
    up = np.broadcast_to(2.0 * gbar / (k * reps), terms.shape)
    g1 = -loo_mean((up * (b - theta)).sum(-1), -1)
    gb, gy = stein_terms_adjoint(b, theta, cats, g1, up)
    hdim = mlp.b1.size
    back_b = mlp_backward(
        mlp, b.reshape(-1, p), parts["hid_b"].reshape(-1, hdim), gb.ravel(), np.zeros((gb.size, p))
    )
    back_y = mlp_backward(
        mlp, y.reshape(-1, p), parts["hid_y"].reshape(-1, hdim), gy.ravel(), np.zeros((gy.size, p))
    )
    out: np.ndarray = back_b.flat() + back_y.flat()
    return out


def rodeo_surrogate(
    *, hidden: int = 10, lr: float = 0.01, train: bool = True, init_seed: int = 0
) -> ControlVariate:
    """RODEO's Stein control variates on a learned surrogate r_psi, trained online.

    Adds to the terms of a RODEO (or any leave-one-out score-function) batch

        -mean_{j != k} [sum_d (A_d r)(b_j)] s_k + (A_d [r s_d])(b_k),

    the alpha and beta directions of ``rodeo_terms`` with h = r_psi, a one-hidden-layer
    tanh MLP on the flat one-hot sample (``vartools.estimators.relax.Mlp``; output weights
    start at zero, so the untrained estimator is the base's). r_psi does not depend on the
    batch it is applied to (it is fitted on earlier batches), so both directions have mean
    zero and the estimate stays unbiased (tested by exact enumeration at trained states).
    psi descends the batch's variance estimate mean_R |gbar|^2 with Adam (as RELAX).

    Cost: K (1 + m) evaluations of r_psi per estimate, m the number of neighbours (D for
    Bernoullis, B C for categoricals; ``info["surrogate_evals"]``), and one backward
    pass through them when training (``info["training_passes"]``); no f evaluations.

    Args:
        hidden: hidden tanh units.
        lr: Adam's learning rate.
        train: update psi after every batch (used from the next one).
        init_seed: seed of the initial weights (Glorot-uniform W1; zero biases and w2).
    """
    hidden = check_positive_int(hidden, "hidden")
    lr = float(lr)

    def init(problem: Problem) -> SurrogateState:
        dist = require_capabilities(problem, "rodeo_mlp", "one_hot_factorised", "relaxation")
        p = dist.n_params
        rng = np.random.default_rng(init_seed)
        lim = np.sqrt(6.0 / (p + hidden))
        m = Mlp(rng.uniform(-lim, lim, (hidden, p)), np.zeros(hidden), np.zeros(hidden), 0.0)
        z = np.zeros(m.flat().size)
        return SurrogateState(m, z, z.copy(), 0)

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        st: SurrogateState = state if state is not None else init(problem)
        terms, parts = surrogate_terms(problem, batch.x, batch.terms, st.mlp)
        k, m_nb = parts["y"].shape[-3], parts["y"].shape[-2]
        evals = k * (1 + m_nb)
        out = batch.with_terms(terms).with_info(
            surrogate_evals=evals, training_passes=evals if train else 0
        )
        if not train:
            return out, state
        grad = surrogate_variance_grad(st.mlp, terms, parts)
        t = st.step + 1
        am = 0.9 * st.adam_m + 0.1 * grad
        av = 0.999 * st.adam_v + 0.001 * grad * grad
        step = lr * (am / (1 - 0.9**t)) / (np.sqrt(av / (1 - 0.999**t)) + 1e-8)
        return out, SurrogateState(st.mlp.unflat(st.mlp.flat() - step), am, av, t)

    return ControlVariate(
        init,
        apply,
        name="surrogate" if train else "surrogate(frozen)",
        min_n=2,
        stateful=train,
        per_sample=False,
    )
