"""Named estimators, base estimators and reducers, for the command line and experiments.

Three plain dicts map names to zero-argument factories; add an entry to extend them
(the catalogue modules register theirs the same way)::

    ESTIMATORS["sf+rb"] = lambda: make_estimator(score_function, rao_blackwell(), name="sf+rb")

``get_estimator(name)`` looks ``name`` up in ``ESTIMATORS`` first; failing that it
reads ``name`` as ``base+reducer+reducer...[@sampler]`` with the base from
``BASES`` (``sas<k>`` is sum-and-sample with k summed outcomes, ``unordered_set<k>`` the
unordered set estimator with k outcomes per set), each reducer from
``REDUCERS`` (applied in order) and the sampler from ``SAMPLERS``, so
``"sf+const+loo"`` or ``"sf+optbase@sobol"`` work without an entry. The
estimator's table name is always the name asked for.

Example:
    >>> get_estimator("sf+loo").name
    'sf+loo'
    >>> get_estimator("pathwise").base.name
    'pathwise'
    >>> get_estimator("sf+optbase@sobol").sampler.name
    'sobol'
    >>> get_estimator("sas3+loo").base.name
    'sas(k=3)'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import numpy as np

from vartools.catalogue.rl.named import RL_ESTIMATORS
from vartools.catalogue.settings import SETTINGS
from vartools.control_variates.baselines import constant_baseline, ema_baseline, loo_baseline
from vartools.control_variates.coefficients import delta_method, optimal_baseline
from vartools.core.control_variate import ControlVariate
from vartools.core.objectives import Objective
from vartools.core.problem import Problem
from vartools.core.validation import nearest_name
from vartools.distributions.discrete.bernoulli import Bernoulli
from vartools.distributions.discrete.categorical import Categorical
from vartools.estimators.arm import arm, disarm
from vartools.estimators.base import BaseEstimator, pathwise, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.double_cv import double_cv
from vartools.estimators.measure_valued import measure_valued, measure_valued_uncoupled
from vartools.estimators.rao_blackwell import dependency_aware, local_expectation
from vartools.estimators.rebar.estimator import rebar
from vartools.estimators.relax import relax
from vartools.estimators.relaxations import straight_through
from vartools.estimators.rodeo import rodeo, rodeo_surrogate
from vartools.estimators.sum_and_sample import sum_and_sample
from vartools.estimators.tuned import fitted_coefficients
from vartools.estimators.unordered_set import unordered_set
from vartools.estimators.vimco import multi_sample_problem, vimco
from vartools.samplers.sampling import Sampler, antithetic, iid, sobol, stratified

__all__ = [
    "BASES",
    "ESTIMATORS",
    "REDUCERS",
    "SAMPLERS",
    "estimator_names",
    "get_estimator",
    "register_estimator",
]

#: Base estimators by name: name -> factory() -> BaseEstimator.
BASES: dict[str, Callable[[], BaseEstimator]] = {
    "sf": lambda: score_function,
    "pathwise": lambda: pathwise,
    "le": lambda: local_expectation,
    "dep": lambda: dependency_aware,
    "arm": lambda: arm,
    "disarm": lambda: disarm,
    "mvd": lambda: measure_valued,
    "mvd_uncoupled": lambda: measure_valued_uncoupled,
    "st": straight_through,
}

#: Variance reducers (control variates) by name: name -> factory() -> ControlVariate.
REDUCERS: dict[str, Callable[[], ControlVariate]] = {
    "loo": loo_baseline,
    "ema": lambda: ema_baseline(0.9),
    "const": lambda: constant_baseline(0.0),
    "optbase": lambda: optimal_baseline("running"),
    "optbase_loo": lambda: optimal_baseline("loo"),
    "optbase_xfit": lambda: optimal_baseline("crossfit"),
    "optbase_batch": lambda: optimal_baseline("batch"),
    "delta1": lambda: delta_method(1, "running"),
    "delta2": lambda: delta_method(2, "running"),
}

#: Samplers by name (``base+reducer@sampler``): name -> factory() -> Sampler.
SAMPLERS: dict[str, Callable[[], Sampler]] = {
    "iid": iid,
    "antithetic": antithetic,
    "stratified": stratified,
    "sobol": sobol,
}


def _base(name: str) -> BaseEstimator:
    if name.startswith("sas") and name[3:].isdigit():
        return sum_and_sample(int(name[3:]))
    if _is_family(name, "unordered_set"):
        return unordered_set(int(name[len("unordered_set") :]))
    return BASES[name]()


def _is_family(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and name[len(prefix) :].isdigit()


def _is_base(name: str) -> bool:
    return name in BASES or _is_family(name, "sas") or _is_family(name, "unordered_set")


def _composed(spec: str) -> Callable[[], Estimator]:
    def factory() -> Estimator:
        chain_spec, _, sampler = spec.partition("@")
        base, *reducers = chain_spec.split("+")
        return make_estimator(
            _base(base),
            *(REDUCERS[r]() for r in reducers),
            sampler=SAMPLERS[sampler or "iid"](),
            name=spec,
        )

    return factory


#: Named estimators: name -> factory() -> Estimator (the table name is the key).
ESTIMATORS: dict[str, Callable[[], Estimator]] = {
    name: _composed(name)
    for name in (
        "sf",
        "sf+loo",
        "sf+ema",
        "sf+optbase",
        "sf+delta2",
        "sf+optbase@sobol",
        "pathwise",
        "pathwise+delta2",
        "le",
        "arm",
        "disarm",
        "mvd",
    )
}


# -- frontier estimators (issue 15) --------------------------------------------------------
# ``unordered_set<k>`` is a base family like ``sas<k>`` (k outcomes per set, n sets). The
# Double-CV and RODEO coefficients, REBAR's eta and temperature and RELAX's surrogate are
# fitted on earlier batches (stateful); ``rebar_frozen`` keeps eta = 1 and lam = 0.5.
BASES["vimco"] = lambda: vimco
ESTIMATORS["vimco"] = _composed("vimco")
ESTIMATORS["double_cv"] = lambda: make_estimator(
    double_cv(0.0), fitted_coefficients(), name="double_cv"
)
ESTIMATORS["rodeo"] = lambda: make_estimator(rodeo(0.0, 0.0), fitted_coefficients(), name="rodeo")
ESTIMATORS["rebar"] = lambda: rebar(name="rebar")
ESTIMATORS["rebar_frozen"] = lambda: rebar(eta=1.0, temperature=0.5, name="rebar_frozen")
ESTIMATORS["relax"] = lambda: relax(name="relax")
# RODEO with a learned MLP surrogate in its Stein operators (Shi et al. 2022, sec. 4)
ESTIMATORS["rodeo_mlp"] = lambda: make_estimator(
    rodeo(0.0, 0.0), fitted_coefficients(), rodeo_surrogate(), name="rodeo_mlp"
)


def _iwae_toy(k: int = 4, eta: float = 0.0) -> Problem:
    """VIMCO's setting: the K-sample bound of 3 Bernoullis with a non-separable log-weight."""

    def log_w(x: np.ndarray) -> np.ndarray:
        return -((x - 0.4) ** 2).sum(-1) + 0.8 * x[..., 0] * x[..., -1]

    logits = np.array([0.3, -0.7, 1.2]) + float(eta)
    return multi_sample_problem(
        f"iwae_toy(K={int(k)},eta={float(eta):g})", Bernoulli(logits), log_w, int(k)
    )


