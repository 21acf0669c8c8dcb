"""Noise for the float32 mode: uniforms and standard normals from raw 64-bit words.

Most of the time of a float32 estimate goes into its random numbers, so the float32 mode
draws them from the generator's raw 64-bit output (``BitGenerator.random_raw``, or
``Generator.integers`` over the full 64-bit range for generators whose raw output has
fewer bits) and converts them with a few vectorised operations:

- uniforms: each 64-bit word gives two float32 uniforms, (v >> 8) 2^-24 for its two
  32-bit halves v, which is how NumPy's ``random(dtype=np.float32)`` converts, so for
  PCG64 (NumPy's default) and rows of even length the numbers are identical to
  NumPy's; about 1.6x faster.
- standard normals: the Box-Muller transform (Box and Muller 1958) of one word per pair,
  z1 = r cos(2 pi a), z2 = r sin(2 pi a), r = sqrt(-2 log b), with b from one 32-bit half
  (b = (v | 1) 2^-32, odd multiples of 2^-32 so b > 0) and a from the other (a = v 2^-32).
  That is an exact map of two uniforms to two independent normals, up to float32
  rounding and the resolution of b: |z| <= sqrt(64 log 2) = 6.66, so the tails beyond
  6.66 standard deviations (probability 2.7e-11) are cut. About 2.7x faster than NumPy's
  float32 ziggurat. The float64 mode uses NumPy's ``standard_normal`` unchanged.

Layout: each index of the leading axis (the first replicate axis) draws its own row of
words (half a word wasted when a row needs an odd number of halves), so drawing the
rows in several calls gives the same numbers, and chunked estimators equal unchunked
ones. Rows are converted in blocks of about 256 KiB, which stay in cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["standard_normal_f32", "uniform_f32"]

#: Bit generators whose ``random_raw`` output has 64 random bits (MT19937 has 32).
_FULL_64 = (np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64, np.random.Philox)
#: 64-bit words per block of rows.
_BLOCK = 2**15
_ANGLE = np.float32(2.0 * math.pi / 2.0**32)
_LOG_2_32 = np.float32(32.0 * math.log(2.0))


def _words(rng: np.random.Generator, rows: int, per_row: int) -> np.ndarray:
    """(rows, per_row) random uint64 words from ``rng``."""
    if isinstance(rng.bit_generator, _FULL_64):
        out: np.ndarray = rng.bit_generator.random_raw((rows, per_row))
        return out
    return rng.integers(0, 2**64 - 1, (rows, per_row), dtype=np.uint64, endpoint=True)


def _fill(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    convert: Callable[[np.ndarray, np.ndarray], None],
) -> np.ndarray:
    """A float32 array of ``shape``, filled in blocks of rows from rows of words.

    Each index of the leading axis gets one row of ceil(L / 2) words (L: the row's
    length); ``convert(words_as_uint32, block)`` fills a block of rows in place from
    their words viewed as uint32, shape (rows, 2 ceil(L / 2)).
    """
    out = np.empty(shape, dtype=np.float32)
    if out.size == 0:
        return out
    lead = shape[0] if shape else 1
    rows = out.reshape(lead, out.size // lead)
    words = (rows.shape[1] + 1) // 2
    step = max(1, _BLOCK // words)
    for r0 in range(0, lead, step):
        block = rows[r0 : r0 + step]
        convert(_words(rng, block.shape[0], words).view(np.uint32), block)
    return out


def _to_uniform(v: np.ndarray, block: np.ndarray) -> None:
    """(v >> 8) 2^-24 for each 32-bit half v (as NumPy's float32 ``random``)."""
    v = v[:, : block.shape[1]]
    v >>= 8
    np.multiply(v, np.float32(2.0**-24), out=block, dtype=np.float32, casting="unsafe")


def _to_normal(v: np.ndarray, block: np.ndarray) -> None:
    """Box-Muller: radius from the first halves, angle from the last halves of the row."""
    per = block.shape[1]
    half = (per + 1) // 2  # cos outputs per row; per - half sin outputs
    b = v[:, :half]
    b |= np.uint32(1)  # odd multiples of 2^-32: b > 0
    radius = np.log(b, dtype=np.float32, casting="unsafe")  # log v
    np.subtract(_LOG_2_32, radius, out=radius)  # -log(v 2^-32)
    np.maximum(radius, 0.0, out=radius)  # float32 rounding near v = 2^32
    radius += radius
    np.sqrt(radius, out=radius)
    angle = np.multiply(v[:, half:], _ANGLE, dtype=np.float32, casting="unsafe")
    np.cos(angle, out=block[:, :half])
    block[:, :half] *= radius
    np.sin(angle[:, : per - half], out=block[:, half:])
    block[:, half:] *= radius[:, : per - half]


def uniform_f32(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 uniforms on [0, 1) of ``shape``: 24 bits from each 32-bit half of a word."""
    return _fill(rng, shape, _to_uniform)


def standard_normal_f32(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 standard normals of ``shape`` by Box-Muller, one word per pair."""
    return _fill(rng, shape, _to_normal)
