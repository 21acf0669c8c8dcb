"""Liu et al. (ICML 2019) / Kool et al. (ICLR 2020) Bernoulli toy: variance against f evaluations.

Setting (REFERENCES.md, E6): d = 3 Bernoullis sharing one logit eta, f(z) = sum_i (z_i - p0_i)^2
with p0 = (0.6, 0.51, 0.48), eta in {0, -4}. ``make_problem("liu_toy", eta=)`` gives each
coordinate its own logit (all equal to eta); by the chain rule the gradient of the shared
logit is the sum of the three per-coordinate gradients, and the estimators of the shared
gradient are the sums of the per-coordinate estimates (for score-function estimators the
summed score is exactly the score of the shared logit, sum_i (z_i - sigmoid(eta))). So we
report the variance of the summed gradient estimate. The exact gradient at eta = 0 is -0.045
(Liu et al. 2019, Kool et al. 2020).

Estimators, each against the number of f evaluations per estimate (Kool et al. 2020, Fig. 2):

- REINFORCE with K samples and no baseline (K evaluations; K = 1 is also RLOO with K = 1);
- RLOO with K = 2..8 samples (K evaluations);
- sum-and-sample (Liu et al. 2019) on the joint categorical over the 8 states: the k most
  probable states summed exactly, one sample from the renormalised rest (k + 1 evaluations,
  k = 0..7; k = 7 leaves a single state, so its variance is 0, as is k = 8 with 8
  evaluations);
- local expectation gradients (Titsias & Lazaro-Gredilla 2015), n = 1, 2 samples (each costs
  1 + d = 4 evaluations: f at the sample and at each coordinate flipped).

Exact variances come from enumerating the 8 joint states (lines); Monte Carlo replicate
variances with 95% CIs are the markers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.control_variates.baselines import loo_baseline
from vartools.core.batch import Batch
from vartools.core.distribution import Distribution
from vartools.core.objectives import square_distance
from vartools.core.problem import Problem
from vartools.distributions.discrete import Bernoulli
from vartools.estimators.base import BaseEstimator, chain_rule_estimator, score_function
from vartools.estimators.composed import Estimator, make_estimator
from vartools.estimators.rao_blackwell import local_expectation
from vartools.estimators.sum_and_sample import sum_and_sample
from vartools.harness.experiment import Experiment, Scale
from vartools.oracles.exact import SFMoments, rloo_variance

P0 = (0.6, 0.51, 0.48)
ETAS = (0.0, -4.0)
MAX_EVALS = 8
N_FLIP = len(P0)  # coordinates flipped by the local expectation estimator


@dataclass(frozen=True, eq=False)
class SharedBernoulli(Distribution):
    """d independent Bernoullis sharing one logit eta: theta = (eta,), p(b_i = 1) = sigmoid(eta).

    The score is sum_i (b_i - sigmoid(eta)), shape (*R, n, 1); sampling is the inverse CDF of
    one uniform per coordinate (as ``Bernoulli``), so ``per_coordinate`` maps the same noise
    to the same outcomes.
    """

    eta: float
    d: int = 3
    enumerable = True

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.d,)

    def _blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        return [("eta", ())]

    def with_params(self, theta: Any) -> SharedBernoulli:
        return SharedBernoulli(float(self._check_theta(theta)[0]), self.d)

    def per_coordinate(self) -> Bernoulli:
        """The same law with one logit per coordinate (all equal to eta)."""
        return Bernoulli(np.full(self.d, float(self.eta)))

    def sample_noise(self, n: int, *, rng: np.random.Generator, reps: Any = ()) -> np.ndarray:
        return rng.random(self._noise_shape(n, reps))

    def noise_from_uniform(self, u: np.ndarray) -> np.ndarray:
        return u

    def transform(self, noise: np.ndarray) -> np.ndarray:
        return (noise > special.expit(-self.eta)).astype(np.float64)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return self.per_coordinate().log_prob(x)

    def score(self, x: np.ndarray) -> np.ndarray:
        x = self._check_x(x)
        return (x - special.expit(self.eta)).sum(-1, keepdims=True)

    def support(self, budget: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
        return self.per_coordinate().support(budget)


def problem(eta: float) -> Problem:
    """The Liu toy with one shared logit ``eta`` (p = 1)."""
    return Problem(
        f"liu_shared(eta={float(eta):g})",
        SharedBernoulli(float(eta)),
        square_distance(np.array(P0)),
        description="3 Bernoullis sharing one logit, f = sum (z - p0)^2, p0 = (0.6, 0.51, 0.48)",
    )


def per_coordinate(prob: Problem) -> Problem:
    """The same problem with one logit per coordinate (``make_problem("liu_toy", eta=)``)."""
    dist = prob.dist
    if not isinstance(dist, SharedBernoulli):
        raise TypeError(f"problem {prob.name!r} does not have a shared logit")
    return replace(prob, name=prob.name + "[per-coordinate]", dist=dist.per_coordinate())


def _summed(batch: Batch) -> Batch:
    """Chain rule: the shared-logit batch sums the per-coordinate terms and scores."""
    return Batch(
        x=batch.x,
        fx=batch.fx,
        score=None if batch.score is None else batch.score.sum(-1, keepdims=True),
        extra=batch.terms.sum(-1, keepdims=True),
        n_evals=batch.n_evals,
        noise=batch.noise,
        independent=batch.independent,
        info=batch.info,
    )


def chain_rule(base: BaseEstimator) -> BaseEstimator:
    """The shared-logit version of a per-coordinate base estimator (terms summed, p = 1).

    d/deta E[f] = sum_i d/deta_i E[f] at eta_i = eta, so summing the per-coordinate terms of
    an unbiased estimator gives an unbiased estimator of the shared gradient, at the same
    cost; for the score function the summed score is the shared score.
    """
    return chain_rule_estimator(
        base,
        per_coordinate,
        lambda batch, prob: _summed(batch),
        doc=f"Shared-logit (chain rule) version of {base.name}.",
    )


def joint_table(prob: Problem) -> dict[str, np.ndarray]:
    """The 8 joint states: probabilities q, f, the shared-logit score S and f S."""
    x, q = prob.dist.support()
    f = prob.evaluate(x[:, None])[:, 0]
    s = prob.dist.score(x[:, None])[:, 0, :].sum(-1)
    return {"x": x, "q": q, "f": f, "s": s, "fs": f * s}


def shared_moments(prob: Problem) -> SFMoments:
    """Score-function moments for the shared logit (scalars), by enumeration."""
    t = joint_table(prob)
    q, f, s = t["q"], t["f"], t["s"]
    one = np.ones(1)
    return SFMoments(
        g=one * (q @ (f * s)),
        m2=one * (q @ (f * f * s * s)),
        m1=one * (q @ (f * s * s)),
        m0=one * (q @ (s * s)),
        ef=float(q @ f),
        ef2=float(q @ (f * f)),
    )


def exact_gradient_shared(eta: float) -> float:
    """d/deta E[f] for the shared logit (-0.045 at eta = 0)."""
    return float(shared_moments(problem(eta)).g[0])


def sum_and_sample_order(q: np.ndarray) -> np.ndarray:
    """States by decreasing probability; ties keep the support order (a stable sort)."""
    return np.argsort(-q, kind="stable")


def sum_and_sample_variance(prob: Problem, k: int, n: int = 1) -> float:
    """Exact variance of sum-and-sample with the top-k states summed and n samples of the rest.

    estimate = sum_{m in top k} q_m f_m S_m + (1 - Q_k) mean_i f(z_i) S(z_i), z_i drawn from
    q restricted to the other states (Liu et al. 2019, sec. 3), so its variance is
    (1 - Q_k)^2 Var_rest(f S) / n, and 0 when at most one state remains.
    """
    t = joint_table(prob)
    q, fs = t["q"], t["fs"]
    rest = sum_and_sample_order(q)[k:]
    if len(rest) <= 1:
        return 0.0
    mass = q[rest].sum()
    r = q[rest] / mass
    mean = r @ fs[rest]
    return float(mass**2 * (r @ (fs[rest] - mean) ** 2) / n)


def local_expectation_terms(prob: Problem) -> np.ndarray:
    """Per-state local-expectation estimate of the shared gradient, shape (8,).

    sum_d w [f(z_d = 1, z_-d) - f(z_d = 0, z_-d)] with w = sigmoid(eta)(1 - sigmoid(eta)).
    """
    t = joint_table(prob)
    x = t["x"]
    theta = float(special.expit(prob.dist.params[0]))
    out = np.zeros(len(x))
    for d in range(x.shape[-1]):
        hi, lo = x.copy(), x.copy()
        hi[:, d], lo[:, d] = 1.0, 0.0
        diff = prob.evaluate(hi[:, None])[:, 0] - prob.evaluate(lo[:, None])[:, 0]
        out += theta * (1 - theta) * diff
    return out


def local_expectation_variance(prob: Problem, n: int = 1) -> float:
    """Exact variance of the n-sample local-expectation estimate of the shared gradient."""
    t = joint_table(prob)
    e = local_expectation_terms(prob)
    mean = t["q"] @ e
    return float(t["q"] @ (e - mean) ** 2 / n)


def exact_curves(eta: float) -> pd.DataFrame:
    """Exact variance of every (family, size) point against f evaluations."""
    prob = problem(eta)
    m = shared_moments(prob)
    v_sf = float(m.m2[0] - m.g[0] ** 2)
    rows: list[dict[str, Any]] = []
    for k in range(1, MAX_EVALS + 1):
        rows.append({"family": "reinforce", "size": k, "n_evals": k, "exact_variance": v_sf / k})
    for k in range(2, MAX_EVALS + 1):
        v = float(rloo_variance(m, k)[0])
        rows.append({"family": "rloo", "size": k, "n_evals": k, "exact_variance": v})
    for k in range(0, MAX_EVALS + 1):
        rows.append(
            {
                "family": "sum_and_sample",
                "size": k,
                "n_evals": min(k + 1, MAX_EVALS),
                "exact_variance": sum_and_sample_variance(prob, k),
            }
        )
    for n in (1, 2):
        rows.append(
            {
                "family": "local_expectation",
                "size": n,
                "n_evals": (1 + N_FLIP) * n,
                "exact_variance": local_expectation_variance(prob, n),
            }
        )
    out = pd.DataFrame(rows)
    out.insert(0, "eta", float(eta))
    out["truth"] = float(m.g[0])
    return out


def _estimators() -> list[Estimator]:
    out = [
        make_estimator(score_function, name="reinforce"),
        make_estimator(score_function, loo_baseline(), name="rloo"),
    ]
    out += [make_estimator(sum_and_sample(k), name=f"sas(k={k})") for k in range(MAX_EVALS + 1)]
    out.append(make_estimator(chain_rule(local_expectation), name="local_expectation"))
    return out


EXPERIMENT = Experiment(
    name="liu_kool_toy",
    description=(
        "Liu et al. (2019) / Kool et al. (2020) toy: 3 Bernoullis sharing one logit eta in "
        "{0, -4}, f = sum (z - p0)^2; variance of the shared-logit gradient of REINFORCE, "
        "RLOO, sum-and-sample and local expectation gradients against f evaluations, exact "
        "by enumeration and Monte Carlo with 95% CIs."
    ),
    problem=problem,
    points=[{"eta": eta} for eta in ETAS],
    estimators=_estimators(),
    n_samples=list(range(1, MAX_EVALS + 1)),
    n_reps=10_000,
    seed=6,
    quick=Scale(n_reps=2000),
    exact=False,  # the exact curves are closed forms (exact_table), tested against enumeration
    x="n_evals",
    log_x=False,
    log_y=True,
)


def exact_table(scale: str = "full") -> pd.DataFrame:
    """The exact curves of the figure (both etas; the same at every scale)."""
    del scale
    return pd.concat([exact_curves(eta) for eta in ETAS], ignore_index=True)


FAMILY_STYLE = {
    "reinforce": ("REINFORCE (no baseline)", "o"),
    "rloo": ("RLOO", "s"),
    "sum_and_sample": ("sum-and-sample (k summed + 1 sample)", "^"),
    "local_expectation": ("local expectation", "D"),
}


def _family_of(name: str) -> tuple[str, int]:
    if name.startswith("sas(k="):
        return "sum_and_sample", int(name[6:-1])
    return name, 0


def markers(summary: pd.DataFrame) -> pd.DataFrame:
    """The Monte Carlo markers of the figure: one row per (eta, family, size)."""
    s = summary[summary["kind"] == "coordinate"].copy()
    fam = s["estimator"].map(_family_of)
    s["family"] = [f for f, _ in fam]
    s["k"] = [k for _, k in fam]
    keep = (
        (s["family"].isin(["reinforce", "rloo"]))
        | ((s["family"] == "sum_and_sample") & (s["n"] == 1))
        | ((s["family"] == "local_expectation") & (s["n"] <= 2))
    )
    s = s[keep].copy()
    s["size"] = np.where(s["family"] == "sum_and_sample", s["k"], s["n"])
    s["eta"] = s["at_eta"].astype(float)
    return s


def _figures(summary: pd.DataFrame, exact: pd.DataFrame, out_dir: Any) -> list[Any]:
    """Variance of the shared-logit gradient against f evaluations, one panel per eta."""
    from pathlib import Path

    from matplotlib.figure import Figure

    from experiments._common import run_size
    from vartools.plots.figures import axes_note, errorbar_ci, legend_below, palette, save_figure

    mk = markers(summary)
    colors = palette(FAMILY_STYLE)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, len(ETAS), sharey=False)
    for ax, eta in zip(axes, ETAS, strict=True):
        ex = exact[exact["eta"] == eta]
        floor = 1e-12 * ex["exact_variance"].max()
        zero_notes = []
        for fam, (label, marker) in FAMILY_STYLE.items():
            e = ex[ex["family"] == fam].sort_values("n_evals")
            pos = e[e["exact_variance"] > floor]
            if fam == "sum_and_sample":  # one point per k at k + 1 evaluations
                pos = pos.drop_duplicates("n_evals")
            if len(pos):
                ax.plot(
                    pos["n_evals"],
                    pos["exact_variance"],
                    "-",
                    color=colors[fam],
                    lw=1.5,
                    label=f"{label}: exact",
                )
            zeros = e[e["exact_variance"] <= floor]
            if len(zeros):
                what = (
                    "k >= " + str(int(zeros["size"].min())) if fam == "sum_and_sample" else "all n"
                )
                zero_notes.append(f"{label.split(' (')[0]}, {what}: variance 0 (exact)")
            m = mk[(mk["eta"] == eta) & (mk["family"] == fam)]
            m = m[m["variance"] > floor].sort_values("n_evals")
            if len(m):
                mc_label = f"{label}: Monte Carlo (95% CI)"
                errorbar_ci(
                    ax, m, "n_evals", fmt=marker, color=colors[fam], mfc="none", label=mc_label
                )
        ax.set_yscale("log")
        ax.set_xlabel("f evaluations per estimate")
        ax.set_ylabel("variance of d/d eta estimate")
        g = float(ex["truth"].iloc[0])
        ax.set_title(f"eta = {eta:g} (exact gradient {g:.4g})")
        ax.set_xticks(range(1, MAX_EVALS + 1))
        if zero_notes:
            axes_note(ax, "\n".join(zero_notes), 0.98, 0.98, ha="right", va="top")
        ax.grid(alpha=0.3, which="both")
    legend_below(fig, axes[0], ncol=2)
    n_reps, scale = run_size(summary)
    fig.suptitle(
        f"Liu/Kool Bernoulli toy (3 Bernoullis, shared logit): {n_reps} replicates, {scale} scale",
        fontsize=11,
    )
    return save_figure(fig, Path(out_dir) / "variance_vs_evals")


def figures(summary: pd.DataFrame, extra: Any, out_dir: Any) -> list[Any]:
    """Harness hook (``vartools plot``): the figures from summary.csv and the extra tables."""
    return _figures(summary, extra.get("exact"), out_dir)
