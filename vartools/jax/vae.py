"""A binary-latent VAE with MLP encoder and decoder, written as a vartools JAX model.

Model (the binary VAE of ARM, DisARM and REBAR, with tanh MLPs; the 8x8 digits of
``vartools.catalogue.sbn.load_digits_binary`` stand in for MNIST):

    z ~ Bernoulli(sigmoid(c))                                (K latents, prior logits c)
    x | z ~ Bernoulli(sigmoid(MLP_dec(z)))                   (64 pixels)
    q(z | x) = Bernoulli(sigmoid(MLP_enc(x)))                (the encoder)

ELBO(x) = E_q[log p(x | z) + log p(z) - log q(z | x)]. With the encoder held fixed
inside the learning signal f, grad_enc ELBO = E_q[f(z) grad_enc log q(z | x)] (the
term E_q[grad_enc log q] is zero): ``encoder_problem`` is this score-function problem
for a minibatch x (B, 64), theta = the encoder's weights (named ``w1[i,j]``, ``b1[j]``,
...), its distribution a ``vartools.jax`` model with the minibatch as context and the
factorised logits declared (so ARM, DisARM, local expectation, straight-through and
Gumbel-softmax run through ``vartools.jax.via_logits``). ``train_vae`` maximises the
ELBO with Adam: the encoder gradient from any vartools estimator, the decoder and
prior gradients exactly given independent draws of z.

Example:
    >>> import numpy as np
    >>> params = init_vae(8, 16, rng=np.random.default_rng(0))
    >>> x = np.zeros((2, 64))
    >>> prob = encoder_problem(params, x)
    >>> prob.dist.event_shape, prob.dist.param_names[0]
    ((2, 8), 'b1[0]')
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from vartools.core.batch import Batch
from vartools.core.control_variate import ControlVariate
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, check_reps
from vartools.distributions.discrete import Bernoulli
from vartools.estimators.base import BaseEstimator
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.unordered_set import MAX_K, set_probability
from vartools.estimators.vimco import multi_sample_problem
from vartools.jax._compat import require_jax, x64
from vartools.jax.build import distribution
from vartools.jax.distribution import JaxDistribution
from vartools.jax.problem import JaxFunction, _logit_problem, _to_theta, at, problem
from vartools.samplers.sampling import Sampler

__all__ = [
    "elbo",
    "elbo_per_example",
    "encoder_problem",
    "init_vae",
    "on_logits",
    "train_vae",
    "unordered_set_per_example",
    "vimco_problem",
]

jax = require_jax()
jnp = jax.numpy

Params = dict[str, Any]


def init_vae(
    n_latent: int, hidden: int, n_visible: int = 64, *, rng: np.random.Generator
) -> Params:
    """Glorot-scaled weights, zero biases and prior logits: {"encoder", "decoder", "prior"}."""

    def mlp(a: int, b: int) -> dict[str, np.ndarray]:
        return {
            "w1": rng.standard_normal((a, hidden)) / np.sqrt(a),
            "b1": np.zeros(hidden),
            "w2": rng.standard_normal((hidden, b)) / np.sqrt(hidden),
            "b2": np.zeros(b),
        }

    return {
        "encoder": mlp(n_visible, n_latent),
        "decoder": mlp(n_latent, n_visible),
        "prior": np.zeros(n_latent),
    }


def _mlp(p: Any, h: Any) -> Any:
    return jnp.tanh(h @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def _log_bern(x: Any, logits: Any) -> Any:
    return jnp.sum(x * logits - jnp.logaddexp(0.0, logits), axis=-1)


def elbo_terms(params: Params, x: Any, z: Any) -> Any:
    """log p(x | z) + log p(z) - log q(z | x) per example: x (..., D), z (..., K) -> (...)."""
    return (
        _log_bern(x, _mlp(params["decoder"], z))
        + _log_bern(z, jnp.broadcast_to(params["prior"], z.shape))
        - _log_bern(z, _mlp(params["encoder"], x))
    )


# -- the encoder problem (single-outcome functions; z is one (B, K) joint draw) -----------
def _enc_logits(enc: Any, ctx: Any) -> Any:
    return _mlp(enc, ctx["x"])


def _log_q(enc: Any, z: Any, ctx: Any) -> Any:
    return jnp.sum(_log_bern(z, _enc_logits(enc, ctx)))


def _sample_q(enc: Any, u: Any, ctx: Any) -> Any:
    return (u > jax.nn.sigmoid(-_enc_logits(enc, ctx))).astype(u.dtype)


def _signal(z: Any, ctx: Any) -> Any:
    return jnp.mean(elbo_terms(ctx["params"], ctx["x"], z))


def encoder_problem(
    params: Params, x: Any, name: str = "vae_encoder", *, enumerate_support: bool = False
) -> Problem:
    """The encoder-gradient problem for a minibatch x (B, 64) at ``params``.

    f(z) = mean_b [log p(x_b | z_b) + log p(z_b) - log q(z_b | x_b)] with every weight held
    fixed inside f; theta = the encoder's weights. ``enumerate_support=True`` lists all
    2^(B K) latent configurations (small B K only), which gives the exact oracles.
    Problems with the same shapes share one model and its compiled kernels
    (``vartools.jax.at``), so building one per minibatch or snapshot does not recompile.
    """
    x = np.asarray(x, dtype=np.float64)
    key = (
        x.shape,
        tuple(np.shape(v) for v in jax.tree_util.tree_leaves(params)),
        bool(enumerate_support),
    )
    base = _BASE.get(key)
    if base is None:
        base = _BASE[key] = _new_problem(params, x, enumerate_support)
    dist = base.dist
    assert isinstance(dist, JaxDistribution)
    theta = np.concatenate(
        [np.ravel(v) for v in jax.tree_util.tree_leaves(params["encoder"])]
    ).astype(np.float64)
    moved = at(base, theta, context={"x": x}, f_context={"x": x, "params": params})
    return replace(moved, name=name)


_BASE: dict[tuple[Any, ...], Problem] = {}


def _new_problem(params: Params, x: np.ndarray, enumerate_support: bool) -> Problem:
    k = int(np.shape(params["prior"])[0])
    ev = (x.shape[0], k)
    support = None
    if enumerate_support:
        grid = np.array(list(itertools.product((0.0, 1.0), repeat=ev[0] * k)))
        support = grid.reshape(-1, *ev)
    dist = distribution(
        params["encoder"],
        _log_q,
        _sample_q,
        event_shape=ev,
        noise="uniform",
        support=support,
        logits=_enc_logits,
        logits_kind="bernoulli",
        context={"x": x},
    )
    return problem("vae_encoder", dist, _signal, context={"x": x, "params": params})


@jax.jit
def _elbo_mc(params: Params, x: Any, u: Any) -> Any:
    q = jax.nn.sigmoid(_mlp(params["encoder"], x))
    z = (u < q).astype(x.dtype)  # (S, N, K)
    return jnp.mean(elbo_terms(params, x, z))


def elbo(params: Params, x: Any, *, rng: np.random.Generator, samples: int = 4) -> float:
    """Monte Carlo ELBO per example: mean over x (N, D) and ``samples`` draws of z each."""
    k = int(np.shape(params["prior"])[0])
    u = rng.random((samples, x.shape[0], k))
    with x64(True):
        return float(_elbo_mc(params, jnp.asarray(x), jnp.asarray(u)))


# -- estimators that need the model's logits, per-example sets, and the K-sample bound ----
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


@jax.jit
def _elbo_rows(params: Params, x: Any, z: Any) -> Any:
    return elbo_terms(params, x, z)


def elbo_per_example(params: Params, x: Any, z: np.ndarray) -> np.ndarray:
    """log p(x_b | z_b) + log p(z_b) - log q(z_b | x_b) for z (..., B, K): (..., B) float64."""
    z = np.asarray(z, dtype=np.float64)
    lead = z.shape[:-2]
    rows = z.reshape(-1, *z.shape[-2:])
    with x64(True):
        out = np.asarray(_elbo_rows(params, jnp.asarray(x), jnp.asarray(rows)), dtype=np.float64)
    return out.reshape(*lead, z.shape[-2])


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


def vimco_problem(params: Params, x: Any, k: int, name: str = "vae_iwae") -> Problem:
    """The K-sample (IWAE) bound E[log (1/K) sum_k w(z_k)] of one example x (1, 64).

    log w(z) = log p(x | z) + log p(z) - log q(z | x) with every weight fixed inside w;
    theta = the encoder's weights (``vartools.estimators.vimco.multi_sample_problem`` on
    the encoder's distribution). VIMCO and K-sample REINFORCE (``sf``) apply to it.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != 1:
        raise ValueError(
            f"vimco_problem takes one example, x of shape (1, D); got shape {x.shape} "
            "(the bound of a minibatch is a sum of per-example bounds: build one per example)"
        )
    base = encoder_problem(params, x, name=name)
    f = base.f
    return multi_sample_problem(name, base.dist, lambda z: f(z), k)


