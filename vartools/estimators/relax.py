"""RELAX (Grathwohl, Choi, Wu, Roeder & Duvenaud, ICLR 2018) for Bernoullis.

For Bernoullis (categorical RELAX is not implemented). REBAR's form with a learned
surrogate c_phi in place of eta f(sigma_lam(.)): with u, v,
z, b, z~ as in ``vartools.estimators.rebar.estimator``,

    g = [f(b) - c_phi(z~)] s(b) + grad_theta c_phi(z) - grad_theta c_phi(z~)

(Grathwohl et al. 2018, eq. 8 and Algorithm 2). Unbiased for every surrogate (the
same argument as REBAR's: E[c(z~) s(b)] + E[grad c(z~)] = grad E[c(z)]). The surrogate
is a one-hidden-layer MLP on z, c(z) = w2 . tanh(W1 z + b1) + b2 (10 tanh units by
default, as the paper's toy), in NumPy with hand-written backpropagation, including
the second-order terms through grad_z c (checked against finite differences in the
tests). Its parameters phi descend the single-batch estimate of the variance,
mean_R |gbar|^2 (gbar the estimate; E[g] does not depend on phi), with Adam, from
earlier batches only: the estimate of a batch uses the phi fitted before it, so it
stays unbiased. The frozen mode (``train=False``) keeps phi fixed (at its initial
value, or at a trained state passed in).

Cost per estimate: n evaluations of f (at b only: this surrogate does not evaluate f
at relaxed points), 2n evaluations of c_phi with its gradient in z
(``info["surrogate_evals"]``), and when training one backward pass through them
(``info["training_passes"]`` = 2n). ``Batch.n_evals`` counts f only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rebar.estimator import rebar_base
from vartools.estimators.rebar.noise import relaxed_noise, require_bernoulli
from vartools.estimators.rebar.quadrature import uv_quadrature

__all__ = [
    "Mlp",
    "RelaxState",
    "mlp_backward",
    "mlp_forward",
    "relax",
    "relax_control",
    "relax_moments",
]


@dataclass(frozen=True)
class Mlp:
    """Parameters of c(z) = w2 . tanh(W1 z + b1) + b2: W1 (H, D), b1 (H,), w2 (H,), b2 ()."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float

    def flat(self) -> np.ndarray:
        """All parameters as one vector."""
        return np.concatenate([self.w1.ravel(), self.b1, self.w2, [self.b2]])

    def unflat(self, v: np.ndarray) -> Mlp:
        """The same shapes filled from a flat vector."""
        h, d = self.w1.shape
        return Mlp(v[: h * d].reshape(h, d), v[h * d : h * d + h], v[h * d + h : -1], float(v[-1]))