# the setting vimco applies to: vartools compare --problem iwae_toy --estimators sf vimco
SETTINGS["iwae_toy"] = _iwae_toy


def _cat_onehot(n_vars: int = 2, n_classes: int = 3, seed: int = 0) -> Problem:
    """Independent categoricals whose f is a polynomial of the one-hot vectors.

    f(y) = sum_j t_j . y_j + 1.3 (t_0 . y_0)(t_last . y_last) + (y_0 . y_last) with a fixed
    random table t (n_vars, n_classes): non-separable, and defined with its gradient on
    relaxed one-hot vectors (``Problem.relaxed``), so the categorical REBAR, Double CV and
    RODEO work under their registered names; RELAX needs f at the outcomes only.
    """
    nv, nc = int(n_vars), int(n_classes)
    if nv < 2 or nc < 2:
        raise ValueError(f"cat_onehot needs n_vars >= 2 and n_classes >= 2, got {nv} and {nc}")
    rng = np.random.default_rng(int(seed))
    table = rng.normal(size=(nv, nc))
    logits = rng.normal(size=(nv, nc))

    def value(y: np.ndarray) -> np.ndarray:
        a = (y * table).sum(-1)  # (..., n_vars)
        same = (y[..., 0, :] * y[..., -1, :]).sum(-1)
        out: np.ndarray = a.sum(-1) + 1.3 * a[..., 0] * a[..., -1] + same
        return out

    def grad(y: np.ndarray) -> np.ndarray:
        a = (y * table).sum(-1)
        g = np.broadcast_to(table, y.shape).copy()
        g[..., 0, :] += 1.3 * a[..., -1, None] * table[0] + y[..., -1, :]
        g[..., -1, :] += 1.3 * a[..., 0, None] * table[-1] + y[..., 0, :]
        return g

    relaxed = Objective(value, grad, name="polynomial of one-hot vectors")
    cats = np.arange(nc)

    def f(z: np.ndarray) -> np.ndarray:
        return value((z[..., None] == cats).astype(np.float64))

    return Problem(
        f"cat_onehot({nv}x{nc})",
        Categorical(logits),
        f,
        description="independent categoricals, f a polynomial of the one-hot vectors",
        relaxed=relaxed,
    )


