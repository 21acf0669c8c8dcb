"""Results: schema validation, atomic writes, checksummed cell files, the documented schema."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vartools as vt
from vartools.catalogue.registry import get_estimator
from vartools.harness import storage as results
from vartools.harness.storage import CorruptFileError, read_cell, write_cell, write_table
from vartools.measure.schema import SUMMARY, TRAINING, SchemaError, validate

README = Path(__file__).resolve().parent.parent / "results" / "README.md"


@pytest.fixture(scope="module")
def good() -> pd.DataFrame:
    prob = vt.make_problem("liu_toy", eta=0.0)
    t = vt.measure_variance(
        prob, [get_estimator("sf"), get_estimator("sf+loo")], n_samples=[2], n_reps=100, seed=0
    )
    for i, (k, v) in enumerate(
        {"experiment": "x", "scale": "quick", "point": 0, "step": 0, "at_eta": 0.0}.items()
    ):
        t.insert(i, k, v)
    return t


def test_a_good_table_passes(good):
    validate(good, SUMMARY)
    validate(good.drop(columns=["at_eta"]), SUMMARY)  # point columns are optional


@pytest.mark.parametrize(
    ("mutate", "column", "what"),
    [
        (lambda t: t.drop(columns=["variance"]), "variance", "missing"),
        (lambda t: t.assign(variance="big"), "variance", "must hold float"),
        (lambda t: t.assign(n_reps=1), "n_reps", ">= 2"),
        (lambda t: t.assign(kind="median"), "kind", "one of"),
        (lambda t: t.assign(estimator=np.nan), "estimator", "missing values"),
        (lambda t: t.assign(n=2.5), "n", "must hold int"),
        (lambda t: t.assign(variance=-t["variance"] - 1.0), "variance", ">= 0"),
        (lambda t: t.assign(variance=np.inf), "variance", "infinite"),
        (lambda t: t.assign(mean=-np.inf), "mean", "infinite"),
        (lambda t: t.assign(colour="red"), "colour", "not part of the schema"),
        (lambda t: t.assign(biased="no"), "biased", "must hold bool"),
        (lambda t: t.assign(scale="medium"), "scale", "one of"),
    ],
)
def test_a_bad_table_is_rejected_naming_the_column(good, mutate, column, what):
    with pytest.raises(SchemaError, match=re.escape(f"'{column}'")) as info:
        validate(mutate(good.copy()), SUMMARY)
    assert what in str(info.value)


def test_zero_variance_infinities_are_legitimate(good, tmp_path):
    t = good.assign(variance=0.0, snr=np.inf, efficiency=np.inf, ratio=np.inf)
    write_table(tmp_path / "s.csv", t, SUMMARY)
    back = results.read_table(tmp_path / "s.csv", SUMMARY)
    assert np.isinf(back["efficiency"]).all()


def test_write_table_validates_before_writing(good, tmp_path):
    path = tmp_path / "summary.csv"
    with pytest.raises(SchemaError, match="'variance'"):
        write_table(path, good.assign(variance="x"), SUMMARY)
    assert not path.exists()
    write_table(path, good, SUMMARY)
    back = results.read_table(path, SUMMARY)
    pd.testing.assert_frame_equal(back, good, check_dtype=False)  # %.17g round-trips exactly
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]  # no temp files left


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    results.atomic_write_text(path, "old")

    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        results.atomic_write_text(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_cell_round_trip_and_corruption(tmp_path):
    path = tmp_path / "c.cell"
    arrays = {"e0": np.arange(12.0).reshape(4, 3), "flag": np.array([True, False])}
    write_cell(path, arrays, {"key": ["block", 0, 2, 0, 1], "fingerprint": "abc"})
    got, meta = read_cell(path)
    assert meta["fingerprint"] == "abc"
    np.testing.assert_array_equal(got["e0"], arrays["e0"])
    data = path.read_bytes()
    for bad in (
        data[:-1],
        data[:40],
        data.replace(b"VARTOOLS", b"VARTOOLZ", 1),
        data[:-8] + bytes(8),
        b"",
    ):
        path.write_bytes(bad)
        with pytest.raises(CorruptFileError):
            read_cell(path)


def test_training_schema_accepts_theta_columns():
    row = {
        "experiment": "x",
        "scale": "full",
        "point": 0,
        "step": 10,
        "problem": "p",
        "estimator": "sf",
        "optimizer": "adam(0.01)",
        "loss": 0.2,
        "loss_exact": True,
        "ema_variance": np.nan,
        "theta.logits[0]": 0.1,
    }
    validate(pd.DataFrame([row]), TRAINING)
    with pytest.raises(SchemaError, match="'ema_variance'"):
        validate(pd.DataFrame([{**row, "ema_variance": -1.0}]), TRAINING)


def test_readme_documents_every_column():
    text = README.read_text()
    for schema in (SUMMARY, TRAINING):
        for col in schema.columns:
            assert f"`{col.name}`" in text, f"results/README.md does not document {col.name}"
