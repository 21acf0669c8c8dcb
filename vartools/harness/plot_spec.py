"""How the default figures show an experiment: ``Plot``.

Part of an experiment's declaration (``Experiment(plot=Plot(...))``) that defines no
number; ``vartools.plots.figures.plot_experiment`` reads it. Example:
    >>> Plot(x="k", log_x=True).log_y
    True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Plot"]


@dataclass(frozen=True)
class Plot:
    """How the default figures (``vartools plot`` without a figures module) show an experiment.

    Args:
        x: the swept quantity on the x axis: a point key (e.g. "k"), "n", "n_evals" or
            "step" (default: "step" for trajectories, the first point key that varies,
            else "n"; see ``vartools.plots.figures.sweep_key``).
        log_x: log scale on the x axis.
        log_y: log scale on the variance axis.
    """

    x: str | None = None
    log_x: bool = False
    log_y: bool = True

    def __post_init__(self) -> None:
        if self.x is not None and (not isinstance(self.x, str) or not self.x):
            raise ValueError(
                f"Plot x must be a point key, 'n', 'n_evals', 'step' or None, got {self.x!r}"
            )