def mlp_forward(m: Mlp, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """c(x) (...,), grad_x c(x) (..., D) and the hidden activations (..., H) for x (..., D)."""
    h = np.tanh(x @ m.w1.T + m.b1)
    q = m.w2 * (1.0 - h * h)
    return h @ m.w2 + m.b2, q @ m.w1, h


def mlp_backward(m: Mlp, x: np.ndarray, h: np.ndarray, alpha: np.ndarray, rho: np.ndarray) -> Mlp:
    """Gradient of sum(alpha * c(x) + rho . grad_x c(x)) with respect to the parameters.

    Args:
        m: the parameters.
        x: inputs (N, D).
        h: their hidden activations (N, H) from ``mlp_forward``.
        alpha: upstream gradient of c (N,).
        rho: upstream gradient of grad_x c (N, D).
    """
    dh = 1.0 - h * h  # tanh'
    q = m.w2 * dh  # (N, H)
    kappa = rho @ m.w1.T  # (N, H) = W1 rho
    da = alpha[:, None] * q + kappa * (-2.0 * m.w2 * h * dh)
    return Mlp(
        w1=da.T @ x + q.T @ rho,
        b1=da.sum(0),
        w2=(alpha[:, None] * h + kappa * dh).sum(0),
        b2=float(alpha.sum()),
    )


@dataclass(frozen=True)
class RelaxState:
    """The surrogate's parameters with Adam's moments (flat) and the step count."""

    mlp: Mlp
    adam_m: np.ndarray
    adam_v: np.ndarray
    step: int = 0


def _terms(
    problem: Problem, u: np.ndarray, v: np.ndarray, fx: np.ndarray, m: Mlp
) -> tuple[np.ndarray, dict[str, Any]]:
    """RELAX's per-sample terms (*R, n, D) and the pieces the backward pass needs."""
    z, zt, dzt, s = relaxed_noise(problem, u, v)  # flat (*R, n, D)
    c_zt, g_zt, h_zt = mlp_forward(m, zt)
    _, g_z, h_z = mlp_forward(m, z)
    terms = (fx - c_zt)[..., None] * s + g_z - g_zt * dzt
    return terms, {"z": z, "zt": zt, "dzt": dzt, "s": s, "h_z": h_z, "h_zt": h_zt}


def _variance_grad(m: Mlp, terms: np.ndarray, parts: dict[str, Any]) -> np.ndarray:
    """Gradient in phi of mean_R |gbar|^2, flat."""
    d = terms.shape[-1]
    n = terms.shape[-2]
    gbar = terms.mean(-2, keepdims=True)
    reps = gbar.size // d
    up = np.broadcast_to(2.0 * gbar / (n * reps), terms.shape).reshape(-1, d)
    s = parts["s"].reshape(-1, d)
    grad_z = mlp_backward(
        m, parts["z"].reshape(-1, d), parts["h_z"].reshape(-1, m.b1.size), np.zeros(len(up)), up
    )
    grad_zt = mlp_backward(
        m,
        parts["zt"].reshape(-1, d),
        parts["h_zt"].reshape(-1, m.b1.size),
        -(up * s).sum(-1),
        -up * parts["dzt"].reshape(-1, d),
    )
    return grad_z.flat() + grad_zt.flat()


def relax_control(
    *, hidden: int = 10, lr: float = 0.01, train: bool = True, init_seed: int = 0
) -> ControlVariate:
    """RELAX's surrogate control variate, trained online (default) or frozen.

    Args:
        hidden: hidden tanh units of the surrogate.
        lr: Adam's learning rate for phi.
        train: update phi after every batch (from that batch; used from the next one).
        init_seed: seed of the surrogate's initial weights (Glorot-uniform W1, w2; zero
            biases), a fixed part of the estimator's definition.
    """
    hidden = check_positive_int(hidden, "hidden")
    lr = float(lr)

    def init(problem: Problem) -> RelaxState:
        d = require_bernoulli(problem, "relax").n_params
        rng = np.random.default_rng(init_seed)
        lim1, lim2 = np.sqrt(6.0 / (d + hidden)), np.sqrt(6.0 / (hidden + 1))
        m = Mlp(
            rng.uniform(-lim1, lim1, (hidden, d)),
            np.zeros(hidden),
            rng.uniform(-lim2, lim2, hidden),
            0.0,
        )
        z = np.zeros(m.flat().size)
        return RelaxState(m, z, z.copy(), 0)

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        if "v" not in batch.info:
            raise TypeError("relax_control needs the batch of rebar_base (its uniforms u and v)")
        st: RelaxState = state if state is not None else init(problem)
        assert batch.noise is not None
        terms, parts = _terms(problem, batch.noise, batch.info["v"], batch.fx, st.mlp)
        n = batch.n
        info = {"surrogate_evals": 2 * n, "training_passes": 2 * n if train else 0}
        out = batch.with_terms(terms).with_info(**info)
        if not train:
            return out, state
        grad = _variance_grad(st.mlp, terms, parts)
        t = st.step + 1
        am = 0.9 * st.adam_m + 0.1 * grad
        av = 0.999 * st.adam_v + 0.001 * grad * grad
        step = lr * (am / (1 - 0.9**t)) / (np.sqrt(av / (1 - 0.999**t)) + 1e-8)
        return out, RelaxState(st.mlp.unflat(st.mlp.flat() - step), am, av, t)

    return ControlVariate(
        init, apply, name="relax" if train else "relax(frozen)", stateful=train, per_sample=True
    )


def relax(
    *, train: bool = True, hidden: int = 10, lr: float = 0.01, name: str | None = None
) -> Estimator:
    """RELAX as an ``Estimator``: ``make_estimator(rebar_base, relax_control(...))``.

    Args:
        train: train the surrogate online (stateful); False keeps it at the state given.
        hidden: hidden units of the surrogate.
        lr: Adam's learning rate.
        name: label for tables.
    """
    cv = relax_control(hidden=hidden, lr=lr, train=train)

    def oracle(problem: Problem, est: Any, n: int, state: Any) -> tuple[np.ndarray, np.ndarray]:
        st = state if isinstance(state, RelaxState) else est.init(problem)
        return relax_moments(problem, st.mlp, n)

    # f at b only (no gradient of f); exact moments by quadrature at the state's surrogate
    base = replace(rebar_base, name="relax_draw", oracle=oracle)
    return make_estimator(base, cv, name=name or cv.name)


def relax_moments(
    problem: Problem, mlp: Mlp, n: int = 1, *, nodes: int = 40
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (each (p,)) of the n-sample RELAX estimate at surrogate ``mlp``.

    By quadrature over (u, v), as ``vartools.estimators.rebar.rebar_moments``.
    """
    n = check_positive_int(n, "n")
    u, v, wt = uv_quadrature(problem, nodes, "relax_moments")
    dist = require_bernoulli(problem, "relax_moments")
    fx = problem.evaluate(dist.transform(u))
    g = _terms(problem, u, v, fx, mlp)[0][:, 0, :]
    mean = wt @ g
    return mean, (wt @ (g - mean) ** 2) / n
