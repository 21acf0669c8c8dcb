"""How the base noise is drawn: i.i.d. (default), and the sampling-side variance reducers.

A ``Sampler`` draws the noise of shape (*reps, n, *event) that a distribution
turns into samples (``Distribution.transform``). Every replicate is an
independent randomisation, so replicate variances stay valid. Samplers that
make the n samples of one replicate dependent set ``independent=False``;
control variates that need independent samples (leave-one-out) refuse them.

Example:
    >>> import numpy as np
    >>> from vartools.distributions import Normal
    >>> iid().draw(Normal(0.0, 1.0), 4, rng=np.random.default_rng(0), reps=(2,)).shape
    (2, 4)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vartools.distributions import Distribution

__all__ = ["Sampler", "iid"]


@dataclass(frozen=True, eq=False)
class Sampler:
    """A way of drawing the base noise.

    Args:
        name: label used in estimator names.
        draw_fn: (dist, n, rng, reps) -> noise of shape (*reps, n, *event).
        independent: whether the n samples of one replicate are independent.
        unbiased: whether each sample is marginally distributed as the target.
        min_n: smallest n it supports (antithetic pairs need an even n >= 2).
    """

    name: str
    draw_fn: Callable[[Distribution, int, np.random.Generator, Any], np.ndarray]
    independent: bool = True
    unbiased: bool = True
    min_n: int = 1

    def draw(
        self, dist: Distribution, n: int, *, rng: np.random.Generator, reps: Any = ()
    ) -> np.ndarray:
        """Draw noise of shape (*reps, n, *event) for ``dist``."""
        return self.draw_fn(dist, n, rng, reps)


def _iid_draw(dist: Distribution, n: int, rng: np.random.Generator, reps: Any) -> np.ndarray:
    return dist.sample_noise(n, rng=rng, reps=reps)


def iid() -> Sampler:
    """Independent, identically distributed draws (plain Monte Carlo)."""
    return Sampler("iid", _iid_draw)
