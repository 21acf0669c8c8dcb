"""The subcommands of the ``vartools`` command: demo, list, run, compare, plot, reproduce.

Each ``cmd_<name>(args)`` takes the parsed arguments (see ``vartools.cli.build_parser``)
and returns the exit status.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vartools.cli.params import setting_kwargs
from vartools.cli.table import format_table, oracle_notes
from vartools.harness.storage import default_results_root

__all__ = [
    "DEMO_COORDS",
    "cmd_compare",
    "cmd_demo",
    "cmd_list",
    "cmd_plot",
    "cmd_reproduce",
    "cmd_run",
]

DEMO_COORDS = ("logits[0]", "logits[100]", "logits[199]")


def cmd_demo(args: argparse.Namespace) -> int:
    """The issue-2 comparison: bern200, SF vs SF+RLOO, n in {2, 16}, 2000 replicates, seed 0."""
    from vartools.catalogue.registry import get_estimator
    from vartools.catalogue.settings import make_problem
    from vartools.measure.variance import measure_variance

    prob = make_problem("bern200")
    ests = [get_estimator("sf"), get_estimator("sf+loo")]
    t0 = time.perf_counter()
    with oracle_notes() as notes:
        table = measure_variance(prob, ests, n_samples=[2, 16], n_reps=2000, seed=0)
    dt = time.perf_counter() - t0
    print(f"{prob.name}: {prob.description}")
    print(
        "score function (sf) vs sf + leave-one-out baseline (sf+loo); 2000 replicate "
        "estimates each, seed 0, common random numbers; ratio = variance / sf's (paired CI)\n"
    )
    print(format_table(table, DEMO_COORDS, notes=notes))
    print(
        f"\n({dt:.2f} s; aggregates over the {prob.dist.n_params} logits: (mean), (max), "
        "(trace); exact variances where an oracle applies)"
    )
    return 0


def _wrapped(head: str, text: str, width: int, indent: str) -> str:
    """``head + text`` wrapped at word boundaries to ``width``, never cut mid-word."""
    lines = textwrap.wrap(
        " ".join(str(text).split()),
        width=width,
        initial_indent=head,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return "\n".join(lines) if lines else head.rstrip()


def cmd_list(args: argparse.Namespace) -> int:
    """List experiments, settings, estimators and reducers."""
    import inspect

    from vartools.catalogue.registry import BASES, ESTIMATORS, REDUCERS, SAMPLERS
    from vartools.catalogue.settings import SETTINGS
    from vartools.harness.loading import default_experiments_dir, discover

    directory = Path(args.experiments) if args.experiments else default_experiments_dir()
    print(f"experiments (in {directory}):")
    try:
        found, errors = discover(directory)
    except FileNotFoundError as exc:
        print(f"  {exc}")
        found, errors = {}, {}
    width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
    indent = " " * 38
    for name, exp in found.items():
        print(_wrapped(f"  {name:<24} {exp.kind:<10} ", exp.summary_line, width, indent))
    for name, err in errors.items():
        print(_wrapped(f"  {name:<24} {'BROKEN':<10} ", err, width, indent))
    print("\nsettings (vartools compare --problem NAME --param KEY=VALUE):")
    for name, factory in SETTINGS.items():
        sig = inspect.signature(factory).replace(return_annotation=inspect.Signature.empty)
        print(f"  {name:<24} {sig}")
    print("\nestimators (also base+reducer+...[@sampler], e.g. sf+const+loo, sf+optbase@sobol):")
    print(_wrapped("  ", ", ".join(sorted(ESTIMATORS)), width, "  "))
    bases = [*sorted(BASES), "sas<k> (sum-and-sample, k summed outcomes, e.g. sas3)"]
    print(_wrapped("\nbase estimators: ", ", ".join(bases), width, "  "))
    print(_wrapped("reducers: ", ", ".join(sorted(REDUCERS)), width, "  "))
    print(_wrapped("samplers (after @): ", ", ".join(sorted(SAMPLERS)), width, "  "))
    return 1 if errors and args.strict else 0


def _executor_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "executor": args.executor,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "out": (args.out or default_results_root(args.scale)),
        "directory": args.experiments,
        "raw": args.raw,
        "progress": not args.no_progress,
        "seed": args.seed,
        "max_cells": args.max_cells,
        "scale": args.scale,
    }


def _run_many(names: Sequence[str], args: argparse.Namespace) -> tuple[list[Any], list[str]]:
    from vartools.harness.runner import run_experiment

    reports, failures = [], []
    for name in names:
        t0 = time.perf_counter()
        try:
            rep = run_experiment(name, command=sys.argv, **_executor_args(args))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
            failures.append(name)
            print(
                f"error: experiment {name!r} failed after {time.perf_counter() - t0:.1f} s: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        reports.append(rep)
        for msg in rep.messages:
            print(f"{name}: {msg}", file=sys.stderr)
        if not rep.complete:
            failures.append(name)
    return reports, failures


def _print_summary(reports: Sequence[Any], failures: Sequence[str]) -> None:
    if reports:
        rows = [
            {
                "experiment": r.experiment,
                "scale": r.scale,
                "status": "done" if r.complete else "incomplete",
                "cells": r.cells_total,
                "computed": r.cells_computed,
                "reused": r.cells_reused,
                "discarded": r.cells_discarded,
                "seconds": f"{r.seconds:.1f}",
                "output": str(r.out_dir),
            }
            for r in reports
        ]
        print(pd.DataFrame(rows).to_string(index=False))
    if failures:
        print(f"failed or incomplete: {', '.join(failures)}", file=sys.stderr)


def _check_names(names: Sequence[str], directory: str | None) -> None:
    from vartools.core.validation import nearest_name
    from vartools.harness.loading import default_experiments_dir, experiment_names

    d = Path(directory) if directory else default_experiments_dir()
    valid = experiment_names(d)
    for name in names:
        if name not in valid:
            raise ValueError(f"unknown experiment {name!r} in {d}; {nearest_name(name, valid)}")


def cmd_run(args: argparse.Namespace) -> int:
    """Run experiments by name."""
    _check_names(args.names, args.experiments)
    reports, failures = _run_many(args.names, args)
    _print_summary(reports, failures)
    return 1 if failures else 0


def _equal_eval_table(prob: Any, ests: list[Any], budgets: list[int], args: Any) -> pd.DataFrame:
    from vartools.core.rng import generator
    from vartools.measure.variance import measure_variance

    tables = []
    for budget in budgets:
        parts = []
        for est in ests:
            lo = est.min_n
            c = []
            for n in (lo, lo + 1):
                b, _ = est.batch(prob, n, rng=generator(0, "probe"), reps=(1,))
                c.append(b.n_evals)
            slope, const = c[1] - c[0], c[0] - (c[1] - c[0]) * lo
            n_e = (budget - const) // slope if slope > 0 else lo
            if n_e < lo:
                print(
                    f"note: {est.name} needs more than {budget} evaluations per estimate "
                    f"(at least {c[0]}); skipped at this budget",
                    file=sys.stderr,
                )
                continue
            t = measure_variance(
                prob, [est], n_samples=[int(n_e)], n_reps=args.reps, seed=args.seed, **_where(args)
            )
            t.insert(0, "budget", budget)
            parts.append(t)
        if not parts:
            continue
        t = pd.concat(parts, ignore_index=True)
        ref = t[t["estimator"] == parts[0]["estimator"].iloc[0]].set_index("coordinate")
        t["ratio"] = t["variance"].to_numpy() / ref.loc[t["coordinate"], "variance"].to_numpy()
        t["ratio_lo"] = np.nan
        t["ratio_hi"] = np.nan
        tables.append(t)
    if not tables:
        raise ValueError(f"no estimator fits within the budgets {budgets}; raise --n")
    return pd.concat(tables, ignore_index=True)


def _where(args: argparse.Namespace) -> dict[str, Any]:
    """compare's executor, workers and small-R override, as measure_variance keywords."""
    workers = getattr(args, "workers", None)
    executor = getattr(args, "executor", "serial")
    if executor == "serial" and workers not in (None, 1):
        raise ValueError(
            f"--workers {workers} needs --executor processes (or dask); serial runs in this process"
        )
    return {
        "executor": executor,
        "workers": workers,
        "allow_small_reps": bool(getattr(args, "allow_small_reps", False)),
    }


