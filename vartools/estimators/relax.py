"""RELAX (Grathwohl, Choi, Wu, Roeder & Duvenaud, ICLR 2018): Bernoullis and categoricals.

For any distribution with the ``conditional_relaxation`` and ``relaxation``
capabilities (``vartools.core.capabilities``; Bernoullis and factorised categoricals).
REBAR's form with a learned surrogate c_phi in place of eta f(sigma_lam(.)): with u, v,
z, b, z~ as in ``vartools.estimators.rebar.estimator`` (logistic noise for Bernoullis;
Gumbel-max z and the Gumbels conditioned on b for categoricals),

    g = [f(b) - c_phi(z~)] s(b) + grad_theta c_phi(z) - grad_theta c_phi(z~)

(Grathwohl et al. 2018, eq. 8 and Algorithm 2). Unbiased for every surrogate (the same
argument as REBAR's: E[c(z~) s(b)] + E[grad c(z~)] = grad E[c(z)]). The surrogate is a
one-hidden-layer MLP, c(x) = w2 . tanh(W1 x + b1) + b2 (10 tanh units by default, as the
paper's toy), on x = z for Bernoullis (as the paper's toy) and on the relaxed one-hot
vector x = softmax(z / lam_c) (lam_c = 1 by default) for categoricals
(``surrogate_input``), its gradient in theta taken through x and through the location of
z (log softmax(theta) for categoricals: ``location_vjp``). In NumPy with hand-written
backpropagation, including the second-order terms through grad_x c (checked against
finite differences in the tests). Its parameters phi descend the single-batch estimate
of the variance, mean_R |gbar|^2 (gbar the estimate; E[g] does not depend on phi), with
Adam, from earlier batches only: the estimate of a batch uses the phi fitted before it,
so it stays unbiased. The frozen mode (``train=False``) keeps phi fixed (at its initial
value, or at a trained state passed in).

Cost per estimate: n evaluations of f (at b only: this surrogate does not evaluate f
at relaxed points, so no relaxed objective is needed), 2n evaluations of c_phi with
its gradient in x (``info["surrogate_evals"]``), and when training one backward pass
through them (``info["training_passes"]`` = 2n). ``Batch.n_evals`` counts f only.
Exact moments by quadrature over (u, v) for one or two Bernoullis (``relax_moments``);
categorical RELAX has no exact oracle and is tested by Monte Carlo at 5 SE.
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
from vartools.estimators.rebar.estimator import coupled_draw, rebar_base
from vartools.estimators.rebar.noise import require_capabilities
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


#: Surrogate inputs: the noise z itself, or the relaxed value sigma_lam(z).
SURROGATE_INPUTS = ("auto", "noise", "relaxed")


def _mode(problem: Problem, surrogate_input: str) -> str:
    if surrogate_input != "auto":
        return surrogate_input
    return "noise" if problem.dist.relaxation_in_outcome_space else "relaxed"


def _terms(
    problem: Problem,
    u: np.ndarray,
    v: np.ndarray,
    fx: np.ndarray,
    m: Mlp,
    surrogate_input: str = "auto",
    temperature: float = 1.0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """RELAX's per-sample terms (*R, n, p) and the pieces the backward pass needs.

    The surrogate's input x (flat, p entries per sample) is z (``"noise"``) or
    sigma_lam(z) (``"relaxed"``: the relaxed one-hot vector of a categorical); its
    gradient in theta is location_vjp(J^T grad_x c) at z, and the same times dz~ at z~.
    """
    dist = require_capabilities(problem, "relax", "conditional_relaxation", "relaxation")
    mode = _mode(problem, surrogate_input)
    cr = dist.conditional_relaxation(u, v)
    lead = cr.b.shape[: cr.b.ndim - len(dist.event_shape)]
    p = dist.n_params
    s = dist.score(cr.b)
    dzt = cr.dz_tilde.reshape(*lead, p)
    if mode == "noise":
        y_z, y_zt = cr.z, cr.z_tilde
    else:
        y_z, y_zt = dist.relax_noise(cr.z, temperature), dist.relax_noise(cr.z_tilde, temperature)
    x_z, x_zt = y_z.reshape(*lead, p), y_zt.reshape(*lead, p)
    c_zt, g_zt, h_zt = mlp_forward(m, x_zt)
    _, g_z, h_z = mlp_forward(m, x_z)

    def jac(y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """J^T w = J w (J symmetric: identity, or the Jacobian of sigma_lam), flat."""
        if mode == "noise":
            return w
        return dist.relaxed_vjp(y, w.reshape(y.shape), temperature)

    terms = (
        (fx - c_zt)[..., None] * s
        + dist.location_vjp(jac(y_z, g_z))
        - dist.location_vjp(jac(y_zt, g_zt) * dzt)
    )
    parts = {
        "z": x_z,
        "zt": x_zt,
        "y_z": y_z,
        "y_zt": y_zt,
        "dzt": dzt,
        "s": s,
        "h_z": h_z,
        "h_zt": h_zt,
        "jac": jac,
        "dist": dist,
    }
    return terms, parts


def _variance_grad(m: Mlp, terms: np.ndarray, parts: dict[str, Any]) -> np.ndarray:
    """Gradient in phi of mean_R |gbar|^2, flat."""
    d = terms.shape[-1]
    n = terms.shape[-2]
    gbar = terms.mean(-2, keepdims=True)
    reps = gbar.size // d
    up = np.broadcast_to(2.0 * gbar / (n * reps), terms.shape)
    w = parts["dist"].location_vjp(up, transpose=True)  # upstream on the location, (*lead, p)
    jac = parts["jac"]
    rho_z = jac(parts["y_z"], w)
    rho_zt = -jac(parts["y_zt"], w * parts["dzt"])
    s = parts["s"].reshape(-1, d)
    hidden = m.b1.size
    grad_z = mlp_backward(
        m,
        parts["z"].reshape(-1, d),
        parts["h_z"].reshape(-1, hidden),
        np.zeros(len(s)),
        rho_z.reshape(-1, d),
    )
    grad_zt = mlp_backward(
        m,
        parts["zt"].reshape(-1, d),
        parts["h_zt"].reshape(-1, hidden),
        -(up.reshape(-1, d) * s).sum(-1),
        rho_zt.reshape(-1, d),
    )
    return grad_z.flat() + grad_zt.flat()


def _check_input(surrogate_input: str, temperature: float) -> tuple[str, float]:
    if surrogate_input not in SURROGATE_INPUTS:
        raise ValueError(
            f"surrogate_input must be one of {SURROGATE_INPUTS}, got {surrogate_input!r}"
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not (temperature > 0)
    ):
        raise ValueError(f"surrogate_temperature must be a positive number, got {temperature!r}")
    return surrogate_input, float(temperature)


def relax_control(
    *,
    hidden: int = 10,
    lr: float = 0.01,
    train: bool = True,
    init_seed: int = 0,
    surrogate_input: str = "auto",
    surrogate_temperature: float = 1.0,
) -> ControlVariate:
    """RELAX's surrogate control variate, trained online (default) or frozen.

    Args:
        hidden: hidden tanh units of the surrogate.
        lr: Adam's learning rate for phi.
        train: update phi after every batch (from that batch; used from the next one).
        init_seed: seed of the surrogate's initial weights (Glorot-uniform W1, w2; zero
            biases), a fixed part of the estimator's definition.
        surrogate_input: what the surrogate sees: ``"noise"`` (z itself, as the paper's
            Bernoulli toy), ``"relaxed"`` (sigma_lam(z): the relaxed one-hot vector of a
            categorical), or ``"auto"``: the noise when relaxed values are outcomes
            (``relaxation_in_outcome_space``, Bernoulli), else the relaxed value.
        surrogate_temperature: lam of the relaxed input.
    """
    hidden = check_positive_int(hidden, "hidden")
    lr = float(lr)
    mode, lam = _check_input(surrogate_input, surrogate_temperature)

    def init(problem: Problem) -> RelaxState:
        dist = require_capabilities(problem, "relax", "conditional_relaxation", "relaxation")
        d = dist.n_params
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
        terms, parts = _terms(problem, batch.noise, batch.info["v"], batch.fx, st.mlp, mode, lam)
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
    *,
    train: bool = True,
    hidden: int = 10,
    lr: float = 0.01,
    surrogate_input: str = "auto",
    surrogate_temperature: float = 1.0,
    name: str | None = None,
) -> Estimator:
    """RELAX as an ``Estimator``: ``make_estimator(relax_base, relax_control(...))``.

    Any distribution with the ``conditional_relaxation`` and ``relaxation`` capabilities
    (Bernoullis, factorised categoricals); f is evaluated at b only, so no relaxed
    objective is needed.

    Args:
        train: train the surrogate online (stateful); False keeps it at the state given.
        hidden: hidden units of the surrogate.
        lr: Adam's learning rate.
        surrogate_input: the surrogate's input (see ``relax_control``).
        surrogate_temperature: lam of the relaxed input.
        name: label for tables.
    """
    cv = relax_control(
        hidden=hidden,
        lr=lr,
        train=train,
        surrogate_input=surrogate_input,
        surrogate_temperature=surrogate_temperature,
    )
    mode, lam = _check_input(surrogate_input, surrogate_temperature)

    def oracle(problem: Problem, est: Any, n: int, state: Any) -> tuple[np.ndarray, np.ndarray]:
        st = state if isinstance(state, RelaxState) else est.init(problem)
        return relax_moments(problem, st.mlp, n, surrogate_input=mode, surrogate_temperature=lam)

    # f at b only (no gradient of f); exact moments by quadrature at the state's surrogate
    base = replace(rebar_base, name="relax_draw", draw=coupled_draw("relax"), oracle=oracle)
    return make_estimator(base, cv, name=name or cv.name)


def relax_moments(
    problem: Problem,
    mlp: Mlp,
    n: int = 1,
    *,
    nodes: int = 40,
    surrogate_input: str = "auto",
    surrogate_temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (each (p,)) of the n-sample RELAX estimate at surrogate ``mlp``.

    By quadrature over (u, v), as ``vartools.estimators.rebar.rebar_moments``: independent
    binary coordinates only (``NoOracleError`` otherwise).
    """
    n = check_positive_int(n, "n")
    mode, lam = _check_input(surrogate_input, surrogate_temperature)
    u, v, wt = uv_quadrature(problem, nodes, "relax_moments")
    fx = problem.evaluate(problem.dist.conditional_relaxation(u, v).b)
    g = _terms(problem, u, v, fx, mlp, mode, lam)[0][:, 0, :]
    mean = wt @ g
    return mean, (wt @ (g - mean) ** 2) / n
