"""Experiment(summary_rows="aggregates") keeps the aggregates and the listed coordinates only."""

from __future__ import annotations

import pandas as pd
import pytest

from vartools.harness.experiment import Experiment
from vartools.harness.layout import Layout
from vartools.harness.runner import run_experiment


def _exp(rows: str) -> Experiment:
    return Experiment(
        name="rows",
        description="summary rows",
        problem="liu_toy",
        estimators=["sf", "sf+loo"],
        n_samples=[2],
        n_reps=128,
        layout=Layout(block_size=64),
        coordinates=["logits[1]"],
        summary_rows=rows,
    )


def test_aggregates_only_keeps_the_same_numbers(tmp_path):
    full = run_experiment(_exp("all"), out=tmp_path / "a", progress=False).summary
    small = run_experiment(_exp("aggregates"), out=tmp_path / "b", progress=False).summary
    assert set(small["coordinate"]) == {"(mean)", "(max)", "(trace)", "logits[1]"}
    keep = full[full["coordinate"].isin(small["coordinate"])].reset_index(drop=True)
    cols = [c for c in small.columns if c != "time_per_estimate"]  # the only wall-clock column
    pd.testing.assert_frame_equal(keep[cols], small[cols])
    assert len(full) > len(small)


def test_bad_summary_rows_is_refused():
    with pytest.raises(ValueError, match="summary_rows"):
        _exp("some")
