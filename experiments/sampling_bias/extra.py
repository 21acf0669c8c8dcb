"""The extra tables of ``sampling_bias``: the relaxations' bias and the exact batch bias.

- ``relaxation.csv``: straight-through and Gumbel-softmax (binary Concrete) against the
  temperature on the discrete setting, measured with ``measure_variance`` (mean, bias
  against the exact gradient with its standard error, variance), n = 1, beside SF; the
  exact mean of straight-through by enumeration (``exact_mean``; NaN for Gumbel).
- ``batch_bias.csv``: the exact bias of the same-batch optimal baseline
  (``optbase(batch)[biased]``) on the discrete setting by enumerating the n-sample joint
  support, beside its leave-one-out and cross-fitted versions (exactly unbiased).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from vartools.catalogue.registry import get_estimator
from vartools.oracles.exact import exact_gradient, exact_moments

from .models import BATCH, relaxation_estimators
from .models import problem as make_setting

if TYPE_CHECKING:
    from vartools.harness.experiment import Experiment

__all__ = ["EXACT_N", "batch_bias_table", "relaxation_table", "tables"]

#: sample sizes of the exact batch-bias enumeration (8^n joint outcomes)
EXACT_N = (2, 3, 4, 5, 6)


def relaxation_table(exp: Experiment) -> pd.DataFrame:
    """Bias (with SE) and variance of ST and Gumbel-softmax vs temperature (liu_toy, n = 1)."""
    from vartools.measure.variance import measure_variance

    prob = make_setting("liu_toy")
    ests = relaxation_estimators()
    t = measure_variance(
        prob,
        ests,
        n_samples=[1],
        n_reps=exp.n_reps * 5,
        seed=exp.seed + 1,
        exact=False,
        warmup=0,
    )
    t = t[t["kind"] == "coordinate"].copy()
    exact_mean = {}
    for est in ests[:2]:  # SF and ST are enumerable (Gumbel samples a continuous relaxation)
        mean, _ = exact_moments(prob, est, 1)
        exact_mean.update(
            {(est.name, c): m for c, m in zip(prob.dist.param_names, mean, strict=True)}
        )
    t["temperature"] = [
        float(e[7:-1]) if e.startswith("gumbel(") else np.nan for e in t["estimator"]
    ]
    t["exact_mean"] = [
        exact_mean.get((e, c), np.nan) for e, c in zip(t["estimator"], t["coordinate"], strict=True)
    ]
    t["relative_bias"] = t["bias"] / t["truth"].abs()
    cols = [
        "estimator",
        "temperature",
        "coordinate",
        "n",
        "n_reps",
        "n_evals",
        "truth",
        "mean",
        "bias",
        "bias_se",
        "relative_bias",
        "exact_mean",
        "variance",
        "variance_lo",
        "variance_hi",
        "mse",
        "biased",
    ]
    return t[cols].reset_index(drop=True)


def batch_bias_table() -> pd.DataFrame:
    """Exact bias of SF + b fitted on the same batch vs n, by enumeration (liu_toy)."""
    prob = make_setting("liu_toy")
    g = exact_gradient(prob)
    rows = []
    for name in BATCH:
        est = get_estimator(name)
        for n in EXACT_N:
            mean, var = exact_moments(prob, est, n)
            for j, coord in enumerate(prob.dist.param_names):
                rows.append(
                    {
                        "estimator": name,
                        "n": n,
                        "coordinate": coord,
                        "truth": float(g[j]),
                        "exact_mean": float(mean[j]),
                        "exact_bias": float(mean[j] - g[j]),
                        "relative_bias": float((mean[j] - g[j]) / abs(g[j])),
                        "exact_variance": float(var[j]),
                        "exact_mse": float(var[j] + (mean[j] - g[j]) ** 2),
                    }
                )
    return pd.DataFrame(rows)


def tables(exp: Experiment, summary: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """``relaxation.csv`` and ``batch_bias.csv`` (see the module docstring)."""
    del summary
    return {"relaxation": relaxation_table(exp), "batch_bias": batch_bias_table()}
