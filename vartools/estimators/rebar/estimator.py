"""REBAR (Tucker, Mnih, Maddison, Lawson & Sohl-Dickstein, NeurIPS 2017): Bernoullis, categoricals.

For independent Bernoullis with logits phi (theta = sigmoid(phi)), per coordinate and
sample, with two uniforms u, v:

    z = phi + logit(u),  b = H(z) = 1[u > 1 - theta]                (the sample),
    v' = b (v theta + 1 - theta) + (1 - b) v (1 - theta),  z~ = phi + logit(v')  (z~ ~ p(z | b)),
    sigma_lam(z) = sigmoid(z / lam)                                 (the relaxation),
    g = [f(b) - eta f(sigma_lam(z~))] s(b)
        + eta grad_phi f(sigma_lam(z)) - eta grad_phi f(sigma_lam(z~))

(Tucker et al. 2017, eq. 5-6), s(b) = b - theta, the gradients reparameterised through u
(dz/dphi = 1) and through v (dz~/dphi = 1 + theta (1 - theta) (dv'/dtheta) / (v' (1 - v')),
dv'/dtheta = v - 1 if b = 1, -v if b = 0). f is evaluated at relaxed values in (0, 1):
the problem's f and ``grad_f`` must be defined there (``square_distance`` is). Unbiased
for every eta and temperature lam (the control variate has mean zero: E[c(z~) s(b)] +
E[grad c(z~)] = grad E[c(z)]); tested by quadrature over (u, v) (``rebar_moments``).
Independent categoricals work the same way with Gumbel noise and the conditional Gumbels
(``Categorical.conditional_relaxation``), f on one-hot vectors with its gradient
evaluated at softmax(z / lam): ``rebar(relaxed=...)`` or the problem's ``relaxed``
objective (so the registered ``rebar`` works on ``cat_onehot``); tested by Monte Carlo
at fixed seeds. Dispatch is by capability (``conditional_relaxation`` and
``relaxation``), so a user distribution that implements them works too; others are
refused with ``NotSupportedError`` naming the estimator, the distribution and the
missing capabilities.

Built as ``make_estimator(rebar_base, rebar_control(...))`` by ``rebar``: the base draws
(u, v), b and f(b) (the REINFORCE terms f(b) s(b)); the control variate adds
eta C_lam with the direction C_lam = -f(sigma_lam(z~)) s + grad f(sigma_lam(z)) dz -
grad f(sigma_lam(z~)) dz~. With ``eta`` and ``temperature`` given it is stateless (the
frozen-parameter mode); with either None it is tuned online, from earlier batches only
(so the estimate stays unbiased): eta by the closed-form minimiser of the decayed
estimate-level second moment E|A + eta C|^2 (the estimate is linear in eta; as
``vartools.estimators.tuned``), and log lam by Adam on the finite-difference derivative
of the same variance estimate, with common random numbers (the same u, v) at
lam e^{+-h}.

Cost per estimate (``Batch.n_evals``): n evaluations of f at b and 2n of f with its
gradient at relaxed points (3n, ``info["relaxed_evals"]`` = 2n), plus 4n relaxed
evaluations when tuning the temperature (``info["tuning_evals"]``).

Example:
    >>> import numpy as np
    >>> from vartools.catalogue.settings import make_problem
    >>> from vartools.oracles.exact import exact_gradient
    >>> from vartools.estimators.rebar.quadrature import rebar_moments
    >>> prob = make_problem("rebar_toy", t=0.45)
    >>> mean, var = rebar_moments(prob, eta=1.0, temperature=0.5)
    >>> bool(np.allclose(mean, exact_gradient(prob), atol=1e-10))
    True
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.core.validation import check_reps, short_repr
from vartools.estimators.base import BaseEstimator
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rebar.noise import (
    rebar_direction,
    relaxed_objective,
    require_capabilities,
)
from vartools.estimators.rebar.quadrature import rebar_moments
from vartools.samplers.sampling import Sampler

__all__ = ["RebarState", "coupled_draw", "rebar", "rebar_base", "rebar_control"]


def coupled_draw(who: str) -> Any:
    """The draw of ``who`` (REBAR, RELAX): uniforms u, v, b = H(z) and the terms f(b) s(b)."""

    def draw(
        problem: Problem, n: int, rng: np.random.Generator, reps: Any, sampler: Sampler
    ) -> Batch:
        dist = require_capabilities(problem, who, "conditional_relaxation", "relaxation")
        shape = dist.relaxed_noise_shape((*check_reps(reps), n))
        u = rng.random(shape)
        v = rng.random(shape)
        b = dist.conditional_relaxation(u, v).b
        fx = problem.evaluate(b)
        return Batch(x=b, fx=fx, score=dist.score(b), weight=fx, n_evals=n, noise=u, info={"v": v})

    return draw


def _no_noise(problem: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
    raise TypeError("rebar draws two uniforms (u, v) per coordinate and has no noise mapping")


rebar_base = BaseEstimator(
    name="rebar_draw",
    from_noise=_no_noise,
    draw=coupled_draw("rebar"),
    needs_grad=False,  # rebar_control checks the gradient it needs
    doc="""REBAR's draw: uniforms u, v, the sample b = 1[u > 1 - theta] and the terms f(b) s(b).

