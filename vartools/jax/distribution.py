"""``JaxDistribution``: a vartools ``Distribution`` whose functions are written in JAX.

theta is the flattened parameter pytree (``vartools.jax.names``). Sampling follows the
native contract, ``sample(n, rng=...) == transform(sample_noise(n, rng=...))``, with the
noise drawn by NumPy from the generator vartools hands in (``vartools.jax.noise``) and
the outcome computed by the user's JAX ``transform``. Scores, their contraction with
per-sample weights and the pathwise terms come from the compiled kernels
(``vartools.jax.kernels``). Capabilities are flags on the instance, as for the native
families: ``enumerable`` (an explicit support), ``reparameterized`` (``transform_vjp``)
and ``logits`` (the factorised Bernoulli / Categorical behind the model, which ARM,
DisARM, local expectation and the relaxations run on; ``vartools.jax.via_logits``).

Precision follows the noise: float64 noise computes under JAX's 64-bit mode, scoped to
the call (``vartools.jax._compat.x64``), float32 noise in float32 (the opt-in fast mode).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.core.distribution import DEFAULT_SUPPORT_BUDGET, Distribution
from vartools.core.validation import as_finite_array, check_positive_int, check_reps, check_rng
from vartools.distributions.budget import check_budget
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.distributions.discrete.categorical import Categorical
from vartools.jax._compat import x64
from vartools.jax.model import JaxModel
from vartools.jax.noise import draw_noise, noise_from_uniform

__all__ = ["JaxDistribution"]


def bucket(m: int) -> int:
    """The row count ``m`` rounded up to one of 4 sizes per octave (8, 10, 12, 14, 16, 20, ...).

    Compiled kernels are specialised to their input shapes; padding the rows to these
    buckets keeps the number of compilations logarithmic in the sizes seen (seed blocks
    of different sizes, chunks, n) at a cost of at most 25% padded rows.
    """
    if m <= 8:
        return max(m, 1)
    step = 1 << (m.bit_length() - 3)
    return -(-m // step) * step


def _pad(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with its first axis padded to ``rows`` by repeating row 0 (results are dropped)."""
    if a.shape[0] == rows:
        return a
    return np.concatenate([a, np.repeat(a[:1], rows - a.shape[0], axis=0)])


def _map_floats(tree: Any, dtype: Any) -> Any:
    """``tree`` with its floating leaves as NumPy arrays of ``dtype`` (others unchanged)."""
    from vartools.jax._compat import require_jax

    def conv(v: Any) -> Any:
        a = np.asarray(v)
        return a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a

    return require_jax().tree_util.tree_map(conv, tree)


def _is_single(*arrays: np.ndarray) -> bool:
    return any(a.dtype == np.float32 for a in arrays)


def _jax_input(a: np.ndarray, single: bool) -> np.ndarray:
    """float32 / int32 in the single-precision mode (JAX's 32-bit types), else as is."""
    if not single:
        return a
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int32, copy=False)
    return a