def cmd_compare(args: argparse.Namespace) -> int:
    """An ad-hoc comparison table."""
    from vartools.catalogue.registry import get_estimator
    from vartools.catalogue.settings import SETTINGS, make_problem
    from vartools.measure.variance import measure_variance

    params = setting_kwargs(args.problem, args.param, SETTINGS)
    prob = make_problem(args.problem, **params)
    ests = [get_estimator(name) for name in args.estimators]
    names = list(prob.dist.param_names)
    coords = names[: args.coords] if args.coords >= 0 else names
    if args.equal_evals:
        with oracle_notes() as notes:
            table = _equal_eval_table(prob, ests, list(args.n), args)
        print(
            f"{prob.name}: equal budgets of f evaluations per estimate {list(args.n)}; each "
            "estimator uses the largest n within the budget; ratio = variance / the first's "
            "(not paired: different n)\n"
        )
        print(format_table(table, coords, budget=True, notes=notes))
    else:
        with oracle_notes() as notes:
            table = measure_variance(
                prob,
                ests,
                n_samples=list(args.n),
                n_reps=args.reps,
                seed=args.seed,
                **_where(args),
            )
        print(
            f"{prob.name}: {args.reps} replicate estimates, seed {args.seed}, common random "
            f"numbers; ratio = variance / {ests[0].name}'s (paired CI)\n"
        )
        print(format_table(table, coords, notes=notes))
    if args.csv:
        try:
            table.to_csv(args.csv, index=False)
        except OSError as exc:
            raise OSError(
                f"--csv {args.csv}: cannot write the table ({exc.strerror or exc}); pass a "
                "path in a writable directory"
            ) from exc
        print(f"\nfull table written to {args.csv}")
    return 0


