"""The experiments: each declares ``EXPERIMENT = Experiment(...)``, as a file or a package.

A simple experiment is one file ``experiments/<name>.py`` (demo_liu, demo_rebar). An
experiment with models, oracles or figures of its own is a package
``experiments/<name>/``: ``__init__.py`` declares ``EXPERIMENT`` (and the computation
hooks ``exact_table`` / ``tables``), beside modules such as ``models.py`` (problems and
estimators), ``oracles.py`` (exact values) and ``figures.py`` (the ``figures`` hook,
imported only by ``vartools plot``). Either way ``name`` is the file's stem or the
package's folder, and importing the declaration must be cheap. Files and folders whose
name starts with an underscore are not experiments. The command line finds experiments
by name (``vartools list``, ``vartools run NAME``); from Python::

    from experiments import load, names
    exp = load("demo_liu")

See vartools/harness/experiment.py for the API and docs/readme/harness.md for a guide.
"""

from __future__ import annotations

from pathlib import Path

from vartools.harness.experiment import Experiment
from vartools.harness.loading import discover, experiment_names, load_experiment

__all__ = ["DIRECTORY", "load", "names", "registry"]

#: This directory.
DIRECTORY = Path(__file__).resolve().parent


def names() -> list[str]:
    """The experiment names (file stems and package folders), without importing them."""
    return experiment_names(DIRECTORY)


def load(name: str) -> Experiment:
    """The experiment called ``name``."""
    return load_experiment(name, DIRECTORY)


def registry() -> tuple[dict[str, Experiment], dict[str, str]]:
    """Every experiment, and the import errors of files that failed to load."""
    return discover(DIRECTORY)
