"""``UniformNoise``: base of the distributions sampled by the inverse CDF of uniforms.

The noise is a uniform on [0, 1) per coordinate of the event, drawn directly in
float64 (``rng.random``) or float32 (``_noise_f32``); ``noise_from_uniform`` is the
identity. ``vartools.distributions.discrete`` builds Bernoulli and Categorical on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vartools.core.distribution import Distribution
from vartools.core.validation import noise_dtype
from vartools.distributions._noise_f32 import uniform_f32

__all__ = ["UniformNoise"]


class UniformNoise(Distribution):
    """Base for discrete distributions sampled by the inverse CDF of uniforms on [0, 1).

    The noise is the uniform itself (``noise_from_uniform`` is the identity), one per
    coordinate of the event, drawn directly in float32 or float64.
    """

    def sample_noise(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Uniforms on [0, 1), shape (*reps, n, *event).

        float64: ``rng.random``. float32: 24-bit uniforms from raw 64-bit words, two per
        word, one row of words per leading index (``_noise_f32``); for NumPy's default
        PCG64 these equal ``rng.random(shape, dtype=np.float32)`` when a row holds an
        even number of uniforms.
        """
        shape = self.noise_shape(n, reps, rng)  # checks rng first
        if noise_dtype(dtype) == np.float32:
            return uniform_f32(rng, shape)
        return rng.random(shape)

    def sample_noise_as(
        self, n: int, *, rng: np.random.Generator, reps: Any = (), dtype: Any = np.float64
    ) -> np.ndarray:
        """Base noise drawn directly in ``dtype`` (float32 or float64)."""
        return self.sample_noise(n, rng=rng, reps=reps, dtype=dtype)

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Identity: the noise is the uniform."""
        return u
