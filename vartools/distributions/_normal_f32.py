"""Standard normals in float32 by the Box-Muller transform (the float32 mode's noise).

NumPy's float32 ``standard_normal`` (a ziggurat) costs about twice what two float32
uniforms and the vectorised Box-Muller transform (Box and Muller 1958) cost:

    z1 = r cos(2 pi u2), z2 = r sin(2 pi u2), r = sqrt(-2 log(1 - u1)),

an exact map of two independent uniforms to two independent standard normals. With
NumPy's 24-bit float32 uniforms, 1 - u1 >= 2^-24, so |z| <= sqrt(48 log 2) = 5.77: the
tails beyond 5.77 standard deviations (probability 7.9e-9 per draw) are cut, as in
PyTorch's CPU sampler. That is below the resolution of float32 sums, and the float64
mode (NumPy's ziggurat) has no such cut.

The layout keeps estimates independent of chunking: each index of the leading axis
(the first replicate axis) gets its own row of uniforms, u1 for the first half of the
row's outputs and u2 for the second half (one uniform pair wasted when a row has an odd
length), so drawing the rows in any number of calls gives the same numbers.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["standard_normal_f32"]

#: Uniforms per block of rows (float32: 256 KiB, so the transform runs in cache).
_BLOCK = 2**16
_TWO_PI = np.float32(2.0 * math.pi)


def standard_normal_f32(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normals of ``shape`` in float32 from ``rng``'s float32 uniforms."""
    out = np.empty(shape, dtype=np.float32)
    if out.size == 0:
        return out
    lead = shape[0] if shape else 1
    per = out.size // lead
    half = (per + 1) // 2  # cos outputs per row; per - half sin outputs
    rows = out.reshape(lead, per)
    step = max(1, _BLOCK // (2 * half))
    for r0 in range(0, lead, step):
        block = rows[r0 : r0 + step]
        u = rng.random((block.shape[0], 2 * half), dtype=np.float32)
        radius = u[:, :half]
        np.subtract(np.float32(1.0), radius, out=radius)  # in (0, 1]: log is finite
        np.log(radius, out=radius)
        radius *= np.float32(-2.0)
        np.sqrt(radius, out=radius)
        angle = u[:, half:]
        angle *= _TWO_PI
        np.cos(angle, out=block[:, :half])
        block[:, :half] *= radius
        np.sin(angle[:, : per - half], out=block[:, half:])
        block[:, half:] *= radius[:, : per - half]
    return out
