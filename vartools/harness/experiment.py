"""Experiments: frozen declarations of what to measure, found by name in experiments/.

An experiment is a Python file ``experiments/<name>.py`` (or a package
``experiments/<name>/``, see ``vartools.harness.loading``) that declares one
module-level ``EXPERIMENT = Experiment(...)`` whose ``name`` is the file's stem.
Declaring must be cheap (no computation at import): problems are built by a
factory, estimators by name or as Python objects. Two kinds:

- a **frozen-parameter sweep** (``trajectory=None``): for every parameter point
  (the keyword arguments of the problem factory: k, theta, eta, ...) and every
  sample size n, the replicate variance of every estimator, on common random
  numbers. The numbers are exactly those of ``vartools.measure_variance`` with
  the same seed and block size;
- a **training trajectory** (``trajectory=Trajectory(...)``): the parameters are
  optimised with one estimator and a small optimiser (``vartools.core.optim``: sgd,
  adam, rmsprop); every ``every`` steps the replicate variance of every compared
  estimator is measured at the current parameters (common random numbers), with
  the loss, and optionally the exponential-moving-average variance that the
  REBAR / DisARM papers report (column ``ema_variance``, labelled as such).

The definition is the full scale; ``quick=Scale(...)`` overrides a few fields
(replicates, points, sample sizes, steps) for the quick scale, which must run in
seconds. ``exp.at_scale("quick")`` returns the resolved experiment. The runner
(``vartools.harness.runner.run_experiment``, or ``vartools run NAME``) splits the work
into cells seeded from the seed tree, so results do not depend on the executor.

An ``Experiment`` says what to measure. How the runner splits it into seed blocks
and cells is a separate ``Layout`` (``layout=Layout(blocks_per_cell=20)``), and how
its default figures show it is a separate ``Plot`` (``plot=Plot(x="k", log_x=True)``);
an experiment with figures of its own keeps them in its figures module (a package
``experiments/<name>/`` with ``figures.py``, see ``vartools.harness.loading``).

Example (the contents of ``experiments/demo_liu.py``):
    >>> from vartools.harness.experiment import Experiment, Scale
    >>> from vartools.harness.plot_spec import Plot
    >>> EXPERIMENT = Experiment(
    ...     name="demo_liu",
    ...     description="SF vs SF+RLOO on the Liu et al. (2019) toy, against n and eta",
    ...     problem="liu_toy",                      # a SETTINGS name, or a factory(**point)
    ...     points=[{"eta": 0.0}, {"eta": -4.0}],   # one problem per point
    ...     estimators=["sf", "sf+loo"],            # registry names or Estimator objects
    ...     n_samples=[2, 4, 8],
    ...     n_reps=20_000,
    ...     seed=0,
    ...     quick=Scale(n_reps=2_000, n_samples=[2, 4]),
    ...     plot=Plot(x="n"),                       # what the default figure sweeps
    ... )
    >>> EXPERIMENT.at_scale("quick").n_reps, EXPERIMENT.kind
    (2000, 'sweep')
    >>> EXPERIMENT.build_problem(1).name
    'liu_toy(eta=-4)'

A training trajectory (REBAR's toy, Tucker et al. 2017):
    >>> from vartools.harness.experiment import Trajectory
    >>> from vartools.core.optim import adam
    >>> toy = Experiment(
    ...     name="demo_rebar",
    ...     description="REBAR toy: minimise E[(b - 0.45)^2] with Adam",
    ...     problem="rebar_toy",
    ...     estimators=["sf", "sf+loo"],
    ...     n_samples=[2],
    ...     n_reps=1000,
    ...     trajectory=Trajectory(estimator="sf", n=1, optimizer=adam(0.01), steps=2000,
    ...                           every=100, ema_decay=0.999),
    ...     quick=Scale(n_reps=200, steps=200, every=50),
    ... )
    >>> toy.at_scale("quick").trajectory.checkpoints()
    (0, 50, 100, 150, 200)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vartools.catalogue.registry import get_estimator
from vartools.catalogue.settings import SETTINGS, make_problem
from vartools.core.optim import Optimizer
from vartools.core.problem import Problem
from vartools.core.validation import check_positive_int, nearest_name, short_repr
from vartools.estimators.composed import Estimator
from vartools.harness.fingerprint import stable_description
from vartools.harness.layout import Layout
from vartools.harness.plot_spec import Plot

__all__ = [
    "Experiment",
    "Scale",
    "Trajectory",
    "n_blocks",
]

ProblemSpec = str | Callable[..., Problem] | Problem
EstimatorSpec = str | Estimator


@dataclass(frozen=True)
class Scale:
    """Overrides of an experiment's full-scale definition (None keeps the full value).

    Args:
        n_reps: replicate estimates per (point, n, estimator [, checkpoint]).
        n_samples: the sample sizes n.
        points: the parameter points (factory keyword arguments).
        steps: training steps (trajectories).
        every: checkpoint interval in steps (trajectories).
    """

    n_reps: int | None = None
    n_samples: Sequence[int] | None = None
    points: Sequence[Mapping[str, Any]] | None = None
    steps: int | None = None
    every: int | None = None


@dataclass(frozen=True)
class Trajectory:
    """A training run along which variances are measured.

    Training minimises E_p[f] (``maximize=True``: maximises it) over the flat
    parameters theta with ``optimizer``, using the gradient estimate of
    ``estimator`` from ``n`` samples per step, plus ``extra_grad(problem)`` (a
    deterministic term, e.g. an analytic KL) when given. Checkpoints are steps 0,
    every, 2 every, ..., and ``steps``; at each, the loss and every compared
    estimator's replicate variance are recorded at the current parameters.

    Args:
        estimator: the estimator that trains (name or Estimator).
        n: samples per training step.
        optimizer: a ``vartools.core.optim.Optimizer``.
        steps: number of optimisation steps.
        every: checkpoint interval.
        maximize: ascend instead of descend.
        loss: problem -> float at a checkpoint (default: the exact E_p[f] when an
            oracle applies, else a Monte Carlo mean of f from ``loss_samples`` draws).
        loss_samples: draws for the Monte Carlo loss.
        extra_grad: problem -> (p,) deterministic gradient added to the estimate.
        ema_decay: if set, also record the exponential-moving-average variance of the
            training estimator along the trajectory (DisARM / REBAR measure: debiased
            EMAs of g and g^2, variance = mean over theta of E[g^2] - E[g]^2); it is
            a different quantity from the replicate variance and is labelled
            ``ema_variance``.
    """

    estimator: EstimatorSpec
    n: int
    optimizer: Optimizer
    steps: int
    every: int
    maximize: bool = False
    loss: Callable[[Problem], float] | None = None
    loss_samples: int = 1000
    extra_grad: Callable[[Problem], np.ndarray] | None = None
    ema_decay: float | None = None

    def __post_init__(self) -> None:
        check_positive_int(self.n, "Trajectory n")
        check_positive_int(self.steps, "Trajectory steps")
        check_positive_int(self.every, "Trajectory every")
        check_positive_int(self.loss_samples, "Trajectory loss_samples")
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(
                "Trajectory optimizer must be a vartools Optimizer (sgd, adam, rmsprop), "
                f"got {short_repr(self.optimizer)}"
            )
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(
                f"Trajectory ema_decay must be in [0, 1) or None, got {self.ema_decay!r}"
            )

    def checkpoints(self) -> tuple[int, ...]:
        """The checkpoint steps: 0, every, 2 every, ..., and the last step."""
        out = list(range(0, self.steps + 1, self.every))
        if out[-1] != self.steps:
            out.append(self.steps)
        return tuple(out)

    def build_estimator(self) -> Estimator:
        """The training estimator."""
        return _resolve_estimator(self.estimator)


def _resolve_estimator(spec: EstimatorSpec) -> Estimator:
    if isinstance(spec, Estimator):
        return spec
    if isinstance(spec, str):
        return get_estimator(spec)
    raise TypeError(
        f"an estimator must be a registry name (e.g. 'sf+loo') or an Estimator from "
        f"make_estimator, got {short_repr(spec)}"
    )


def _point_value(v: Any) -> Any:
    if isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, np.generic):
        return v.item()
    return repr(v)


@dataclass(frozen=True)
class Experiment:
    """A frozen declaration of a variance measurement (see the module docstring).

    Args:
        name: the experiment's name: the file's stem (a package's folder), used on the
            command line and as the results directory.
        description: one paragraph: what it reproduces (paper, figure) and how.
        problem: a SETTINGS name (``make_problem(name, **point)``), a factory
            ``(**point) -> Problem``, or a Problem (then ``points`` must be ``[{}]``).
            Every point must give a problem with a distinct name (seeds hang off it).
        estimators: registry names or Estimators; all share the replicate seeds.
            An estimator whose ``min_n`` exceeds n is skipped at that n.
        n_samples: samples per estimate n.
        n_reps: replicate estimates per cell of the table (full scale).
        points: parameter points (factory keyword arguments), one problem each.
        seed: root of the seed tree.
        quick: the quick scale's overrides.
        trajectory: a Trajectory, or None for a frozen-parameter sweep.
        reference: estimator name ratios are taken against (default: the first).
        exact: also compute exact variances and the true gradient where an oracle
            applies.
        warmup: batches that warm up stateful reducers before measuring.
        layout: how the runner splits the work into seed blocks and cells (``Layout``).
        plot: how the default figures show the results (``Plot``).
        coordinates: parameter coordinates reported (and drawn by the default figures)
            besides the "(mean)" aggregate.
        summary_rows: "all" (default): one summary row per parameter coordinate plus
            the aggregates; "aggregates": only the aggregate rows ("(mean)", "(max)",
            "(trace)") and the listed ``coordinates``, for models with thousands of
            parameters whose per-coordinate table would be too large to commit.
    """

    name: str
    description: str
    problem: ProblemSpec
    estimators: Sequence[EstimatorSpec]
    n_samples: Sequence[int]
    n_reps: int
    points: Sequence[Mapping[str, Any]] = ({},)
    seed: int = 0
    quick: Scale = field(default_factory=Scale)
    trajectory: Trajectory | None = None
    reference: str | None = None
    exact: bool = True
    warmup: int = 50
    layout: Layout = field(default_factory=Layout)
    # how results are drawn defines no number: left out of the cache key
    plot: Plot = field(default_factory=Plot, metadata={"defines_numbers": False})
    coordinates: Sequence[str] = ()
    summary_rows: str = "all"
    scale: str = "full"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"Experiment name must be a Python identifier (the file's stem), got {self.name!r}"
            )
        object.__setattr__(self, "estimators", tuple(self.estimators))
        object.__setattr__(self, "n_samples", tuple(self.n_samples))
        object.__setattr__(self, "points", tuple(dict(p) for p in self.points))
        object.__setattr__(self, "coordinates", tuple(self.coordinates))
        if self.summary_rows not in ("all", "aggregates"):
            raise ValueError(
                f"experiment {self.name!r}: summary_rows must be 'all' or 'aggregates', got "
                f"{self.summary_rows!r}"
            )
        if not self.estimators:
            raise ValueError(f"experiment {self.name!r}: estimators must not be empty")
        if not self.n_samples:
            raise ValueError(f"experiment {self.name!r}: n_samples must not be empty")
        for n in self.n_samples:
            check_positive_int(n, "n_samples entry")
        check_positive_int(self.n_reps, "n_reps", minimum=2)
        check_positive_int(self.seed, "seed", minimum=0)
        check_positive_int(self.warmup, "warmup", minimum=0)
        if not isinstance(self.layout, Layout):
            raise TypeError(
                f"experiment {self.name!r}: layout must be a Layout(block_size=..., "
                f"blocks_per_cell=...), got {short_repr(self.layout)}"
            )
        if not isinstance(self.plot, Plot):
            raise TypeError(
                f"experiment {self.name!r}: plot must be a Plot(x=..., log_x=...), got "
                f"{short_repr(self.plot)}"
            )
        if not self.points:
            raise ValueError(f"experiment {self.name!r}: points must hold at least one point")
        if isinstance(self.problem, Problem) and self.points != ({},):
            raise ValueError(
                f"experiment {self.name!r}: a fixed Problem takes no points; pass a factory "
                "(**point) -> Problem to sweep"
            )
        if isinstance(self.problem, str) and self.problem not in SETTINGS:
            raise ValueError(
                f"experiment {self.name!r}: unknown setting {self.problem!r}; "
                f"{nearest_name(self.problem, tuple(SETTINGS))}"
            )
        if not isinstance(self.quick, Scale):
            raise TypeError(f"quick must be a Scale, got {short_repr(self.quick)}")
        if self.scale not in ("quick", "full"):
            raise ValueError(f"scale must be 'quick' or 'full', got {self.scale!r}")
        if self.trajectory is not None and not isinstance(self.trajectory, Trajectory):
            raise TypeError(
                f"trajectory must be a Trajectory or None, got {short_repr(self.trajectory)}"
            )

    @property
    def kind(self) -> str:
        """The kind: "sweep" (frozen parameters) or "trajectory" (training)."""
        return "sweep" if self.trajectory is None else "trajectory"

    @property
    def summary_line(self) -> str:
        """The description's first sentence (for listings)."""
        return self.description.strip().split("\n")[0]

    def at_scale(self, scale: str) -> Experiment:
        """The experiment at ``scale`` ("quick" or "full"), with the overrides applied."""
        if scale == "full":
            return replace(self, scale="full") if self.scale != "full" else self
        if scale != "quick":
            raise ValueError(f"scale must be 'quick' or 'full', got {scale!r}")
        if self.scale == "quick":
            return self
        q = self.quick
        changes: dict[str, Any] = {"scale": "quick"}
        if q.n_reps is not None:
            changes["n_reps"] = q.n_reps
        if q.n_samples is not None:
            changes["n_samples"] = q.n_samples
        if q.points is not None:
            changes["points"] = q.points
        if self.trajectory is not None and (q.steps is not None or q.every is not None):
            changes["trajectory"] = replace(
                self.trajectory,
                steps=q.steps if q.steps is not None else self.trajectory.steps,
                every=q.every if q.every is not None else self.trajectory.every,
            )
        return replace(self, **changes)

    def build_problem(self, point: int) -> Problem:
        """The problem at parameter point ``point`` (an index into ``points``)."""
        kwargs = self.points[point]
        if isinstance(self.problem, Problem):
            prob = self.problem
        elif isinstance(self.problem, str):
            prob = make_problem(self.problem, **kwargs)
        elif callable(self.problem):
            prob = self.problem(**kwargs)
        else:
            raise TypeError(
                f"experiment {self.name!r}: problem must be a setting name, a factory or a "
                f"Problem, got {short_repr(self.problem)}"
            )
        if not isinstance(prob, Problem):
            raise TypeError(
                f"experiment {self.name!r}: the problem factory returned "
                f"{short_repr(prob)}, not a Problem"
            )
        return prob

    def build_estimators(self) -> list[Estimator]:
        """The compared estimators, in order (names unique)."""
        ests = [_resolve_estimator(s) for s in self.estimators]
        names = [e.name for e in ests]
        if len(set(names)) != len(names):
            raise ValueError(
                f"experiment {self.name!r}: estimator names must be unique, got {names}; "
                "pass name=... to make_estimator"
            )
        if self.reference is not None and self.reference not in names:
            raise ValueError(
                f"experiment {self.name!r}: reference {self.reference!r} is not one of the "
                f"estimators {names}"
            )
        return ests

    def point_columns(self, point: int) -> dict[str, Any]:
        """The point's keyword arguments as table columns ``at_<key>``."""
        return {f"at_{k}": _point_value(v) for k, v in self.points[point].items()}

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (for meta.json)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "scale": self.scale,
            "description": self.description,
            "definition": stable_description(self),
        }


def n_blocks(exp: Experiment) -> int:
    """Seed blocks per (point, n [, checkpoint])."""
    return math.ceil(exp.n_reps / exp.layout.block_size)