# the categorical setting of the frontier estimators: vartools compare --problem cat_onehot
# --estimators sf+loo rebar relax double_cv rodeo --n 2
SETTINGS["cat_onehot"] = _cat_onehot
# -- end of frontier estimators --------------------------------------------------------------


def register_estimator(name: str, factory: Callable[[], Estimator]) -> None:
    """Add (or replace) a named estimator; ``factory()`` must return an Estimator."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(
            f"factory must be a zero-argument callable returning an Estimator, got {factory!r}"
        )
    ESTIMATORS[name] = factory


def estimator_names() -> list[str]:
    """The registered estimator names, sorted."""
    return sorted(ESTIMATORS)


def get_estimator(name: str) -> Estimator:
    """The estimator called ``name``: a registered one, or a ``base+reducer...`` composition.

    Raises:
        ValueError: for an unknown name, naming the nearest valid name.
    """
    if not isinstance(name, str):
        raise TypeError(f"estimator name must be a string, got {name!r}")
    if name in ESTIMATORS:
        est = ESTIMATORS[name]()
    else:
        chain_spec, _, sampler = name.partition("@")
        base, *reducers = chain_spec.split("+")
        if not _is_base(base):
            raise ValueError(
                f"unknown estimator {name!r}; {nearest_name(name, tuple(ESTIMATORS))} "
                f"(or compose base+reducer[@sampler] with bases {sorted(BASES)}, sas<k> or "
                "unordered_set<k>, "
                f"reducers {sorted(REDUCERS)} and samplers {sorted(SAMPLERS)})"
            )
        if sampler and sampler not in SAMPLERS:
            raise ValueError(
                f"unknown sampler {sampler!r} in estimator {name!r}; "
                f"{nearest_name(sampler, tuple(SAMPLERS))}"
            )
        for r in reducers:
            if r not in REDUCERS:
                close = difflib.get_close_matches(name, list(ESTIMATORS), n=1)
                also = f" (nearest registered estimator: {close[0]!r})" if close else ""
                raise ValueError(
                    f"unknown reducer {r!r} in estimator {name!r}; "
                    f"{nearest_name(r, tuple(REDUCERS))}{also}"
                )
        est = _composed(name)()
    if not isinstance(est, Estimator):
        raise TypeError(f"the factory registered as {name!r} returned {est!r}, not an Estimator")
    return est


# -- reinforcement learning with time (vartools.catalogue.rl) -----------------------------
ESTIMATORS.update(RL_ESTIMATORS)
