"""Exact mean and variance of REBAR's estimate by quadrature over its uniforms (Bernoullis).

Tensor Gauss-Legendre rules, after a smoothstep substitution, over u (split where b
jumps) and v; used by the tests to prove REBAR and RELAX unbiased and by ``rebar`` as its
exact-variance oracle for one or two Bernoullis.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import special

from vartools.core.distribution import Distribution
from vartools.core.errors import BudgetExceededError, NoOracleError
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, short_repr
from vartools.estimators.rebar.noise import rebar_direction

__all__ = ["NODES", "POINT_BUDGET", "rebar_moments", "require_binary", "uv_quadrature"]


def require_binary(problem: Problem, who: str) -> Distribution:
    """The problem's distribution when the (u, v) quadrature applies, else ``NoOracleError``.

    The quadrature integrates over one uniform per coordinate, split where b = 1[u > 1 -
    sigmoid(theta)] jumps: it needs independent binary coordinates with logits theta (the
    ``coupled_pairs`` capability) and REBAR's coupled noise (``conditional_relaxation``).
    """
    dist = problem.dist
    missing = [c for c in ("coupled_pairs", "conditional_relaxation") if not dist.supports(c)]
    if missing:
        raise NoOracleError(
            f"{who} integrates over one uniform u and one v per binary coordinate; problem "
            f"{problem.name!r} samples from {type(dist).__name__}, which lacks the capabilities "
            f"{missing} (independent Bernoullis have them): no exact oracle, measure by "
            "Monte Carlo"
        )
    return dist


def _check_pos(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {short_repr(value)}")
    return float(value)


#: Gauss-Legendre nodes per piece of each uniform in ``rebar_moments``.
NODES = 40
#: Largest number of quadrature points ``rebar_moments`` evaluates.
POINT_BUDGET = 4_000_000


def rebar_moments(
    problem: Problem, eta: float, temperature: float, n: int = 1, *, nodes: int = NODES
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (each (p,)) of the n-sample REBAR estimate, by quadrature over (u, v).

    Tensor Gauss-Legendre rules (after a smoothstep substitution that flattens the ends)
    on [0, 1 - theta_d] and [1 - theta_d, 1] for each u_d (where b jumps) and on [0, 1]
    for each v_d; the integrand is bounded and smooth inside every piece, so the rule
    converges fast (tests compare two node counts).
    Samples are independent: variance / n.

    Args:
        problem: a problem on few independent binary coordinates (``require_binary``;
            (2 nodes)^D nodes^D points).
        eta: the control-variate scale.
        temperature: lam > 0.
        n: samples per estimate.
        nodes: Gauss-Legendre nodes per piece.
    """
    n = check_positive_int(n, "n")
    lam = _check_pos(temperature, "temperature")
    u, v, wt = uv_quadrature(problem, nodes, "rebar_moments")
    dist = problem.dist
    b = dist.conditional_relaxation(u, v).b
    fx = problem.evaluate(b)
    s = dist.score(b)
    c, _ = rebar_direction(problem, u, v, lam)
    g = (fx[..., None] * s + eta * c)[:, 0, :]
    mean = wt @ g
    return mean, (wt @ (g - mean) ** 2) / n


def uv_quadrature(
    problem: Problem, nodes: int, who: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quadrature nodes u, v (P, 1, *event) and weights (P,) over the uniforms of a Bernoulli.

    Gauss-Legendre after a smoothstep substitution, on the two pieces of each u_d and
    on [0, 1] for each v_d (see ``rebar_moments``).
    """
    dist = require_binary(problem, who)
    nodes = check_positive_int(nodes, "nodes")
    d = dist.n_params
    if float(2 * nodes) ** d * float(nodes) ** d > POINT_BUDGET:
        raise BudgetExceededError(
            f"{who} needs (2 nodes)^D nodes^D = {(2.0 * nodes) ** d * nodes**d:.3g} points "
            f"for D={d}, more than {POINT_BUDGET}; use fewer nodes or a smaller problem"
        )
    x, w = np.polynomial.legendre.leggauss(nodes)
    x, w = (x + 1) / 2, w / 2  # on [0, 1]
    # smoothstep substitution t -> t^2 (3 - 2 t): its Jacobian 6 t (1 - t) vanishes at the
    # ends, which tames the u^(1/lam) behaviour of the relaxation at the ends of each piece
    x, w = x * x * (3 - 2 * x), w * 6 * x * (1 - x)
    theta = special.expit(dist.params)  # coupled_pairs: the parameters are logits
    u_nodes, u_w = [], []
    for t in theta:
        cut = 1.0 - t
        u_nodes.append(np.concatenate([cut * x, cut + (1 - cut) * x]))
        u_w.append(np.concatenate([cut * w, (1 - cut) * w]))
    grid = np.array(list(itertools.product(*u_nodes, *([x] * d))))  # (P, 2d)
    wt = np.prod(np.array(list(itertools.product(*u_w, *([w] * d)))), axis=-1)
    u = grid[:, :d].reshape(-1, 1, *dist.event_shape)
    v = grid[:, d:].reshape(-1, 1, *dist.event_shape)
    return u, v, wt
