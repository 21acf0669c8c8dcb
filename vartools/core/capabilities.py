"""Capabilities of a distribution: what estimators, samplers and oracles need beyond sampling.

What an estimator, sampler or oracle needs from a distribution beyond sampling and
the score is a capability: a method declared once here, on ``Capabilities`` (a base of
``Distribution``), documented, and raising ``NotSupportedError`` ("<capability> is not
supported by <Distribution> for <who>") unless a family implements it;
``Distribution.supports(name)`` asks without calling. Estimators dispatch on these
methods and flags, never on the concrete class (DESIGN.md, "Package layout"):

- ``enumeration``: ``support`` (flag ``enumerable``); Bernoulli, Categorical.
- ``quadrature``: one coordinate of standard-normal noise (flag
  ``standard_normal_noise``); Normal with one coordinate.
- ``pathwise``: ``transform_vjp`` (flag ``reparameterized``); Normal.
- ``param_coordinates``: ``param_coordinates``; Bernoulli, Categorical, Normal.
- ``local_expectation``: ``local_expectation``; Bernoulli, Categorical.
- ``relaxation``: ``relaxed_noise_shape``, ``relaxed_sample``, ``relaxed_vjp``,
  ``embed``, ``hard_vjp`` (flag ``relaxation_in_outcome_space``); Bernoulli,
  Categorical.
- ``coupled_pairs``: ``coupled_pair`` (the ARM pair); Bernoulli.
- ``conditional_relaxation``: ``conditional_relaxation``, ``relax_noise``,
  ``location_vjp`` (REBAR's and RELAX's coupled noise z, z~ ~ p(z | b)); Bernoulli
  (logistic noise), Categorical (Gumbel-max with conditional Gumbels).
- ``one_hot_factorised``: ``one_hot_layout`` (independent binary or one-hot categorical
  coordinates in natural parameters: Double CV, RODEO); Bernoulli, Categorical.
- ``measure_valued``: ``measure_valued_coupling``; Normal.
- ``gaussian``: ``gaussian_params`` (loc, scale); Normal.

``antithetic_noise`` (pairs of noise for the antithetic sampler) has a generic
default (the inverse CDF of u and 1 - u) that families may refine (Normal: e, -e).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, NoReturn

import numpy as np

from vartools.core.errors import NotSupportedError

__all__ = [
    "CAPABILITIES",
    "Capabilities",
    "ConditionalRelaxation",
    "GaussianParams",
    "MeasureValuedCoupling",
    "OneHotLayout",
]


#: Capability name -> the method whose override provides it (``Distribution.supports``);
#: ``enumeration``, ``pathwise`` and ``quadrature`` are flags instead (see ``supports``).
CAPABILITIES: dict[str, str] = {
    "enumeration": "support",
    "pathwise": "transform_vjp",
    "quadrature": "",
    "param_coordinates": "param_coordinates",
    "local_expectation": "local_expectation",
    "relaxation": "relaxed_sample",
    "coupled_pairs": "coupled_pair",
    "measure_valued": "measure_valued_coupling",
    "gaussian": "gaussian_params",
    "conditional_relaxation": "conditional_relaxation",
    "one_hot_factorised": "one_hot_layout",
}


class GaussianParams(NamedTuple):
    """A diagonal Gaussian view of a distribution (the ``gaussian`` capability).

    Attributes:
        loc: means, shape event.
        scale: standard deviations, shape event.
        log_scale: True when the second parameter block of theta is log(scale).
    """

    loc: np.ndarray
    scale: np.ndarray
    log_scale: bool


class MeasureValuedCoupling(NamedTuple):
    """Coupled measure-valued derivative samples (the ``measure_valued`` capability).

    For a distribution factorised over D flat coordinates with theta in blocks of D
    (block b's parameter j belongs to coordinate j), the derivative of E[f] with
    respect to parameter j is estimated by replacing coordinate j of ``base`` by
    ``pos[..., j]`` and by ``neg[..., j]``:
    terms_j = (f(pos_j) - f(neg_j)) / denom_j * mult_j (Mohamed et al. 2020, sec. 6).

    Attributes:
        base: the other coordinates, an exact draw, shape (*lead, D).
        pos: positive-part values, shape (*lead, p).
        neg: negative-part values, shape (*lead, p).
        denom: (p,) divisor of the difference.
        mult: (p,) multiplier after the division (ones, or a chain-rule factor).
        draw_param: a parameter whose negative-part sample (its coordinate replaced,
            the others at ``base``) is an exact draw from the distribution: the batch's
            x and f(x) are taken from it at no extra cost.
        info: the coupling's own random variables, kept in ``Batch.info``.
    """

    base: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    denom: np.ndarray
    mult: np.ndarray
    draw_param: int
    info: dict[str, np.ndarray]


class ConditionalRelaxation(NamedTuple):
    """REBAR's coupled noise (the ``conditional_relaxation`` capability).

    From two uniform arrays u, v of shape ``relaxed_noise_shape(lead)``: the noise z
    (the location, logits or log-probabilities, plus logistic or Gumbel noise), the hard
    sample b = H(z) (an exact draw), and z~ ~ p(z | b) reparameterised by v (Tucker et al.
    2017, sec. 3 and appendix). ``relax_noise(z, lam)`` maps noise to the relaxed space
    (sigmoid or softmax of z / lam) and ``location_vjp`` takes a cotangent on the
    location of z to theta.

    Attributes:
        b: the hard outcomes (*lead, *event).
        z: the noise, shape of u.
        z_tilde: the conditional noise z~ given b, shape of u.
        dz_tilde: d z~ / d location, elementwise (the Jacobian is diagonal), shape of u;
            d z / d location is 1.
    """

    b: np.ndarray
    z: np.ndarray
    z_tilde: np.ndarray
    dz_tilde: np.ndarray


class OneHotLayout(NamedTuple):
    """Independent coordinates embedded as indicators (the ``one_hot_factorised`` capability).

    ``embed(x)`` flattened to (*lead, p) is b, with E[b] = ``mean`` and the score
    b - mean (an exponential family in its natural parameters theta, so that
    d mean / d theta = Cov(b), the map ``hard_vjp``).

    Attributes:
        mean: E[b], flat (p,).
        categories: None when every coordinate is binary (b in {0, 1}, one parameter,
            its logit, per coordinate); K when every variable is one-hot over K
            categories (K parameters, the logits, per variable).
    """

    mean: np.ndarray
    categories: int | None


class Capabilities:
    """Capability declarations inherited by ``Distribution``: flags and default methods.

    Every default method raises ``NotSupportedError`` through ``not_supported``; a
    family implements a capability by overriding its method (``CAPABILITIES``).
    """

    #: ``True`` for distributions with a finite support and ``support()``.
    enumerable: bool = False
    #: ``True`` for distributions with ``transform_vjp`` (pathwise gradients).
    reparameterized: bool = False
    #: ``True`` when the noise is standard normal, one per coordinate (quadrature
    #: oracles integrate over it when there is one coordinate).
    standard_normal_noise: bool = False
    #: For the ``relaxation`` capability: True when relaxed values live in the outcome
    #: space, so the problem's own f and grad_f apply to them (Bernoulli); False when
    #: they need an objective of their own (Categorical: one-hot vectors).
    relaxation_in_outcome_space: bool = False

    def not_supported(self, capability: str, who: str, hint: str = "") -> NoReturn:
        """Raise ``NotSupportedError``: "<capability> is not supported by <class> for <who>".

        Args:
            capability: a key of ``CAPABILITIES``.
            who: the estimator, sampler or method that needed it.
            hint: how to fix it (default: ask ``supports`` and pick a family that has it).
        """
        hint = hint or (
            f"check dist.supports({capability!r}) first and use a distribution that "
            "implements it (see vartools.core.capabilities)"
        )
        raise NotSupportedError(
            f"{capability} is not supported by {type(self).__name__} for {who}; {hint}"
        )

    def param_coordinates(self) -> np.ndarray:
        """The flat event coordinate each parameter belongs to, shape (p,) of ints.

        Capability ``param_coordinates`` (factorised distributions), used by
        Rao-Blackwellization and measure-valued derivatives.
        """
        self.not_supported("param_coordinates", "a parameter-to-coordinate map")

    def local_expectation(
        self,
        x: np.ndarray,
        fx: np.ndarray,
        evaluate: Callable[[np.ndarray], np.ndarray],
        chunk_elements: int,
    ) -> tuple[np.ndarray, int]:
        """Local-expectation terms: each coordinate's score term summed over its values.

        Capability ``local_expectation`` (Titsias & Lazaro-Gredilla 2015): for each
        sample and each coordinate, sum_v p(x_d = v) f(x with x_d = v) grad log p(x_d = v),
        the other coordinates held at the sample.

        Args:
            x: samples (*R, n, *event).
            fx: f(x), shape (*R, n).
            evaluate: f on outcomes (*R', n', *event) -> (*R', n').
            chunk_elements: largest number of entries of modified samples held at once.

        Returns:
            ``(terms (*R, n, p), evaluations of f per sample, f(x) included)``.
        """
        self.not_supported("local_expectation", "local_expectation")

    def relaxed_noise_shape(self, lead: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the uniforms ``relaxed_sample`` needs for samples of shape ``lead``."""
        self.not_supported("relaxation", "relaxed_noise_shape")

    def relaxed_sample(self, u: np.ndarray, temperature: float) -> np.ndarray:
        """Relaxed (Concrete) sample from uniforms of shape ``relaxed_noise_shape``.

        Capability ``relaxation`` (Maddison, Mnih & Teh 2017; Jang, Gu & Poole 2017).
        """
        self.not_supported("relaxation", "relaxed_sample")

    def relaxed_vjp(self, z: np.ndarray, cotangent: np.ndarray, temperature: float) -> np.ndarray:
        """cotangent (df/dz) times dz/dtheta at a relaxed sample z, shape (*lead, p)."""
        self.not_supported("relaxation", "relaxed_vjp")

    def embed(self, x: np.ndarray) -> np.ndarray:
        """Hard outcomes as points of the relaxed space (identity, or one-hot vectors)."""
        self.not_supported("relaxation", "embed")

    def hard_vjp(self, cotangent: np.ndarray) -> np.ndarray:
        """Straight-through backward pass: cotangent at ``embed(x)`` through the mean (*lead, p)."""
        self.not_supported("relaxation", "hard_vjp")

    def coupled_pair(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ARM antithetic pair (x1, x2) of uniforms u (*R, n, *event), each an exact draw.

        Capability ``coupled_pairs`` (Yin & Zhou 2019, eq. 5): independent binary
        coordinates whose parameters theta are their logits, x1 = 1[u > 1 - sigma(theta)],
        x2 = 1[u < sigma(theta)]; the ARM and DisARM formulas use theta as logits.
        """
        self.not_supported("coupled_pairs", "coupled_pair")

    def measure_valued_coupling(
        self, lead: tuple[int, ...], *, rng: np.random.Generator
    ) -> MeasureValuedCoupling:
        """Draw coupled measure-valued derivative samples for samples of shape ``lead``.

        Capability ``measure_valued`` (Mohamed et al. 2020, sec. 6); see
        ``MeasureValuedCoupling``.
        """
        self.not_supported("measure_valued", "measure_valued_coupling")

    def gaussian_params(self) -> GaussianParams:
        """The diagonal Gaussian view (loc, scale, log_scale flag): capability ``gaussian``."""
        self.not_supported("gaussian", "gaussian_params")

    def transform_vjp(self, noise: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """Pathwise terms: cotangent (df/dx) times dx/dtheta, shape (*R, n, p).

        Capability ``pathwise`` (set the flag ``reparameterized = True`` too), used by
        ``vartools.pathwise`` and the estimators built on it. ``noise`` is the base noise
        (*R, n, *event) that ``transform`` maps to x, ``cotangent`` is grad_x f at x
        (same shape), and the result is, per sample, sum over event coordinates of
        cotangent * d transform(noise) / d theta_j, for each parameter j in theta order.
        Only exact derivatives belong here (x = loc + scale * e: dx/dloc = 1,
        dx/dscale = e); a family without a differentiable ``transform`` keeps this
        default, which raises ``NotSupportedError`` naming the family and the fix.
        """
        self.not_supported(
            "pathwise",
            "transform_vjp (the pathwise estimator)",
            "use a score-function estimator (vartools.score_function), or implement "
            "transform_vjp and set reparameterized = True (docs/readme/extending.md)",
        )

    def conditional_relaxation(self, u: np.ndarray, v: np.ndarray) -> ConditionalRelaxation:
        """z, b = H(z) and z~ ~ p(z | b) from uniforms u, v (``ConditionalRelaxation``).

        Capability ``conditional_relaxation`` (REBAR, RELAX); u and v have the shape
        ``relaxed_noise_shape(lead)`` of the ``relaxation`` capability.
        """
        self.not_supported("conditional_relaxation", "conditional_relaxation")

    def relax_noise(self, z: np.ndarray, temperature: float) -> np.ndarray:
        """The relaxed value of noise z: sigmoid(z / lam) or softmax(z / lam) (same shape).

        Its vector-Jacobian product is ``relaxed_vjp`` of the ``relaxation`` capability.
        """
        self.not_supported("conditional_relaxation", "relax_noise")

    def location_vjp(self, cotangent: np.ndarray, transpose: bool = False) -> np.ndarray:
        """A cotangent on the location of z, flat (*lead, p), taken to theta (*lead, p).

        Identity for Bernoulli logits; for categoricals the location is
        log softmax(theta), whose Jacobian is I - p 1^T per variable. ``transpose`` applies
        the transposed map (used to backpropagate through it).
        """
        self.not_supported("conditional_relaxation", "location_vjp")

    def one_hot_layout(self) -> OneHotLayout:
        """The indicator layout of a factorised discrete distribution (``OneHotLayout``).

        Capability ``one_hot_factorised`` (Double CV, RODEO).
        """
        self.not_supported("one_hot_factorised", "one_hot_layout")