def _recorded_tables(d: Path) -> dict[str, Any]:
    """The ``tables`` entry of ``d``/meta.json ({} for an older meta.json, or none)."""
    import json

    try:
        meta = json.loads((d / "meta.json").read_text())
    except (OSError, ValueError):
        return {}
    tables = meta.get("tables") if isinstance(meta, dict) else None
    return tables if isinstance(tables, dict) else {}


def _plot_one(name: str, args: argparse.Namespace) -> list[Path]:
    from vartools.harness.loading import experiment_hooks, load_experiment
    from vartools.harness.storage import IncompleteTableError, check_complete, read_table
    from vartools.measure.schema import SUMMARY, TRAINING
    from vartools.plots.figures import plot_experiment

    exp = load_experiment(name, args.experiments)
    d = Path(args.out or default_results_root(args.scale)) / name
    summary_path = d / "summary.csv"
    if not summary_path.exists():
        raise FileNotFoundError(f"no results for {name!r} in {d}; run `vartools run {name}` first")
    summary = read_table(summary_path, SUMMARY)
    tables = _recorded_tables(d)
    check_complete(summary, tables.get("summary.csv"), summary_path)
    if summary.empty:
        raise IncompleteTableError(f"{summary_path} has no rows; rerun `vartools run {name}`")
    exp = exp.at_scale(str(summary["scale"].iloc[0]))
    training = read_table(d / "training.csv", TRAINING) if (d / "training.csv").exists() else None
    if training is not None:
        check_complete(training, tables.get("training.csv"), d / "training.csv")
    figures_fn = experiment_hooks(name, args.experiments).figures
    if figures_fn is None:
        return plot_experiment(exp, summary, training, d / "figures")
    extra: dict[str, Any] = {"exact": None, "training": training}
    for path in sorted(d.glob("*.csv")):
        if path.stem not in ("summary", "training"):
            extra[path.stem] = pd.read_csv(path)
    files = figures_fn(summary, extra, d / "figures")
    return [Path(f) for f in files]


def cmd_plot(args: argparse.Namespace) -> int:
    """Figures from results."""
    _check_names(args.names, args.experiments)
    failed = 0
    for name in args.names:
        try:
            files = _plot_one(name, args)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        except OSError as exc:  # e.g. a read-only results directory
            where = exc.filename or args.out or default_results_root(args.scale)
            print(
                f"error: cannot write the figures of {name!r} to {where} "
                f"({exc.strerror or exc}); make it writable or pass --out DIR",
                file=sys.stderr,
            )
            failed += 1
            continue
        for f in files:
            print(f)
    return 1 if failed else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Every experiment at the chosen scale, then every figure."""
    from vartools.harness.loading import default_experiments_dir, discover

    directory = Path(args.experiments) if args.experiments else default_experiments_dir()
    found, errors = discover(directory)
    for name, err in errors.items():
        print(f"error: experiment file {name}.py does not load: {err}", file=sys.stderr)
    t0 = time.perf_counter()
    reports, failures = _run_many(sorted(found), args)
    figures = []
    for rep in reports:
        if rep.complete:
            try:
                figures += _plot_one(rep.experiment, args)
            except Exception as exc:  # noqa: BLE001 - reported, exit status says so
                failures.append(rep.experiment)
                print(f"error: figures of {rep.experiment!r} failed: {exc}", file=sys.stderr)
    _print_summary(reports, failures + list(errors))
    print(f"{len(figures)} figure files; {time.perf_counter() - t0:.1f} s in total")
    return 1 if failures or errors else 0