@dataclass(frozen=True, eq=False)
class JaxDistribution(Distribution):
    """A distribution defined by JAX functions of a parameter pytree (build with ``distribution``).

    Args:
        model: the ``JaxModel`` (functions, layout, capabilities, kernels).
        theta: the flat parameters, shape (p,).
        context: for models built with a context, the pytree of data the functions read
            but do not differentiate (``with_context`` swaps it without recompiling when
            the shapes stay the same); None otherwise.
    """

    model: JaxModel
    theta: Any
    context: Any = None

    #: ``Estimator`` chunks replicates; each chunk is a few kernel calls with a fixed
    #: overhead, so JAX models ask for chunks of at least this many replicates (about
    #: 2.5x faster than the NumPy-sized default on W4, ``benchmarks/w4_jax.py``).
    min_chunk_rows = 256

    def __post_init__(self) -> None:
        theta = as_finite_array(self.theta, "theta")
        if theta.shape != (self.model.n_params,):
            raise ValueError(f"theta must have shape ({self.model.n_params},), got {theta.shape}")
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "enumerable", self.model.support_x is not None)
        object.__setattr__(self, "reparameterized", self.model.reparameterized)

    # -- parameters ------------------------------------------------------------------
    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one outcome x."""
        return self.model.event_shape

    def param_blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        """The pytree's leaves, in flattening order."""
        return list(self.model.blocks)

    @property
    def params(self) -> np.ndarray:
        """The flat parameter vector theta, shape (p,) (a copy)."""
        return np.array(self.theta)

    @property
    def param_tree(self) -> Any:
        """The parameter pytree at theta (float64 NumPy leaves)."""
        return self.model.tree(self.theta, np.float64)

    def to_tree(self, g: Any) -> Any:
        """An array (p,) over theta (e.g. a gradient estimate) as a pytree like the parameters."""
        g = np.asarray(g, dtype=np.float64)
        if g.shape != (self.n_params,):
            raise ValueError(f"g must have shape ({self.n_params},), got {g.shape}")
        return self.model.tree(g, np.float64)

    def with_params(self, theta: Any) -> JaxDistribution:
        """The same model at the flat parameters ``theta`` (p,); the kernels are shared."""
        return JaxDistribution(self.model, self.check_theta(theta), self.context)

    def with_context(self, context: Any) -> JaxDistribution:
        """The same model and theta with another context (same pytree structure)."""
        if not self.model.has_context:
            raise TypeError(
                "this JAX model was built without a context; pass context=... to "
                "vartools.jax.distribution (its functions then take it as last argument)"
            )
        return JaxDistribution(self.model, self.theta, context)

    def _ctx(self, single: bool) -> Any:
        """The context with float leaves in the compute precision (cached per precision)."""
        if self.context is None:
            return None
        key = "_ctx32" if single else "_ctx64"
        ctx = self.__dict__.get(key)
        if ctx is None:
            dt = np.float32 if single else np.float64
            ctx = _map_floats(self.context, dt)
            object.__setattr__(self, key, ctx)
        return ctx

    def _tree(self, single: bool) -> Any:
        """The parameter pytree in the compute precision (cached per precision)."""
        key = "_tree32" if single else "_tree64"
        tree = self.__dict__.get(key)
        if tree is None:
            tree = self.model.tree(self.theta, np.float32 if single else np.float64)
            object.__setattr__(self, key, tree)
        return tree

    def _run(self, name: str, single: bool, *args: np.ndarray) -> np.ndarray:
        """Kernel ``name`` on row arrays (rows on axis 0, padded to a bucket; see ``bucket``)."""
        fn = getattr(self.model.kernels(), name)
        m = args[0].shape[0]
        rows = bucket(m)
        with x64(not single):
            out = fn(
                self._tree(single),
                self._ctx(single),
                *(_pad(_jax_input(a, single), rows) for a in args),
            )
        if isinstance(out, tuple):  # (log-density values, gradients): check, return gradients
            values, out = out
            if not np.isfinite(np.asarray(values)[:m]).all():
                self._support_error(args[0][:m])
        # a writable NumPy copy (callers may update it in place)
        return np.array(np.asarray(out)[:m])

    # -- sampling --------------------------------------------------------------------
    def sample_noise(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Noise of shape (*reps, n, *noise_shape), drawn by NumPy from ``rng``."""
        check_rng(rng)
        lead = (*check_reps(reps), check_positive_int(n, "n"))
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        return draw_noise(self.model.noise, lead, self.model.noise_shape, rng=rng, dtype=dt)

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Noise drawn directly in ``dtype`` (float32 or float64)."""
        return self.sample_noise(n, rng=rng, reps=reps, dtype=dtype)

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Uniforms (*R, n, *noise_shape) to the noise (identity, or the normal quantile)."""
        ns = self.model.noise_shape
        if u.shape[u.ndim - len(ns) :] != ns:
            raise ValueError(
                f"this JAX model's noise has shape {ns} per sample but the sampler gave "
                f"uniforms of shape {u.shape}; samplers other than iid need noise_shape == "
                f"event_shape {self.event_shape}"
            )
        return noise_from_uniform(self.model.noise, u, ns)

    def _lead(self, a: np.ndarray, trailing: tuple[int, ...], what: str) -> tuple[int, ...]:
        if a.ndim < 1 + len(trailing) or a.shape[a.ndim - len(trailing) :] != trailing:
            raise ValueError(f"{what} must have shape (*R, n, *{trailing}), got shape {a.shape}")
        return tuple(a.shape[: a.ndim - len(trailing)])

    def transform(self, noise: np.ndarray) -> np.ndarray:
        """Outcomes x (*R, n, *event) from noise (*R, n, *noise_shape), by the JAX transform.

        Float outcomes are float64 (float32 for float32 noise), integer ones int64, boolean
        ones float as for float outcomes.
        """
        noise = np.asarray(noise)
        lead = self._lead(noise, self.model.noise_shape, "noise")
        single = _is_single(noise)
        m = math.prod(lead)
        x = self._run("transform", single, noise.reshape(m, *self.model.noise_shape))
        if self.model.outcome_kind == "int":
            x = x.astype(np.int64, copy=False)
        else:
            x = x.astype(np.float32 if single else np.float64, copy=False)
            if not np.isfinite(x).all():
                raise ValueError(
                    "transform(params, noise) returned a NaN or infinite outcome; it must map "
                    "every noise value to a finite outcome"
                )
        return x.reshape(*lead, *self.event_shape)

    # -- densities and scores ------------------------------------------------------------
    def _rows(self, x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
        x = np.asarray(x)
        lead = self._lead(x, self.event_shape, "x")
        return x.reshape(math.prod(lead), *self.event_shape), lead

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x; theta) of each outcome: (*R, n, *event) -> (*R, n)."""
        rows, lead = self._rows(x)
        lp = self._run("log_prob", _is_single(rows), rows)
        return lp.reshape(lead)

    def _support_error(self, x: np.ndarray) -> None:
        """Raise the error for samples x (*lead, *event) where log_prob is not finite."""
        rows, _ = self._rows(x)
        lp = self.log_prob(rows[:, None])[:, 0]
        bad = np.flatnonzero(~np.isfinite(lp))
        j = int(bad[0]) if bad.size else 0
        raise ValueError(
            f"log_prob(params, x) is {lp[j]} at a sampled outcome x = {rows[j].tolist()}: the "
            "sampler produced an outcome outside the support of log_prob; make transform and "
            "log_prob describe the same distribution"
        )

    def _check_scores(self, s: np.ndarray) -> np.ndarray:
        if not np.isfinite(s).all():
            raise ValueError(
                "the gradient of log_prob with respect to params is NaN or infinite at a "
                "sampled outcome; log_prob must be differentiable (use jax.nn.log_sigmoid, "
                "jax.nn.log_softmax rather than log(sigmoid), log(softmax))"
            )
        return s

    def score(self, x: np.ndarray) -> np.ndarray:
        """grad_theta log p(x; theta) by ``vmap(grad(log_prob))``: (*R, n, *event) -> (*R, n, p)."""
        rows, lead = self._rows(x)
        s = self._run("score", _is_single(rows), rows)
        return self._check_scores(s).reshape(*lead, self.n_params)

    def score_dot(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum_i w_i score(x_i): (*R, n, *event), (*R, n) -> (*R, p), one VJP per replicate.

        The gradient of the surrogate sum_i w_i log p(x_i; theta) (weights held fixed),
        so the (*R, n, p) per-sample scores are never formed.
        """
        x = np.asarray(x)
        lead = self._lead(x, self.event_shape, "x")
        w = np.asarray(w)
        single = _is_single(x, w)
        w = np.broadcast_to(w, lead).astype(np.float32 if single else np.float64, copy=False)
        r = math.prod(lead[:-1])
        n = lead[-1]
        out = self._run("score_dot", single, x.reshape(r, n, *self.event_shape), w.reshape(r, n))
        return self._check_scores(out).reshape(*lead[:-1], self.n_params)

    def transform_vjp(self, noise: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """Pathwise terms cot_i . dx_i/dtheta by ``jax.vjp``.

        Args:
            noise: (*R, n, *noise_shape).
            cotangent: df/dx, (*R, n, *event).

        Returns:
            The per-sample terms, (*R, n, p).
        """
        if not self.reparameterized:
            raise TypeError(
                "this JAX model is not reparameterised; build it with reparameterized=True "
                "and a transform that is differentiable in params to use the pathwise estimator"
            )
        noise = np.asarray(noise)
        lead = self._lead(noise, self.model.noise_shape, "noise")
        cot = np.asarray(cotangent)
        single = _is_single(noise)
        m = math.prod(lead)
        out = self._run(
            "transform_vjp",
            single,
            noise.reshape(m, *self.model.noise_shape),
            cot.astype(np.float32 if single else np.float64).reshape(m, *self.event_shape),
        )
        if not np.isfinite(out).all():
            raise ValueError("the derivative of transform with respect to params is NaN or inf")
        return out.reshape(*lead, self.n_params)

    # -- capabilities ----------------------------------------------------------------
    def support(self, budget: int = DEFAULT_SUPPORT_BUDGET) -> tuple[np.ndarray, np.ndarray]:
        """Every outcome given at construction with its probability exp(log_prob)."""
        sx = self.model.support_x
        if sx is None:
            raise TypeError(
                "this JAX model has no support to enumerate; pass support=... (every outcome, "
                "shape (M, *event)) to vartools.jax.distribution for exact oracles"
            )
        check_budget(float(sx.shape[0]), budget, "the JAX model's support")
        probs = np.exp(self.log_prob(sx[:, None]))[:, 0]
        total = float(probs.sum())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"the probabilities exp(log_prob) over the support sum to {total:.9g}, not 1: "
                "support must list every outcome once and log_prob must be normalised"
            )
        return sx.copy(), probs

    def _logits(self) -> np.ndarray:
        fn = self.model.kernels().logits
        assert fn is not None
        with x64(True):
            return np.array(fn(self._tree(False), self._ctx(False)), dtype=np.float64)

    def logit_distribution(self) -> Distribution:
        """The native Bernoulli / Categorical with this model's logits at theta."""
        fn = self.model.kernels().logits
        if fn is None:
            raise TypeError(
                "this JAX model does not declare the logits it samples from; pass "
                "logits=(function of params) and logits_kind='bernoulli' or 'categorical' to "
                "vartools.jax.distribution to use ARM, DisARM, local expectation or relaxations"
            )
        lg = self._logits()
        return Bernoulli(lg) if self.model.logits_kind == "bernoulli" else Categorical(lg)

    def logits_vjp(self, terms: np.ndarray) -> np.ndarray:
        """Chain rule: terms over the logits (*R, n, q) to terms over theta (*R, n, p)."""
        fn = self.model.kernels().logits_vjp
        assert fn is not None
        lead = terms.shape[:-1]
        m = math.prod(lead)
        shape = self._logits().shape
        with x64(True):
            out = np.array(fn(self._tree(False), self._ctx(False), terms.reshape(m, *shape)))
        return out.reshape(*lead, self.n_params)
