"""The base noise of a JAX model: uniforms and standard normals drawn by NumPy.

Randomness stays in vartools' seed tree: the noise is drawn from the ``numpy.random.
Generator`` that vartools hands in (never from ``jax.random``), exactly as the native
distributions draw theirs, so a JAX model fed the same generator sees the same numbers
as its native twin, and results do not depend on the executor or the worker count.

A noise specification is ``"uniform"`` (on [0, 1): the inverse-CDF noise of discrete
outcomes), ``"normal"`` (standard normals: reparameterised continuous outcomes), or a
sequence of ``(kind, size)`` segments over the flattened noise of one sample, e.g.
``[("normal", 16), ("uniform", 1)]`` for a state and an action. One kind draws exactly
the native stream (``rng.random`` / ``rng.standard_normal`` in float64, the
``_noise_f32`` streams in float32); several kinds draw uniforms for the whole noise and
map the normal segments through the normal quantile (so that drawing replicates in
chunks consumes the same numbers as one large draw).

Example:
    >>> import numpy as np
    >>> spec = parse_noise([("normal", 2), ("uniform", 1)], (3,))
    >>> draw_noise(spec, (4,), (3,), rng=np.random.default_rng(0)).shape
    (4, 3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from vartools.core.validation import short_repr
from vartools.distributions._noise_f32 import standard_normal_f32, uniform_f32

__all__ = ["NOISE_KINDS", "draw_noise", "noise_from_uniform", "parse_noise"]

NOISE_KINDS = ("uniform", "normal")

Spec = tuple[tuple[str, int], ...]


def parse_noise(noise: Any, noise_shape: tuple[int, ...]) -> Spec:
    """The segments ``((kind, size), ...)`` of a noise specification for ``noise_shape``."""
    size = math.prod(noise_shape)
    if isinstance(noise, str):
        segments: Sequence[Any] = [(noise, size)]
    elif isinstance(noise, Sequence):
        segments = noise
    else:
        raise TypeError(
            f"noise must be 'uniform', 'normal' or a list of (kind, size) segments, got "
            f"{short_repr(noise)}"
        )
    out = []
    for seg in segments:
        if not (isinstance(seg, Sequence) and len(seg) == 2 and seg[0] in NOISE_KINDS):
            raise ValueError(
                f"noise segments must be (kind, size) with kind in {NOISE_KINDS}, got "
                f"{short_repr(seg)}"
            )
        kind, k = seg
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"noise segment {short_repr(seg)} must have a size >= 1")
        out.append((str(kind), int(k)))
    total = sum(k for _, k in out)
    if total != size:
        raise ValueError(
            f"the noise segments {out} cover {total} values but one sample's noise of shape "
            f"{noise_shape} has {size}; make the sizes add up to {size}"
        )
    return tuple(out)


def _one(kind: str, shape: tuple[int, ...], rng: np.random.Generator, single: bool) -> np.ndarray:
    if kind == "uniform":
        return uniform_f32(rng, shape) if single else rng.random(shape)
    return standard_normal_f32(rng, shape) if single else rng.standard_normal(shape)


def draw_noise(
    spec: Spec,
    lead: tuple[int, ...],
    noise_shape: tuple[int, ...],
    *,
    rng: np.random.Generator,
    dtype: Any = np.float64,
) -> np.ndarray:
    """Noise of shape (*lead, *noise_shape) in float64 or float32.

    Args:
        spec: segments from ``parse_noise``.
        lead: the leading axes, (*reps, n).
        noise_shape: one sample's noise.
        rng: the generator (from vartools' seed tree).
        dtype: float64 or float32 (the opt-in single-precision streams).

    Returns:
        The noise, shape (*lead, *noise_shape).
    """
    single = np.dtype(dtype) == np.float32
    shape = (*lead, *noise_shape)
    if len(spec) == 1:
        return _one(spec[0][0], shape, rng, single)
    # several kinds: one draw of uniforms for the whole noise, then the normal quantile on
    # the normal segments, so that drawing the replicates in chunks along the first axis
    # consumes the same numbers as one large draw (per-kind blocks would interleave)
    u = _one("uniform", shape, rng, single)
    return noise_from_uniform(spec, u, noise_shape)


def noise_from_uniform(spec: Spec, u: np.ndarray, noise_shape: tuple[int, ...]) -> np.ndarray:
    """Map uniforms (*lead, *noise_shape) to the noise: identity, or the normal quantile."""
    kinds = {kind for kind, _ in spec}
    if kinds == {"uniform"}:
        return u
    tiny, top = np.finfo(np.float64).tiny, 1.0 - np.finfo(np.float64).epsneg
    if kinds == {"normal"}:
        return special.ndtri(np.clip(u, tiny, top))
    lead = u.shape[: u.ndim - len(noise_shape)]
    flat = np.array(u).reshape(*lead, -1)  # a copy, in the precision of u
    if flat.dtype == np.float32:
        tiny, top = np.finfo(np.float32).tiny, 1.0 - np.finfo(np.float32).epsneg
    start = 0
    for kind, k in spec:
        if kind == "normal":
            seg = flat[..., start : start + k]
            flat[..., start : start + k] = special.ndtri(np.clip(seg, tiny, top))
        start += k
    return flat.reshape(u.shape)