@jax.jit
def _model_grad(rest: Params, enc: Any, x: Any, u: Any) -> Any:
    """Exact gradients of the mean ELBO w.r.t. decoder and prior given z = 1[u < q]."""
    z = (u < jax.nn.sigmoid(_mlp(enc, x))).astype(x.dtype)

    def obj(r: Params) -> Any:
        full = {"encoder": enc, "decoder": r["decoder"], "prior": r["prior"]}
        return jnp.mean(elbo_terms(full, x, z))

    return jax.grad(obj)(rest)


def train_vae(
    estimator: Estimator,
    data: np.ndarray,
    steps: int,
    *,
    seed: int,
    n: int,
    n_latent: int = 8,
    hidden: int = 32,
    batch: int = 32,
    lr: float = 3e-3,
    elbo_every: int = 0,
    snapshots: tuple[int, ...] = (),
    on_step: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, float]], dict[int, Params]]:
    """Maximise the ELBO with Adam, the encoder gradient from ``estimator`` (n per step).

    Args:
        estimator: any vartools estimator of the encoder gradient (``via_logits(arm)``...).
        data: binary images (N, 64).
        steps: optimisation steps.
        seed: seed of the initialisation, the minibatches and every draw (one generator).
        n: ``n`` of the estimator per step (samples, or pairs for ARM / DisARM).
        n_latent: K, the number of binary latents.
        hidden: width of the encoder's and the decoder's hidden layer.
        batch: digits per minibatch.
        lr: Adam's learning rate.
        elbo_every: record the ELBO on all the data every this many steps (0: never);
            its cost is excluded from the recorded training time, and so is step 0
            (which compiles the kernels).
        snapshots: steps at which to keep the parameters.
        on_step: called with the step number (progress).

    Stateful estimators (REBAR's tuned eta, RELAX's surrogate, fitted coefficients) keep
    their state from step to step. ``f_evals`` counts the estimator's evaluations of f
    (``Batch.n_evals``: relaxed points and gradients included as each estimator reports
    them); the exact decoder and prior gradient costs one more per step for every
    estimator and is not counted.

    Returns:
        ([{"step", "seconds", "f_evals", "elbo"}], {step: params}).
    """
    from jax.flatten_util import ravel_pytree

    rng = np.random.default_rng(seed)
    eval_rng = np.random.default_rng([seed, 1])
    params = init_vae(n_latent, hidden, data.shape[1], rng=rng)
    base = encoder_problem(params, data[:batch], name="vae_train")
    dist = base.dist
    assert isinstance(dist, JaxDistribution)
    with x64(True):
        flat, unravel = ravel_pytree({"decoder": params["decoder"], "prior": params["prior"]})
    p_enc = base.dist.n_params
    theta = np.concatenate([base.dist.params, np.asarray(flat, dtype=np.float64)])
    opt = adam(lr)
    state = opt.init(theta)
    curve: list[dict[str, float]] = []
    snaps: dict[int, Params] = {}
    seconds = 0.0
    f_evals = 0
    est_state = estimator.init(base)  # stateful control variates learn along training
    for step in range(steps + 1):
        enc = dist.to_tree(theta[:p_enc])
        with x64(True):
            rest = jax.tree_util.tree_map(np.asarray, unravel(jnp.asarray(theta[p_enc:])))
        params = {"encoder": enc, **rest}
        if step in snapshots:
            snaps[step] = params
        if elbo_every and (step % elbo_every == 0 or step == steps):
            curve.append(
                {
                    "step": step,
                    "seconds": seconds,
                    "f_evals": f_evals,
                    "elbo": elbo(params, data, rng=eval_rng),
                }
            )
        if step == steps:
            break
        t0 = time.perf_counter()
        xb = data[rng.integers(0, data.shape[0], batch)]
        prob = at(base, theta[:p_enc], context={"x": xb}, f_context={"x": xb, "params": params})
        out, est_state = estimator.batch(prob, n, rng=rng, state=est_state)
        g_enc = out.estimate
        f_evals += int(out.n_evals)
        u = rng.random((xb.shape[0], n_latent))
        with x64(True):
            g_rest, _ = ravel_pytree(_model_grad(rest, enc, xb, u))
        g = np.concatenate([g_enc, np.asarray(g_rest, dtype=np.float64)])
        delta, state = opt.update(-g, state, step)  # ascent on the ELBO
        theta = theta + delta
        if step > 0:  # step 0 compiles the kernels
            seconds += time.perf_counter() - t0
        if on_step is not None:
            on_step(step)
    return curve, snaps
