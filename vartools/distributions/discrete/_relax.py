"""Helpers the discrete relaxations share: clipped uniforms and the softmax VJP."""

from __future__ import annotations

import numpy as np

__all__ = ["REBAR_TINY", "clipped", "softmax_vjp"]


def clipped(noise: np.ndarray) -> np.ndarray:
    """Uniforms clipped into the open interval (0, 1) (for the logs of a relaxation)."""
    return np.clip(noise, np.finfo(np.float64).tiny, 1.0 - np.finfo(np.float64).epsneg)


def softmax_vjp(y: np.ndarray, h: np.ndarray) -> np.ndarray:
    """h^T d softmax / d logits = y * (h - sum_k y_k h_k), over the last axis."""
    return y * (h - (y * h).sum(-1, keepdims=True))


#: REBAR's uniforms are clipped to [REBAR_TINY, 1 - REBAR_TINY] before their logs.
REBAR_TINY = 1e-12
