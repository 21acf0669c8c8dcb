"""A one-layer sigmoid belief net (binary VAE) on scikit-learn's 8x8 digits.

Model (Mnih & Gregor 2014; the binary VAE of ARM, DisARM and REBAR, REFERENCES.md E9, with
the 8x8 digits standing in for MNIST):

    z ~ Bernoulli(sigmoid(c))                       (K latents, prior logits c)
    x | z ~ Bernoulli(sigmoid(W_d z + b_d))         (64 pixels, linear decoder)
    q(z | x) = Bernoulli(sigmoid(W_e x + b_e))      (linear encoder)

and the evidence lower bound ELBO(x) = E_q[log p(x | z) + log p(z) - log q(z | x)].
Its gradient with respect to the encoder is a score-function problem: with the encoder
held fixed inside the learning signal, grad_enc ELBO = E_q[f(z) grad_enc log q(z | x)]
(the term E_q[grad_enc log q] is zero). Everything is NumPy with hand-derived gradients.

- ``load_digits_binary()``: the 1797 digits, pixels > 7 (of 16) set to 1.
- ``SBN``: parameters (frozen dataclass), ``elbo_terms`` and ``learning_signal``.
- ``train_sbn``: Adam on the ELBO, encoder by RLOO (K samples per datum, per-datum
  leave-one-out baselines), decoder and prior by their exact conditional gradients.
- ``EncoderBernoulli``: q(z | x) for a fixed minibatch with the encoder weights as theta
  (p = K (64 + 1)); ``encoder_problem`` builds the ``Problem`` and ``encoder_chain_rule``
  turns any estimator of the gradient with respect to the encoder's output logits
  (ARM, DisARM, local expectation, which need a plain ``Bernoulli``) into one of the
  gradient with respect to the encoder weights: grad_W = sum_b g_logits[b] [x_b, 1]^T.

Example:
    >>> import numpy as np
    >>> x = load_digits_binary()
    >>> x.shape, sorted(np.unique(x).tolist())
    ((1797, 64), [0.0, 1.0])
    >>> model = SBN.init(n_latent=8, n_visible=64, rng=np.random.default_rng(0))
    >>> model.elbo_terms(x[:5], np.zeros((5, 8))).shape
    (5,)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy import special

from vartools.core.batch import Batch
from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET, Distribution
from vartools.core.optim import adam
from vartools.core.problem import Problem
from vartools.core.rng import generator
from vartools.core.validation import as_finite_array, check_positive_int
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.estimators.base import BaseEstimator, chain_rule_estimator
from vartools.measure.training import train

__all__ = [
    "SBN",
    "EncoderBernoulli",
    "encoder_chain_rule",
    "encoder_problem",
    "load_digits_binary",
    "train_sbn",
]


@functools.lru_cache(maxsize=1)
def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    data: np.ndarray = load_digits().data
    return (data > 7).astype(np.float64)


def load_digits_binary() -> np.ndarray:
    """scikit-learn's 8x8 digits, binarised (pixel > 7 of 16), shape (1797, 64)."""
    return _digits().copy()


