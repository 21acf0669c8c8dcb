"""Estimators adapted to the VAE.

The frontier estimators on the encoder's logits (``on_logits``), and the unordered set
per example (``unordered_set_per_example``).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, check_reps
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.estimators.base import BaseEstimator
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.unordered_set import MAX_K, set_probability
from vartools.jax._compat import require_jax
from vartools.jax.problem import JaxFunction, _logit_problem, _to_theta
from vartools.jax.vae.model import elbo_per_example
from vartools.samplers.sampling import Sampler

__all__ = ["on_logits", "unordered_set_per_example"]

jax = require_jax()
jnp = jax.numpy


def on_logits(est: Estimator, *, name: str | None = None, min_n: int = 1) -> Estimator:
    """``est`` (base estimator and control variates, state included) run on the logits.

    ``vartools.jax.via_logits`` moves a *base* estimator to the model's factorised logits
    and pulls its terms back to theta. Estimators whose control variates read the
    logit-space batch (REBAR's and RELAX's relaxed noise, the Double CV and RODEO
    directions fitted by ``fitted_coefficients``) need the whole chain on the logits:
    here the base estimator and every control variate see the logit problem (a native
    ``Bernoulli`` whose f and ``grad_f`` are the model's compiled f and df/dz), and the
    final per-sample terms (and score) are pulled back to theta by one VJP of
    logits(theta). Unbiasedness, the state and ``Batch.n_evals`` carry over (the chain
    rule is linear and exact).

    Args:
        est: e.g. ``rebar(eta=None, temperature=0.5)``, ``relax()`` or
            ``make_estimator(double_cv(0.0), fitted_coefficients())``.
        name: label for tables (default ``est.name``).
        min_n: smallest n accepted (2 for the leave-one-out estimators).

    Returns:
        An ``Estimator`` of grad_theta E[f] for problems built by ``vartools.jax.problem``
        on a model that declares ``logits=``.
    """
    base = est.base
    inner_draw = base.draw
    inner_samples = base.from_samples

    def from_noise(prob: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        return base.from_noise(_logit_problem(prob), noise, independent)

    def from_samples(prob: Problem, x: np.ndarray) -> Batch:
        assert inner_samples is not None
        return inner_samples(_logit_problem(prob), x)

    def draw(prob: Problem, n: int, rng: Any, reps: Any, sampler: Sampler) -> Batch:
        assert inner_draw is not None
        return inner_draw(_logit_problem(prob), n, rng, reps, sampler)

    new_base = BaseEstimator(
        name=base.name,
        from_noise=from_noise,
        from_samples=from_samples if inner_samples is not None else None,
        draw=draw if inner_draw is not None else None,
        unbiased=base.unbiased,
        needs_grad=base.needs_grad,
        per_sample=base.per_sample,
        doc=f"{base.name} on a JAX model's logits (control variates too), pulled back by a VJP.",
    )
    cv = est.cv

    def init(prob: Problem) -> Any:
        return cv.init(_logit_problem(prob))

    def apply(batch: Batch, state: Any, prob: Problem) -> tuple[Batch, Any]:
        out, new = cv.apply(batch, state, _logit_problem(prob))
        return _to_theta(out, prob), new

    wrapped = ControlVariate(
        init,
        apply,
        name=cv.name,
        biased=cv.biased,
        min_n=max(cv.min_n, check_positive_int(min_n, "min_n")),
        stateful=cv.stateful,
        requires_independent=cv.requires_independent,
        per_sample=cv.per_sample,
    )
    return make_estimator(new_base, wrapped, sampler=est.sampler, name=name or est.name)


def _set_weights(p: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kool et al. (2020, eq. 12) weights p(s) R(S, s) (e(s) - B(S, s)) of k members (..., k).

    Also returns the set estimate of E[e], sum_s p(s) R(S, s) e(s) (...).
    """
    k = p.shape[-1]
    p_set = set_probability(p)
    others = [[j for j in range(k) if j != i] for i in range(k)]
    denom = np.stack([set_probability(p[..., o], p[..., i]) for i, o in enumerate(others)], -1)
    r = denom / p_set[..., None]
    base = p * e
    for i in range(k):
        for j in others[i]:
            rest = [m for m in range(k) if m not in (i, j)]
            num = set_probability(p[..., rest], p[..., i] + p[..., j])
            base[..., i] += p[..., j] * (num / denom[..., i]) * e[..., j]
    return p * r * (e - base), (p * r * e).sum(-1)


def unordered_set_per_example(k: int) -> Estimator:
    """The unordered set estimator (Kool et al. 2020) applied to each example of a minibatch.

    ``vartools.estimators.unordered_set`` treats the whole outcome as one categorical
    over its joint support: for a minibatch of B examples with K binary latents that is
    2^(B K) outcomes. The VAE's f is a mean over examples of terms e_b(z_b) that depend
    on example b's latents only, and q factorises over examples, so (as in Kool et al.'s
    VAE experiments) each example gets its own set: k distinct z_b drawn without
    replacement from its 2^K latent configurations by Gumbel-top-k, with the built-in
    baseline, and grad_logits_b E[f] = (1/B) grad E[e_b] is estimated by that example's
    set. The k members of all examples form k joint configurations, so an estimate costs
    n k evaluations of f (n sets per example). For B = 1 it is ``unordered_set(k)``.

    Args:
        k: outcomes per set, 2 <= k <= MAX_K.

    Returns:
        An ``Estimator`` named ``unordered_set<k>`` for ``encoder_problem`` problems.
    """
    k = check_positive_int(k, "k")
    if not 2 <= k <= MAX_K:
        raise ValueError(
            f"unordered_set_per_example k={k}: pass 2 <= k <= {MAX_K} (k = 1 has no baseline)"
        )

    def draw(prob: Problem, n: int, rng: Any, reps: Any, sampler: Sampler) -> Batch:
        dist, f = prob.dist, prob.f
        if not isinstance(dist, Bernoulli) or not isinstance(f, JaxFunction):
            raise TypeError(
                f"unordered_set_per_example needs a VAE encoder problem (encoder_problem); "
                f"problem {prob.name!r} samples from {type(dist).__name__}"
            )
        lg = np.asarray(dist.logits, dtype=np.float64)  # (B, K)
        n_ex, n_lat = lg.shape
        if 2**n_lat < k:
            raise ValueError(f"k={k} exceeds the {2**n_lat} latent configurations per example")
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=n_lat)))  # (M, K)
        logp = (grid @ -np.logaddexp(0.0, -lg).T + (1 - grid) @ -np.logaddexp(0.0, lg).T).T
        shape = (*check_reps(reps), n)
        keys = logp + rng.gumbel(size=(*shape, n_ex, grid.shape[0]))
        idx = np.sort(np.argpartition(-keys, k - 1, axis=-1)[..., :k], axis=-1)  # (*S, B, k)
        z = grid[idx]  # (*S, B, k, K)
        p = np.exp(np.take_along_axis(np.broadcast_to(logp, keys.shape), idx, -1))
        joint = np.swapaxes(z, -2, -3)  # (*S, k, B, K): k joint configurations
        e = np.swapaxes(elbo_per_example(f.context["params"], f.context["x"], joint), -1, -2)
        w, est_e = _set_weights(p, e)  # (*S, B, k), (*S, B)
        s = z - 1.0 / (1.0 + np.exp(-lg))[..., None, :]
        terms = (w[..., None] * s).sum(-2) / n_ex  # (*S, B, K)
        return Batch(
            x=joint,
            fx=est_e.mean(-1),
            score=None,
            extra=terms.reshape(*shape, n_ex * n_lat),
            n_evals=n * k,
            independent=True,
            info={"set_size": k},
        )

    def _no_noise(prob: Problem, noise: np.ndarray, independent: bool = True) -> Batch:
        raise TypeError("unordered_set_per_example draws its sets by Gumbel-top-k (no noise map)")

    base = BaseEstimator(
        name=f"unordered_set{k}",
        from_noise=_no_noise,
        draw=draw,
        doc=unordered_set_per_example.__doc__ or "",
    )
    return on_logits(make_estimator(base), name=f"unordered_set{k}")
