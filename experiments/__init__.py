"""The experiments: one file per experiment, each declaring ``EXPERIMENT = Experiment(...)``.

A file ``experiments/<name>.py`` declares one frozen ``vartools.harness.experiment.Experiment``
whose ``name`` is the file's stem; importing it must be cheap (declarations only).
Files whose name starts with an underscore are helpers, not experiments. The command
line finds experiments by name (``vartools list``, ``vartools run NAME``); from Python::

    from experiments import load, names
    exp = load("demo_liu")

See vartools/experiment.py for the API and docs/readme/harness.md for a guide.
"""

from __future__ import annotations

from pathlib import Path

from vartools.harness.experiment import Experiment
from vartools.harness.loading import discover, experiment_names, load_experiment

__all__ = ["DIRECTORY", "load", "names", "registry"]

#: This directory.
DIRECTORY = Path(__file__).resolve().parent


def names() -> list[str]:
    """The experiment names (file stems), without importing them."""
    return experiment_names(DIRECTORY)


def load(name: str) -> Experiment:
    """The experiment called ``name``."""
    return load_experiment(name, DIRECTORY)


def registry() -> tuple[dict[str, Experiment], dict[str, str]]:
    """Every experiment, and the import errors of files that failed to load."""
    return discover(DIRECTORY)
