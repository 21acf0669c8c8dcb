"""Bayesian logistic regression, mean-field Gaussian posterior (Mohamed et al. 2020, sec. 8.3).

Data: scikit-learn's breast-cancer set (569 points, 30 features), standardised, with
a bias column appended (D = 31), labels y in {0, 1}. Model: prior w ~ N(0, I),
likelihood p(y_i | w) = sigmoid(x_i . w)^y_i (1 - sigmoid(x_i . w))^(1 - y_i).
Variational posterior q(w) = N(mean, diag(exp(log_scale))^2), theta = [mean, log_scale]
(``Normal.from_log_scale``), both initialised at 0.

The ELBO is E_q[log p(y | w)] - KL(q || prior). As in the paper's code, the expected
log-likelihood is estimated by Monte Carlo (the gradient estimators compared) on a
minibatch of B points scaled by N / B, and the KL term, known in closed form, is
differentiated analytically:

    f(w) = (N / B) sum_{i in batch} [y_i l_i - softplus(l_i)],  l_i = x_i . w,
    grad_w f = (N / B) sum_i (y_i - sigmoid(l_i)) x_i,
    KL = sum_d [exp(2 log_scale_d) + mean_d^2 - 1] / 2 - log_scale_d.

The paper's loss is -(the ELBO estimate). ``LogLikelihood`` is vectorised over
(*R, n, D) samples of w and gives f, its gradient and its Hessian diagonal
(-(N/B) sum_i sigmoid(l_i)(1 - sigmoid(l_i)) x_id^2), which a delta-method control
variate needs.

Example:
    >>> data = breast_cancer()
    >>> data.x.shape, data.y.shape
    ((569, 31), (569,))
    >>> prob = blr_problem(data)
    >>> prob.dist.param_names[:2], prob.dist.n_params
    (('loc[0]', 'loc[1]'), 62)
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from vartools.core.problem import Problem
from vartools.core.validation import as_finite_array
from vartools.distributions.normal import Normal

__all__ = [
    "LogLikelihood",
    "LogisticData",
    "TrainConfig",
    "blr_problem",
    "breast_cancer",
    "elbo",
    "kl_to_standard_normal",
    "kl_gradient",
    "train_blr",
]


@dataclass(frozen=True, eq=False)
class LogisticData:
    """A binary classification data set: features x (N, D) and labels y (N,) in {0, 1}."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        x = as_finite_array(self.x, "x")
        y = as_finite_array(self.y, "y")
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise ValueError(
                f"x must have shape (N, D) and y shape (N,), got {x.shape} and {y.shape}"
            )
        if not np.all((y == 0) | (y == 1)):
            raise ValueError("y must hold labels 0 and 1 only")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def n_points(self) -> int:
        """N."""
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        """D (features plus bias)."""
        return int(self.x.shape[1])

    def subset(self, idx: Any) -> LogisticData:
        """The points ``idx`` (a minibatch)."""
        idx = np.asarray(idx)
        return LogisticData(self.x[idx], self.y[idx])