With ``rebar_control`` it is REBAR; alone it is the score-function estimator (with its
own random numbers). n evaluations of f.
""",
)


@dataclass(frozen=True)
class RebarState:
    """REBAR's tuned parameters and the statistics they are fitted from.

    Attributes:
        eta: the control-variate scale used on the next batch.
        log_temperature: log lam used on the next batch.
        m: decayed E[|Cbar|^2] of earlier batches (estimate level).
        b: decayed E[<Abar, Cbar>].
        weight: total weight of the decayed averages.
        adam_m: Adam's first moment of d var / d log lam.
        adam_v: Adam's second moment.
        step: number of batches seen.
    """

    eta: float
    log_temperature: float
    m: float = 0.0
    b: float = 0.0
    weight: float = 0.0
    adam_m: float = 0.0
    adam_v: float = 0.0
    step: int = 0


def _check_pos(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {short_repr(value)}")
    return float(value)


def rebar_control(
    eta: float | None = None,
    temperature: float | None = None,
    *,
    eta0: float = 1.0,
    temperature0: float = 0.5,
    lr: float = 0.01,
    decay: float = 0.95,
    fd_step: float = 0.05,
    relaxed: Objective | None = None,
) -> ControlVariate:
    """REBAR's control variate, frozen (eta and temperature given) or tuned online.

    Args:
        eta: fixed scale of the control variate, or None to tune it.
        temperature: fixed temperature lam > 0, or None to tune log lam.
        eta0: initial eta when tuned.
        temperature0: initial lam when tuned.
        lr: Adam's learning rate for log lam.
        decay: weight of earlier batches in the moments that give eta.
        fd_step: h of the central difference in log lam.
        relaxed: for categoricals, f on one-hot vectors with its gradient.

    Returns:
        A ``ControlVariate`` (stateful when tuning).
    """
    fixed_eta = None if eta is None else float(eta)
    fixed_lam = None if temperature is None else _check_pos(temperature, "temperature")
    eta0, lam0 = float(eta0), _check_pos(temperature0, "temperature0")
    tuned = fixed_eta is None or fixed_lam is None

    def init(problem: Problem) -> RebarState | None:
        require_capabilities(problem, "rebar", "conditional_relaxation", "relaxation")
        relaxed_objective(problem, "rebar", relaxed)
        return RebarState(eta0, float(np.log(lam0))) if tuned else None

    def apply(batch: Batch, state: Any, problem: Problem) -> tuple[Batch, Any]:
        if "v" not in batch.info:
            raise TypeError("rebar_control needs the batch of rebar_base (its uniforms u and v)")
        u, v = batch.noise, batch.info["v"]
        assert u is not None
        st: RebarState | None = state
        eta_now = fixed_eta if fixed_eta is not None else (st.eta if st else eta0)
        lam = fixed_lam if fixed_lam is not None else float(np.exp(st.log_temperature if st else 0))
        c, _ = rebar_direction(problem, u, v, lam, relaxed)
        a_terms = batch.terms
        out = batch.with_terms(a_terms + eta_now * c)
        n = batch.n
        info = {"relaxed_evals": 2 * n, "eta": eta_now, "temperature": lam}
        if not tuned or st is None:
            return out.replace(n_evals=batch.n_evals + 2 * n).with_info(**info), state
        p = c.shape[-1]
        a_bar, c_bar = a_terms.mean(-2).reshape(-1, p), c.mean(-2).reshape(-1, p)
        m_new = dec_sum(st.m, float((c_bar * c_bar).sum(-1).mean()), decay)
        b_new = dec_sum(st.b, float((a_bar * c_bar).sum(-1).mean()), decay)
        w_new = dec_sum(st.weight, 1.0, decay)
        new_eta = st.eta if fixed_eta is not None else _fit_eta(m_new, b_new, st.eta)
        log_lam, am, av = st.log_temperature, st.adam_m, st.adam_v
        extra = 0
        if fixed_lam is None:
            g_lam = _dvar_dloglam(problem, u, v, a_bar, eta_now, log_lam, fd_step, relaxed)
            extra = 4 * n
            am = 0.9 * am + 0.1 * g_lam
            av = 0.999 * av + 0.001 * g_lam * g_lam
            t = st.step + 1
            m_hat, v_hat = am / (1 - 0.9**t), av / (1 - 0.999**t)
            log_lam = float(np.clip(log_lam - lr * m_hat / (np.sqrt(v_hat) + 1e-8), -7.0, 3.0))
        new = RebarState(new_eta, log_lam, m_new, b_new, w_new, am, av, st.step + 1)
        out = out.replace(n_evals=batch.n_evals + 2 * n + extra)
        return out.with_info(**info, tuning_evals=extra), new

    name = "rebar" if tuned else f"rebar(eta={fixed_eta:g},lam={fixed_lam:g})"
    return ControlVariate(init, apply, name=name, stateful=tuned, per_sample=True)


def dec_sum(old: float, new: float, decay: float) -> float:
    """decay * old + new (an exponentially decayed sum)."""
    return decay * old + new


def _fit_eta(m: float, b: float, current: float) -> float:
    """argmin_eta E|A + eta C|^2 = -E<A, C> / E|C|^2 (the current eta when C is zero)."""
    return -b / m if m > 1e-300 else current


def _dvar_dloglam(
    problem: Problem,
    u: np.ndarray,
    v: np.ndarray,
    a_bar: np.ndarray,
    eta: float,
    log_lam: float,
    h: float,
    relaxed: Objective | None,
) -> float:
    """Central difference in log lam of mean_R |Abar + eta Cbar_lam|^2 (same u, v)."""
    vals = []
    for sign in (1.0, -1.0):
        c, _ = rebar_direction(problem, u, v, float(np.exp(log_lam + sign * h)), relaxed)
        g = a_bar + eta * c.mean(-2).reshape(a_bar.shape)
        vals.append(float((g * g).sum(-1).mean()))
    return (vals[0] - vals[1]) / (2.0 * h)


def rebar(
    eta: float | None = None,
    temperature: float | None = None,
    *,
    relaxed: Objective | None = None,
    name: str | None = None,
) -> Estimator:
    """REBAR as an ``Estimator``: tuned online (default) or frozen at eta and temperature.

    Args:
        eta: fixed eta, or None to tune it (see ``rebar_control``).
        temperature: fixed lam, or None to tune it.
        relaxed: for categoricals, f on one-hot vectors with its gradient (must equal f at
            one-hot points); Bernoullis use the problem's f and ``grad_f``.
        name: label for tables.

    Returns:
        ``make_estimator(rebar_base, rebar_control(eta, temperature))``, whose exact mean
        and variance (``vartools.oracles.exact.exact_moments``, at the given or the
        state's eta and temperature) come from ``rebar_moments`` for small problems.
    """

    def oracle(problem: Problem, est: Any, n: int, state: Any) -> tuple[np.ndarray, np.ndarray]:
        st = state if isinstance(state, RebarState) else None
        e = eta if eta is not None else (st.eta if st else 1.0)
        lam = (
            temperature
            if temperature is not None
            else (float(np.exp(st.log_temperature)) if st else 0.5)
        )
        return rebar_moments(problem, e, lam, n)

    base = replace(rebar_base, oracle=oracle)
    cv = rebar_control(eta, temperature, relaxed=relaxed)
    return make_estimator(base, cv, name=name or "rebar")