def _log_bern(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """sum over the last axis of x logits - softplus(logits)."""
    out: np.ndarray = (x * logits - np.logaddexp(0.0, logits)).sum(-1)
    return out


@dataclass(frozen=True, eq=False)
class SBN:
    """Parameters of the one-layer sigmoid belief net and its linear encoder.

    Attributes:
        w_enc: encoder weights (K, D); b_enc: encoder bias (K,).
        w_dec: decoder weights (D, K); b_dec: decoder bias (D,).
        prior: prior logits c (K,).
    """

    w_enc: np.ndarray
    b_enc: np.ndarray
    w_dec: np.ndarray
    b_dec: np.ndarray
    prior: np.ndarray

    @classmethod
    def init(cls, n_latent: int, n_visible: int, *, rng: np.random.Generator) -> SBN:
        """Small random weights, zero biases (prior logits 0)."""
        k = check_positive_int(n_latent, "n_latent")
        d = check_positive_int(n_visible, "n_visible")
        return cls(
            w_enc=0.01 * rng.standard_normal((k, d)),
            b_enc=np.zeros(k),
            w_dec=0.01 * rng.standard_normal((d, k)),
            b_dec=np.zeros(d),
            prior=np.zeros(k),
        )

    @property
    def n_latent(self) -> int:
        """K."""
        return int(self.w_enc.shape[0])

    def encoder_logits(self, x: np.ndarray) -> np.ndarray:
        """W_e x + b_e: (..., D) -> (..., K)."""
        out: np.ndarray = x @ self.w_enc.T + self.b_enc
        return out

    def elbo_terms(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """log p(x | z) + log p(z) - log q(z | x) per example: x (..., D), z (..., K) -> (...)."""
        dec = z @ self.w_dec.T + self.b_dec
        return (
            _log_bern(x, dec)
            + _log_bern(z, np.broadcast_to(self.prior, z.shape))
            - _log_bern(z, self.encoder_logits(x))
        )

    def learning_signal(self, x: np.ndarray) -> Any:
        """f(z), z (*R, n, B, K), for a minibatch x (B, D): the mean over b of elbo_terms."""

        def f(z: np.ndarray) -> np.ndarray:
            out: np.ndarray = self.elbo_terms(x, z).mean(-1)
            return out

        return f

    def elbo(self, x: np.ndarray, *, rng: np.random.Generator, samples: int = 16) -> float:
        """Monte Carlo ELBO per example (mean over x and ``samples`` draws of z)."""
        q = special.expit(self.encoder_logits(x))
        z = (rng.random((samples, *q.shape)) < q).astype(np.float64)
        return float(self.elbo_terms(x, z).mean())


def _grads(model: SBN, x: np.ndarray, z: np.ndarray) -> SBN:
    """ELBO gradients (ascent direction) from z (n, B, K): RLOO for the encoder."""
    n = z.shape[0]
    ell = model.encoder_logits(x)  # (B, K)
    f = model.elbo_terms(x, z)  # (n, B)
    adv = (f - f.mean(0)) * n / (n - 1)  # per-datum leave-one-out
    g_ell = (adv[..., None] * (z - special.expit(ell))).mean(0)  # (B, K)
    dec = z @ model.w_dec.T + model.b_dec  # (n, B, D)
    r = x - special.expit(dec)
    bsz = x.shape[0]
    return SBN(
        w_enc=g_ell.T @ x / bsz,
        b_enc=g_ell.mean(0),
        w_dec=np.einsum("nbd,nbk->dk", r, z) / (n * bsz),
        b_dec=r.mean((0, 1)),
        prior=(z - special.expit(model.prior)).mean((0, 1)),
    )


_FIELDS = ("w_enc", "b_enc", "w_dec", "b_dec", "prior")


def _flat(m: SBN) -> np.ndarray:
    return np.concatenate([getattr(m, k).ravel() for k in _FIELDS])


def _unflat(theta: np.ndarray, like: SBN) -> SBN:
    out, i = {}, 0
    for k in _FIELDS:
        a = getattr(like, k)
        out[k] = theta[i : i + a.size].reshape(a.shape)
        i += a.size
    return SBN(**out)


def train_sbn(
    steps: int,
    *,
    seed: int,
    n_latent: int = 16,
    batch: int = 32,
    samples: int = 2,
    lr: float = 3e-3,
    snapshots: tuple[int, ...] = (),
    elbo_every: int = 0,
    run: int = 0,
) -> tuple[dict[int, SBN], list[tuple[int, float]]]:
    """Maximise the ELBO on the binarised digits with Adam; encoder by RLOO.

    Runs the one training loop, ``vartools.measure.training.train``. Every random number
    comes from the seed tree of ``seed`` (``vartools.core.rng``): the initial weights from
    node ("sbn", "init"), the minibatches and latent draws of the steps from ("sbn",
    "train"), and the Monte Carlo ELBO at step s from ("sbn", "elbo", s), so the curve's
    points do not depend on which other points are recorded. Training run ``run`` > 0
    (another seed) takes the same nodes below ("sbn", "run", run) instead of ("sbn",):
    independent initial weights, minibatches and draws; run 0 is the original run.

    Args:
        steps: optimisation steps.
        seed: root of the seed tree.
        n_latent: K.
        batch: examples per minibatch.
        samples: z draws per example (RLOO needs >= 2).
        lr: Adam learning rate.
        snapshots: steps at which to keep the parameters.
        elbo_every: record the ELBO on the whole data every this many steps (0: never).
        run: the training seed (>= 0; see above).

    Returns:
        ({step: SBN} for the snapshots, [(step, ELBO per example)]).
    """
    check_positive_int(samples, "samples", minimum=2)
    run = check_positive_int(run, "run", minimum=0)
    node: tuple[Any, ...] = ("sbn",) if run == 0 else ("sbn", "run", run)
    data = _digits()
    like = SBN.init(n_latent, data.shape[1], rng=generator(seed, *node, "init"))
    snaps: dict[int, SBN] = {}
    curve: list[tuple[int, float]] = []

    def gradient(step: int, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        model = _unflat(theta, like)
        x = data[rng.integers(0, len(data), batch)]
        q = special.expit(model.encoder_logits(x))
        z = (rng.random((samples, *q.shape)) < q).astype(np.float64)
        return -_flat(_grads(model, x, z))  # ascent on the ELBO

    def checkpoint(step: int, theta: np.ndarray, seconds: float) -> None:
        model = _unflat(theta, like)
        if step in snapshots:
            snaps[step] = model
        if elbo_every and step % elbo_every == 0:
            curve.append((step, model.elbo(data, rng=generator(seed, *node, "elbo", step))))

    marks = set(snapshots) | (set(range(0, steps + 1, elbo_every)) if elbo_every else set())
    train(
        _flat(like),
        gradient,
        adam(lr),
        steps=steps,
        seed=seed,
        key=(*node, "train"),
        checkpoints=sorted(marks),
        on_checkpoint=checkpoint,
    )
    return snaps, curve


@dataclass(frozen=True, eq=False)
class EncoderBernoulli(Distribution):
    """q(z | x) for a fixed minibatch x (B, D), with theta = (W_e, b_e) flattened (p = K (D+1)).

    Events are z of shape (B, K); the score is sum_b (z_bk - sigmoid(l_bk)) [x_b, 1]_j for
    parameter (k, j), l = W_e x + b_e. Sampling is the inverse CDF of one uniform per latent
    (as ``Bernoulli``), so ``logit_bernoulli`` maps the same noise to the same z.
    """

    w: Any
    x: Any
    enumerable = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", as_finite_array(self.w, "w"))
        object.__setattr__(self, "x", as_finite_array(self.x, "x"))
        if self.w.ndim != 2 or self.x.ndim != 2 or self.w.shape[1] != self.x.shape[1] + 1:
            raise ValueError(
                f"w must be (K, D + 1) (weights and bias) for x of shape (B, D); got w "
                f"{self.w.shape} and x {self.x.shape}"
            )

    @property
    def xt(self) -> np.ndarray:
        """[x, 1], shape (B, D + 1)."""
        return np.hstack([self.x, np.ones((self.x.shape[0], 1))])

    @property
    def logits(self) -> np.ndarray:
        """Encoder logits, (B, K)."""
        out: np.ndarray = self.xt @ self.w.T
        return out

    def logit_bernoulli(self) -> Bernoulli:
        """The same law as a plain Bernoulli over the (B, K) encoder logits."""
        return Bernoulli(self.logits)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """(B, K)."""
        return (int(self.x.shape[0]), int(self.w.shape[0]))

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """One block: the weights w."""
        return [("w", tuple(self.w.shape))]  # names w[k,j], j = D the bias

    def with_params(self, theta: Any) -> EncoderBernoulli:
        """The same minibatch at the flat encoder weights ``theta`` (W_e, b_e), shape (p,)."""
        return replace(self, w=self.check_theta(theta).reshape(self.w.shape))

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        """Uniforms, shape (*reps, n, B, K)."""
        return rng.random(self.noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity."""
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """z = 1[u > 1 - sigmoid(l)]."""
        return self.logit_bernoulli().transform(noise)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log q(z | x) summed over the minibatch: (*R, n, B, K) -> (*R, n)."""
        return self.logit_bernoulli().log_prob(x)

    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """All 2^(B K) joint z (small minibatches and K only) with their probabilities."""
        return self.logit_bernoulli().support(budget)

    def score(self, x: np.ndarray) -> np.ndarray:
        """(*R, n, B, K) -> (*R, n, K (D + 1))."""
        x = self.check_x(x)
        s = x - special.expit(self.logits)
        out = np.einsum("...bk,bj->...kj", s, self.xt)
        return out.reshape(*out.shape[:-2], self.n_params)


def encoder_problem(model: SBN, x: np.ndarray, name: str = "sbn_encoder") -> Problem:
    """The encoder-gradient problem for minibatch x (B, D) at ``model``.

    f(z) = mean_b [log p(x_b | z_b) + log p(z_b) - log q(z_b | x_b)] with the encoder fixed
    inside f (its gradient through f has zero mean); theta = (W_e, b_e).
    """
    x = as_finite_array(x, "x")
    w = np.hstack([model.w_enc, model.b_enc[:, None]])
    return Problem(
        name,
        EncoderBernoulli(w, x),
        model.learning_signal(x),
        description=f"SBN encoder gradient, K = {model.n_latent}, minibatch of {len(x)} digits",
    )


def _logit_problem(prob: Problem) -> Problem:
    dist = prob.dist
    if not isinstance(dist, EncoderBernoulli):
        raise TypeError(f"problem {prob.name!r} is not an encoder problem (encoder_problem)")
    return replace(prob, name=prob.name + "[logits]", dist=dist.logit_bernoulli())


def _to_weights(batch: Batch, prob: Problem) -> Batch:
    """Chain rule from the encoder logits to the encoder weights, for terms and score."""
    dist = prob.dist
    assert isinstance(dist, EncoderBernoulli)
    xt = dist.xt
    b, k = dist.event_shape

    def lift(t: np.ndarray) -> np.ndarray:
        t = t.reshape(*t.shape[:-1], b, k)
        out = np.einsum("...bk,bj->...kj", t, xt)
        return out.reshape(*out.shape[:-2], dist.n_params)

    return Batch(
        x=batch.x,
        fx=batch.fx,
        score=None if not batch.has_score else lift(np.asarray(batch.score)),
        extra=lift(batch.terms),
        n_evals=batch.n_evals,
        noise=batch.noise,
        independent=batch.independent,
        info=batch.info,
    )


def encoder_chain_rule(base: BaseEstimator) -> BaseEstimator:
    """An estimator of the encoder-weight gradient from one of the encoder-logit gradient.

    grad_{W[k, j]} = sum_b grad_{l[b, k]} [x_b, 1]_j (the encoder is linear), applied to the
    per-sample terms, so unbiasedness and the f-evaluation count carry over; the base
    estimator runs on the plain ``Bernoulli`` over the logits (ARM, DisARM and local
    expectation gradients need one).
    """
    return chain_rule_estimator(
        base,
        _logit_problem,
        _to_weights,
        doc=f"{base.name} on the encoder logits, mapped to the encoder weights (chain rule).",
    )
