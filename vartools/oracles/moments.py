"""The exact moments of the score-function estimator (``SFMoments``), shared by the oracles.

``vartools.oracles.exact`` computes them by enumeration or quadrature and
``vartools.oracles.separable`` by a closed form; both return this record.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SFMoments"]


@dataclass(frozen=True)
class SFMoments:
    """Moments of the score-function estimator (per coordinate, shape (p,) unless scalar).

    g = E[f s], M2 = E[f^2 s^2], M1 = E[f s^2], M0 = E[s^2], ef = E[f], ef2 = E[f^2].
    """

    g: np.ndarray
    m2: np.ndarray
    m1: np.ndarray
    m0: np.ndarray
    ef: float
    ef2: float