@functools.lru_cache(maxsize=1)
def breast_cancer() -> LogisticData:
    """scikit-learn's breast-cancer data, standardised (population sd), plus a bias column.

    Needs scikit-learn (the ``experiments`` extra: ``pip install vartools[experiments]``).
    """
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the Bayesian logistic regression setting needs scikit-learn's breast-cancer "
            "data: pip install 'vartools[experiments]' (or scikit-learn)"
        ) from exc
    raw = load_breast_cancer()
    x = np.asarray(raw.data, dtype=np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    x = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
    return LogisticData(x, np.asarray(raw.target, dtype=np.float64))


@dataclass(frozen=True, eq=False)
class LogLikelihood:
    """f(w) = scale * sum_i [y_i l_i - softplus(l_i)], l_i = x_i . w, for w of shape (*R, n, D).

    Args:
        data: the points summed over (a minibatch or the full data).
        scale: multiplier, N / B for a minibatch of B out of N points (1 for full data).
    """

    data: LogisticData
    scale: float = 1.0
    name: str = "loglik"

    def logits(self, w: np.ndarray) -> np.ndarray:
        """l = w @ x.T, shape (*R, n, B) (one 2-D BLAS product over the flattened rows)."""
        w = np.asarray(w, dtype=np.float64)
        flat = np.ascontiguousarray(w.reshape(-1, w.shape[-1]))
        return (flat @ self.data.x.T).reshape(*w.shape[:-1], self.data.n_points)

    def __call__(self, w: np.ndarray) -> np.ndarray:
        """f(w), shape (*R, n)."""
        logits = self.logits(w)
        ll = self.data.y * logits - np.logaddexp(0.0, logits)
        return self.scale * ll.sum(-1)

    def grad(self, w: np.ndarray) -> np.ndarray:
        """grad_w f = scale * (y - sigmoid(l)) @ x, shape (*R, n, D)."""
        r = self.data.y - special.expit(self.logits(w))
        flat = r.reshape(-1, self.data.n_points) @ self.data.x
        return self.scale * flat.reshape(*r.shape[:-1], self.data.dim)

    def hessian_diag(self, w: np.ndarray) -> np.ndarray:
        """Diagonal of the Hessian: -scale * sum_i sigmoid(l_i)(1 - sigmoid(l_i)) x_id^2."""
        p = special.expit(self.logits(w))
        flat = (p * (1.0 - p)).reshape(-1, self.data.n_points) @ (self.data.x**2)
        return -self.scale * flat.reshape(*p.shape[:-1], self.data.dim)

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """Full Hessian at one point w (D,): -scale * x.T diag(sigmoid'(l)) x, shape (D, D)."""
        w = np.asarray(w)
        if w.ndim != 1:
            raise ValueError(f"hessian takes one point w of shape (D,), got shape {w.shape}")
        p = special.expit(self.logits(w))
        return -self.scale * (self.data.x.T * (p * (1.0 - p))) @ self.data.x


def blr_problem(
    data: LogisticData,
    mean: Any = None,
    log_scale: Any = None,
    *,
    batch: Any = None,
    name: str = "blr",
) -> Problem:
    """The problem grad_theta E_q[f(w)] for the posterior q = N(mean, exp(log_scale)^2).

    Args:
        data: the full data set (N points).
        mean: posterior mean (D,), default zeros.
        log_scale: posterior log standard deviations (D,), default zeros.
        batch: indices of a minibatch (f is then scaled by N / B), or None for the
            full data.
        name: the problem's label.

    Returns:
        A Problem with ``dist = Normal.from_log_scale(mean, log_scale)`` (p = 2 D) and
        ``f = LogLikelihood`` (with gradient).
    """
    d = data.dim
    mean = np.zeros(d) if mean is None else as_finite_array(mean, "mean")
    log_scale = np.zeros(d) if log_scale is None else as_finite_array(log_scale, "log_scale")
    if mean.shape != (d,) or log_scale.shape != (d,):
        raise ValueError(
            f"mean and log_scale must have shape ({d},), got {mean.shape} and {log_scale.shape}"
        )
    if batch is None:
        f = LogLikelihood(data, 1.0)
    else:
        sub = data.subset(batch)
        f = LogLikelihood(sub, data.n_points / sub.n_points)
    return Problem(
        name,
        Normal.from_log_scale(mean, log_scale),
        f,
        grad_f=f.grad,
        description="Bayesian logistic regression, breast cancer, E_q[log-likelihood]",
    )


def kl_to_standard_normal(mean: Any, log_scale: Any) -> float:
    """KL(N(mean, exp(log_scale)^2) || N(0, I)) = sum [s^2 + m^2 - 1] / 2 - log s."""
    m = np.asarray(mean, dtype=np.float64)
    ls = np.asarray(log_scale, dtype=np.float64)
    return float(np.sum(0.5 * (np.exp(2 * ls) + m * m - 1.0) - ls))


def kl_gradient(mean: Any, log_scale: Any) -> np.ndarray:
    """grad of the KL with respect to theta = [mean, log_scale]: [m, s^2 - 1], shape (2 D,)."""
    m = np.asarray(mean, dtype=np.float64)
    ls = np.asarray(log_scale, dtype=np.float64)
    return np.concatenate([m, np.exp(2 * ls) - 1.0])


def elbo(
    data: LogisticData,
    mean: Any,
    log_scale: Any,
    *,
    rng: np.random.Generator,
    n_samples: int = 1000,
) -> tuple[float, float]:
    """Monte Carlo ELBO on the full data and its standard error.

    ELBO = E_q[sum_i log p(y_i | w)] - KL(q || N(0, I)), the expectation from
    ``n_samples`` draws of w (the KL is exact).

    Returns:
        (elbo, standard error).
    """
    q = Normal.from_log_scale(mean, log_scale)
    w = q.sample(n_samples, rng=rng)
    ll = LogLikelihood(data)(w)
    kl = kl_to_standard_normal(mean, log_scale)
    return float(ll.mean() - kl), float(ll.std(ddof=1) / math.sqrt(n_samples))


@dataclass(frozen=True)
class TrainConfig:
    """The training set-up of Mohamed et al. (2020), sec. 8.3 (defaults: the paper's).

    Args:
        steps: SGD steps.
        batch_size: data points per minibatch.
        n_samples: posterior samples per gradient estimate.
        lr: initial learning rate of SGD with cosine decay to 0.
        every: checkpoint interval (steps); the last step is always a checkpoint.
        n_reps: replicate single-sample estimates per checkpoint (variance).
        elbo_samples: posterior samples for the ELBO at a checkpoint.
        seeds: independent training runs per estimator (seed-tree nodes 0, ..., seeds - 1).
    """

    steps: int = 5000
    batch_size: int = 32
    n_samples: int = 50
    lr: float = 1e-3
    every: int = 250
    n_reps: int = 1000
    elbo_samples: int = 1000
    seeds: int = 5

    def checkpoints(self) -> list[int]:
        """0, every, 2 every, ..., steps."""
        out = list(range(0, self.steps + 1, self.every))
        return out if out[-1] == self.steps else [*out, self.steps]


def train_blr(
    data: LogisticData,
    estimator: Any,
    config: TrainConfig,
    *,
    seed: int,
    run: int = 0,
) -> pd.DataFrame:
    """Train the mean-field posterior with one estimator; measure it at checkpoints.

    Each step draws a minibatch (the same sequence for every estimator: seed-tree node
    (seed, "run", run, "minibatches")), estimates grad_theta E_q[f] with ``config.n_samples``
    samples, adds the analytic KL gradient and takes an SGD step on the loss
    -(ELBO estimate), learning rate ``lr`` with cosine decay (the paper's set-up). At
    each checkpoint, at the current parameters and control-variate state (frozen):
    the ELBO on the full data (Monte Carlo, with its SE) and ``n_reps`` independent
    single-sample estimates of grad_theta E_q[log p(y | w)] on the full data (seed-tree
    node (seed, "run", run, "measure", step): common random numbers across estimators), whose
    per-coordinate variance is summarised by its mean and max over the coordinates of
    each block (loc, log_scale) with 95% CIs (``vartools.measure.statistics``).

    Args:
        data: the data set.
        estimator: a vartools Estimator (score function, pathwise, measure-valued, with
            control variates; stateful ones carry their state along the run).
        config: the training set-up.
        seed: root of the seed tree.
        run: the training run (the column ``seed``): its random numbers (minibatches,
            gradient samples, ELBO and measurement draws) come from the seed-tree nodes
            (seed, "run", run, ...), independent across runs.

    Returns:
        A tidy table: one row per (step, block, reduce) with columns estimator, seed, step,
        elbo, elbo_se, block, reduce, variance, variance_lo, variance_hi, n_reps,
        train_seconds.
    """
    try:  # small matrix products: one BLAS thread is much faster (and fair on a shared machine)
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return _train_blr(data, estimator, config, seed=seed, run=run)
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_blr(data, estimator, config, seed=seed, run=run)


def _train_blr(
    data: LogisticData, estimator: Any, config: TrainConfig, *, seed: int, run: int
) -> pd.DataFrame:
    from vartools.core.optim import cosine_decay, sgd
    from vartools.core.rng import generator
    from vartools.measure.statistics import aggregate_stats
    from vartools.measure.training import train

    d = data.dim
    batches = generator(seed, "run", run, "minibatches")
    full = blr_problem(data)
    carry = {"state": estimator.init(full)}
    rows: list[dict[str, Any]] = []

    def gradient(step: int, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean, log_scale = theta[:d], theta[d:]
        idx = batches.choice(data.n_points, size=config.batch_size, replace=False)
        prob = blr_problem(data, mean, log_scale, batch=idx)
        g, carry["state"] = estimator(prob, config.n_samples, rng=rng, state=carry["state"])
        return -g + kl_gradient(mean, log_scale)

    def checkpoint(step: int, theta: np.ndarray, spent: float) -> None:
        mean, log_scale = theta[:d], theta[d:]
        prob = blr_problem(data, mean, log_scale)
        el, el_se = elbo(
            data,
            mean,
            log_scale,
            rng=generator(seed, "run", run, "elbo", step),
            n_samples=config.elbo_samples,
        )
        mrng = generator(seed, "run", run, "measure", step)
        with np.errstate(over="ignore"):
            est, _ = estimator(prob, 1, rng=mrng, reps=(config.n_reps,), state=carry["state"])
        for block, sl in (("loc", slice(0, d)), ("log_scale", slice(d, 2 * d))):
            agg = aggregate_stats(est[:, sl])
            for kind in ("mean", "max"):
                rows.append(
                    {
                        "estimator": estimator.name,
                        "seed": run,
                        "step": step,
                        "elbo": el,
                        "elbo_se": el_se,
                        "block": block,
                        "reduce": kind,
                        "variance": agg[kind]["variance"],
                        "variance_lo": agg[kind]["variance_lo"],
                        "variance_hi": agg[kind]["variance_hi"],
                        "n_reps": config.n_reps,
                        "train_seconds": spent,
                    }
                )

    train(
        np.zeros(2 * d),
        gradient,
        sgd(cosine_decay(config.lr, config.steps)),
        steps=config.steps,
        seed=seed,
        key=("run", run, "train", estimator.name),
        checkpoints=config.checkpoints(),
        on_checkpoint=checkpoint,
    )
    return pd.DataFrame(rows)
